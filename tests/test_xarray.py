"""xarray DataArrays (issue 15): dims, coords and attrs kept, NumPy or Dask backing kept,
row ops along a dimension named or numbered."""

from __future__ import annotations

import numpy as np
import pytest

xr = pytest.importorskip("xarray")
da = pytest.importorskip("dask.array")

import fastact  # noqa: E402
from accuracy import FAST_MAX_ULPS, forward_errors  # noqa: E402
from fastact.catalogue import OPS_BY_NAME  # noqa: E402

DIMS = ("batch", "time", "class")


def _array(chunked: bool):
    x = (np.random.default_rng(0).standard_normal((4, 6, 10)) * 3).astype(np.float32)
    a = xr.DataArray(x, dims=DIMS, name="logits", attrs={"units": "nat"},
                     coords={"class": np.arange(10) * 10, "batch": list("abcd")})
    return a.chunk({"time": 4, "class": 3}) if chunked else a


def _backing(a):
    return type(a.data)


@pytest.fixture(params=[False, True], ids=["numpy", "dask"])
def x(request):
    return _array(request.param)


def _kept(result, x, dims=DIMS):
    assert isinstance(result, xr.DataArray)
    assert result.dims == dims
    assert result.attrs == x.attrs
    assert _backing(result) is _backing(x)


def test_elementwise_keeps_dims_coords_attrs_and_backing(x):
    got = fastact.gelu(x)
    _kept(got, x)
    assert got.name == "logits"
    assert got.coords.identical(x.coords)
    np.testing.assert_array_equal(got.values, fastact.gelu(x.values))
    grad = fastact.gelu_backward(xr.ones_like(x), x.values)  # mixed: a DataArray and NumPy
    _kept(grad, x)


@pytest.mark.parametrize("axis", ["class", 2, -1, "time", 1, "batch"])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_row_ops_along_a_named_or_numbered_dimension(x, name, axis):
    got = getattr(fastact, name)(x, axis=axis)
    _kept(got, x)
    assert got.coords.identical(x.coords)
    index = DIMS.index(axis) if isinstance(axis, str) else axis
    expected = getattr(fastact, name)(x.values, axis=index)
    moved = np.moveaxis(got.values, index, -1)
    errors = forward_errors(OPS_BY_NAME[name], {}, np.moveaxis(x.values, index, -1), moved)[0]
    assert np.max(errors) <= FAST_MAX_ULPS
    if not isinstance(x.data, da.Array):
        np.testing.assert_array_equal(got.values, expected)
    y = got
    grad = getattr(fastact, name + "_backward")(xr.ones_like(y), y, axis=axis)
    _kept(grad, x)


def test_dimension_order_of_grad_output_follows_its_names(x):
    """apply_ufunc aligns by name: a transposed grad_output gives the same gradient."""
    y = fastact.softmax(x, axis="class")
    g = xr.ones_like(y) * np.arange(10)
    expected = fastact.softmax_backward(g, y, axis="class")
    got = fastact.softmax_backward(g.transpose("class", "batch", "time"), y, axis="class")
    assert got.dims == DIMS
    np.testing.assert_array_equal(got.values, expected.values)


@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_drops_or_keeps_the_dimension(x, keepdims):
    got = fastact.logsumexp(x, axis="time", keepdims=keepdims)
    assert got.dims == (DIMS if keepdims else ("batch", "class"))
    assert got.shape == ((4, 1, 10) if keepdims else (4, 10))
    assert got.attrs == x.attrs and _backing(got) is _backing(x)
    assert list(got.coords["class"].values) == list(x.coords["class"].values)
    expected = fastact.logsumexp(x.values, axis=1, keepdims=keepdims)
    np.testing.assert_allclose(got.values, expected, rtol=4 * 2.0 ** -23)
    grad = fastact.logsumexp_backward(xr.ones_like(got), x, got, axis="time",
                                      keepdims=keepdims)
    _kept(grad, x)
    np.testing.assert_allclose(grad.values, fastact.logsumexp_backward(
        np.ones(got.shape, np.float32), x.values, got.values, axis=1, keepdims=keepdims),
        rtol=4 * 2.0 ** -23)


def test_maxout_divides_the_dimension_and_drops_its_coordinate(x):
    got = fastact.maxout(x, 2, axis="class")
    assert got.dims == DIMS and got.shape == (4, 6, 5)
    assert "class" not in got.coords and "batch" in got.coords
    np.testing.assert_array_equal(got.values, fastact.maxout(x.values, 2))
    grad = fastact.maxout_backward(got, x, 2, axis="class")
    _kept(grad, x)
    assert grad.coords["class"].equals(x.coords["class"])
    np.testing.assert_array_equal(grad.values, fastact.maxout_backward(got.values, x.values, 2))


def test_prelu_weight_along_a_named_dimension(x):
    w = np.linspace(-0.5, 0.5, 6).astype(np.float32)
    got = fastact.prelu(x, w, axis="time")
    _kept(got, x)
    np.testing.assert_array_equal(got.values, fastact.prelu(x.values, w, axis=1))
    _kept(fastact.prelu(x, 0.25), x)
    grad_input, grad_weight = fastact.prelu_backward(xr.ones_like(x), x, w, axis="time")
    _kept(grad_input, x)
    assert grad_weight.dims == ("time",)
    expected = fastact.prelu_backward(np.ones(x.shape, np.float32), x.values, w, axis=1)
    np.testing.assert_array_equal(grad_input.values, expected[0])
    np.testing.assert_allclose(grad_weight.values, expected[1], rtol=1e-6)


def test_errors_name_the_dimension():
    x = _array(False)
    with pytest.raises(ValueError, match="axis='label' is not a dimension of x; its dimensions"):
        fastact.softmax(x, axis="label")
    with pytest.raises(np.exceptions.AxisError):
        fastact.softmax(x, axis=3)
    with pytest.raises(TypeError, match="is an xarray.Dataset; with xarray arguments fastact takes DataArrays"):
        fastact.softmax(x.to_dataset())
    with pytest.raises(TypeError, match="out= is not supported for xarray"):
        fastact.relu(x, out=np.empty(x.shape, np.float32))
