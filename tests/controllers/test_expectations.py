"""Expectations as pkg/controller/controller_utils.go keeps them."""

from impl.controllers import expectations as exp

KEY = "default/web"


def test_no_record_means_satisfied() -> None:
    assert exp.satisfied(exp.Expectations(), KEY, now_ms=0)


def test_creations_must_all_be_observed() -> None:
    expectations = exp.expect_creations(exp.Expectations(), KEY, 2, now_ms=0)
    assert not exp.satisfied(expectations, KEY, now_ms=1)
    expectations = exp.creation_observed(expectations, KEY)
    assert not exp.satisfied(expectations, KEY, now_ms=1)
    assert exp.satisfied(exp.creation_observed(expectations, KEY), KEY, now_ms=1)


def test_only_the_recorded_pods_count_as_deletions() -> None:
    expectations = exp.expect_deletions(exp.Expectations(), KEY, ("ns/a", "ns/b"), now_ms=0)
    expectations = exp.deletion_observed(expectations, KEY, "ns/other")
    expectations = exp.deletion_observed(expectations, KEY, "ns/a")
    expectations = exp.deletion_observed(expectations, KEY, "ns/a")  # seen twice: once
    assert not exp.satisfied(expectations, KEY, now_ms=1)
    assert exp.satisfied(exp.deletion_observed(expectations, KEY, "ns/b"), KEY, now_ms=1)


def test_expectations_expire_after_five_minutes() -> None:
    expectations = exp.expect_creations(exp.Expectations(), KEY, 3, now_ms=1_000)
    assert not exp.satisfied(expectations, KEY, now_ms=1_000 + 300_000)
    assert exp.satisfied(expectations, KEY, now_ms=1_000 + 300_001)


def test_a_deleted_controller_forgets_its_record() -> None:
    expectations = exp.expect_creations(exp.Expectations(), KEY, 3, now_ms=0)
    assert exp.satisfied(exp.forget_key(expectations, KEY), KEY, now_ms=0)
