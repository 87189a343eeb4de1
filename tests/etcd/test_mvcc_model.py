"""Differential property test: impl/etcd against a naive model that snapshots the whole keyspace
at every revision (etcd's MVCC definition: one revision per writing request, reads at any
uncompacted revision see that revision's snapshot)."""

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from impl.etcd.apply import ApplyContext, apply
from impl.etcd.store import EtcdState
from models.etcd import (
    ERROR_COMPACTED,
    ERROR_FUTURE_REVISION,
    CompactionRequest,
    DeleteRangeRequest,
    EtcdError,
    EtcdRequest,
    KeyValue,
    PutRequest,
    RangeRequest,
    RangeResponse,
    TxnRequest,
    range_end_covers,
)

KEYS = (b"a", b"b", b"c", b"d")
Snapshot = dict[bytes, KeyValue]


@dataclass
class NaiveEtcd:
    """Every revision's full keyspace; no cleverness."""

    snapshots: list[Snapshot] = field(default_factory=lambda: [{}, {}])
    compacted: int = -1

    @property
    def revision(self) -> int:
        return len(self.snapshots) - 1

    def write(self, changes: list[tuple[bytes, bytes | None]]) -> None:
        current = dict(self.snapshots[-1])
        revision = self.revision + 1
        changed = False
        for key, value in changes:
            old = current.get(key)
            if value is None:
                if old is not None:
                    del current[key]
                    changed = True
                continue
            current[key] = KeyValue(
                key=key,
                value=value,
                create_revision=old.create_revision if old else revision,
                mod_revision=revision,
                version=old.version + 1 if old else 1,
            )
            changed = True
        if changed:
            self.snapshots.append(current)

    def range(self, key: bytes, range_end: bytes, revision: int) -> list[KeyValue] | EtcdError:
        if revision > self.revision:
            return ERROR_FUTURE_REVISION
        if 0 < revision < self.compacted:
            return ERROR_COMPACTED
        snapshot = self.snapshots[revision if revision > 0 else self.revision]
        return [snapshot[k] for k in sorted(snapshot) if range_end_covers(key, range_end, k)]


keys = st.sampled_from(KEYS)
range_ends = st.sampled_from((b"", b"c", b"\x00"))
puts = st.builds(PutRequest, key=keys, value=st.sampled_from((b"x", b"y")))
deletes = st.builds(DeleteRangeRequest, key=keys, range_end=range_ends)
multi_puts = st.lists(keys, min_size=1, max_size=3, unique=True).map(
    lambda chosen: TxnRequest(success=tuple(PutRequest(key=k, value=b"t") for k in chosen))
)
requests = st.one_of(
    puts,
    deletes,
    multi_puts,
    st.builds(CompactionRequest, revision=st.integers(0, 12)),
    st.builds(RangeRequest, key=keys, range_end=range_ends, revision=st.integers(0, 14)),
)


def model_step(model: NaiveEtcd, request: EtcdRequest) -> None:
    if isinstance(request, PutRequest):
        model.write([(request.key, request.value)])
    elif isinstance(request, DeleteRangeRequest):
        current = model.snapshots[-1]
        doomed = [k for k in sorted(current) if range_end_covers(request.key, request.range_end, k)]
        model.write([(k, None) for k in doomed])
    elif isinstance(request, TxnRequest):
        model.write([(op.key, op.value) for op in request.success if isinstance(op, PutRequest)])
    elif (
        isinstance(request, CompactionRequest)
        and model.compacted < request.revision <= model.revision
    ):
        model.compacted = request.revision


@settings(max_examples=150)
@given(st.lists(requests, max_size=30))
def test_impl_agrees_with_the_naive_snapshot_model(history: list[EtcdRequest]) -> None:
    state = EtcdState()
    model = NaiveEtcd()
    for request in history:
        state, response = apply(state, request, ApplyContext())
        if isinstance(request, RangeRequest):
            expected = model.range(request.key, request.range_end, request.revision)
            if isinstance(expected, EtcdError):
                assert response == expected
            else:
                assert isinstance(response, RangeResponse)
                assert list(response.kvs) == expected
                assert response.count == len(expected)
        model_step(model, request)
        assert state.revision == model.revision
    for revision in range(max(model.compacted, 1), model.revision + 1):
        everything = apply(
            state, RangeRequest(key=b"\x00", range_end=b"\x00", revision=revision), ApplyContext()
        )[1]
        assert isinstance(everything, RangeResponse)
        assert list(everything.kvs) == model.range(b"\x00", b"\x00", revision)
