"""The rolling-update proofs hold, their mutants are refuted, and the transition they reason
about is what the Deployment controller does: for random states, one sync of the controller's
own code (reconcileNewReplicaSet, then reconcileOldReplicaSets) gives the sizes the proof's
transition gives."""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from impl.controllers.cache import decode
from impl.controllers.deployment_rollout import reconcile_new, reconcile_old
from impl.controllers.deployment_sync import Env
from impl.controllers.plan import Reply
from impl.controllers.script import Script, Suspend
from models.controllers.config import ControllerConfig
from models.controllers.messages import Answered
from models.controllers.resources import RESOURCES
from models.k8s.apps import Deployment, ReplicaSet
from proofs.catalog import all_proofs
from proofs.controllers import rollout
from proofs.z3adapter import ArithRef, Counterexample, IntVal, Proved, simplify, substitute


def test_the_rollout_bounds_are_proved_and_every_mutant_refuted() -> None:
    cases = [case for case in all_proofs() if case.name.startswith("deployment.rolling.")]
    assert len(cases) == 2
    for case in cases:
        assert isinstance(case.check(), Proved), case.name
        for mutant in case.mutants:
            assert isinstance(mutant.check(), Counterexample), mutant.name


@cache
def symbolic(surge_percent: bool, unavailable_percent: bool) -> tuple[Any, Any, list[Any]]:
    world = rollout._world(surge_percent, unavailable_percent)
    new, old = rollout.sync(rollout.RolloutCode(), world)
    return world, new, old


def rs(name: str, size: int, available: int, created: str) -> ReplicaSet:
    data = {
        "metadata": {
            "name": name,
            "namespace": "d",
            "uid": name,
            "resourceVersion": "1",
            "creationTimestamp": created,
        },
        "spec": {"replicas": size},
        "status": {"replicas": size, "availableReplicas": available},
    }
    return msgspec.convert(data, ReplicaSet)


def run_controller(d: Deployment, new: ReplicaSet, old: list[ReplicaSet]) -> dict[str, int]:
    """One sync of the controller's code, every update accepted; the sizes it wrote."""
    replies: tuple[Reply, ...] = ()
    while True:
        env = Env(script=Script(replies), d=d, config=ControllerConfig(), now_ms=0)
        try:
            scaled, _ = reconcile_new(env, [*old, new], new)
            if not scaled:
                reconcile_old(
                    env, [*old, new], [x for x in old if (x.spec and x.spec.replicas)], new
                )
            break
        except Suspend as suspended:
            replies += tuple(
                Reply(planned=p, answer=Answered(request_id=0, status=200, body=p.call.body))
                for p in suspended.batch
            )
    sizes: dict[str, int] = {}
    for reply in replies:
        written = decode(RESOURCES["replicasets"], reply.planned.call.body, metadata_only=False)
        assert written is not None
        assert written.metadata is not None
        assert written.spec is not None
        sizes[written.metadata.name or ""] = written.spec.replicas or 0
    return sizes


setting = st.tuples(st.booleans(), st.integers(0, 100))
replica_set = st.integers(0, 12).flatmap(
    lambda size: st.tuples(st.just(size), st.integers(0, size))
)


@given(
    replicas=st.integers(0, 20),
    surge=setting,
    unavailable=setting,
    new=replica_set,
    old=st.lists(replica_set, min_size=3, max_size=3),
)
def test_the_proof_transition_is_the_controllers_sync(
    replicas: int,
    surge: tuple[bool, int],
    unavailable: tuple[bool, int],
    new: tuple[int, int],
    old: list[tuple[int, int]],
) -> None:
    (surge_percent, surge_value), (unavailable_percent, unavailable_value) = surge, unavailable
    if surge_value == 0 and unavailable_value == 0:
        return  # refused by validation
    strategy = {
        "type": "RollingUpdate",
        "rollingUpdate": {
            "maxSurge": f"{surge_value}%" if surge_percent else surge_value,
            "maxUnavailable": f"{unavailable_value}%" if unavailable_percent else unavailable_value,
        },
    }
    d = msgspec.convert(
        {"metadata": {"name": "d"}, "spec": {"replicas": replicas, "strategy": strategy}},
        Deployment,
    )
    new_rs = rs("new", new[0], new[1], "2026-01-01T00:00:09Z")
    old_rss = [
        rs(f"old{i}", size, available, f"2026-01-01T00:00:0{i}Z")
        for i, (size, available) in enumerate(old)
    ]
    written = run_controller(d, new_rs, old_rss)

    world, new_term, old_terms = symbolic(surge_percent, unavailable_percent)
    values: list[tuple[ArithRef, int]] = [
        (world.replicas, replicas),
        (world.surge, surge_value),
        (world.unavailable, unavailable_value),
        (world.new, new[0]),
        (world.new_available, new[1]),
    ]
    for index, (size, available) in enumerate(old):
        values += [(world.old[index], size), (world.old_available[index], available)]
    pairs = [(term, IntVal(value)) for term, value in values]

    def evaluate(term: ArithRef) -> int:
        return int(str(simplify(substitute(term, *pairs))))

    assert written.get("new", new[0]) == evaluate(new_term)
    for index, (size, _) in enumerate(old):
        assert written.get(f"old{index}", size) == evaluate(old_terms[index])
