import os
import sys

from hypothesis import HealthCheck, settings

# tests import their shared helpers (oracle, corpus) as top-level modules
sys.path.insert(0, os.path.dirname(__file__))


def pytest_configure(config):
    # long-running tests (rows of up to 2^28 entries, GBs of memory): deselect with -m "not slow"
    config.addinivalue_line("markers", "slow: a long-running test (deselect with -m 'not slow')")


# Hypothesis profiles, chosen by HYPOTHESIS_PROFILE: 'ci' (the default) keeps the fuzzed API
# (tests/test_fuzz.py) under a minute on two cores and draws the same examples every run
# (a CI result depends on the code, not on the draw); 'nightly' runs far more, new ones.
# Tests that set their own max_examples (tests/test_properties.py) keep them.
_SLOW_DATA = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("ci", max_examples=2500, deadline=None, suppress_health_check=_SLOW_DATA,
                          print_blob=True, derandomize=True)
settings.register_profile("nightly", max_examples=int(os.environ.get("FASTACT_FUZZ_EXAMPLES",
                                                                     100_000)),
                          deadline=None, suppress_health_check=_SLOW_DATA, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
