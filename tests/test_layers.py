"""fastact.layers: every activation layer, PReLU's parameter, Linear, and whole networks
trained with them (finite differences, PyTorch, the comparison example)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import fastact
from fastact import layers, softmax_cross_entropy, softmax_cross_entropy_backward
from fastact.catalogue import OPS, OPS_BY_NAME

LAYER_OPS = [op for op in OPS if op.layer]
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "compare_activations.py"


def _make(op, params=None):
    params = dict(op.test_params[-1] if params is None else params)
    if op.kind == "prelu":
        return layers.PReLU(3, dtype=np.float64)
    return getattr(layers, op.layer)(**params)


def _input(op, seed=0):
    return np.random.default_rng(seed).normal(scale=2.0, size=(2, 3, 8))


def test_every_layer_op_has_a_layer_class():
    assert {op.layer for op in LAYER_OPS} <= set(layers.__all__)
    assert {op.name for op in OPS} - {op.name for op in LAYER_OPS} == {"logsumexp"}


@pytest.mark.parametrize("op", LAYER_OPS, ids=lambda op: op.layer)
def test_layer_computes_the_op_and_its_backward(op):
    layer = _make(op)
    x = _input(op)
    y = layer.forward(x)
    params = layer._call_params()
    np.testing.assert_array_equal(y, getattr(fastact, op.name)(x, **params))
    g = np.random.default_rng(1).normal(size=y.shape)
    expected = getattr(fastact, op.backward_name)(g, *[{"x": x, "y": y}[s] for s in op.saved],
                                                   **params)
    if op.kind == "prelu":
        expected = expected[0]
    np.testing.assert_array_equal(layer.backward(g), expected)


@pytest.mark.parametrize("op", LAYER_OPS, ids=lambda op: op.layer)
def test_layer_keeps_only_what_the_backward_takes(op):
    layer = _make(op)
    x = _input(op)
    y = layer.forward(x)
    assert tuple(layer.saved) == op.saved
    for name, kept in layer.saved.items():
        assert kept is {"x": x, "y": y}[name]  # a reference, not a copy


@pytest.mark.parametrize("op", LAYER_OPS, ids=lambda op: op.layer)
def test_backward_modifies_neither_grad_nor_kept_arrays(op):
    layer = _make(op)
    y = layer.forward(_input(op))
    kept = {name: a.copy() for name, a in layer.saved.items()}
    g = np.random.default_rng(2).normal(size=y.shape)
    g_before = g.copy()
    layer.backward(g)
    layer.backward(g)
    np.testing.assert_array_equal(g, g_before)
    for name, a in layer.saved.items():
        np.testing.assert_array_equal(a, kept[name])


@pytest.mark.parametrize("op", LAYER_OPS, ids=lambda op: op.layer)
def test_backward_before_forward_or_with_a_wrong_shape_is_refused(op):
    layer = _make(op)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.ones((2, 3, 8)))
    y = layer.forward(_input(op))
    with pytest.raises(ValueError, match="grad_output has shape"):
        layer.backward(np.ones(y.shape + (1,)))


@pytest.mark.parametrize("make, error, match", [
    (lambda: layers.GELU(approximate="fast"), ValueError, "approximate"),
    (lambda: layers.CELU(alpha=0.0), ValueError, "alpha"),
    (lambda: layers.ReLU(1.0), TypeError, "at most 0 positional"),
    (lambda: layers.ELU(beta=1.0), TypeError, "unexpected argument 'beta'"),
    (lambda: layers.ELU(1.0, alpha=2.0), TypeError, "'alpha' twice"),
    (lambda: layers.Maxout(), TypeError, "needs the argument 'pieces'"),
    (lambda: layers.PReLU(0), ValueError, "num_parameters must be a positive integer"),
    (lambda: layers.Linear(3, 2, init="he"), ValueError, "init must be"),
])
def test_bad_construction_is_refused(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_layers_take_positional_parameters_like_torch():
    assert layers.LeakyReLU(0.2).params == {"negative_slope": 0.2}
    assert layers.Softplus(2.0, 10.0).params == {"beta": 2.0, "threshold": 10.0}
    assert repr(layers.GELU("tanh")) == "GELU(approximate='tanh')"


def test_prelu_weight_is_a_parameter_that_accumulates_until_zeroed():
    layer = layers.PReLU(3, dtype=np.float64)
    assert layers.parameters([layer]) == [layer.weight]
    np.testing.assert_array_equal(layer.weight.value, [0.25, 0.25, 0.25])  # PyTorch's init
    x = _input(None)
    g = np.ones_like(x)
    layer.forward(x)
    layer.backward(g)
    once = layer.weight.grad.copy()
    np.testing.assert_allclose(once, np.where(x <= 0, x, 0).sum(axis=(0, 2)))
    layer.backward(g)
    np.testing.assert_allclose(layer.weight.grad, 2 * once)
    layer.zero_grad()
    np.testing.assert_array_equal(layer.weight.grad, 0)


def test_prelu_refuses_an_input_of_another_float_dtype():
    layer = layers.PReLU(1)  # float32 weight
    with pytest.raises(TypeError, match="create PReLU"):
        layer.forward(np.ones(4))


def test_linear_checks_shapes():
    layer = layers.Linear(4, 2, rng=0)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((3, 2)))
    with pytest.raises(ValueError, match="last axis of 4 features"):
        layer.forward(np.ones((3, 5)))
    layer.forward(np.ones((3, 4)))
    with pytest.raises(ValueError, match="grad_output has shape"):
        layer.backward(np.ones((3, 3)))


def test_linear_inits():
    glorot = layers.Linear(300, 200, rng=0).weight.value
    assert np.abs(glorot).max() <= np.sqrt(6 / 500)
    lecun = layers.Linear(400, 300, init="lecun", rng=0).weight.value
    assert abs(lecun.std() - np.sqrt(1 / 400)) < 0.002


# A whole network: Linear - activation - Linear - fused softmax cross-entropy.
NET_ACTIVATIONS = [("gelu", {}), ("selu", {}), ("prelu", None), ("mish", {}), ("softplus", {}),
                   ("log_softmax", {})]


def _network(name, params, seed=0):
    rng = np.random.default_rng(seed)
    act = layers.PReLU(5, dtype=np.float64) if name == "prelu" else \
        getattr(layers, OPS_BY_NAME[name].layer)(**params)
    if name == "prelu":
        act.weight.value[:] = rng.normal(size=5)  # not all equal: each channel is checked
    return [layers.Linear(4, 5, rng=rng), act, layers.Linear(5, 3, rng=rng)]


def _loss(net, x, labels):
    h = x
    for layer in net:
        h = layer.forward(h)
    return softmax_cross_entropy(h, labels), h


def _gradients(net, x, labels):
    loss, logits = _loss(net, x, labels)
    grad = softmax_cross_entropy_backward(1.0, logits, labels)
    for layer in reversed(net):
        grad = layer.backward(grad)
    return loss, grad


@pytest.mark.parametrize("name, params", NET_ACTIVATIONS, ids=[n for n, _ in NET_ACTIVATIONS])
def test_network_gradients_match_central_differences(name, params):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 4))
    labels = rng.integers(0, 3, size=6)
    net = _network(name, params)
    _, grad_x = _gradients(net, x, labels)
    h = 1e-6
    for p in layers.parameters(net):
        analytic = p.grad.copy()
        numeric = np.zeros_like(p.value)
        for i in np.ndindex(p.value.shape):
            saved = p.value[i]
            p.value[i] = saved + h
            up = _loss(net, x, labels)[0]
            p.value[i] = saved - h
            down = _loss(net, x, labels)[0]
            p.value[i] = saved
            numeric[i] = (up - down) / (2 * h)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8, err_msg=p.name)
    numeric_x = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = h
        numeric_x[i] = (_loss(net, x + step, labels)[0] - _loss(net, x - step, labels)[0]) / (2 * h)
    np.testing.assert_allclose(grad_x, numeric_x, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["gelu", "silu", "prelu", "elu"])
def test_training_matches_pytorch_autograd(name):
    """Same network, data and SGD steps in float64: the same losses to 1e-10."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(32, 8))
    labels = rng.integers(0, 4, size=32)
    net = [layers.Linear(8, 16, rng=rng),
           layers.PReLU(1, dtype=np.float64) if name == "prelu"
           else getattr(layers, OPS_BY_NAME[name].layer)(),
           layers.Linear(16, 4, rng=rng)]
    torch_act = {"gelu": torch.nn.GELU(), "silu": torch.nn.SiLU(), "elu": torch.nn.ELU(),
                 "prelu": torch.nn.PReLU(1, dtype=torch.float64)}[name]
    model = torch.nn.Sequential(torch.nn.Linear(8, 16, dtype=torch.float64), torch_act,
                                torch.nn.Linear(16, 4, dtype=torch.float64))
    with torch.no_grad():
        for torch_linear, ours in ((model[0], net[0]), (model[2], net[2])):
            torch_linear.weight.copy_(torch.tensor(ours.weight.value.T))
            torch_linear.bias.copy_(torch.tensor(ours.bias.value))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    tx, tlabels = torch.tensor(x), torch.tensor(labels)
    ours, theirs = [], []
    for _ in range(5):
        loss, _ = _gradients(net, x, labels)
        for p in layers.parameters(net):
            p.value -= 0.5 * p.grad
            p.zero_grad()
        ours.append(float(loss))
        optimizer.zero_grad()
        torch_loss = torch.nn.functional.cross_entropy(model(tx), tlabels)
        torch_loss.backward()
        optimizer.step()
        theirs.append(torch_loss.item())
    assert ours[-1] < ours[0]  # it learns
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)


def test_comparison_example_runs_in_reduced_form(tmp_path):
    pytest.importorskip("sklearn", reason="the example needs the examples extra (scikit-learn)")
    pytest.importorskip("matplotlib", reason="the example needs the examples extra (matplotlib)")
    spec = importlib.util.spec_from_file_location("compare_activations", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    png = tmp_path / "curves.png"
    histories = example.main(["--epochs", "2", "--activations", "relu,sigmoid",
                              "--out", str(png)])
    assert set(histories) == {"relu", "sigmoid"}
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    relu = histories["relu"]
    assert len(relu["val_accuracy"]) == 2
    assert relu["val_accuracy"][-1] > 0.5  # learning, not chance (0.1)
    assert relu["val_loss"][-1] < relu["val_loss"][0]


def test_comparison_example_writes_beside_itself_and_limits_blas_threads():
    """Its PNG goes next to the script (not into the current directory), and a run starts
    NumPy with one BLAS thread unless the environment says otherwise."""
    import subprocess
    import sys

    code = ("import importlib.util, os, sys\n"
            "spec = importlib.util.spec_from_file_location('ex', sys.argv[1])\n"
            "ex = importlib.util.module_from_spec(spec); spec.loader.exec_module(ex)\n"
            "print(ex.DEFAULT_PNG); print(os.environ['OPENBLAS_NUM_THREADS'])\n")
    env = {k: v for k, v in __import__("os").environ.items() if k != "OPENBLAS_NUM_THREADS"}
    run = subprocess.run([sys.executable, "-c", code, str(EXAMPLE)], capture_output=True,
                         text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    png, threads = run.stdout.split()
    assert Path(png) == EXAMPLE.with_suffix(".png") and threads == "1"


@pytest.mark.parametrize("op", LAYER_OPS, ids=lambda op: op.layer)
def test_calling_a_layer_is_its_forward(op):
    x = _input(op)
    called, forwarded = _make(op), _make(op)
    np.testing.assert_array_equal(called(x), forwarded.forward(x))
    g = np.ones_like(forwarded.forward(x))
    np.testing.assert_array_equal(called.backward(g), forwarded.backward(g))


def test_calling_linear_is_its_forward():
    layer = layers.Linear(3, 4, rng=0)
    x = np.random.default_rng(1).normal(size=(2, 3))
    np.testing.assert_array_equal(layer(x), x @ layer.weight.value + layer.bias.value)
    assert layer.backward(np.ones((2, 4))).shape == (2, 3)


def test_layers_have_a_useful_repr():
    assert repr(layers.GELU(approximate="tanh")) == "GELU(approximate='tanh')"
    assert repr(layers.ReLU()) == "ReLU()"
    assert repr(layers.Softmax(backend="numpy")) == "Softmax(axis=-1, backend='numpy')"
    assert repr(layers.Maxout(2)) == "Maxout(pieces=2, axis=-1)"
    assert repr(layers.PReLU(3)) == "PReLU(num_parameters=3, axis=1, dtype=float32)"
    assert repr(layers.Linear(64, 10, dtype=np.float32)) == \
        "Linear(in_features=64, out_features=10, dtype=float32)"
