"""The z3 adapter's verdicts on claims whose truth is known by arithmetic."""

from proofs.z3adapter import Counterexample, Int, Proved, check_valid, model_int


def test_a_valid_claim_is_proved() -> None:
    x = Int("x")
    assert check_valid(x + 1 > x) == Proved()


def test_an_invalid_claim_gets_a_counterexample_that_breaks_it() -> None:
    x = Int("x")
    verdict = check_valid(x * x > 0)
    assert isinstance(verdict, Counterexample)
    # The only integer whose square is not positive is 0.
    assert verdict.assignment == (("x", "0"),)


def test_assumptions_are_used() -> None:
    x = Int("x")
    assert check_valid(x > 3, assumptions=[x > 5]) == Proved()


def test_model_int_reads_the_value() -> None:
    from proofs.z3adapter import Solver

    x = Int("x")
    solver = Solver()
    solver.add(x == 41 + 1)
    solver.check()
    assert model_int(solver.model(), x) == 42
