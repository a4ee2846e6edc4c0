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

# Safe for NaN/inf handling and range reductions: no nnan/ninf/reassoc.  Nothing is
# compiled with reassoc but rows.py's max (exact in any order): the sums that vectorise
# write their order out (rows._sum), so their bits do not depend on how LLVM compiles them.
FASTMATH = {"nsz", "contract"}

# The compiled kernels freeze this package's sources and the op table's constants.
SALT = hashlib.sha256(b"".join(
    p.read_bytes() for p in [*sorted(Path(__file__).parent.glob("*.py")),
                             Path(__file__).parent.parent / "catalogue.py"])).hexdigest()[:16]


def jit(parallel=False, fastmath=FASTMATH):
    return njit(error_model="numpy", fastmath=fastmath, parallel=parallel, cache=True,
                nogil=True)
