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


def test_c_path_runs_the_given_ufuncs_only_without_backend_and_use_backend():
    """fastact._fastcall.elementwise and .rows (fastact._api's _elementwise and _rows)
    run the default backend's ufunc in C only for a call without backend=, outside
    use_backend blocks, on what ``call`` takes (rows: along axis -1); every other call
    takes the Python path.  A stand-in ufunc (np.negative) shows which path ran."""
    import fastact

    x = np.linspace(-3, 3, 64, dtype=np.float32)
    rows = np.linspace(-3, 3, 12).reshape(3, 4)
    sigmoid = fastact.sigmoid(x, backend="numpy")
    softmax_0 = fastact.softmax(rows, axis=0, backend="numpy")
    default = _dispatch.resolve()
    fastact.sigmoid(x)  # the default backend resolved (and its ufuncs given, if any)
    try:
        fastcall.set_default_ufuncs({"sigmoid": np.negative, "softmax": np.negative},
                                    _dispatch._override)
        np.testing.assert_array_equal(fastact.sigmoid(x), -x)  # the C path
        out = np.empty_like(x)
        assert fastact.sigmoid(x, out=out) is out
        np.testing.assert_array_equal(out, -x)
        np.testing.assert_array_equal(fastact.softmax(rows), -rows)
        # the Python path: backend=, use_backend, what call declines, other axes, kernels
        # without a given ufunc
        np.testing.assert_allclose(fastact.sigmoid(x, backend=default), sigmoid, rtol=1e-6)
        np.testing.assert_allclose(fastact.sigmoid(x, backend="auto"), sigmoid, rtol=1e-6)
        with fastact.use_backend(default):
            np.testing.assert_allclose(fastact.sigmoid(x), sigmoid, rtol=1e-6)
        np.testing.assert_allclose(fastact.sigmoid(x.astype(np.float16)), sigmoid, atol=1e-3)
        np.testing.assert_allclose(fastact.sigmoid(list(x)), sigmoid, rtol=1e-6)
        np.testing.assert_allclose(fastact.sigmoid(x[::2]), sigmoid[::2], rtol=1e-6)
        np.testing.assert_allclose(fastact.softmax(rows, axis=0), softmax_0, rtol=1e-12)
        np.testing.assert_allclose(fastact.softmax(rows, axis=1),
                                   fastact.softmax(rows, backend="numpy"), rtol=1e-12)
        assert fastact.tanh(x).min() > -1  # no stand-in for tanh
        with pytest.raises(TypeError):  # the Python path's checks still run
            fastact.sigmoid(x.astype(np.complex64))
        # set_backend gives the new default backend's ufuncs (the reference: none)
        before = fastact.get_backend()
        fastact.set_backend("numpy")
        try:
            np.testing.assert_array_equal(fastact.sigmoid(x), sigmoid)
        finally:
            fastact.set_backend(before)
    finally:
        _dispatch._publish_default()  # the default backend's own ufuncs again
    np.testing.assert_allclose(fastact.sigmoid(x), sigmoid, rtol=1e-6)


def test_c_path_gives_the_python_paths_bits():
    """On the common case the C path runs the ufunc the Python path runs: the same bits,
    for every elementwise and row kernel of the default backend (whichever it is)."""
    import fastact

    rng = np.random.default_rng(7)
    for dtype in (np.float32, np.float64):
        x = (rng.standard_normal((4, 300)) * 3).astype(dtype)
        g = rng.standard_normal((4, 300)).astype(dtype)
        for name in ("gelu", "tanh", "sigmoid", "silu", "mish", "softplus", "elu",
                     "softmax", "log_softmax"):
            forward = getattr(fastact, name)
            backward = getattr(fastact, name + "_backward")
            y = forward(x)
            with fastact.use_backend(fastact.get_backend()):  # the Python path
                want = forward(x)
            np.testing.assert_array_equal(y, want)
            saved = y if name in ("sigmoid", "tanh", "softmax", "log_softmax") else x
            got = backward(g, saved)
            with fastact.use_backend(fastact.get_backend()):
                want = backward(g, saved)
            np.testing.assert_array_equal(got, want)


def _corpus_cases():
    from corpus import DTYPES, call_params, layouts

    from fastact.catalogue import OPS

    for op in OPS:
        for dtype in DTYPES:
            for layout, x in layouts(dtype):
                for params in call_params(op, x):
                    yield pytest.param(op, params, x,
                                       id=f"{op.name}-{np.dtype(dtype).name}-{layout}-{params}")


def _same_result(got, want):
    if isinstance(want, tuple):  # prelu's backward: grad_input, grad_weight
        assert isinstance(got, tuple) and len(got) == len(want)
        for a, b in zip(got, want):
            _same_result(a, b)
        return
    assert type(got) is type(want)
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    bits = f"u{want.itemsize}"
    np.testing.assert_array_equal(got.view(bits), want.view(bits))


@pytest.mark.parametrize("op,params,x", list(_corpus_cases()))
def test_c_path_on_the_layout_corpus_is_the_python_path(op, params, x):
    """A call without backend= (fastact._fastcall's C path, where it takes the call) gives
    the result type, dtype, shape and bits of the same call with the default backend
    named (the Python path), forward, backward and with out=, on every layout of the
    backends' corpus: 0-d, empty, 1-d, C and Fortran order, transposed, strided,
    reversed, broadcast, unaligned, byte-swapped and read-only."""
    import fastact
    from fastact.accuracy import saved_arrays

    default = _dispatch.resolve()
    dtype = x.dtype.newbyteorder("=")
    forward = getattr(fastact, op.name)
    want = forward(x, **params, backend=default)
    _same_result(forward(x, **params), want)
    out = np.empty(np.shape(want), dtype)
    assert forward(x, **params, out=out) is out
    _same_result(out, np.asarray(want))
    saved = saved_arrays(op, x, params, dtype)
    y = np.asarray(want)
    g = np.linspace(-2, 2, y.size).astype(dtype).reshape(y.shape)
    backward = getattr(fastact, op.backward_name)
    _same_result(backward(g, *saved, **params), backward(g, *saved, **params, backend=default))
