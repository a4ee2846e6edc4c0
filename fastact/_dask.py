"""Dask arrays: fastact's ops as lazy Dask graphs (issue 15).

``fastact.<op>(x)`` on a ``dask.array.Array`` returns a lazy Dask array of the same
dtype, shape and chunks as the NumPy call's result would have.  The public functions
in :mod:`fastact._api` hand such calls here by one check on their general path
(:func:`wanted`); xarray objects go on to :mod:`fastact._xarray`.  Nothing here
imports Dask at module level: ``import fastact`` does not import it, and a Dask array
is recognised by its type's ``__dask_graph__`` (NumPy's protocols' way), not by
``isinstance``.

How each kind of op becomes a graph:

* elementwise ops and prelu: ``dask.array.elemwise`` (what Dask's ``__array_ufunc__``
  calls) with a block function that runs the NumPy call's code on each block, so the
  values are the NumPy call's bits, but for kernels whose value depends on an
  element's position: Cython's gelu, gelu_backward and mish_backward and Numba's
  float64 gelu round the scalar tail of a loop differently from its vector body (within
  the bound; tests/test_dask.py), and a block's tail holds other elements than the
  whole array's.  prelu's weight broadcasts along the channel axis as a Dask array
  chunked like x there.
* the softmax family and logsumexp along an axis that is one chunk: the gufunc
  blockwise.  Along a chunked axis a tree reduction: each block contributes its
  logsumexp (its (max, sum of exp(x - max)) pair, as the float64 number
  max + log(sum)), the blocks' values combine by the float64 logsumexp kernel, and
  the result is rounded once.  ``logsumexp`` is that one ``dask.array.reduction``;
  softmax and log_softmax are the reduction plus a blockwise pass that rescales each
  block's own softmax (log_softmax: subtracts); their backwards a reduction of
  grad_output*y (log_softmax: of grad_output) in float64 plus a blockwise pass.
  These meet fastact's accuracy bound; they are not bit-for-bit the one-row kernel,
  whose sums run in another order.
* maxout: blockwise where the axis' chunks are multiples of ``pieces``, else after
  rechunking the axis to the nearest multiples.

The block functions are module-level functions bound to names and numbers
(``functools.partial``), so a graph pickles without the kernels: a worker process
imports fastact and finds the backend's ufunc by name on its first call, with its
own ``FASTACT_NUM_THREADS``.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from fastact import _dispatch
from fastact import _validate as v
from fastact.catalogue import OPS_BY_NAME


def wanted(arrays) -> bool:
    """Whether any of ``arrays`` is a Dask array or an xarray object (both have the Dask
    collection protocol): the one check the public functions make, on their slow path."""
    for a in arrays:  # ndarrays and Python numbers first: a failed hasattr costs ~0.3 us
        kind = type(a)
        if kind is not np.ndarray and kind is not float and kind is not int \
                and hasattr(kind, "__dask_graph__"):
            return True
    return False


def _xarray_first(fn):
    """Send a call with an xarray argument to fastact._xarray's function of that name."""
    @functools.wraps(fn)
    def call(*args, **kwargs):
        flat = [b for a in args for b in (a if type(a) is tuple else (a,))]  # arrays=(g, x)
        if any(type(a).__module__.startswith("xarray.") for a in flat):
            from fastact import _xarray

            return getattr(_xarray, fn.__name__)(*args, **kwargs)
        return fn(*args, **kwargs)
    return call


# ---------------------------------------------------------------- helpers

def _proxy(a, fname: str, name: str) -> np.ndarray:
    """A read-only stand-in for ``a`` with its shape and dtype (no memory, nothing
    computed) that fastact's validation accepts; TypeError for a dtype it rejects."""
    if hasattr(type(a), "__dask_graph__"):
        if any(math.isnan(n) for n in a.shape):
            raise ValueError(f"{fname}: {name} has unknown chunk sizes {a.chunks}; call its "
                             f"compute_chunk_sizes() first")
        a = np.broadcast_to(np.empty((), a.dtype), a.shape)
    return v.as_float_array(a, fname, name)


def _check(fname: str, names: tuple, arrays: tuple, out) -> list:
    if out is not None:
        raise TypeError(f"{fname}: out= is not supported for Dask arrays (the result is "
                        f"lazy); store the result with dask.array.store instead")
    return [_proxy(a, fname, name) for name, a in zip(names, arrays)]


def _as_dask(arrays: tuple, like=None):
    """The arrays as Dask arrays, a NumPy one chunked like the first Dask one (``like``)."""
    import dask.array as da

    like = like if like is not None else next(a for a in arrays
                                              if hasattr(type(a), "__dask_graph__"))
    chunks = getattr(like, "chunks", "auto")
    return [a if isinstance(a, da.Array)
            else da.from_array(np.asarray(a), chunks=chunks if np.shape(a) == like.shape
                               else "auto")
            for a in arrays]


def _unify(arrays: list) -> list:
    """Same-shaped Dask arrays rechunked to common chunks (Dask's own rule)."""
    from dask.array.core import unify_chunks

    index = tuple(range(arrays[0].ndim))
    return list(unify_chunks(*[item for a in arrays for item in (a, index)])[1])


def _name(label: str, *parts) -> str:
    from dask.base import tokenize

    return f"{label}-{tokenize(*parts)}"


def _meta(ndim: int, dtype) -> np.ndarray:
    return np.empty((0,) * ndim, dtype)


def _scalar_safe(result):
    """A 0-d block's result as a 0-d array (fastact returns NumPy scalars for 0-d input)."""
    return np.asarray(result) if isinstance(result, np.generic) else result


# ---------------------------------------------------------------- block functions
# Module-level, called by name in the worker; each runs the NumPy call's code on blocks.

def _elementwise_block(fname, op_name, kernel, names, params, backend, *blocks):
    from fastact import _api

    return _scalar_safe(_api._elementwise(fname, OPS_BY_NAME[op_name], kernel, names, blocks,
                                          params, None, backend))


def _rows_block(fname, op_name, kernel, names, axis, backend, *blocks):
    from fastact import _api

    return _api._rows(fname, OPS_BY_NAME[op_name], kernel, names, blocks, axis, None, backend)


def _public_block(fname, kwargs, *blocks):
    import fastact

    return _scalar_safe(getattr(fastact, fname)(*blocks, **dict(kwargs)))


def _prelu_block(axis, backend, weight, x, channel_weight=None):
    """prelu of a block: with the block's slice of the channel weight, if one is given."""
    from fastact import _api

    if channel_weight is not None:
        weight = channel_weight.reshape(-1)
    return _scalar_safe(_api.prelu(x, weight, 1 if axis is None else axis, backend=backend))


def _prelu_backward_block(axis, backend, weight, g, x, channel_weight=None):
    """grad_input of a block (its grad_weight is summed apart, in float64)."""
    from fastact import _api

    if channel_weight is not None:
        weight = channel_weight.reshape(-1)
    return _scalar_safe(_api.prelu_backward(g, x, weight, 1 if axis is None else axis,
                                            backend=backend)[0])


def _prelu_weight_sums(others, g, x):
    """The block's sums of x*grad_output over x <= 0, per channel, in float64."""
    x64 = x.astype(np.float64)
    return np.where(x64 > 0, 0.0, x64 * g.astype(np.float64)).sum(axis=others, keepdims=True)


def _lse_block(backend, x, axis, keepdims=True):
    """A block's logsumexp along ``axis`` (a 1-tuple, as dask.array.reduction passes it) in
    float64, keeping the axis: the block's (max, sum of exp(x - max)) as max + log(sum),
    rounded to float64 rather than to the block's dtype.  Other dtypes are converted a
    slab of rows (1 MiB) at a time, not the whole block at once."""
    from fastact import _api

    axis = axis[0]
    if x.dtype == np.float64:
        return _api.logsumexp(x, axis=axis, keepdims=True, backend=backend)
    rows = np.moveaxis(x, axis, -1)
    shape = rows.shape
    rows = rows.reshape(-1, shape[-1])  # a view for blocks along their last axis
    found = np.empty(rows.shape[0])
    step = max(1, (1 << 17) // max(1, shape[-1]))
    # one buffer for every slab: Dask's workers return freed memory to the system at once
    # (MALLOC_TRIM_THRESHOLD_), which made a new one per slab cost 3x the kernel
    buffer = np.empty((min(step, rows.shape[0]), shape[-1]))
    for start in range(0, rows.shape[0], step):
        slab = buffer[:min(step, rows.shape[0] - start)]
        np.copyto(slab, rows[start:start + step])
        found[start:start + step] = _api.logsumexp(slab, backend=backend)
    return np.expand_dims(found.reshape(shape[:-1]), axis)


def _lse_aggregate(backend, result_dtype, x, axis, keepdims):
    """The blocks' float64 logsumexps combined (the float64 kernel) and rounded once."""
    from fastact import _api

    return _api.logsumexp(x, axis=axis[0], keepdims=keepdims,
                          backend=backend).astype(result_dtype)


def _softmax_block(fname, op_name, axis, backend, compute, dtype, x, lse_block, lse):
    """softmax: the block's own softmax times exp(its logsumexp - the row's) (a float64
    factor per row, rounded once); log_softmax: x - the row's logsumexp in float64.  Rows
    whose logsumexp is not finite (a NaN or +inf entry, or all -inf) are NaN, as the
    kernels give."""
    from fastact import _api

    finite = np.isfinite(lse)
    if op_name == "log_softmax":
        with np.errstate(invalid="ignore"):
            y = np.subtract(x, lse, dtype=np.float64)
        return np.where(finite, y, np.nan).astype(dtype)
    with np.errstate(invalid="ignore"):
        scale = np.exp(lse_block - lse)
    y = _api.softmax(np.asarray(x, compute), axis=axis, backend=backend)
    y *= np.where(finite, scale, np.nan).astype(compute)
    # rows all -inf in this block have a NaN softmax of their own but weigh 0
    empty = (scale == 0) & finite
    if empty.any():
        np.copyto(y, 0, where=empty)
    return y.astype(dtype, copy=False)


def _row_sum_block(axis, g, y=None):
    """The block's float64 sum of grad_output*y (or of grad_output) along axis, kept."""
    g = g.astype(np.float64)
    return np.sum(g if y is None else g * y.astype(np.float64), axis=axis, keepdims=True)


def _softmax_backward_block(op_name, dtype, g, y, s):
    g, y = g.astype(np.float64), y.astype(np.float64)
    if op_name == "log_softmax":
        return (g - np.exp(y) * s).astype(dtype)
    return (y * (g - s)).astype(dtype)


# ---------------------------------------------------------------- the adapters

@_xarray_first
def elementwise(fname, op, kernel, names, arrays, params, out, backend):
    """``fastact.<fname>`` of an elementwise op on Dask arrays (mixed with NumPy ones as
    Dask's own elementwise functions allow)."""
    from dask.array.core import elemwise  # what Dask's __array_ufunc__ calls

    checked = _check(fname, names, arrays, out)
    if len(checked) == 2:
        v.check_same_shape(fname, checked[0], names[1], checked[1])
    dtype = v.result_dtype(checked)
    backend = _dispatch.resolve(backend)
    fit = [v.fit_param(fname, p, value, v.compute_dtype(dtype))
           for p, value in zip(op.params, params)]  # errors now, not in a worker
    block = functools.partial(_elementwise_block, fname, op.name, kernel, names, tuple(fit),
                              backend)
    return elemwise(block, *arrays, dtype=dtype,
                       name=_name(fname, kernel, fit, backend, *arrays))


def _single_chunk(x, axis: int) -> bool:
    return len(x.chunks[axis]) <= 1


@_xarray_first
def rows(fname, op, kernel, names, arrays, axis, out, backend):
    """softmax, log_softmax and their backwards on Dask arrays along ``axis``."""
    import dask.array as da

    checked = _check(fname, names, arrays, out)
    axis = v.check_param(fname, op.params[0], axis, checked[-1])
    if len(checked) == 2:
        v.check_same_shape(fname, checked[0], names[1], checked[1])
    dtype = v.result_dtype(checked)
    backend = _dispatch.resolve(backend)
    arrays = _unify(_as_dask(arrays))
    x = arrays[-1]
    if _single_chunk(x, axis):  # the gufunc on each block
        block = functools.partial(_rows_block, fname, op.name, kernel, names, axis, backend)
        return da.map_blocks(block, *arrays, dtype=dtype, meta=_meta(x.ndim, dtype),
                             name=_name(fname, axis, backend, *arrays))
    index = tuple(range(x.ndim))
    reduced = tuple((1,) * len(c) if i == axis else c for i, c in enumerate(x.chunks))
    if len(arrays) == 1:  # forward: the row's logsumexp, then each block rescaled
        lse_blocks = da.map_blocks(functools.partial(_lse_block, backend), x, (axis,),
                                   chunks=reduced, dtype=np.float64,
                                   meta=_meta(x.ndim, np.float64),
                                   name=_name("logsumexp-blocks", axis, backend, x))
        lse = da.reduction(lse_blocks, functools.partial(_lse_block, backend),
                           functools.partial(_lse_aggregate, backend, np.float64),
                           combine=functools.partial(_lse_block, backend), axis=axis,
                           keepdims=True, dtype=np.float64, meta=_meta(x.ndim, np.float64),
                           name="logsumexp")
        block = functools.partial(_softmax_block, fname, op.name, axis, backend,
                                  v.compute_dtype(dtype), dtype)
        return da.blockwise(block, index, x, index, lse_blocks, index, lse, index,
                            dtype=dtype, align_arrays=False, meta=_meta(x.ndim, dtype),
                            name=_name(fname, axis, backend, x))
    g, y = arrays  # backward: the row's sum of grad_output*y (of grad_output), then a pass
    summed = (g,) if op.name == "log_softmax" else (g, y)
    partial = da.map_blocks(functools.partial(_row_sum_block, axis), *summed, chunks=reduced,
                            dtype=np.float64, meta=_meta(x.ndim, np.float64))
    s = partial.sum(axis=axis, keepdims=True)
    block = functools.partial(_softmax_backward_block, op.name, dtype)
    return da.blockwise(block, index, g, index, y, index, s, index, dtype=dtype,
                        align_arrays=False, meta=_meta(x.ndim, dtype),
                        name=_name(fname, axis, g, y))


@_xarray_first
def logsumexp(x, axis, keepdims, out, backend):
    """``fastact.logsumexp`` of a Dask array: one dask.array.reduction (the gufunc on each
    block when the axis is one chunk)."""
    import dask.array as da

    fname = "logsumexp"
    (checked,) = _check(fname, ("x",), (x,), out)
    params = OPS_BY_NAME["logsumexp"].params
    axis = v.check_param(fname, params[0], axis, checked)
    keepdims = v.check_param(fname, params[1], keepdims, checked)
    dtype = v.result_dtype([checked])
    backend = _dispatch.resolve(backend)
    if _single_chunk(x, axis):
        block = functools.partial(_public_block, fname,
                                  (("axis", axis), ("keepdims", keepdims), ("backend", backend)))
        chunks = tuple((1,) if i == axis else c for i, c in enumerate(x.chunks))
        kind = {"chunks": chunks} if keepdims else {"drop_axis": axis}
        return da.map_blocks(block, x, dtype=dtype, name=_name(fname, axis, keepdims, backend, x),
                             meta=_meta(x.ndim - (not keepdims), dtype), **kind)
    return da.reduction(x, functools.partial(_lse_block, backend),
                        functools.partial(_lse_aggregate, backend, dtype),
                        combine=functools.partial(_lse_block, backend), axis=axis,
                        keepdims=keepdims, dtype=dtype, name=fname,
                        meta=_meta(x.ndim - (not keepdims), dtype))


@_xarray_first
def logsumexp_backward(grad_output, x, y, axis, keepdims, out, backend):
    """``fastact.logsumexp_backward`` on Dask arrays: the kernel on each block of x, with
    grad_output and y broadcast along the axis (no reduction: bit-for-bit the NumPy call)."""
    import dask.array as da

    fname = "logsumexp_backward"
    names = ("grad_output", "x", "y")
    g_, x_, y_ = _check(fname, names, (grad_output, x, y), out)
    params = OPS_BY_NAME["logsumexp"].params
    axis = v.check_param(fname, params[0], axis, x_)
    keepdims = v.check_param(fname, params[1], keepdims, x_)
    reduced = x_.shape[:axis] + ((1,) if keepdims else ()) + x_.shape[axis + 1:]
    if y_.shape != reduced:
        raise ValueError(f"{fname}: y has shape {y_.shape} but logsumexp of x with shape "
                         f"{x_.shape} along axis {axis} has shape {reduced}")
    v.check_same_shape(fname, g_, "y", y_)
    dtype = v.result_dtype([g_, x_, y_])
    backend = _dispatch.resolve(backend)
    (x,) = _as_dask((x,), like=next(a for a in (x, grad_output, y) if wanted((a,))))
    g, y = (a if keepdims else a[(slice(None),) * axis + (None,)]
            for a in (da.asarray(grad_output), da.asarray(y)))
    keep = tuple((1,) if i == axis else c for i, c in enumerate(x.chunks))
    g, y = (a.rechunk(keep) for a in (g, y))
    index = tuple(range(x.ndim))
    block = functools.partial(_public_block, fname,
                              (("axis", axis), ("keepdims", True), ("backend", backend)))
    return da.blockwise(block, index, g, index, x, index, y, index, dtype=dtype,
                        align_arrays=False, meta=_meta(x.ndim, dtype),
                        name=_name(fname, axis, backend, g, x, y))


def _prelu_weight(fname, x, weight, axis):
    """(x's stand-in, the weight's values, the channel axis or None)."""
    if wanted((weight,)):
        raise TypeError(f"{fname}: weight is a Dask array; pass its values as a NumPy array "
                        f"(weight.compute()): it has one value per channel")
    x_ = _proxy(x, fname, "x")
    weights = v.as_float_array(weight, fname, "weight")
    if weights.size == 0 and not (x_.ndim and x_.size == 0):
        raise ValueError(f"{fname}: weight is empty; it needs 1 value or one per channel")
    axis = v.check_weight(fname, weights, x_, axis, OPS_BY_NAME["prelu"].params[1])
    return x_, weights, axis


def _channel_weight(x, weights, axis):
    """The weight as a Dask array of x's rank, chunked like x along the channel axis."""
    import dask.array as da

    shape = tuple(n if i == axis else 1 for i, n in enumerate(x.shape))
    chunks = tuple(c if i == axis else (1,) for i, c in enumerate(x.chunks))
    return da.from_array(weights.reshape(shape), chunks=chunks)


@_xarray_first
def prelu(x, weight, axis, out, backend):
    """``fastact.prelu`` of a Dask array; the weight broadcasts along the channel axis."""
    import dask.array as da

    fname = "prelu"
    if out is not None:
        _check(fname, (), (), out)
    x_, weights, axis = _prelu_weight(fname, x, weight, axis)
    dtype = v.result_dtype([x_] if type(weight) in (int, float) else [x_, weights])
    backend = _dispatch.resolve(backend)
    x = x if wanted((x,)) else _as_dask((x,), like=np.asarray(x))[0]
    block = functools.partial(_prelu_block, axis, backend, weight if axis is None else None)
    name = _name(fname, weights, axis, backend, x)
    if axis is None:  # one weight: an elementwise call on each block
        return da.map_blocks(block, x, dtype=dtype, meta=_meta(x.ndim, dtype), name=name)
    index = tuple(range(x.ndim))
    return da.blockwise(block, index, x, index, _channel_weight(x, weights, axis), index,
                        dtype=dtype, meta=_meta(x.ndim, dtype), name=name)


@_xarray_first
def prelu_backward(grad_output, x, weight, axis, out, backend):
    """``fastact.prelu_backward`` on Dask arrays: (grad_input, grad_weight), both lazy;
    grad_weight is a reduction over every axis but the channel axis, summed in float64
    and rounded once."""
    import dask.array as da

    fname = "prelu_backward"
    if out is not None:
        _check(fname, (), (), out)
    x_, weights, axis = _prelu_weight(fname, x, weight, axis)
    g_ = _proxy(grad_output, fname, "grad_output")
    v.check_same_shape(fname, g_, "x", x_)
    dtype = v.result_dtype([g_, x_] if type(weight) in (int, float) else [g_, x_, weights])
    backend = _dispatch.resolve(backend)
    g, x = _unify(_as_dask((grad_output, x)))
    index = tuple(range(x.ndim))
    block = functools.partial(_prelu_backward_block, axis, backend,
                              weight if axis is None else None)
    name = _name(fname, weights, axis, backend, g, x)
    if axis is None:  # one weight: an elementwise call on each block
        grad_input = da.map_blocks(block, g, x, dtype=dtype, meta=_meta(x.ndim, dtype),
                                   name=name)
        others = index
    else:
        grad_input = da.blockwise(block, index, g, index, x, index,
                                  _channel_weight(x, weights, axis), index, dtype=dtype,
                                  meta=_meta(x.ndim, dtype), name=name)
        others = tuple(i for i in index if i != axis)
    sums = da.map_blocks(functools.partial(_prelu_weight_sums, others), g, x,
                         chunks=tuple((1,) * len(c) if i in others else c
                                      for i, c in enumerate(x.chunks)),
                         dtype=np.float64, meta=_meta(x.ndim, np.float64))
    grad_weight = sums.sum(axis=others).astype(dtype).reshape(np.shape(weight))
    return grad_input, grad_weight


def _maxout_chunks(x, pieces, axis):
    """x's chunks along ``axis`` moved to the nearest multiples of ``pieces``."""
    bounds = np.cumsum(x.chunks[axis])
    ends = sorted({max(pieces, int(round(b / pieces)) * pieces) for b in bounds})
    return tuple(np.diff([0] + ends).tolist()) or (0,)


def _maxout_checked(fname, x, pieces, axis):
    x_ = _proxy(x, fname, "x")
    params = OPS_BY_NAME["maxout"].params
    pieces = v.check_param(fname, params[0], pieces, x_)
    axis = v.check_param(fname, params[1], axis, x_)
    v.check_pieces_divide(fname, x_, pieces, axis)
    x = x if wanted((x,)) else _as_dask((x,), like=np.asarray(x))[0]
    if any(c % pieces for c in x.chunks[axis]):
        x = x.rechunk({axis: _maxout_chunks(x, pieces, axis)})
    return x_, x, pieces, axis


@_xarray_first
def maxout(x, pieces, axis, out, backend):
    """``fastact.maxout`` of a Dask array: blockwise where the axis' chunks are multiples
    of ``pieces``; otherwise the axis is first rechunked to the nearest multiples."""
    import dask.array as da

    fname = "maxout"
    if out is not None:
        _check(fname, (), (), out)
    x_, x, pieces, axis = _maxout_checked(fname, x, pieces, axis)
    dtype = v.result_dtype([x_])
    backend = _dispatch.resolve(backend)
    block = functools.partial(_public_block, fname,
                              (("pieces", pieces), ("axis", axis), ("backend", backend)))
    chunks = tuple(tuple(n // pieces for n in c) if i == axis else c
                   for i, c in enumerate(x.chunks))
    return da.map_blocks(block, x, chunks=chunks, dtype=dtype, meta=_meta(x.ndim, dtype),
                         name=_name(fname, pieces, axis, backend, x))


@_xarray_first
def maxout_backward(grad_output, x, pieces, axis, out, backend):
    """``fastact.maxout_backward`` on Dask arrays, blockwise (x rechunked as by maxout)."""
    import dask.array as da

    fname = "maxout_backward"
    if out is not None:
        _check(fname, (), (), out)
    x_, x, pieces, axis = _maxout_checked(fname, x, pieces, axis)
    g_ = _proxy(grad_output, fname, "grad_output")
    shape = x_.shape[:axis] + (x_.shape[axis] // pieces,) + x_.shape[axis + 1:]
    if g_.shape != shape:
        raise ValueError(f"{fname}: grad_output has shape {g_.shape} but maxout of x with "
                         f"shape {x_.shape} has shape {shape}; they must be equal")
    dtype = v.result_dtype([g_, x_])
    backend = _dispatch.resolve(backend)
    g = da.asarray(grad_output).rechunk(
        tuple(tuple(n // pieces for n in c) if i == axis else c for i, c in enumerate(x.chunks)))
    index = tuple(range(x.ndim))
    block = functools.partial(_public_block, fname,
                              (("pieces", pieces), ("axis", axis), ("backend", backend)))
    return da.blockwise(block, index, g, index, x, index, dtype=dtype, align_arrays=False,
                        adjust_chunks={axis: x.chunks[axis]}, meta=_meta(x.ndim, dtype),
                        name=_name(fname, pieces, axis, backend, g, x))
