"""How many threads the parallel kernels use, shared by every backend.

Small inputs always run serially (a parallel launch costs more than it saves);
large ones use ``get_num_threads()`` threads.  In a child created by ``fork``
the kernels run serially: GNU OpenMP's thread pool does not survive a fork.
"""

from __future__ import annotations

import contextlib
import contextvars
import os


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _from_environment() -> int:
    value = os.environ.get("FASTACT_NUM_THREADS", "").strip()
    if not value:
        return _usable_cores()
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"FASTACT_NUM_THREADS must be a positive integer, got {value!r}") from None
    if n < 1:
        raise ValueError(f"FASTACT_NUM_THREADS must be a positive integer, got {n}")
    return n


_default = _from_environment()
_override: contextvars.ContextVar[int | None] = contextvars.ContextVar("fastact_threads",
                                                                      default=None)
_forked = False


def _check(n) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"number of threads must be a positive integer, got {n!r}")
    return n


def set_num_threads(n: int) -> None:
    """Set the number of threads large inputs run on (default: the usable cores)."""
    global _default
    _default = _check(n)


def get_num_threads() -> int:
    """The number of threads large inputs run on here (1 in a forked child)."""
    if _forked:
        return 1
    override = _override.get()
    return override if override is not None else _default


@contextlib.contextmanager
def num_threads(n: int):
    """Context manager: run on ``n`` threads within the block (this thread/context only)."""
    token = _override.set(_check(n))
    try:
        yield n
    finally:
        _override.reset(token)


def _after_fork_in_child():
    global _forked
    _forked = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
