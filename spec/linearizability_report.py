"""The verdict on a history, and on a violation the explanation a person can act on.

:func:`check_history` runs the search of :mod:`spec.linearizability` over each partition of the
history (round robin, stopping at the first violation). When a partition is not linearizable:

1. the **shortest non-linearizable prefix** is found by bisection over the returns: the prefix
   cut at a return keeps the operations called so far, and those still running become unknown
   (they may or may not take effect). Linearizability is prefix-closed, so the verdict is
   monotone in the cut. The operation whose return ends that prefix is the *culprit*; everything
   before its return is the **longest linearizable prefix**, reported with a linearization;
2. the failing prefix is **shrunk** by *relaxing* operations: a relaxed operation keeps only
   its call (it may take effect at any time after it, or never; a relaxed read is dropped).
   Relaxing is a weakening, so if the relaxed history still cannot be linearized, neither can
   the original, and the relaxed operations' results are not part of the reason. First the
   longest run of earliest-returning operations is relaxed (by bisection: relaxing more is
   weaker, so this is monotone), then chunks of the rest, halving down to single operations
   (delta debugging). When every single relaxation was decided, the set of operations still
   definite is 1-minimal: relaxing any one more makes the history linearizable;
3. the culprit's result is left open and the search asked, repeatedly, for an order that gives
   it a result not seen yet: the explanation says what it returned and what every order of the
   shrunk history would have made it return.

Every search draws on one :class:`spec.linearizability.Budget`; the analysis stops early
(saying so) when the budget runs out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec

from models.history import OperationRecord
from spec.linearizability import (
    ILLEGAL,
    Budget,
    Illegal,
    Prepared,
    PreparedOperation,
    ReachTest,
    SequentialModel,
    StateT,
    Verdict,
    prepare,
)
from spec.linearizability_search import PartitionSearch, run_searches

SHRINK_CHECK_STEPS = 30_000
SHRINK_CHECKS_LIMIT = 80
ANALYSIS_STEPS = 3_000_000
ANALYSIS_STEPS_PER_VERDICT_STEP = 100
CHECK_STEPS_PER_VERDICT_STEP = 20
MINIMUM_CHECK_STEPS = 2_000


class AnalysisBudget(Budget):
    """The analysis's budget, scaled to what the verdict cost: each attempt (a relaxation, a
    prefix) may take ``check_steps``, the whole analysis ``max_steps``."""

    def __init__(self, verdict_steps: int, interrupted: Callable[[], bool] | None) -> None:
        super().__init__(
            max_steps=min(
                ANALYSIS_STEPS, max(100_000, ANALYSIS_STEPS_PER_VERDICT_STEP * verdict_steps)
            ),
            interrupted=interrupted,
        )
        self.check_steps = min(
            SHRINK_CHECK_STEPS,
            max(MINIMUM_CHECK_STEPS, CHECK_STEPS_PER_VERDICT_STEP * verdict_steps),
        )


LISTED_OPERATIONS_LIMIT = 20
POSSIBLE_RESULTS_LIMIT = 6


class Violation(msgspec.Struct, frozen=True, kw_only=True):
    """Where and why a history stops being linearizable (indices are history positions)."""

    partition: str | None
    culprit: int
    prefix_end_time: int
    prefix_order: tuple[int, ...]
    minimal: tuple[int, ...]
    """Operations whose results the violation needs (the culprit among them)."""
    relaxed: tuple[int, ...]
    """Other writes, kept as "may take effect at any time after the call, or never"."""
    minimal_is_one_minimal: bool
    possible_results: tuple[str, ...]
    explanation: str


class CheckReport(msgspec.Struct, frozen=True, kw_only=True):
    """The verdict; ``orders`` maps each partition to a linearization when one was found."""

    model: str
    verdict: Verdict
    operations_checked: int
    partitions: int
    steps: int
    orders: tuple[tuple[str, tuple[int, ...]], ...] = ()
    violation: Violation | None = None
    note: str = ""


def _not_linearizable(prepared: Prepared[StateT], budget: Budget, limit: int) -> bool | None:
    """Whether ``prepared`` is shown not linearizable (None: the search ran out of steps)."""
    local = Budget(max_steps=limit, interrupted=budget.interrupted)
    result = run_searches([prepared], local)[0]
    budget.spend(local.steps_used)
    if result.verdict == "unknown":
        return None
    return result.verdict == "not_linearizable"


def _shortest_failing_cut(
    prepared: Prepared[StateT], budget: AnalysisBudget
) -> tuple[int, tuple[int, ...]] | None:
    """The position of the culprit and a linearization of the prefix before its return."""
    returns = sorted(
        (operation.return_time, position)
        for position, operation in enumerate(prepared.operations)
        if operation.return_time is not None
    )
    low, high = 0, len(returns)  # prefix(low) linearizable; prefix(high) not
    order: tuple[int, ...] = ()
    for _ in range(64):
        if high - low <= 1 or budget.exhausted:
            break
        middle = (low + high) // 2
        local = Budget(max_steps=budget.check_steps * 5, interrupted=budget.interrupted)
        result = run_searches([prepared.cut_at(returns[middle - 1][0], True)], local)[0]
        budget.spend(local.steps_used)
        if result.verdict == "unknown":
            return None
        if result.verdict == "linearizable":
            low, order = middle, result.order
        else:
            high = middle
    if high - low > 1:
        return None
    if low == 0:
        order = ()
    return returns[high - 1][1], order


def _relax(
    model: SequentialModel[StateT],
    records: Sequence[OperationRecord],
    prepared: Prepared[StateT],
    relaxed: set[int],
) -> Prepared[StateT]:
    """``prepared`` with the operations at positions ``relaxed`` made unknown: each may take
    effect at any time after its call, or never (read-only ones are dropped). A weakening: a
    linearization of the original is one of the relaxed history too."""
    operations: list[PreparedOperation] = []
    transitions: list[Callable[[StateT], StateT | Illegal]] = []
    read_only: list[bool] = []
    reach: list[ReachTest[StateT] | None] = []
    grows: list[bool] = []
    for position, operation in enumerate(prepared.operations):
        if position not in relaxed:
            operations.append(operation)
            transitions.append(prepared.transitions[position])
            read_only.append(prepared.read_only[position])
            reach.append(prepared.reach[position])
            grows.append(prepared.grows[position])
            continue
        record = records[operation.index]
        if prepared.read_only[position] or not model.has_effect(record.operation):
            continue
        operations.append(msgspec.structs.replace(operation, return_time=None))
        transitions.append(model.transition(record.operation, None))
        read_only.append(False)
        reach.append(None)
        grows.append(model.grows(record.operation))
    return Prepared(operations, transitions, read_only, prepared.initial, reach, grows)


def _shrink(
    model: SequentialModel[StateT],
    records: Sequence[OperationRecord],
    prepared: Prepared[StateT],
    culprit: int,
    budget: AnalysisBudget,
) -> tuple[set[int], bool]:
    """Delta debugging: relax chunks of definite operations (see :func:`_relax`) while the
    history still cannot be linearized. Returns the positions that must stay definite and
    whether every single relaxation was tried."""
    candidates = [
        position
        for position, operation in enumerate(prepared.operations)
        if position != culprit and operation.return_time is not None
    ]
    # First relax the longest run of the earliest-returning operations that keeps the
    # violation (relaxing more is weaker, so this is monotone: bisect it).
    candidates.sort(key=lambda position: prepared.operations[position].return_time or 0)
    checks = Budget(max_steps=SHRINK_CHECKS_LIMIT)  # one "step" per attempt
    low, high = 0, len(candidates)
    for _ in range(64):
        if low >= high or budget.exhausted or not checks.spend(1):
            break
        middle = (low + high + 1) // 2
        trial_set = set(candidates[:middle])
        verdict = _not_linearizable(
            _relax(model, records, prepared, trial_set), budget, budget.check_steps
        )
        if verdict:
            low = middle
        else:
            high = middle - 1
    relaxed = set(candidates[:low])
    candidates = candidates[low:]
    chunk = max(1, len(candidates) // 2)
    exact = True
    for _ in range(64):
        index = 0
        while index < len(candidates) and not budget.exhausted:
            if not checks.spend(1):
                return relaxed, False
            trial = candidates[index : index + chunk]
            verdict = _not_linearizable(
                _relax(model, records, prepared, relaxed | set(trial)), budget, budget.check_steps
            )
            if verdict:
                relaxed |= set(trial)
                candidates = candidates[:index] + candidates[index + chunk :]
            else:
                exact = exact and verdict is not None
                index += chunk
        if chunk == 1 or budget.exhausted:
            break
        chunk = max(1, chunk // 2)
    return relaxed, exact and not budget.exhausted


def _possible_results(
    model: SequentialModel[StateT],
    records: Sequence[OperationRecord],
    prepared: Prepared[StateT],
    culprit: int,
    budget: AnalysisBudget,
) -> tuple[str, ...] | None:
    """The results the culprit would return in orders of ``prepared`` that respect real time,
    its own result left open: each search finds one order and excludes its answer for the
    next. None when the budget ran out."""
    operation = records[prepared.operations[culprit].index].operation
    found: list[str] = []
    for _ in range(POSSIBLE_RESULTS_LIMIT):

        def open_result(
            state: StateT, excluded: frozenset[str] = frozenset(found)
        ) -> StateT | Illegal:
            result, after = model.expected(state, operation)
            return ILLEGAL if model.describe_result(result) in excluded else after

        transitions = list(prepared.transitions)
        transitions[culprit] = open_result
        read_only = list(prepared.read_only)
        read_only[culprit] = False
        reach = list(prepared.reach)
        reach[culprit] = None
        grows = list(prepared.grows)
        grows[culprit] = False  # its open result may lead anywhere
        trial = Prepared(
            prepared.operations, transitions, read_only, prepared.initial, reach, grows
        )
        local = Budget(max_steps=budget.check_steps, interrupted=budget.interrupted)
        result = run_searches([trial], local)[0]
        budget.spend(local.steps_used)
        if result.verdict == "unknown":
            return None
        if result.verdict == "not_linearizable":
            return tuple(found)
        found.append(_answer_in_order(model, records, trial, culprit, result.order))
    return tuple(found)


def _answer_in_order(
    model: SequentialModel[StateT],
    records: Sequence[OperationRecord],
    prepared: Prepared[StateT],
    culprit: int,
    order: tuple[int, ...],
) -> str:
    """Replay ``order`` (history indices) and describe what the culprit returns in it."""
    position_of = {
        operation.index: position for position, operation in enumerate(prepared.operations)
    }
    state = prepared.initial
    target = prepared.operations[culprit].index
    for index in order:
        if index == target:
            result, _ = model.expected(state, records[index].operation)
            return model.describe_result(result)
        moved = prepared.transitions[position_of[index]](state)
        assert moved is not ILLEGAL, "a found linearization replays"
        state = moved
    raise AssertionError("the culprit is definite, so every linearization contains it")


def _describe(model: SequentialModel[StateT], record: OperationRecord) -> str:
    returned = "never returned"
    if record.return_time is not None:
        returned = f"returned at {record.return_time}"
    if record.definite and record.result is not None:
        outcome = f"-> {model.describe_result(record.result)}"
    else:
        outcome = "-> outcome unknown"
    return (
        f"client {record.client_id}: {model.describe_operation(record.operation)} {outcome} "
        f"(called at {record.call_time}, {returned})"
    )


def _explain(
    model: SequentialModel[StateT],
    records: Sequence[OperationRecord],
    culprit: int,
    minimal: Sequence[int],
    relaxed: int,
    possible: tuple[str, ...] | None,
    one_minimal: bool,
) -> str:
    record = records[culprit]
    assert record.result is not None
    head = (
        f"client {record.client_id}'s {model.describe_operation(record.operation)} returned "
        f"{model.describe_result(record.result)} during [{record.call_time}, "
        f"{record.return_time}], but no order of the operations that respects real time "
        "allows it"
    )
    if possible is None:
        reason = ""
    elif possible:
        reason = "; every such order makes it return " + " or ".join(sorted(possible))
    else:
        reason = "; even ignoring its result, the other operations cannot all be ordered"
    others = (
        f", with {relaxed} other writes that may take effect at any time after their call, or never"
        if relaxed
        else ""
    )
    shown = sorted(minimal)[-LISTED_OPERATIONS_LIMIT:]
    if one_minimal:
        intro = f"It needs only these {len(minimal)} results{others}:"
    else:
        intro = f"These {len(minimal)} results (not shown to be minimal) suffice{others}"
        intro += ":" if len(shown) == len(minimal) else f"; the last {len(shown)}:"
    lines = [f"{head}{reason}.", intro]
    lines.extend("  " + _describe(model, records[index]) for index in shown)
    return "\n".join(lines)


def _analyse(
    model: SequentialModel[StateT],
    records: Sequence[OperationRecord],
    key: str | None,
    prepared: Prepared[StateT],
    budget: AnalysisBudget,
) -> Violation | None:
    cut = _shortest_failing_cut(prepared, budget)
    if cut is None:
        return None
    culprit_position, order = cut
    culprit_operation = prepared.operations[culprit_position]
    assert culprit_operation.return_time is not None
    failing = prepared.cut_at(culprit_operation.return_time, True)
    culprit_in_failing = next(
        position
        for position, operation in enumerate(failing.operations)
        if operation.index == culprit_operation.index
    )
    relaxed_positions, one_minimal = _shrink(model, records, failing, culprit_in_failing, budget)
    smallest = _relax(model, records, failing, relaxed_positions)
    culprit_in_smallest = next(
        position
        for position, operation in enumerate(smallest.operations)
        if operation.index == culprit_operation.index
    )
    possible = _possible_results(model, records, smallest, culprit_in_smallest, budget)
    minimal = tuple(
        operation.index for operation in smallest.operations if operation.return_time is not None
    )
    relaxed = len(smallest.operations) - len(minimal)
    return Violation(
        partition=key,
        culprit=culprit_operation.index,
        prefix_end_time=culprit_operation.return_time,
        prefix_order=order,
        minimal=minimal,
        relaxed=tuple(
            operation.index for operation in smallest.operations if operation.return_time is None
        ),
        minimal_is_one_minimal=one_minimal,
        possible_results=possible or (),
        explanation=_explain(
            model, records, culprit_operation.index, minimal, relaxed, possible, one_minimal
        ),
    )


def check_history(
    model: SequentialModel[StateT],
    records: Sequence[OperationRecord],
    budget: Budget,
    search_partitions: PartitionSearch = run_searches,
) -> CheckReport:
    """Judge ``records`` against ``model`` within ``budget`` (see the module docstring); the
    partitions are searched by ``search_partitions`` (the runner may pass a parallel one)."""
    partitions = prepare(model, records)
    keys = list(partitions)
    results = search_partitions([partitions[key] for key in keys], budget, True)
    checked = sum(len(item.operations) for item in partitions.values())
    verdicts = [result.verdict for result in results]
    if "not_linearizable" in verdicts:
        key = keys[verdicts.index("not_linearizable")]
        verdict_steps = results[verdicts.index("not_linearizable")].steps
        analysis_budget = AnalysisBudget(verdict_steps, budget.interrupted)
        violation = _analyse(model, records, key, partitions[key], analysis_budget)
        return CheckReport(
            model=model.name,
            verdict="not_linearizable",
            operations_checked=checked,
            partitions=len(keys),
            steps=budget.steps_used + analysis_budget.steps_used,
            violation=violation,
            note="" if violation is not None else "the budget ran out before the analysis",
        )
    verdict: Verdict = "unknown" if "unknown" in verdicts else "linearizable"
    orders = tuple(
        ("" if key is None else key, result.order)
        for key, result in zip(keys, results, strict=True)
    )
    return CheckReport(
        model=model.name,
        verdict=verdict,
        operations_checked=checked,
        partitions=len(keys),
        steps=budget.steps_used,
        orders=orders if verdict == "linearizable" else (),
    )
