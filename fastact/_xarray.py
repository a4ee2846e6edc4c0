"""xarray DataArrays: fastact's ops keep dims, coords and attrs (issue 15).

``fastact.<op>(da)`` on an ``xarray.DataArray`` returns a DataArray backed by NumPy or
Dask as the input was.  A row op's ``axis`` may be a dimension name
(``fastact.softmax(da, axis="class")``) or an integer.  The functions here have the
names of :mod:`fastact._dask`'s, which sends calls with an xarray argument here; each
runs ``xarray.apply_ufunc`` with ``dask="allowed"`` over the same block functions as
the Dask adapter, so a Dask-backed DataArray gets the Dask adapter's graph (the tree
reductions along a chunked axis, not a rechunk of the axis into one block).  Nothing
here imports xarray before such a call.
"""

from __future__ import annotations

import functools

import numpy as np

from fastact import _dask, _dispatch
from fastact import _validate as v
from fastact.catalogue import OPS_BY_NAME


def _data_array(fname: str, a, name: str):
    """``a`` if it is a DataArray; TypeError for other xarray objects (Dataset...)."""
    if type(a).__name__ != "DataArray" or not type(a).__module__.startswith("xarray."):
        kind = (f"an xarray.{type(a).__name__}" if type(a).__module__.startswith("xarray.")
                else f"a {type(a).__module__}.{type(a).__name__}")
        raise TypeError(f"{fname}: {name} is {kind}; with xarray arguments fastact takes "
                        f"DataArrays (for a Dataset: ds.map(fastact.{fname}))")
    return a


def _template(fname: str, names, arrays):
    """The DataArray whose dims the result takes: the last one among the arguments (x
    over grad_output); every xarray argument must be a DataArray."""
    found = None
    for name, a in zip(names, arrays):
        if type(a).__module__.startswith("xarray."):
            found = _data_array(fname, a, name)
    return found


def _as_data_arrays(arrays, dims):
    """NumPy or Dask arrays among ``arrays`` as DataArrays with ``dims``."""
    import xarray as xr

    return [a if isinstance(a, xr.DataArray) else xr.DataArray(a, dims=dims) for a in arrays]


def _dim(fname: str, x, axis, param) -> str:
    """The name of the dimension ``axis`` (a name or an integer) names."""
    if isinstance(axis, str):
        if axis not in x.dims:
            raise ValueError(f"{fname}: {param.name}={axis!r} is not a dimension of x; its "
                             f"dimensions are {x.dims}")
        return axis
    return x.dims[v.check_param(fname, param, axis, np.empty((0,) * x.ndim))]


def _no_out(fname: str, out):
    if out is not None:
        raise TypeError(f"{fname}: out= is not supported for xarray objects; the result is "
                        f"a new DataArray")


def _x_and_dim(fname: str, x, axis, param, out):
    """x checked to be a DataArray, and the name of its dimension ``axis``."""
    _no_out(fname, out)
    x = _data_array(fname, x, "x")
    return x, _dim(fname, x, axis, param)


def _apply(fn, arrays, template, dim=None, core=None, resized=False):
    """xarray.apply_ufunc of ``fn`` over ``arrays`` (core dimension ``dim`` moved last
    and given to ``fn`` as axis -1), the result in the template's dimension order."""
    import xarray as xr

    if core is None:
        core = [[dim] if dim else []] * len(arrays)
    result = xr.apply_ufunc(fn, *arrays, input_core_dims=core,
                            output_core_dims=[[dim] if dim else []],
                            exclude_dims={dim} if resized else frozenset(),
                            dask="allowed", keep_attrs=True)
    return result.transpose(*[d for d in template.dims if d in result.dims])


# ---------------------------------------------------------------- the adapters

def elementwise(fname, op, kernel, names, arrays, params, out, backend):
    """An elementwise op: xarray's broadcasting and alignment, then the NumPy or Dask call."""
    import xarray as xr

    _no_out(fname, out)
    _template(fname, names, arrays)
    block = functools.partial(_dask._elementwise_block, fname, op.name, kernel, names,
                              tuple(params), _dispatch.resolve(backend))
    return xr.apply_ufunc(block, *arrays, dask="allowed", keep_attrs=True)


def rows(fname, op, kernel, names, arrays, axis, out, backend):
    """softmax, log_softmax and their backwards along a dimension (name or integer)."""
    _no_out(fname, out)
    template = _template(fname, names, arrays)
    dim = _dim(fname, template, axis, op.params[0])
    arrays = _as_data_arrays(arrays, template.dims)
    block = functools.partial(_dask._rows_block, fname, op.name, kernel, names, -1,
                              _dispatch.resolve(backend))
    return _apply(block, arrays, template, dim)


def logsumexp(x, axis, keepdims, out, backend):
    """logsumexp over a dimension: the dimension is dropped (kept with length 1 and no
    coordinate for keepdims=True)."""
    fname = "logsumexp"
    params = OPS_BY_NAME["logsumexp"].params
    x, dim = _x_and_dim(fname, x, axis, params[0], out)
    keepdims = v.check_param(fname, params[1], keepdims, x)
    block = functools.partial(_dask._public_block, fname, (
        ("axis", -1), ("keepdims", keepdims), ("backend", _dispatch.resolve(backend))))
    import xarray as xr

    result = xr.apply_ufunc(block, x, input_core_dims=[[dim]],
                            output_core_dims=[[dim] if keepdims else []],
                            exclude_dims={dim}, dask="allowed", keep_attrs=True)
    return result.transpose(*[d for d in x.dims if d in result.dims])


def logsumexp_backward(grad_output, x, y, axis, keepdims, out, backend):
    """logsumexp's backward over a dimension of x; grad_output and y lack it (or have it
    with length 1 for keepdims=True)."""
    fname = "logsumexp_backward"
    params = OPS_BY_NAME["logsumexp"].params
    x, dim = _x_and_dim(fname, x, axis, params[0], out)
    keepdims = v.check_param(fname, params[1], keepdims, x)
    reduced = [d for d in x.dims if keepdims or d != dim]
    g, y = _as_data_arrays((grad_output, y), reduced)
    if keepdims:
        g, y = (a.squeeze(dim, drop=True) for a in (g, y))
    block = functools.partial(_dask._public_block, fname, (
        ("axis", -1), ("keepdims", False), ("backend", _dispatch.resolve(backend))))
    return _apply(block, [g, x, y], x, dim, core=[[], [dim], []])


def prelu(x, weight, axis, out, backend):
    """prelu with the weight along a channel dimension (name or integer)."""
    fname = "prelu"
    _no_out(fname, out)
    x = _data_array(fname, x, "x")
    weight = getattr(weight, "data", weight)  # a DataArray weight: its values
    weights = v.as_float_array(weight, fname, "weight")
    backend = _dispatch.resolve(backend)
    if weights.size == 1:
        block = functools.partial(_dask._prelu_block, None, backend, weight)
        return _apply(block, [x], x)
    dim = _dim(fname, x, axis, OPS_BY_NAME["prelu"].params[1])
    return _apply(functools.partial(_dask._prelu_block, -1, backend, weight), [x], x, dim)


def prelu_backward(grad_output, x, weight, axis, out, backend):
    """(grad_input, grad_weight): grad_input a DataArray like x, grad_weight one along the
    channel dimension (a DataArray weight's own shape and coords)."""
    import xarray as xr

    fname = "prelu_backward"
    _no_out(fname, out)
    x = _data_array(fname, x, "x")
    values = getattr(weight, "data", weight)
    single = v.as_float_array(values, fname, "weight").size == 1
    dim = None if single else _dim(fname, x, axis, OPS_BY_NAME["prelu"].params[1])
    (g,) = _as_data_arrays((grad_output,), x.dims)
    g = g.transpose(*x.dims)
    from fastact import _api

    grad_input, grad_weight = _api.prelu_backward(
        g.data, x.data, values, 1 if single else x.dims.index(dim), backend=backend)
    grad_input = x.copy(data=grad_input)
    grad_input.attrs = dict(g.attrs)
    if isinstance(weight, xr.DataArray):
        grad_weight = weight.copy(data=grad_weight)
    elif not single:
        grad_weight = xr.DataArray(grad_weight, dims=(dim,),
                                   coords={dim: x[dim]} if dim in x.coords else None)
    return grad_input, grad_weight


def maxout(x, pieces, axis, out, backend):
    """maxout over a dimension, whose length is divided by pieces (its coordinate dropped)."""
    fname = "maxout"
    x, dim = _x_and_dim(fname, x, axis, OPS_BY_NAME["maxout"].params[1], out)
    block = functools.partial(_dask._public_block, fname, (
        ("pieces", pieces), ("axis", -1), ("backend", _dispatch.resolve(backend))))
    return _apply(block, [x], x, dim, resized=True)


def maxout_backward(grad_output, x, pieces, axis, out, backend):
    """maxout's backward over a dimension of x; the result has x's dims and coords."""
    fname = "maxout_backward"
    x, dim = _x_and_dim(fname, x, axis, OPS_BY_NAME["maxout"].params[1], out)
    (g,) = _as_data_arrays((grad_output,), x.dims)
    block = functools.partial(_dask._public_block, fname, (
        ("pieces", pieces), ("axis", -1), ("backend", _dispatch.resolve(backend))))
    result = _apply(block, [g, x], x, dim, resized=True)
    return result.assign_coords({dim: x[dim]}) if dim in x.coords else result
