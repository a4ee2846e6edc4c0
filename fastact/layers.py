"""Layer objects for NumPy training loops, one per activation of the op table.

``forward(x)`` returns the output and keeps only what the op's backward takes
(x or y, as the op table says; nothing more).  ``backward(grad_output)`` returns
grad_input and modifies neither grad_output nor the kept array.  PReLU owns a
learnable weight, exposed with its gradient as a :class:`Parameter`; gradients
accumulate across backward calls until ``zero_grad()``.  :class:`Linear` (NumPy
matrix products) completes what a small network needs.

Example, one SGD step of a two-layer network::

    from fastact import layers, softmax_cross_entropy, softmax_cross_entropy_backward
    net = [layers.Linear(64, 128, rng=0), layers.GELU(), layers.Linear(128, 10, rng=1)]
    h = x
    for layer in net:
        h = layer.forward(h)
    loss = softmax_cross_entropy(h, labels)
    grad = softmax_cross_entropy_backward(1.0, h, labels)
    for layer in reversed(net):
        grad = layer.backward(grad)
    for p in layers.parameters(net):
        p.value -= 0.1 * p.grad
        p.zero_grad()

The arrays a layer keeps are references, not copies: changing x in place between
forward and backward changes the gradient, as in other frameworks.
"""

from __future__ import annotations

import numpy as np

import fastact
from fastact import _validate
from fastact.catalogue import OPS, REQUIRED

__all__ = ["Parameter", "Layer", "Activation", "Linear", "parameters"]


class Parameter:
    """A learnable array and the gradient accumulated for it."""

    def __init__(self, value: np.ndarray, name: str):
        self.value = value
        self.grad = np.zeros_like(value)
        self.name = name

    def zero_grad(self) -> None:
        self.grad[...] = 0

    def __repr__(self):
        return f"Parameter({self.name}, shape={self.value.shape}, dtype={self.value.dtype})"


def parameters(layers_) -> list[Parameter]:
    """The learnable parameters of a sequence of layers, in order."""
    return [p for layer in layers_ for p in layer.parameters()]


class Layer:
    """What every layer has: ``layer(x)`` is ``layer.forward(x)`` (as in PyTorch), its
    learnable parameters, and zero_grad()."""

    def __call__(self, x):
        return self.forward(x)

    def parameters(self) -> list[Parameter]:
        return []

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()


class Activation(Layer):
    """An activation layer for the op ``self.op`` (subclasses below fix it).

    Parameters are the op's, with its defaults (see ``fastact.<op>``); ``backend``
    is passed through to every call.
    """

    op = None  # set by each generated subclass

    def __init__(self, *args, backend=None, **kwargs):
        names = [p.name for p in self.op.params]
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes at most {len(names)} positional "
                            f"arguments ({', '.join(names) or 'none'}), got {len(args)}")
        given = dict(zip(names, args))
        for name, value in kwargs.items():
            if name not in names:
                raise TypeError(f"{type(self).__name__} got an unexpected argument {name!r}; "
                                f"its parameters are: {', '.join(names) or 'none'}")
            if name in given:
                raise TypeError(f"{type(self).__name__} got {name!r} twice")
            given[name] = value
        self.params = {}
        for p in self.op.params:
            if p.name in given:
                self.params[p.name] = given[p.name]
            elif p.default is REQUIRED:
                raise TypeError(f"{type(self).__name__} needs the argument {p.name!r}")
            else:
                self.params[p.name] = p.default
        self._check_params()
        self.backend = backend
        self._saved = None
        self._output_shape = None

    def _check_params(self):
        """Fail at construction, not at the first forward, for values that are wrong anyway."""
        probe = np.zeros(1)
        for p in self.op.params:
            if p.check not in ("axis", "pieces", "weight"):
                _validate.check_param(type(self).__name__, p, self.params[p.name], probe)

    def _call_params(self):
        return self.params

    def forward(self, x):
        """The op's output; keeps what its backward takes (``op.saved``)."""
        y = getattr(fastact, self.op.name)(x, **self._call_params(), backend=self.backend)
        available = {"x": np.asarray(x), "y": y}
        self._saved = tuple(available[name] for name in self.op.saved)
        self._output_shape = np.shape(y)
        return y

    def _check_backward(self, grad_output):
        name = type(self).__name__
        if self._saved is None:
            raise RuntimeError(f"{name}.backward called before forward")
        if np.shape(grad_output) != self._output_shape:
            raise ValueError(f"{name}.backward: grad_output has shape {np.shape(grad_output)} "
                             f"but the forward output had shape {self._output_shape}")

    def backward(self, grad_output):
        """grad_input for grad_output (the gradient with respect to the forward output)."""
        self._check_backward(grad_output)
        return getattr(fastact, self.op.backward_name)(
            grad_output, *self._saved, **self._call_params(), backend=self.backend)

    @property
    def saved(self) -> dict:
        """What forward kept, by name (x or y): the arrays backward will use."""
        return dict(zip(self.op.saved, self._saved or ()))

    def _repr_params(self) -> list[str]:
        return [f"{k}={v!r}" for k, v in self.params.items()]

    def __repr__(self):
        params = self._repr_params()
        if self.backend is not None:
            params.append(f"backend={self.backend!r}")
        return f"{type(self).__name__}({', '.join(params)})"


class _PReLU(Activation):
    """PReLU with its own weight: ``num_parameters`` values (1, or one per channel along
    ``axis``), initialised to ``init`` (PyTorch's 0.25), of ``dtype``."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, axis: int = 1, *,
                 dtype=np.float32, backend=None):
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, int) \
                or num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be a positive integer, "
                             f"got {num_parameters!r}")
        self.weight = Parameter(np.full(num_parameters, init, dtype=dtype), "weight")
        super().__init__(weight=self.weight.value, axis=axis, backend=backend)

    def _check_params(self):
        pass  # the weight is checked against x at each forward

    def _repr_params(self) -> list[str]:
        w = self.weight.value
        return [f"num_parameters={w.size}", f"axis={self.params['axis']!r}",
                f"dtype={w.dtype.name}"]

    def parameters(self) -> list[Parameter]:
        return [self.weight]

    def _call_params(self):
        return {"weight": self.weight.value, "axis": self.params["axis"]}

    def forward(self, x):
        x = np.asarray(x)
        if x.dtype.kind == "f" and x.dtype != self.weight.value.dtype:
            raise TypeError(f"PReLU: x is {x.dtype} but the weight is {self.weight.value.dtype}; "
                            f"create PReLU(..., dtype=np.{x.dtype.name})")
        return super().forward(x)

    def backward(self, grad_output):
        """grad_input; the weight's gradient is added to ``self.weight.grad``."""
        self._check_backward(grad_output)
        grad_input, grad_weight = fastact.prelu_backward(
            grad_output, *self._saved, **self._call_params(), backend=self.backend)
        self.weight.grad += np.reshape(grad_weight, self.weight.grad.shape)
        return grad_input


class Linear(Layer):
    """y = x @ W + b with W of shape (in_features, out_features), Glorot-uniform by default.

    ``init='lecun'`` draws W from N(0, 1/in_features) instead (for SELU networks).
    ``rng`` is a seed or a numpy Generator.
    """

    def __init__(self, in_features: int, out_features: int, *, init: str = "glorot",
                 rng=None, dtype=np.float64):
        rng = np.random.default_rng(rng)
        if init == "glorot":
            limit = np.sqrt(6.0 / (in_features + out_features))
            weight = rng.uniform(-limit, limit, (in_features, out_features))
        elif init == "lecun":
            weight = rng.normal(0.0, np.sqrt(1.0 / in_features), (in_features, out_features))
        else:
            raise ValueError(f"Linear: init must be 'glorot' or 'lecun', got {init!r}")
        self.weight = Parameter(weight.astype(dtype), "weight")
        self.bias = Parameter(np.zeros(out_features, dtype=dtype), "bias")
        self._x = None

    def parameters(self) -> list[Parameter]:
        return [self.weight, self.bias]

    def __repr__(self):
        in_features, out_features = self.weight.value.shape
        return (f"Linear(in_features={in_features}, out_features={out_features}, "
                f"dtype={self.weight.value.dtype.name})")

    def forward(self, x):
        """x @ W + b for x of shape (..., in_features); keeps x for backward."""
        x = np.asarray(x)
        in_features, out_features = self.weight.value.shape
        if x.ndim == 0 or x.shape[-1] != in_features:
            raise ValueError(f"Linear: x of shape {x.shape} needs a last axis of {in_features} "
                             f"features")
        self._x = x
        return x @ self.weight.value + self.bias.value

    def backward(self, grad_output):
        """grad_input; W's and b's gradients are added to ``weight.grad`` and ``bias.grad``."""
        if self._x is None:
            raise RuntimeError("Linear.backward called before forward")
        expected = self._x.shape[:-1] + (self.weight.value.shape[1],)
        if np.shape(grad_output) != expected:
            raise ValueError(f"Linear.backward: grad_output has shape {np.shape(grad_output)} "
                             f"but the forward output had shape {expected}")
        x2 = self._x.reshape(-1, self._x.shape[-1])
        g2 = np.reshape(grad_output, (-1, self.weight.value.shape[1]))
        self.weight.grad += x2.T @ g2
        self.bias.grad += g2.sum(axis=0)
        return grad_output @ self.weight.value.T


# One class per activation of the op table, named as in torch.nn (the table's ``layer``).
for _op in OPS:
    if not _op.layer:
        continue
    _cls = type(_op.layer, (_PReLU if _op.kind == "prelu" else Activation,), {
        "op": _op,
        "__doc__": f"Layer for fastact.{_op.name}: {_op.summary}\n\n    {_op.formula}\n\n"
                   f"    backward takes ({', '.join(_op.saved)}); see fastact.{_op.name}.",
        "__module__": __name__,
    })
    globals()[_op.layer] = _cls
    __all__.append(_op.layer)
