"""Hypothesis profiles: ``ci`` (thorough but bounded) and ``dev`` (quick).

Pick one with HYPOTHESIS_PROFILE; the test script uses ``ci``, ``python -m benchmarks.mutation``
uses ``mutation`` (derandomized, fewer examples).
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=30, deadline=None)
# benchmarks/mutation.py: reproducible kills, in a time one mutant's test run can afford.
settings.register_profile(
    "mutation",
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
