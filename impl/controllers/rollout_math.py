"""The Deployment controller's rolling-update arithmetic, over any :class:`Arithmetic`.

These are the formulas of ``pkg/controller/deployment/util/deployment_util.go``
(``ResolveFenceposts``, ``MaxUnavailable``, ``MaxSurge``, ``NewRSNewReplicas``) and
``pkg/controller/deployment/rolling.go`` (``reconcileOldReplicaSets``,
``cleanupUnhealthyReplicas``, ``scaleDownOldReplicaSetsForRollingUpdate``), v1.35. The
controller runs them on ints; ``proofs.controllers.rollout`` runs the same functions on z3
terms to prove that a rolling update never schedules more than ``replicas + maxSurge`` pods and
never scales down below ``replicas - maxUnavailable`` available pods.

A percentage is scaled by ``GetScaledValueFromIntOrPercent``: maxSurge rounds up, maxUnavailable
rounds down (Go computes ``math.Ceil``/``math.Floor`` of ``value * total / 100`` in float64,
exact while ``value * total < 2**53``); when both come out 0, maxUnavailable becomes 1.
"""

from __future__ import annotations

from collections.abc import Sequence

from impl.controllers.arithmetic import Arithmetic, B, N, ceil_divide, minimum


def scaled_value(ar: Arithmetic[N, B], amount: N, percent: bool, total: N, round_up: bool) -> N:
    """``GetScaledValueFromIntOrPercent``: an int as is, a percentage of ``total`` rounded."""
    if not percent:
        return amount
    product = ar.multiply(amount, total)
    hundred = ar.constant(100)
    return ceil_divide(ar, product, hundred) if round_up else ar.floor_divide(product, hundred)


def resolve_fenceposts(
    ar: Arithmetic[N, B],
    surge: N,
    surge_percent: bool,
    unavailable: N,
    unavailable_percent: bool,
    desired: N,
) -> tuple[N, N]:
    """``ResolveFenceposts``: (maxSurge, maxUnavailable) as counts for ``desired`` replicas."""
    zero = ar.constant(0)
    surge_count = scaled_value(ar, surge, surge_percent, desired, round_up=True)
    unavailable_count = scaled_value(ar, unavailable, unavailable_percent, desired, round_up=False)
    both_zero = ar.both(ar.equal(surge_count, zero), ar.equal(unavailable_count, zero))
    return surge_count, ar.select(both_zero, ar.constant(1), unavailable_count)


def max_unavailable(ar: Arithmetic[N, B], resolved_unavailable: N, replicas: N) -> N:
    """``MaxUnavailable`` of a rolling Deployment: at most ``replicas``, 0 when it has none."""
    zero = ar.constant(0)
    capped = minimum(ar, resolved_unavailable, replicas)
    return ar.select(ar.equal(replicas, zero), zero, capped)


def new_replicas_rolling(
    ar: Arithmetic[N, B], replicas: N, surge: N, total_spec: N, new_spec: N
) -> N:
    """``NewRSNewReplicas`` for RollingUpdate: grow the new ReplicaSet up to the surge limit."""
    max_total = ar.add(replicas, surge)
    room = minimum(ar, ar.subtract(max_total, total_spec), ar.subtract(replicas, new_spec))
    return ar.select(ar.less_equal(max_total, total_spec), new_spec, ar.add(new_spec, room))


def max_scaled_down(
    ar: Arithmetic[N, B], total_spec: N, min_available: N, new_spec: N, new_available: N
) -> N:
    """``reconcileOldReplicaSets``: how much the old ReplicaSets may lose this round."""
    return ar.subtract(ar.subtract(total_spec, min_available), ar.subtract(new_spec, new_available))


def cleanup_unhealthy(
    ar: Arithmetic[N, B], specs: Sequence[N], available: Sequence[N], max_cleanup: N
) -> tuple[list[N], N]:
    """``cleanupUnhealthyReplicas`` over old ReplicaSets oldest first: each loses its unavailable
    replicas while the budget lasts. The new sizes and the total removed."""
    zero = ar.constant(0)
    total = zero
    sizes: list[N] = []
    for spec, ready in zip(specs, available, strict=True):
        skip = ar.either(
            ar.less_equal(max_cleanup, total),
            ar.either(ar.equal(spec, zero), ar.equal(spec, ready)),
        )
        count = minimum(ar, ar.subtract(max_cleanup, total), ar.subtract(spec, ready))
        sizes.append(ar.select(skip, spec, ar.subtract(spec, count)))
        total = ar.select(skip, total, ar.add(total, count))
    return sizes, total


def scale_down_old(
    ar: Arithmetic[N, B], specs: Sequence[N], available_total: N, min_available: N
) -> tuple[list[N], N]:
    """``scaleDownOldReplicaSetsForRollingUpdate``: remove ``available - minAvailable`` from old
    ReplicaSets oldest first. The new sizes and the total removed."""
    zero = ar.constant(0)
    allowed = ar.less(min_available, available_total)
    target = ar.subtract(available_total, min_available)
    total = zero
    sizes: list[N] = []
    for spec in specs:
        skip = ar.either(
            ar.negate(allowed), ar.either(ar.less_equal(target, total), ar.equal(spec, zero))
        )
        count = minimum(ar, spec, ar.subtract(target, total))
        sizes.append(ar.select(skip, spec, ar.subtract(spec, count)))
        total = ar.select(skip, total, ar.add(total, count))
    return sizes, total
