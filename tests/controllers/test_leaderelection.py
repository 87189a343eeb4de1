"""Leader election decisions as client-go's ``tryAcquireOrRenew`` makes them: expiry judged by
the candidate's own clock since it last saw the record change, transitions counted on takeover
only, acquireTime kept on renewal."""

from __future__ import annotations

from impl.controllers import leaderelection as le

CONFIG = le.ElectionConfig(identity="b")
HELD = le.LeaseRecord(holder="a", duration_seconds=15, acquire_time="t0", renew_time="t0")


def test_no_lease_is_created_naming_the_candidate() -> None:
    decision = le.decide(CONFIG, le.Observation(), None, 0, "t1")
    assert isinstance(decision, le.Create)
    assert (decision.record.holder, decision.record.transitions) == ("b", 0)
    assert decision.record.duration_seconds == 15


def test_a_lease_held_by_another_is_respected_until_it_goes_unrenewed_for_a_duration() -> None:
    seen = le.observe(le.Observation(), HELD, 1_000)
    assert isinstance(le.decide(CONFIG, seen, HELD, 15_999, "t"), le.Wait)
    # The same record for a whole lease duration (by our clock): take it over.
    taken = le.decide(CONFIG, seen, HELD, 16_000, "t2")
    assert isinstance(taken, le.Update)
    assert (taken.record.holder, taken.record.transitions, taken.record.acquire_time) == (
        "b",
        1,
        "t2",
    )


def test_a_renewal_by_the_holder_restarts_the_candidates_clock() -> None:
    seen = le.observe(le.Observation(), HELD, 1_000)
    renewed = le.LeaseRecord(holder="a", duration_seconds=15, acquire_time="t0", renew_time="t9")
    seen = le.observe(seen, renewed, 10_000)
    assert seen.observed_ms == 10_000
    assert isinstance(le.decide(CONFIG, seen, renewed, 24_999, "t"), le.Wait)


def test_the_holder_renews_keeping_acquire_time_and_transitions() -> None:
    mine = le.LeaseRecord(holder="b", duration_seconds=15, acquire_time="t0", transitions=3)
    decision = le.decide(CONFIG, le.observe(le.Observation(), mine, 0), mine, 1, "t5")
    assert isinstance(decision, le.Update)
    assert (decision.record.acquire_time, decision.record.renew_time) == ("t0", "t5")
    assert decision.record.transitions == 3


def test_an_empty_holder_is_free_at_once() -> None:
    free = le.LeaseRecord(holder="", transitions=2)
    decision = le.decide(CONFIG, le.observe(le.Observation(), free, 0), free, 0, "t")
    assert isinstance(decision, le.Update)
    assert decision.record.transitions == 3


def test_leadership_is_lost_after_the_renew_deadline() -> None:
    assert not le.lost(CONFIG, 0, 9_999)
    assert le.lost(CONFIG, 0, 10_000)
