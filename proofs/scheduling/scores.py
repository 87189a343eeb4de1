"""Score plugin properties, proved on the implementation's own formulas
(:mod:`impl.scheduler.arithmetic`) evaluated on z3 terms.

- every score plugin's normalized score lies in [0, 100] for all inputs (LeastAllocated,
  MostAllocated, RequestedToCapacityRatio with any valid shape, the weighted means,
  DefaultNormalizeScore, PodTopologySpread's normalization, ImageLocality);
- LeastAllocated is non-increasing and MostAllocated non-decreasing in the requested amount;
- DefaultNormalizeScore's edge cases: all-zero scores give 100 when reversing and 0 otherwise,
  the maximum maps to 100 (to 0 when reversing).

Bounds: amounts 0..2^56, node lists of 1..4 nodes, 1..3 resources, shapes of 1..3 points
(utilization 0..100 strictly increasing, score 0..10 scaled to 0..100).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from impl.scheduler.arithmetic import (
    Arithmetic,
    default_normalize_score,
    image_locality_score,
    least_requested_score,
    most_requested_score,
    requested_to_capacity_ratio_score,
    rounded_weighted_mean_of_positive,
    spread_normalize_score,
    weighted_mean,
)
from proofs.catalog import Mutant, ProofCase
from proofs.scheduling.z3arithmetic import Z3, amount, first_failure, in_score_range
from proofs.z3adapter import (
    And,
    ArithRef,
    BoolRef,
    If,
    Implies,
    Int,
    Verdict,
    check_valid,
)

PerResource = Callable[[Arithmetic[ArithRef, BoolRef], ArithRef, ArithRef], ArithRef]


def _per_resource_range(formula: PerResource) -> Verdict:
    requested, requested_ok = amount("requested")
    capacity, capacity_ok = amount("capacity")
    return check_valid(
        in_score_range(formula(Z3, requested, capacity)), assumptions=(requested_ok, capacity_ok)
    )


def least_without_overflow_guard(
    ar: Arithmetic[ArithRef, BoolRef], requested: ArithRef, capacity: ArithRef
) -> ArithRef:
    """Mutant: LeastAllocated without the ``requested > capacity -> 0`` guard."""
    safe = If(capacity == 0, 1, capacity)
    return If(capacity == 0, 0, ar.quotient((capacity - requested) * 100, safe))


def most_without_clamp(
    ar: Arithmetic[ArithRef, BoolRef], requested: ArithRef, capacity: ArithRef
) -> ArithRef:
    """Mutant: MostAllocated without ``min(requested, capacity)``."""
    safe = If(capacity == 0, 1, capacity)
    return If(capacity == 0, 0, ar.quotient(requested * 100, safe))


def most_zero_when_over(
    ar: Arithmetic[ArithRef, BoolRef], requested: ArithRef, capacity: ArithRef
) -> ArithRef:
    """Mutant: MostAllocated scoring an over-full node 0 (breaks monotonicity)."""
    return If(requested > capacity, 0, most_requested_score(ar, requested, capacity))


def least_full_when_over(
    ar: Arithmetic[ArithRef, BoolRef], requested: ArithRef, capacity: ArithRef
) -> ArithRef:
    """Mutant: LeastAllocated scoring an over-full node 100 (breaks monotonicity)."""
    return If(requested > capacity, 100, least_requested_score(ar, requested, capacity))


def _monotone(formula: PerResource, *, increasing: bool) -> Verdict:
    low, low_ok = amount("requested_low")
    high, high_ok = amount("requested_high")
    capacity, capacity_ok = amount("capacity")
    before = formula(Z3, low, capacity)
    after = formula(Z3, high, capacity)
    claim = after >= before if increasing else after <= before
    return check_valid(claim, assumptions=(low_ok, high_ok, capacity_ok, low <= high))


def _weighted_mean_range(count: int, combine: Callable[..., ArithRef]) -> Verdict:
    entries = []
    assumptions: list[BoolRef] = []
    for index in range(count):
        score, weight = Int(f"score_{index}"), Int(f"weight_{index}")
        counts = Int(f"allocatable_{index}") != 0
        assumptions += [in_score_range(score), weight >= 1, weight <= 100]
        entries.append((score, weight, counts))
    return check_valid(in_score_range(combine(Z3, entries)), assumptions=assumptions)


def mean_by_count(
    ar: Arithmetic[ArithRef, BoolRef], entries: Sequence[tuple[ArithRef, ArithRef, BoolRef]]
) -> ArithRef:
    """Mutant: weighted sum divided by the number of resources instead of the weight sum."""
    total = ar.constant(0)
    for score, weight, counts in entries:
        total = total + If(counts, score * weight, 0)
    return ar.quotient(total, ar.constant(len(entries)))


def _shape(points: int, scale: int = 10) -> tuple[list[tuple[ArithRef, ArithRef]], list[BoolRef]]:
    shape: list[tuple[ArithRef, ArithRef]] = []
    assumptions: list[BoolRef] = []
    for index in range(points):
        utilization, score = Int(f"shape_utilization_{index}"), Int(f"shape_score_{index}")
        assumptions += [utilization >= 0, utilization <= 100, score >= 0, score <= 10]
        if shape:
            assumptions.append(utilization > shape[-1][0])
        shape.append((utilization, score * scale))
    return shape, assumptions


def _rtcr_range(points: int, scale: int = 10) -> Verdict:
    """``scale`` is the factor from config scores (0-10) to node scores: 100 / 10."""
    shape, assumptions = _shape(points, scale)
    requested, requested_ok = amount("requested")
    capacity, capacity_ok = amount("capacity")
    score = requested_to_capacity_ratio_score(Z3, shape, requested, capacity)
    return check_valid(in_score_range(score), assumptions=(*assumptions, requested_ok, capacity_ok))


def _normalize_range(count: int, reverse: bool, lowest: bool = False) -> Verdict:
    scores = [Int(f"raw_{index}") for index in range(count)]
    assumptions = [score >= 0 for score in scores] + [score <= 2**40 for score in scores]
    if lowest:  # mutant: scale by the minimum instead of the maximum
        smallest = scores[0]
        for score in scores[1:]:
            smallest = If(score < smallest, score, smallest)
        safe = If(smallest == 0, 1, smallest)
        normalized = [Z3.quotient(100 * score, safe) for score in scores]
    else:
        normalized = default_normalize_score(Z3, scores, reverse=reverse)
    return check_valid(And([in_score_range(n) for n in normalized]), assumptions=assumptions)


def _spread_range(count: int, mask: int) -> Verdict:
    scores = [Int(f"raw_{index}") for index in range(count)]
    ignored = [bool(mask >> index & 1) for index in range(count)]
    assumptions = [score >= 0 for score in scores] + [score <= 2**40 for score in scores]
    normalized = spread_normalize_score(Z3, scores, ignored)
    return check_valid(And([in_score_range(n) for n in normalized]), assumptions=assumptions)


def spread_without_min(scores: Sequence[ArithRef]) -> list[ArithRef]:
    """Mutant: PodTopologySpread normalization with ``max + max - s`` (min replaced by max)."""
    highest = Z3.constant(0)
    for score in scores:
        highest = If(score > highest, score, highest)
    safe = If(highest == 0, 1, highest)
    return [If(highest == 0, 100, Z3.quotient(100 * (2 * highest - s), safe)) for s in scores]


def _spread_mutant() -> Verdict:
    scores = [Int(f"raw_{index}") for index in range(3)]
    assumptions = [score >= 0 for score in scores]
    normalized = spread_without_min(scores)
    return check_valid(And([in_score_range(n) for n in normalized]), assumptions=assumptions)


def _image_range(containers: int, clamp: bool = True) -> Verdict:
    image_sum, sum_ok = amount("image_sum")
    if clamp:
        score = image_locality_score(Z3, image_sum, containers)
    else:  # mutant: no clamping of the summed sizes
        low = 23 * 1024 * 1024
        score = Z3.quotient(
            100 * (image_sum - low), Z3.constant(1000 * 1024 * 1024 * containers - low)
        )
    return check_valid(in_score_range(score), assumptions=(sum_ok,))


def _normalize_edges() -> Verdict:
    scores = [Int(f"raw_{index}") for index in range(3)]
    nonnegative = And([score >= 0 for score in scores])
    all_zero = And([score == 0 for score in scores])
    forward = default_normalize_score(Z3, scores, reverse=False)
    backward = default_normalize_score(Z3, scores, reverse=True)
    claims = [
        Implies(all_zero, And([n == 100 for n in backward])),
        Implies(all_zero, And([n == 0 for n in forward])),
    ]
    for index, score in enumerate(scores):
        is_max = And([score >= other for other in scores])
        claims.append(Implies(And(is_max, score > 0), forward[index] == 100))
        claims.append(Implies(And(is_max, score > 0), backward[index] == 0))
    return check_valid(And(claims), assumptions=(nonnegative,))


def normalize_reverse_without_zero_guard(scores: Sequence[ArithRef]) -> list[ArithRef]:
    """Mutant: "reversing" that forgets both the flip and the all-zero case."""
    highest = Z3.constant(0)
    for score in scores:
        highest = If(score > highest, score, highest)
    return [Z3.quotient(100 * score, If(highest == 0, 1, highest)) for score in scores]


def _normalize_edges_mutant() -> Verdict:
    scores = [Int(f"raw_{index}") for index in range(3)]
    all_zero = And([score == 0 for score in scores])
    backward = normalize_reverse_without_zero_guard(scores)
    return check_valid(Implies(all_zero, And([n == 100 for n in backward])))


PROOFS: tuple[ProofCase, ...] = (
    ProofCase(
        name="scheduling.scores.least_allocated_range",
        property_text="LeastAllocated per-resource score is in [0, 100]",
        method="exhaustive",
        bound="requested, capacity in 0..2^56 (symbolic)",
        check=lambda: _per_resource_range(least_requested_score),
        mutants=(
            Mutant(
                name="no-overflow-guard",
                description="drop 'requested > capacity scores 0'",
                check=lambda: _per_resource_range(least_without_overflow_guard),
            ),
        ),
    ),
    ProofCase(
        name="scheduling.scores.most_allocated_range",
        property_text="MostAllocated per-resource score is in [0, 100]",
        method="exhaustive",
        bound="requested, capacity in 0..2^56 (symbolic)",
        check=lambda: _per_resource_range(most_requested_score),
        mutants=(
            Mutant(
                name="no-clamp",
                description="use requested instead of min(requested, capacity)",
                check=lambda: _per_resource_range(most_without_clamp),
            ),
        ),
    ),
    ProofCase(
        name="scheduling.scores.weighted_mean_range",
        property_text="NodeResourcesFit's weighted means (Least/Most, RequestedToCapacityRatio) "
        "stay in [0, 100] when each resource score does",
        method="exhaustive",
        bound="1..3 resources, weights 1..100",
        check=lambda: first_failure(
            [partial(_weighted_mean_range, n, weighted_mean) for n in (1, 2, 3)]
            + [
                partial(_weighted_mean_range, n, rounded_weighted_mean_of_positive)
                for n in (1, 2, 3)
            ]
        ),
        mutants=(
            Mutant(
                name="divide-by-count",
                description="divide the weighted sum by the number of resources",
                check=lambda: _weighted_mean_range(2, mean_by_count),
            ),
        ),
    ),
    ProofCase(
        name="scheduling.scores.requested_to_capacity_ratio_range",
        property_text="RequestedToCapacityRatio per-resource score is in [0, 100] for every "
        "valid shape",
        method="exhaustive",
        bound="shapes of 1..3 points, amounts 0..2^56",
        check=lambda: first_failure([partial(_rtcr_range, n) for n in (1, 2, 3)]),
        mutants=(
            Mutant(
                name="wrong-scale",
                description="scale shape scores by 20 instead of 100 / 10",
                check=lambda: _rtcr_range(2, scale=20),
            ),
        ),
    ),
    ProofCase(
        name="scheduling.scores.default_normalize_range",
        property_text="DefaultNormalizeScore maps non-negative scores into [0, 100], "
        "forward and reversed",
        method="exhaustive",
        bound="1..4 nodes, raw scores 0..2^40",
        check=lambda: first_failure(
            [partial(_normalize_range, n, r) for n in (1, 2, 3, 4) for r in (False, True)]
        ),
        mutants=(
            Mutant(
                name="scale-by-minimum",
                description="scale by the smallest score instead of the largest",
                check=lambda: _normalize_range(3, False, lowest=True),
            ),
        ),
    ),
    ProofCase(
        name="scheduling.scores.default_normalize_edges",
        property_text="DefaultNormalizeScore: all zeros give 100 reversed and 0 forward; the "
        "maximum maps to 100 (0 reversed)",
        method="exhaustive",
        bound="3 nodes, raw scores unbounded non-negative",
        check=_normalize_edges,
        mutants=(
            Mutant(
                name="no-zero-guard",
                description="reverse without the all-zero special case",
                check=_normalize_edges_mutant,
            ),
        ),
    ),
    ProofCase(
        name="scheduling.scores.topology_spread_normalize_range",
        property_text="PodTopologySpread's NormalizeScore is in [0, 100]",
        method="exhaustive",
        bound="1..3 nodes, every ignored-node pattern, raw scores 0..2^40",
        check=lambda: first_failure(
            [partial(_spread_range, n, m) for n in (1, 2, 3) for m in range(2**n)]
        ),
        mutants=(
            Mutant(
                name="max-for-min",
                description="use the maximum where the minimum belongs",
                check=_spread_mutant,
            ),
        ),
    ),
    ProofCase(
        name="scheduling.scores.image_locality_range",
        property_text="ImageLocality's score is in [0, 100]",
        method="exhaustive",
        bound="1..4 containers, summed sizes 0..2^56",
        check=lambda: first_failure([partial(_image_range, n) for n in (1, 2, 3, 4)]),
        mutants=(
            Mutant(
                name="no-clamp",
                description="do not clamp the summed image sizes",
                check=lambda: _image_range(1, clamp=False),
            ),
        ),
    ),
    ProofCase(
        name="scheduling.scores.least_allocated_monotone",
        property_text="LeastAllocated never increases when the requested amount grows",
        method="exhaustive",
        bound="requested, capacity in 0..2^56 (symbolic)",
        check=lambda: _monotone(least_requested_score, increasing=False),
        mutants=(
            Mutant(
                name="full-when-over",
                description="score an over-full node 100",
                check=lambda: _monotone(least_full_when_over, increasing=False),
            ),
        ),
    ),
    ProofCase(
        name="scheduling.scores.most_allocated_monotone",
        property_text="MostAllocated never decreases when the requested amount grows",
        method="exhaustive",
        bound="requested, capacity in 0..2^56 (symbolic)",
        check=lambda: _monotone(most_requested_score, increasing=True),
        mutants=(
            Mutant(
                name="zero-when-over",
                description="score an over-full node 0",
                check=lambda: _monotone(most_zero_when_over, increasing=True),
            ),
        ),
    ),
)
