import os
import sys

# tests import their shared helpers (oracle, corpus) as top-level modules
sys.path.insert(0, os.path.dirname(__file__))


def pytest_configure(config):
    # long-running tests (rows of up to 2^28 entries, GBs of memory): deselect with -m "not slow"
    config.addinivalue_line("markers", "slow: a long-running test (deselect with -m 'not slow')")
