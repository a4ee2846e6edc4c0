"""What every compiled loop of the Numba backend shares: its flags and its cache salt.

The loops (ufuncs.py, prelu.py) are closures; Numba's disk cache keys a closure
by its bytecode and the pickled closure cells, so the cells hold only things
that pickle the same in every process, among them ``SALT``, a hash of this
backend's sources, which invalidates the cache whenever any of them changes
(Numba itself only watches the file a kernel is defined in).  A serial and a
parallel loop have different bodies because ``parallel=`` is not part of
Numba's cache key.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from numba import njit

# Safe for NaN/inf handling and range reductions: no nnan/ninf/reassoc.  Sums
# that should vectorise are separate functions in rows.py, compiled with reassoc.
FASTMATH = {"nsz", "contract"}

SALT = hashlib.sha256(b"".join(
    p.read_bytes() for p in sorted(Path(__file__).parent.glob("*.py")))).hexdigest()[:16]


def jit(parallel=False, fastmath=FASTMATH):
    return njit(error_model="numpy", fastmath=fastmath, parallel=parallel, cache=True,
                nogil=True)
