"""The search on hand-written register histories, each verdict derived from the definition of
linearizability (an order of points, one inside each operation's interval)."""

from models.history import OperationRecord
from spec.etcd.registers import RegisterModel
from spec.linearizability import Budget, prepare
from spec.linearizability_report import check_history
from spec.linearizability_search import run_searches
from tests.lincheck.builders import cas, read, write

REGISTER = RegisterModel(with_cas=False)
CAS_REGISTER = RegisterModel(with_cas=True)


def verdict(records: list[OperationRecord], with_cas: bool = False) -> str:
    model = CAS_REGISTER if with_cas else REGISTER
    partitions = list(prepare(model, records).values())
    results = run_searches(partitions, Budget(max_steps=1_000_000))
    verdicts = {result.verdict for result in results}
    return "not_linearizable" if "not_linearizable" in verdicts else verdicts.pop()


def test_read_after_a_completed_write_must_see_it() -> None:
    # write(1) ends at 2, the read starts at 3: its point comes after the write's.
    assert verdict([write(1, 0, 2, 1), read(2, 3, 4, None)]) == "not_linearizable"
    assert verdict([write(1, 0, 2, 1), read(2, 3, 4, 1)]) == "linearizable"


def test_a_read_overlapping_a_write_may_see_old_or_new() -> None:
    assert verdict([write(1, 0, 10, 1), read(2, 1, 2, None)]) == "linearizable"
    assert verdict([write(1, 0, 10, 1), read(2, 1, 2, 1)]) == "linearizable"


def test_two_reads_cannot_see_new_then_old() -> None:
    # The classic: during write(1), one read sees 1, and a later read (after the first
    # returned) sees the old value: no order of points allows that.
    history = [write(1, 0, 10, 1), read(2, 1, 2, 1), read(3, 3, 4, None)]
    assert verdict(history) == "not_linearizable"


def test_unknown_write_may_take_effect_late_or_never() -> None:
    # write(1) never returned: it may take effect after its call, at any time, or never.
    late = [write(1, 0, None, 1), read(2, 5, 6, None), read(2, 7, 8, 1)]
    never = [write(1, 0, None, 1), read(2, 5, 6, None), read(2, 7, 8, None)]
    assert verdict(late) == "linearizable"
    assert verdict(never) == "linearizable"
    # ... but not before its call.
    assert verdict([read(2, 0, 1, 1), write(1, 2, None, 1)]) == "not_linearizable"
    # ... and only once: 1, then 2, then 1 again needs two writes of 1.
    twice = [
        write(1, 0, None, 1),
        read(2, 5, 6, 1),
        write(3, 7, 8, 2),
        read(2, 9, 10, 1),
    ]
    assert verdict(twice) == "not_linearizable"


def test_failed_cas_compared_unequal() -> None:
    assert verdict([write(1, 0, 1, 3), cas(2, 2, 3, 3, 4, False)], True) == "not_linearizable"
    assert verdict([write(1, 0, 1, 3), cas(2, 2, 3, 2, 4, False)], True) == "linearizable"
    history = [write(1, 0, 1, 3), cas(2, 2, 3, 3, 4, True), read(1, 4, 5, 4)]
    assert verdict(history, True) == "linearizable"


def test_identical_unknown_writes_can_each_take_effect_once() -> None:
    # Two unknown write(1)s and a write(2) between the reads: 1, 2, 1 needs both.
    history = [
        write(1, 0, None, 1),
        write(2, 0, None, 1),
        read(3, 5, 6, 1),
        write(3, 7, 8, 2),
        read(3, 9, 10, 2),
        read(3, 11, 12, 1),
    ]
    assert verdict(history) == "linearizable"
    assert verdict([*history, write(3, 13, 14, 2), read(3, 15, 16, 1)]) == "not_linearizable"


def test_step_budget_gives_unknown() -> None:
    # 14 concurrent writes and a read that fits no order: refuting it takes many steps.
    history = [write(client, 0, 100, client) for client in range(14)]
    history.append(read(99, 101, 102, 77))
    partitions = list(prepare(REGISTER, history).values())
    assert run_searches(partitions, Budget(max_steps=5000))[0].verdict in {
        "unknown",
        "not_linearizable",
    }
    tight = [write(client, 0, 100, client) for client in range(14)]
    tight.append(read(99, 101, 102, 0))
    tight.append(read(98, 103, 104, 1))
    results = run_searches(list(prepare(REGISTER, tight).values()), Budget(max_steps=4096))
    assert results[0].verdict == "unknown"


def test_interrupt_callback_gives_unknown() -> None:
    history = [write(client, 0, 100, client) for client in range(14)]
    history += [read(99, 101, 102, 0), read(98, 103, 104, 1)]
    budget = Budget(interrupted=lambda: True)
    assert run_searches(list(prepare(REGISTER, history).values()), budget)[0].verdict == "unknown"


def test_report_names_prefix_and_culprit() -> None:
    history = [
        write(1, 0, 2, 1),
        read(2, 3, 4, 1),
        write(1, 5, 6, 2),
        read(2, 7, 8, 1),
        read(3, 9, 10, 2),
    ]
    report = check_history(REGISTER, history, Budget(max_steps=100_000))
    assert report.verdict == "not_linearizable"
    violation = report.violation
    assert violation is not None
    assert violation.culprit == 3  # the read at [7, 8] after write(2) finished at 6
    assert violation.prefix_end_time == 8
    assert violation.prefix_order == (0, 1, 2)
    # write(1) is pinned before the read at [7, 8] either by its own return (op 0) or by the
    # read of 1 at [3, 4] (op 1); relaxing candidates in order keeps the later one.
    assert violation.minimal == (1, 2, 3)
    assert violation.minimal_is_one_minimal
    assert violation.possible_results == ("2",)
    assert "client 2's read() returned 1 during [7, 8]" in violation.explanation
    assert "every such order makes it return 2" in violation.explanation


def test_linearizable_report_gives_an_order_respecting_real_time() -> None:
    history = [write(1, 0, 5, 1), read(2, 1, 2, None), read(3, 6, 7, 1)]
    report = check_history(REGISTER, history, Budget(max_steps=100_000))
    assert report.verdict == "linearizable"
    assert report.orders == (("", (1, 0, 2)),)
