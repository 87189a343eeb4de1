"""The rolling-update arithmetic against the values the Kubernetes docs and sources give.

Deployment docs ("Max Surge"/"Max Unavailable"): a percentage of maxSurge rounds up, one of
maxUnavailable rounds down; ``ResolveFenceposts``: both 0 makes maxUnavailable 1. The worked
example in rolling.go's comment: 10 replicas, maxUnavailable 2, maxSurge 3.
"""

import pytest

from impl.controllers.arithmetic import INTEGERS
from impl.controllers.rollout_math import (
    cleanup_unhealthy,
    max_scaled_down,
    max_unavailable,
    new_replicas_rolling,
    resolve_fenceposts,
    scale_down_old,
)


@pytest.mark.parametrize(
    ("surge", "unavailable", "desired", "expected"),
    [
        ("25%", "25%", 10, (3, 2)),  # ceil(2.5), floor(2.5)
        ("25%", "25%", 1, (1, 0)),
        ("25%", "25%", 4, (1, 1)),
        ("30%", "0%", 10, (3, 0)),
        ("1%", "1%", 10, (1, 0)),
        ("0%", "10%", 3, (0, 1)),  # floor(0.3) = 0 and surge 0: unavailable becomes 1
        (0, 0, 3, (0, 1)),
        (2, 3, 10, (2, 3)),
        ("200%", "100%", 5, (10, 5)),
    ],
)
def test_fenceposts(
    surge: int | str, unavailable: int | str, desired: int, expected: tuple[int, int]
) -> None:
    def split(value: int | str) -> tuple[int, bool]:
        return (int(value[:-1]), True) if isinstance(value, str) else (value, False)

    s, s_percent = split(surge)
    u, u_percent = split(unavailable)
    assert resolve_fenceposts(INTEGERS, s, s_percent, u, u_percent, desired) == expected


def test_max_unavailable_never_exceeds_replicas_and_is_zero_without_replicas() -> None:
    assert max_unavailable(INTEGERS, 5, 3) == 3
    assert max_unavailable(INTEGERS, 2, 0) == 0
    assert max_unavailable(INTEGERS, 2, 10) == 2


def test_the_new_replica_set_grows_to_the_surge_limit() -> None:
    # 10 replicas, maxSurge 3: the rollout starts by creating 3 new pods (13 in total)
    assert new_replicas_rolling(INTEGERS, 10, 3, total_spec=10, new_spec=0) == 3
    # old scaled down to 8: the new one can grow to 5
    assert new_replicas_rolling(INTEGERS, 10, 3, total_spec=11, new_spec=3) == 5
    # at the limit it keeps its size
    assert new_replicas_rolling(INTEGERS, 10, 3, total_spec=13, new_spec=3) == 3
    # never beyond replicas
    assert new_replicas_rolling(INTEGERS, 10, 3, total_spec=10, new_spec=9) == 10


def test_max_scaled_down_follows_the_rolling_go_example() -> None:
    # new pods crash-looping: 13 pods, minAvailable 8, 5 new unavailable: nothing to scale down
    assert max_scaled_down(INTEGERS, 13, 8, new_spec=5, new_available=0) == 0
    # after rolling back to the good ReplicaSet, only 1 of its pods is unavailable: 4
    assert max_scaled_down(INTEGERS, 13, 8, new_spec=5, new_available=4) == 4


def test_unhealthy_replicas_go_first_oldest_replica_set_first() -> None:
    sizes, removed = cleanup_unhealthy(INTEGERS, [5, 3], [3, 1], max_cleanup=3)
    assert (sizes, removed) == ([3, 2], 3)
    sizes, removed = cleanup_unhealthy(INTEGERS, [4, 0, 2], [4, 0, 0], max_cleanup=10)
    assert (sizes, removed) == ([4, 0, 0], 2)


def test_old_replica_sets_shrink_only_down_to_min_available() -> None:
    # 13 available, 8 needed: 5 may go, oldest first
    assert scale_down_old(INTEGERS, [3, 8], available_total=13, min_available=8) == ([0, 6], 5)
    # not more available than needed: nothing goes
    assert scale_down_old(INTEGERS, [10], available_total=8, min_available=8) == ([10], 0)
