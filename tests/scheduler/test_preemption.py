"""pickOneNodeForPreemption's order of criteria and the reprieve order, from kube-scheduler's
documented preemption rules."""

from __future__ import annotations

from impl.scheduler.features import DEFAULT_FEATURES
from impl.scheduler.podinfo import PodInfo, pod_info
from impl.scheduler.preemption import more_important, pick_one_node, split_by_budget_violation
from impl.scheduler.profile import default_profile
from impl.scheduler.schedule import schedule_one
from models.k8s.core.pod import Pod
from models.k8s.policy import PodDisruptionBudget
from tests.scheduler.helpers import decode, node, pod, report, snapshot


def _info(source: Pod) -> PodInfo:
    return pod_info(source, DEFAULT_FEATURES)


def _victims(*specs: tuple[int, str]) -> list[PodInfo]:
    return [
        _info(pod(f"v{i}", priority=priority, status={"startTime": start} if start else None))
        for i, (priority, start) in enumerate(specs)
    ]


def test_lowest_highest_victim_priority_wins_first() -> None:
    chosen = pick_one_node(
        [("a", _victims((5, "")), 0), ("b", _victims((1, ""), (1, ""), (1, "")), 0)]
    )
    assert chosen == "b"


def test_then_smallest_priority_sum() -> None:
    # both top out at priority 3; a's sum (3 + 1) beats b's (3 + 2)
    chosen = pick_one_node(
        [("b", _victims((3, ""), (2, "")), 0), ("a", _victims((3, ""), (1, "")), 0)]
    )
    assert chosen == "a"


def test_then_fewest_victims() -> None:
    # each priority counts as priority + 2^31, so a victim at -2^31 adds 0 to the sum:
    # equal highest priority (0), equal sums (2^31), and b has fewer victims
    chosen = pick_one_node(
        [("a", _victims((0, ""), (-(2**31), "")), 0), ("b", _victims((0, "")), 0)]
    )
    assert chosen == "b"


def test_negative_priorities_do_not_favour_more_victims() -> None:
    # without the 2^31 offset, two victims at -5 would sum lower than one
    chosen = pick_one_node([("a", _victims((-5, ""), (-5, "")), 0), ("b", _victims((-5, "")), 0)])
    assert chosen == "b"


def test_then_latest_start_among_the_most_important_victims() -> None:
    early = _victims((2, "2024-01-01T00:00:00Z"))
    late = _victims((2, "2024-06-01T00:00:00Z"))
    assert pick_one_node([("a", early, 0), ("b", late, 0)]) == "b"
    assert pick_one_node([("a", early, 0), ("b", list(early), 0)]) == "a"  # full tie: first found


def test_more_important_is_priority_then_earlier_start() -> None:
    high = _info(pod("h", priority=2))
    low_early = _info(pod("e", priority=1, status={"startTime": "2024-01-01T00:00:00Z"}))
    low_late = _info(pod("l", priority=1, status={"startTime": "2024-02-01T00:00:00Z"}))
    assert more_important(high, low_early)
    assert more_important(low_early, low_late)
    assert not more_important(low_late, low_early)


def test_reprieve_keeps_the_most_important_pods() -> None:
    nodes = [node("a", cpu="3")]
    existing = [
        pod("p1", cpu="1", priority=1, node_name="a"),
        pod("p2", cpu="1", priority=3, node_name="a"),
        pod("p3", cpu="1", priority=2, node_name="a"),
    ]
    # room for 2 cpu is needed: p2 (3) is reprieved first, then p3 (2) no longer fits
    result = report(nodes, pod("vip", cpu="2", priority=10), existing)
    assert result["postFilter"]["nominatedNode"] == "a"
    assert result["postFilter"]["victims"] == ["default/p3", "default/p1"]


def test_fewest_budget_violations_come_first() -> None:
    assert pick_one_node([("a", _victims((1, "")), 1), ("b", _victims((9, ""), (9, "")), 0)]) == "b"


def test_victims_that_would_violate_a_budget_are_reprieved_first() -> None:
    budget = decode(
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "db", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "db"}}, "minAvailable": 1},
            "status": {"disruptionsAllowed": 0},
        }
    )
    assert isinstance(budget, PodDisruptionBudget)
    existing = [
        pod("db", cpu="1", priority=1, labels={"app": "db"}, node_name="a"),
        pod("cache", cpu="1", priority=2, labels={"app": "cache"}, node_name="a"),
    ]
    state = snapshot([node("a", cpu="2"), *existing, budget])
    outcome, _ = schedule_one(default_profile(), state, _info(pod("vip", cpu="1", priority=10)))
    # by importance "cache" (2) would be reprieved first; the budget-protected "db" goes first
    assert outcome.post_filter is not None
    assert outcome.post_filter.victims == ("default/cache",)
    violating, fine = split_by_budget_violation([_info(p) for p in existing], (budget,))
    assert [v.name for v in violating] == ["db"]
    assert [f.name for f in fine] == ["cache"]
