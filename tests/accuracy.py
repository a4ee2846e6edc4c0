"""The mixed-bound measure, shared with ``fastact accuracy`` (fastact/accuracy.py), so
the tests and the command cannot disagree."""

from fastact.accuracy import (FAST_MAX_ULPS, FAST_MAX_ULPS_BACKWARD, backward_errors,  # noqa: F401
                              forward_errors, mixed_ulps, perturbation_slack,
                              row_backward_slack, row_slack, saved_arrays)
