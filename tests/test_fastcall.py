"""fastact._fastcall.call runs a ufunc's own loop on the common case: the same values,
shape, order and result type as calling the ufunc through NumPy, and None (the caller
then goes through NumPy) for everything else."""

import numpy as np
import pytest

from fastact import _dispatch, ufuncs

fastcall = pytest.importorskip("fastact._fastcall")
BACKENDS = [b for b in ("cython", "numba") if b in _dispatch.backends()]


def operands(name, uf, backend, x):
    """(arrays, params, NumPy keywords, the output's core length) for one call of uf."""
    if uf.signature is None:
        n_arrays = 2 if name.endswith("backward") else 1
        params = (0.5, 20.0) if name.startswith("softplus") else (1.25,)
        return (x,) * n_arrays, params[:uf.nin - n_arrays], {}, -1
    if name == "logsumexp_backward":
        y = np.asarray(ufuncs.get("logsumexp", backend)(x))
        return (np.ones_like(y), x, y), (), {}, -1
    m = x.shape[-1] // 2
    half = np.empty(x.shape[:-1] + (m,), x.dtype)
    if name == "maxout":
        return (x,), (), {"out": half}, m
    if name == "maxout_backward":
        return (ufuncs.get("maxout", backend)(x, out=half).copy(), x), (), {}, -1
    return (x,) * uf.nin, (), {}, -1


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ufuncs.NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, order", [((2,), "C"), ((10,), "C"), ((30, 514), "C"),
                                          ((5, 6), "F"), ((2, 3, 70002), "C")])
def test_same_as_numpy_dispatch(backend, name, dtype, shape, order):
    uf = ufuncs.get(name, backend)
    if uf.signature is not None and order == "F":
        pytest.skip("gufuncs take C order only")
    x = np.asarray(np.random.default_rng(1).standard_normal(shape) * 5, dtype, order=order)
    arrays, params, keywords, core_length = operands(name, uf, backend, x)
    found = fastcall.call(uf, arrays, params, core_length)
    expected = uf(*arrays, *params, **keywords)
    assert found is not None
    assert type(found) is type(expected) and found.dtype == expected.dtype
    assert np.shape(found) == np.shape(expected)
    np.testing.assert_array_equal(found, expected, strict=True)
    if np.ndim(found) > 1:
        assert found.flags.f_contiguous == expected.flags.f_contiguous


def test_declines_what_it_does_not_take():
    get = lambda name: ufuncs.get(name, "cython" if "cython" in BACKENDS else "numba")  # noqa: E731
    x = np.ones(6, np.float32)
    declined = [
        (get("gelu"), (x[::2],), ()),                          # strided
        (get("gelu"), (x.astype(">f4"),), ()),                 # byte-swapped
        (get("gelu"), (np.float32(1),), ()),                   # not an ndarray
        (get("gelu"), (np.ones((), np.float32),), ()),         # 0-d: the API returns a scalar
        (get("gelu"), (x.astype(np.float16),), ()),            # float16
        (get("gelu"), (np.ones((3, 0), np.float32),), ()),     # empty
        (get("gelu"), (np.ones((3, 4), np.float32)[:, :2],), ()),
        (get("relu_backward"), (x, x[:4]), ()),                # shapes differ
        (get("relu_backward"), (x, x.astype(np.float64)), ()),  # dtypes differ
        (get("leaky_relu"), (x,), (1,)),                       # an int parameter
        (get("leaky_relu"), (x,), (1e300,)),                   # beyond float32
        (get("softmax"), (np.ones((3, 0), np.float32),), ()),
        (get("maxout"), (x,), ()),                             # m not given
        (get("softmax_backward"), (x, x.reshape(1, 6)), ()),
        (get("logsumexp_backward"), (x[:2], x.reshape(1, 6), x[:1]), ()),
    ]
    for args in declined:
        assert fastcall.call(*args) is None, args
    # parameters that float32 holds, inf included, are taken
    assert fastcall.call(get("leaky_relu"), (-x,), (3e38,))[0] == np.float32(-3e38)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 5), (2, 3, 4)])
@pytest.mark.parametrize("weight", ["float", "(1,)", "()", "(1, 1)"])
def test_prelu_one_weight_short_path(backend, dtype, shape, weight):
    """prelu and prelu_backward with one weight take a short path on C-contiguous x: the
    values of the general path (out= takes it), and the grad_weight of its type and shape."""
    import fastact

    rng = np.random.default_rng(3)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    w = -0.3 if weight == "float" else np.full(eval(weight), -0.3, dtype)
    y = fastact.prelu(x, w, backend=backend)
    np.testing.assert_array_equal(y, fastact.prelu(x, w, out=np.empty_like(x), backend=backend),
                                  strict=True)
    grad_input, grad_weight = fastact.prelu_backward(g, x, w, backend=backend)
    slow_input, slow_weight = fastact.prelu_backward(g, x, w, out=np.empty_like(x),
                                                     backend=backend)
    np.testing.assert_array_equal(grad_input, slow_input, strict=True)
    assert type(grad_weight) is type(slow_weight) and np.shape(grad_weight) == np.shape(w)
    assert grad_weight.dtype == dtype
    np.testing.assert_allclose(grad_weight, slow_weight, rtol=1e-6)
    np.testing.assert_allclose(grad_weight, np.sum(np.where(x > 0, 0, g * x)), rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_prelu_one_weight_on_read_only_byte_swapped_strided_and_0d_input(backend):
    """The inputs the short path takes (read-only C-contiguous) and those it leaves to the
    general path (byte-swapped, strided, 0-d) give the values of a plain array."""
    import fastact

    rng = np.random.default_rng(4)
    x = (rng.standard_normal((6, 10)) * 4).astype(np.float32)
    g = rng.standard_normal((6, 10)).astype(np.float32)
    w = np.float32([-0.3])
    y, (gi, gw) = fastact.prelu(x, w, backend=backend), fastact.prelu_backward(g, x, w,
                                                                              backend=backend)
    read_only = [a.copy() for a in (x, g)]
    for a in read_only:
        a.setflags(write=False)
    swapped = [a.astype(a.dtype.newbyteorder()) for a in (x, g)]
    for xv, gv in (read_only, swapped):
        np.testing.assert_array_equal(fastact.prelu(xv, w, backend=backend), y)
        got_input, got_weight = fastact.prelu_backward(gv, xv, w, backend=backend)
        np.testing.assert_array_equal(got_input, gi)
        np.testing.assert_allclose(got_weight, gw, rtol=1e-6)
    np.testing.assert_array_equal(fastact.prelu(x[:, ::2], w, backend=backend), y[:, ::2])
    np.testing.assert_array_equal(fastact.prelu_backward(g[:, ::2], x[:, ::2], w,
                                                         backend=backend)[0], gi[:, ::2])
    scalar_input, scalar_weight = fastact.prelu_backward(g[0, 0], x[0, 0], -0.3, backend=backend)
    assert type(scalar_input) is np.float32 and type(scalar_weight) is np.float32
    assert scalar_input == gi[0, 0]
    assert type(fastact.prelu(x[0, 0], w, backend=backend)) is np.float32
