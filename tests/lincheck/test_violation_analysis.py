"""The analysis of a violation, checked against answers worked out by hand from the definition
of linearizability (Herlihy and Wing): the culprit, the longest linearizable prefix, and the
1-minimal set of operations whose results the violation needs. Written to kill mutants that
survived ``python -m benchmarks.mutation linearizability`` in ``spec/linearizability_report``."""

from models.history import OperationRecord
from spec.etcd.registers import RegisterModel
from spec.linearizability import Budget
from spec.linearizability_report import CheckReport, check_history
from tests.lincheck.builders import read, write

# Sequential, one client after another, on a register that starts empty (None):
#   0 write 1  [0, 10]     1 read -> 1 [11, 12]     2 write 2 [13, 14]
#   3 read -> 1 [15, 16]   (stale: write 2 ended before it began)   4 read -> 2 [17, 18]
STALE_READ: list[OperationRecord] = [
    write(1, 0, 10, 1),
    read(2, 11, 12, 1),
    write(3, 13, 14, 2),
    read(4, 15, 16, 1),
    read(5, 17, 18, 2),
]


def analyse(records: list[OperationRecord]) -> CheckReport:
    return check_history(RegisterModel(with_cas=False), records, Budget(max_steps=1_000_000))


def test_a_stale_read_is_the_culprit_and_ends_the_longest_linearizable_prefix() -> None:
    report = analyse(STALE_READ)
    assert report.verdict == "not_linearizable"
    violation = report.violation
    assert violation is not None
    # Every prefix that ends before operation 3 returns is linearizable (in real-time order);
    # the prefix that includes its return is not.
    assert violation.culprit == 3
    assert violation.prefix_end_time == 16
    assert violation.prefix_order == (0, 1, 2)


def test_the_minimal_set_is_one_of_the_two_one_minimal_sets() -> None:
    violation = analyse(STALE_READ).violation
    assert violation is not None
    # Needed: write 2 (relaxed, it may never take effect) and the stale read 3. Write 1 must take
    # effect before write 2: either it returned before (operation 0 kept) or read 1 saw it
    # (operation 1 kept); keeping one of them suffices, and neither can go as well. Read 4 is
    # not needed. So the 1-minimal sets are {0, 2, 3} and {1, 2, 3}; the analysis relaxes the
    # earliest-returning operations first, so it keeps {1, 2, 3} and relaxes write 0.
    assert violation.minimal in ((0, 2, 3), (1, 2, 3))
    assert violation.minimal == (1, 2, 3)
    assert violation.minimal_is_one_minimal
    assert violation.relaxed == (0,)


def test_a_read_of_a_value_never_written_needs_nothing_else() -> None:
    records = [write(1, 0, 10, 1), read(2, 20, 30, 7), read(3, 31, 32, 1)]
    violation = analyse(records).violation
    assert violation is not None
    assert (violation.culprit, violation.prefix_end_time, violation.prefix_order) == (1, 30, (0,))
    assert violation.minimal == (1,)
    # Write 1 is relaxed: it may take effect at any time after its call, or never.
    assert violation.relaxed == (0,)


def test_the_first_operation_failing_leaves_an_empty_prefix() -> None:
    records = [read(1, 0, 5, 3), write(2, 6, 7, 3)]
    violation = analyse(records).violation
    assert violation is not None
    assert (violation.culprit, violation.prefix_end_time, violation.prefix_order) == (0, 5, ())
    assert violation.minimal == (0,)


def test_a_linearizable_history_has_no_violation_and_an_order() -> None:
    report = analyse(STALE_READ[:3])
    assert report.verdict == "linearizable"
    assert report.violation is None
    assert report.orders == (("", (0, 1, 2)),) or [order for _, order in report.orders] == [
        (0, 1, 2)
    ]
