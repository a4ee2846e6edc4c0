"""The shared input corpus: every layout and edge case each op is run on.

One corpus drives every backend comparison (bottleneck's idea): 0-d, empty of
several shapes, C and Fortran order, transposed, strided (step 2 and 3), negative
strides, broadcast (zero strides), byte-swapped, unaligned and read-only.
"""

from __future__ import annotations

import numpy as np

from fastact.catalogue import OPS

DTYPES = (np.float32, np.float64)


def values(n: int, dtype, seed: int = 0) -> np.ndarray:
    """n finite values: mostly N(0, 3), plus zeros, kinks, tails and tiny numbers."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 3.0, n)
    special = np.array([0.0, -0.0, 3.0, -3.0, 1e-30, -1e-30, 25.0, -25.0, 80.0, -80.0, 0.5, -0.5])
    x[: min(n, special.size)] = special[: min(n, special.size)]
    return x.astype(dtype)


def layouts(dtype, seed: int = 0):
    """(name, array) pairs covering the memory layouts; all hold the same kind of values."""
    base = values(4 * 6 * 5, dtype, seed).reshape(4, 6, 5)
    yield "0d", np.asarray(values(1, dtype, seed)[0] + 0.5, dtype=dtype).reshape(())
    yield "empty", np.empty((0, 6), dtype)
    yield "empty-1d", np.empty(0, dtype)
    yield "empty-inner", np.empty((3, 0, 4), dtype)
    yield "empty-last", np.empty((2, 3, 0), dtype)
    yield "1d", base.ravel()
    yield "c3d", base
    yield "fortran", np.asfortranarray(base)
    yield "transposed", base.transpose(2, 0, 1)
    yield "strided", base[:, ::2, 1:]
    yield "reversed", base[::-1, :, ::-2]
    yield "stride3", base.reshape(-1)[::3].reshape(5, 8)
    yield "broadcast", np.broadcast_to(base[1, :, :1], (4, 6, 5))  # zero strides, read-only
    raw = np.zeros(base.nbytes + 1, np.uint8)  # one byte off the element size's alignment
    unaligned = np.frombuffer(raw.data, dtype, count=base.size, offset=1).reshape(base.shape)
    assert not unaligned.flags.aligned
    raw[1:] = np.frombuffer(base.tobytes(), np.uint8)
    yield "unaligned", unaligned
    yield "byteswapped", base.astype(base.dtype.newbyteorder())
    frozen = np.asfortranarray(base)[:, ::2]  # read-only, as np.load(mmap_mode='r') gives
    frozen.flags.writeable = False
    yield "readonly", frozen


def call_params(op, x: np.ndarray):
    """The parameter sets of ``op`` that make sense for input ``x`` (axis lengths etc.)."""
    for params in op.test_params:
        params = dict(params)
        if op.kind == "prelu" and np.size(params["weight"]) > 1:
            if x.ndim < 2:
                continue
            params["weight"] = np.linspace(-0.3, 0.3, x.shape[1]).astype(x.dtype.newbyteorder("="))
        if op.kind == "maxout" and (x.ndim == 0 or x.shape[-1] % params["pieces"]):
            if x.ndim == 0:
                continue
            params["pieces"] = 1 if x.shape[-1] % 2 else 2
        if op.kind in ("rows", "reduce", "maxout") and x.ndim == 0:
            continue
        yield params


def op_ids():
    return [op.name for op in OPS]
