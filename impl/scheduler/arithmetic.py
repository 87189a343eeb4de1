"""kube-scheduler's integer score formulas, written once over an abstract arithmetic.

Every formula takes an :class:`Arithmetic` first: :data:`INTEGERS` runs it on Python ints with
Go's int64 semantics (division truncates toward zero), and the proofs pass a z3 arithmetic so
that the very same code is what z3 reasons about. Only integer formulas live here; the ones that
go through float64 in Go (BalancedAllocation, the PodTopologySpread raw score, InterPodAffinity
normalization, ImageLocality's spread) are in their plugins.

Sources: ``pkg/scheduler/framework/plugins/noderesources/{least,most}_allocated.go``,
``requested_to_capacity_ratio.go``, ``helper/normalize_score.go``, ``helper/shape_score.go``,
``imagelocality/image_locality.go``, ``podtopologyspread/scoring.go`` (NormalizeScore).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Generic, Protocol, TypeVar, final

MAX_NODE_SCORE: Final = 100
MAX_CUSTOM_PRIORITY_SCORE: Final = 10
MAX_UTILIZATION: Final = 100
MEBIBYTE: Final = 1024 * 1024
IMAGE_MIN_THRESHOLD: Final = 23 * MEBIBYTE
IMAGE_MAX_CONTAINER_THRESHOLD: Final = 1000 * MEBIBYTE

N = TypeVar("N")
B = TypeVar("B")


class Arithmetic(Protocol, Generic[N, B]):
    """Integer operations with Go int64 semantics, over numbers ``N`` and truth values ``B``."""

    def constant(self, value: int) -> N: ...
    def add(self, left: N, right: N) -> N: ...
    def subtract(self, left: N, right: N) -> N: ...
    def multiply(self, left: N, right: N) -> N: ...
    def quotient(self, left: N, right: N) -> N:
        """Go's ``/`` on integers: truncates toward zero; ``right`` is never zero here."""
        ...

    def less(self, left: N, right: N) -> B: ...
    def equal(self, left: N, right: N) -> B: ...
    def equal_each(self, values: Sequence[N], target: N) -> list[B]:
        """``equal(value, target)`` for each value."""
        ...

    def select(self, condition: B, then: N, otherwise: N) -> N: ...
    def conjunction(self, left: B, right: B) -> B: ...
    def maximum_of(self, values: Sequence[N]) -> N:
        """The largest of a non-empty sequence."""
        ...


@final
class IntegerArithmetic:
    """:class:`Arithmetic` on Python ints (the implementation's arithmetic)."""

    def constant(self, value: int) -> int:
        return value

    def add(self, left: int, right: int) -> int:
        return left + right

    def subtract(self, left: int, right: int) -> int:
        return left - right

    def multiply(self, left: int, right: int) -> int:
        return left * right

    def quotient(self, left: int, right: int) -> int:
        assert right != 0, "division by zero in a score formula"
        magnitude = abs(left) // abs(right)
        return magnitude if (left >= 0) == (right > 0) else -magnitude

    def less(self, left: int, right: int) -> bool:
        return left < right

    def equal(self, left: int, right: int) -> bool:
        return left == right

    def equal_each(self, values: Sequence[int], target: int) -> list[bool]:
        return [value == target for value in values]

    def select(self, condition: bool, then: int, otherwise: int) -> int:
        return then if condition else otherwise

    def conjunction(self, left: bool, right: bool) -> bool:
        return left and right

    def maximum_of(self, values: Sequence[int]) -> int:
        return max(values)


INTEGERS: Final = IntegerArithmetic()


def maximum(ar: Arithmetic[N, B], left: N, right: N) -> N:
    """The larger of two numbers."""
    return ar.select(ar.less(left, right), right, left)


def minimum(ar: Arithmetic[N, B], left: N, right: N) -> N:
    """The smaller of two numbers."""
    return ar.select(ar.less(right, left), right, left)


def least_requested_score(ar: Arithmetic[N, B], requested: N, capacity: N) -> N:
    """``leastRequestedScore``: (capacity - requested) * 100 / capacity, 0 when over capacity
    or when capacity is 0."""
    zero = ar.constant(0)
    safe_capacity = ar.select(ar.equal(capacity, zero), ar.constant(1), capacity)
    free = ar.multiply(ar.subtract(capacity, requested), ar.constant(MAX_NODE_SCORE))
    score = ar.quotient(free, safe_capacity)
    over = ar.less(capacity, requested)
    return ar.select(ar.equal(capacity, zero), zero, ar.select(over, zero, score))


def most_requested_score(ar: Arithmetic[N, B], requested: N, capacity: N) -> N:
    """``mostRequestedScore``: min(requested, capacity) * 100 / capacity, 0 when capacity is 0."""
    zero = ar.constant(0)
    safe_capacity = ar.select(ar.equal(capacity, zero), ar.constant(1), capacity)
    used = ar.multiply(minimum(ar, requested, capacity), ar.constant(MAX_NODE_SCORE))
    return ar.select(ar.equal(capacity, zero), zero, ar.quotient(used, safe_capacity))


def weighted_mean(ar: Arithmetic[N, B], scores: Sequence[tuple[N, N, B]]) -> N:
    """``sum(score * weight) / sum(weight)`` over entries whose flag holds (allocatable != 0);
    0 when no weight counts. Entries are ``(score, weight, counts)``."""
    zero = ar.constant(0)
    total = zero
    weights = zero
    for score, weight, counts in scores:
        total = ar.add(total, ar.select(counts, ar.multiply(score, weight), zero))
        weights = ar.add(weights, ar.select(counts, weight, zero))
    safe_weights = ar.select(ar.equal(weights, zero), ar.constant(1), weights)
    return ar.select(ar.equal(weights, zero), zero, ar.quotient(total, safe_weights))


def broken_linear(ar: Arithmetic[N, B], shape: Sequence[tuple[N, N]], utilization: N) -> N:
    """``helper.BuildBrokenLinearFunction``: shape points ``(utilization, score)`` with
    utilization increasing; linear interpolation with Go's truncating division."""
    assert shape, "a shape needs at least one point"
    result = shape[-1][1]
    for index in range(len(shape) - 1, -1, -1):
        point_utilization, point_score = shape[index]
        if index == 0:
            value = point_score
        else:
            previous_utilization, previous_score = shape[index - 1]
            rise = ar.multiply(
                ar.subtract(point_score, previous_score),
                ar.subtract(utilization, previous_utilization),
            )
            value = ar.add(
                previous_score,
                ar.quotient(rise, ar.subtract(point_utilization, previous_utilization)),
            )
        within = ar.less(utilization, ar.add(point_utilization, ar.constant(1)))
        result = ar.select(within, value, result)
    return result


def scaled_shape(shape: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Config shape scores (0-10) scaled to node scores (0-100)."""
    factor = MAX_NODE_SCORE // MAX_CUSTOM_PRIORITY_SCORE
    return tuple((utilization, score * factor) for utilization, score in shape)


def requested_to_capacity_ratio_score(
    ar: Arithmetic[N, B], shape: Sequence[tuple[N, N]], requested: N, capacity: N
) -> N:
    """Per-resource RequestedToCapacityRatio score: f(requested * 100 / capacity), f(100) when
    capacity is 0 or requested exceeds it. ``shape`` is already scaled to 0-100."""
    zero = ar.constant(0)
    safe_capacity = ar.select(ar.equal(capacity, zero), ar.constant(1), capacity)
    ratio = ar.quotient(ar.multiply(requested, ar.constant(MAX_UTILIZATION)), safe_capacity)
    full = ar.select(ar.equal(capacity, zero), ar.constant(1), ar.constant(0))
    overflow = ar.select(ar.less(capacity, requested), ar.constant(1), full)
    utilization = ar.select(ar.equal(overflow, zero), ratio, ar.constant(MAX_UTILIZATION))
    return broken_linear(ar, shape, utilization)


def rounded_weighted_mean_of_positive(ar: Arithmetic[N, B], scores: Sequence[tuple[N, N, B]]) -> N:
    """RequestedToCapacityRatio's combination: resources scoring 0 are left out, and the mean is
    ``math.Round(sum / weights)``; for non-negative terms that is ``(2*sum + w) / (2*w)``."""
    zero = ar.constant(0)
    total = zero
    weights = zero
    for score, weight, counts in scores:
        included = ar.select(counts, ar.select(ar.less(zero, score), weight, zero), zero)
        total = ar.add(total, ar.multiply(score, included))
        weights = ar.add(weights, included)
    two = ar.constant(2)
    safe_weights = ar.select(ar.equal(weights, zero), ar.constant(1), weights)
    rounded = ar.quotient(
        ar.add(ar.multiply(two, total), safe_weights), ar.multiply(two, safe_weights)
    )
    return ar.select(ar.equal(weights, zero), zero, rounded)


def default_normalize_score(ar: Arithmetic[N, B], scores: Sequence[N], *, reverse: bool) -> list[N]:
    """``helper.DefaultNormalizeScore(100, reverse, scores)``: scale by the maximum to 0-100,
    flip if ``reverse``; a maximum of 0 gives 100 everywhere when reversing and leaves the
    scores alone otherwise."""
    zero = ar.constant(0)
    hundred = ar.constant(MAX_NODE_SCORE)
    highest = zero
    for score in scores:
        highest = maximum(ar, highest, score)
    safe_highest = ar.select(ar.equal(highest, zero), ar.constant(1), highest)
    normalized: list[N] = []
    for score in scores:
        scaled = ar.quotient(ar.multiply(hundred, score), safe_highest)
        if reverse:
            normalized.append(
                ar.select(ar.equal(highest, zero), hundred, ar.subtract(hundred, scaled))
            )
        else:
            normalized.append(ar.select(ar.equal(highest, zero), score, scaled))
    return normalized


def spread_normalize_score(
    ar: Arithmetic[N, B], scores: Sequence[N], ignored: Sequence[bool]
) -> list[N]:
    """PodTopologySpread's NormalizeScore: ignored nodes get 0; max over the others 0 gives 100;
    otherwise ``100 * (max + min - score) / max`` (fewer matching pods, higher score)."""
    zero = ar.constant(0)
    hundred = ar.constant(MAX_NODE_SCORE)
    counted = [score for score, skip in zip(scores, ignored, strict=True) if not skip]
    if not counted:
        return [zero for _ in scores]
    highest = zero
    lowest = counted[0]
    for score in counted:
        highest = maximum(ar, highest, score)
        lowest = minimum(ar, lowest, score)
    safe_highest = ar.select(ar.equal(highest, zero), ar.constant(1), highest)
    normalized: list[N] = []
    for score, skip in zip(scores, ignored, strict=True):
        if skip:
            normalized.append(zero)
            continue
        spread = ar.multiply(hundred, ar.subtract(ar.add(highest, lowest), score))
        normalized.append(
            ar.select(ar.equal(highest, zero), hundred, ar.quotient(spread, safe_highest))
        )
    return normalized


def image_locality_score(ar: Arithmetic[N, B], image_sum: N, containers: int) -> N:
    """ImageLocality's ``calculatePriority``: clamp the summed scaled image sizes to
    [23 MiB, 1000 MiB * containers] and map linearly onto 0-100."""
    low = ar.constant(IMAGE_MIN_THRESHOLD)
    high = ar.constant(IMAGE_MAX_CONTAINER_THRESHOLD * containers)
    clamped = ar.select(
        ar.less(image_sum, low), low, ar.select(ar.less(high, image_sum), high, image_sum)
    )
    span = IMAGE_MAX_CONTAINER_THRESHOLD * containers - IMAGE_MIN_THRESHOLD
    assert span > 0, "ImageLocality needs at least one container"
    return ar.quotient(
        ar.multiply(ar.constant(MAX_NODE_SCORE), ar.subtract(clamped, low)), ar.constant(span)
    )


def insufficient(ar: Arithmetic[N, B], wanted: N, allocatable: N, requested: N) -> B:
    """NodeResourcesFit's per-resource check: a positive request above what is left."""
    return ar.conjunction(
        ar.less(ar.constant(0), wanted), ar.less(ar.subtract(allocatable, requested), wanted)
    )


def too_many_pods(ar: Arithmetic[N, B], pods: N, allowed: N) -> B:
    """NodeResourcesFit's pod count check: ``pods + 1 > allowed``."""
    return ar.less(allowed, ar.add(pods, ar.constant(1)))


def top_scoring_flags(ar: Arithmetic[N, B], totals: Sequence[N]) -> list[B]:
    """For each node, whether its total equals the highest total (host selection's set)."""
    assert totals, "host selection needs at least one scored node"
    best = ar.maximum_of(totals)
    return ar.equal_each(totals, best)


def num_feasible_nodes_to_find(percentage: int, num_all_nodes: int) -> int:
    """``numFeasibleNodesToFind``: how many feasible nodes to look for before scoring; a
    percentage of 0 means the adaptive default ``50 - nodes/125``, at least 5%, at least 100."""
    if num_all_nodes < 100 or percentage >= 100:
        return num_all_nodes
    if percentage == 0:
        percentage = max(50 - num_all_nodes // 125, 5)
    found = num_all_nodes * percentage // 100
    return max(found, 100)
