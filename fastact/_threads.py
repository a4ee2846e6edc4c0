"""How many threads the parallel kernels use, shared by every backend.

Small inputs always run serially (a parallel launch costs more than it saves);
large ones use ``get_num_threads()`` threads.  In a child created by ``fork``
the kernels run serially: GNU OpenMP's thread pool does not survive a fork.

A thread count is an integer from 1 to MAX_THREADS (any integer type: ``operator.index``,
not bool); larger ones are rejected with a ValueError, from ``set_num_threads``,
``num_threads`` and ``FASTACT_NUM_THREADS`` alike (a count beyond a C int used to be
accepted and then made every large Cython call raise OverflowError).  The kernels
further cap the count at what OpenMP or Numba allows.
"""

from __future__ import annotations

import contextlib
import contextvars
import operator
import os

# The most threads a count may ask for: far above any CPU's core count, far below a
# C int (OpenMP's num_threads and Numba take one).
MAX_THREADS = 4096


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _usable_default() -> int:
    return min(_usable_cores(), MAX_THREADS)


def _check(n, what="number of threads") -> int:
    """n as an int in [1, MAX_THREADS], else ValueError naming ``what``."""
    try:
        if isinstance(n, bool):
            raise TypeError
        count = operator.index(n)
    except TypeError:
        raise ValueError(f"{what} must be a positive integer, got {n!r}") from None
    if count < 1:
        raise ValueError(f"{what} must be a positive integer, got {count}")
    if count > MAX_THREADS:
        raise ValueError(f"{what} must be at most {MAX_THREADS}, got {count}")
    return count


def _from_environment() -> int:
    value = os.environ.get("FASTACT_NUM_THREADS", "").strip()
    if not value:
        return _usable_default()
    n: object = value  # not a number: _check raises, naming the variable
    try:
        n = int(value)
    except ValueError:
        pass
    return _check(n, "FASTACT_NUM_THREADS")


_default = _from_environment()
_override: contextvars.ContextVar[int | None] = contextvars.ContextVar("fastact_threads",
                                                                      default=None)
_forked = False


def set_num_threads(n: int) -> None:
    """Set the number of threads large inputs run on (default: the usable cores), an
    integer from 1 to MAX_THREADS."""
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
    count = _check(n)
    token = _override.set(count)
    try:
        yield count
    finally:
        _override.reset(token)


def _after_fork_in_child():
    global _forked
    _forked = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
