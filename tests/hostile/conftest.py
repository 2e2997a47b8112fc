"""Hypothesis profiles for the fuzzing tests: `ci` (default; derandomized, so every run tries the same
examples) and `long` (10,000 random examples per test, or `EBB_FUZZ_EXAMPLES`; `EBB_FUZZ_PROFILE=long`)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# The operator tests here use the operator suite's fixtures (sandbox, api, redis, start_operator …).
from tests.operator.conftest import (  # noqa: F401
    api,
    kubeconfig,
    list_name,
    redis,
    sandbox,
    start_operator,
)

_SLOW_DATA = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
              HealthCheck.large_base_example]
settings.register_profile("ci", derandomize=True, max_examples=120, deadline=None, database=None,
                          suppress_health_check=_SLOW_DATA, print_blob=True)
settings.register_profile("long", max_examples=int(os.environ.get("EBB_FUZZ_EXAMPLES", "10000")), deadline=None, database=None,
                          suppress_health_check=_SLOW_DATA, print_blob=True)
settings.load_profile(os.environ.get("EBB_FUZZ_PROFILE", "ci"))
