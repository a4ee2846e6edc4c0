"""fastact inside PyTorch: autograd Functions, functional wrappers and ``nn`` Modules.

Importable only when PyTorch is installed (``import fastact`` never imports it)::

    from fastact.torch import replace_activations
    replace_activations(model)          # swaps nn.GELU, nn.SiLU, ... for fastact's, in place

    import fastact.torch as FT
    y = FT.gelu(t, approximate="tanh")  # torch.nn.functional's names and signatures
    layer = FT.nn.PReLU(num_parameters=64)  # torch.nn's names and constructor arguments

For every op of the op table (:data:`fastact.catalogue.OPS`; tests check that it and
this file agree):

* one ``torch.autograd.Function`` per op, in :data:`FUNCTIONS` (``GELUFunction``...),
  called as ``Function.apply(x, *params)`` with the parameters of ``fastact.<op>``
  (prelu: ``apply(x, weight, axis)``).  Its forward runs ``fastact.<op>`` and saves
  for backward exactly what ``fastact.<op>_backward`` takes (``op.saved``: x, y or
  both; prelu also its weight); its backward runs ``fastact.<op>_backward``.
* functional wrappers with ``torch.nn.functional``'s names and signatures: fastact's
  ``axis`` is ``dim`` and ``keepdims`` is ``keepdim`` (``logsumexp`` is
  ``torch.logsumexp(input, dim, keepdim=False)``; ``maxout(input, pieces, dim=-1)``
  has no torch counterpart; ``swish`` is ``silu``).
* ``fastact.torch.nn``: subclasses of the ``torch.nn`` activation modules (same
  name, constructor, attributes and ``state_dict``; ``isinstance(m, torch.nn.GELU)``
  stays true) whose ``forward`` runs fastact, plus ``Maxout(pieces, dim=-1)``.  Their
  repr is PyTorch's followed by `` [fastact]``, so ``print(model)`` shows the swap.

When fastact runs and when PyTorch does
----------------------------------------
fastact runs on plain CPU tensors of float32 or float64 (``torch.Tensor`` or
``nn.Parameter``, strided layout).  It works on NumPy views of the tensors'
memory and returns tensors that wrap fastact's result arrays: no copies.  Tensors
that are dense but not C-contiguous (channels_last, transposed) are handled, for the
elementwise ops, in their memory order, also without copies, and the result has the
input's strides, as in PyTorch.  A tensor with gaps (a slice) is copied to a
contiguous one first (``Tensor.contiguous()``, which is multithreaded): measured on
2 cores, a copy plus fastact beats PyTorch's strided kernels for the transcendental
ops (see ``bench/bench_torch_step.py``), and one rule for every op keeps the results
independent of the layout.

Everything else goes to the matching PyTorch function with the same arguments, and
then PyTorch's conventions apply: other devices (CUDA, meta...), other dtypes
(float16, bfloat16 under autocast, integers), tensor subclasses, sparse or nested
tensors, tensors inside ``torch.func`` transforms, code being traced by
``torch.jit.trace`` or compiled by ``torch.compile`` (which then fuses PyTorch's own
ops), the row ops (softmax, log_softmax, logsumexp, maxout) along another dim than the
last or on a 0-d input, ``logsumexp`` over several dims, and a PReLU whose weight has
another dtype or device than its input.  Copying such tensors to CPU float32 would
cost more than fastact saves.

Autograd
--------
The Function is used only when autograd records the call (grad mode on and an input
that requires grad); under ``torch.no_grad()``, ``torch.inference_mode()`` or for
inputs without grad, the wrappers call fastact directly and nothing is saved.
First derivatives come from fastact's backward kernels.  Higher derivatives
(``create_graph=True``) work too: the backward then computes with differentiable
PyTorch ops (the catalogue's formulas for ops whose backward takes y; PyTorch's own
derivative of the op, recomputed from x, for the others).

``inplace=True`` (relu, leaky_relu, elu, selu, celu, silu, mish, hardsigmoid,
hardswish) is honoured when autograd does not record the call: fastact writes into
the input, whose version counter is bumped as PyTorch's in-place ops do.  When
autograd records the call, the result is a new tensor and the input is left
unchanged, because fastact's backward needs the forward input x (PyTorch's in-place
relu saves its output instead); ``nn`` modules always use the returned tensor, so
models behave the same, at the cost of one activation-sized buffer.

Threads: fastact's kernels run on ``torch.get_num_threads()`` threads, so
``torch.set_num_threads`` governs both.

Conventions: on the fastact path, fastact's (README, "Where fastact differs from
PyTorch"): gelu, silu, mish and hardswish give 0 at -inf (PyTorch: NaN); hardswish's
derivative is 0 at -3 and 1 at +3 (PyTorch: -0.5 and 1.5); NaN in grad_output
always gives NaN (PyTorch's relu backward gives 0 where x <= 0).  Parameters that
fastact rejects (``celu(alpha=0)``, ``softplus(beta<=0)``) raise its ValueError.

Not supported on the fastact path: ``torch.jit.script`` (use PyTorch's modules
there); pickled models hold ``fastact.torch.nn`` classes until
:func:`restore_activations` is called.
"""

from __future__ import annotations

try:
    import torch
except ImportError as exc:
    raise ImportError(
        "fastact.torch needs PyTorch, which is not installed (pip install torch); "
        "the rest of fastact works without it") from exc
if not hasattr(torch, "autograd"):  # something else named torch shadows PyTorch
    raise ImportError(f"fastact.torch: 'import torch' found {getattr(torch, '__file__', torch)!r}, "
                      "which is not PyTorch")

import sys
import types
import warnings

import numpy as np
import torch.nn.functional as F

import fastact
from fastact.catalogue import OPS, Op

__all__ = ["FUNCTIONS", "nn", "replace_activations", "restore_activations"]


# ---------------------------------------------------------------- tensors <-> arrays

_PLAIN = (torch.Tensor, torch.nn.Parameter)
_FLOATS = (torch.float32, torch.float64)
_STRIDED = torch.strided
_is_wrapped = getattr(getattr(torch._C, "_functorch", None), "is_functorch_wrapped_tensor",
                      lambda t: False)
_is_compiling = getattr(getattr(torch, "compiler", None), "is_compiling", lambda: False)
_increment_version = getattr(getattr(torch.autograd, "graph", None), "increment_version", None)


def _fast(t) -> bool:
    """True when fastact computes on ``t``: a plain CPU float32/float64 strided tensor."""
    return (type(t) in _PLAIN and t.dtype in _FLOATS and t.is_cpu and t.layout is _STRIDED
            and not torch.jit.is_tracing() and not _is_compiling() and not _is_wrapped(t))


def _memory_order(t):
    """The permutation of ``t``'s dims that makes it C-contiguous, or None if none does."""
    order = sorted(range(t.dim()), key=t.stride, reverse=True)
    return order if t.permute(order).is_contiguous() else None


def _arrays(tensors, elementwise):
    """NumPy views of ``tensors`` (all C-contiguous), and the dim order they are in.

    Elementwise ops run in the memory order of the last tensor (x or y) when it is
    dense, so channels_last and transposed tensors need no copy; any tensor not
    contiguous in that order is copied to one that is.
    """
    order = None
    if elementwise and not tensors[-1].is_contiguous():
        order = _memory_order(tensors[-1])
    arrays = []
    for t in tensors:
        t = t.detach()
        if order is not None:
            t = t.permute(order)
        if not t.is_contiguous():
            t = t.contiguous()
        arrays.append(t.numpy())
    return arrays, order


def _tensor(result, order=None):
    """The tensor of a fastact result (an ndarray, or a NumPy scalar for 0-d), no copy."""
    t = torch.from_numpy(result if type(result) is np.ndarray else np.array(result))
    # back to the input's dim order: the inverse permutation of ``order``
    return t if order is None else t.permute(sorted(range(len(order)), key=order.__getitem__))


def _call(fn, arrays, params, **out):
    """``fn(*arrays, *params)`` on as many threads as torch uses."""
    n = torch.get_num_threads()
    if n == fastact.get_num_threads():
        return fn(*arrays, *params, **out)
    with fastact.num_threads(n):
        return fn(*arrays, *params, **out)


def _run(op: Op, fn, tensors, params):
    """fastact's ``fn`` on ``tensors`` and ``params``; tensors back (a tuple for prelu's backward)."""
    if op.kind == "prelu":  # its weight, a tensor, is the first parameter: an array for fastact
        params = (params[0].detach().numpy(), *params[1:])
    arrays, order = _arrays(tensors, op.kind == "elementwise")
    result = _call(fn, arrays, params)
    if type(result) is tuple:
        return tuple(_tensor(r) for r in result)
    return _tensor(result, order)


# ---------------------------------------------------------------- autograd

def _torch_maxout(input, pieces, dim=-1):
    """Maxout in PyTorch ops (the fallback): the max over groups of ``pieces`` along ``dim``."""
    d = dim % input.dim() if input.dim() else 0
    return input.unflatten(d, (-1, pieces)).max(d + 1).values


def _differentiable_backward(op: Op, grad, saved, params, needs):
    """The backward in differentiable PyTorch ops, for create_graph=True (higher derivatives)."""
    name = op.name
    if name == "sigmoid":
        return (grad * saved[0] * (1 - saved[0]),)
    if name == "tanh":
        return (grad * (1 - saved[0] * saved[0]),)
    if name == "softmax":
        y, (axis,) = saved[0], params
        return (y * (grad - (grad * y).sum(axis, keepdim=True)),)
    if name == "log_softmax":
        y, (axis,) = saved[0], params
        return (grad - y.exp() * grad.sum(axis, keepdim=True),)
    if name == "logsumexp":
        (x, y), (axis, keepdims) = saved, params
        if not keepdims:
            grad, y = grad.unsqueeze(axis), y.unsqueeze(axis)
        return (grad * (x - y).exp(),)
    if name == "hardsigmoid":  # PyTorch has no second derivative for it
        x = saved[0]
        return (grad * ((x > -3) & (x < 3)).to(grad.dtype) / 6,)
    # the others take x (and prelu its weight): PyTorch's derivative, recomputed from x
    wanted = [t for t, need in zip(saved, needs) if need and t.requires_grad]
    with torch.enable_grad():
        if name == "prelu":
            out = F.prelu(*saved)
        elif name == "maxout":
            out = _torch_maxout(saved[0], *params)
        else:  # an elementwise op: torch's function has the catalogue's parameter names
            out = getattr(F, name)(saved[0], **{p.name: v for p, v in zip(op.params, params)})
        grads = iter(torch.autograd.grad(out, wanted, grad, create_graph=True))
    return tuple(next(grads) if need and t.requires_grad else None
                 for t, need in zip(saved, needs))


def _function(op: Op) -> type:
    """The ``torch.autograd.Function`` of ``op`` (which is its attribute ``op``)."""
    n = 2 if op.kind == "prelu" else 1  # apply's tensor arguments: x (, weight)

    def forward(ctx, *args):
        y = _run(op, getattr(fastact, op.name), args[:1], args[1:])
        values = {"x": args[0], "y": y}
        ctx.save_for_backward(*[values[s] for s in op.saved], *args[1:n])  # (and the weight)
        ctx.params = args[n:]
        return y

    def backward(ctx, grad):
        saved = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True
            grads = _differentiable_backward(op, grad, saved, ctx.params, ctx.needs_input_grad[:n])
        else:
            k = len(op.saved)
            grads = _run(op, getattr(fastact, op.backward_name), (grad, *saved[:k]),
                         (*saved[k:], *ctx.params))
            if n == 1:
                grads = (grads,)
        return tuple(grads) + (None,) * len(ctx.params)

    name = (op.layer or "LogSumExp") + "Function"
    return type(name, (torch.autograd.Function,), {
        "forward": staticmethod(forward),
        "backward": staticmethod(backward),
        "op": op,
        "__module__": __name__,
        "__qualname__": name,
        "__doc__": f"``torch.autograd.Function`` running fastact.{op.name} and "
                   f"fastact.{op.backward_name}; ``apply(x, *params)`` with "
                   f"fastact.{op.name}'s parameters.  Saves {', '.join(op.saved)}"
                   + (" and weight." if op.kind == "prelu" else "."),
    })


FUNCTIONS: dict[str, type] = {op.name: _function(op) for op in OPS}
"""op name -> its ``torch.autograd.Function``."""
globals().update({f.__name__: f for f in FUNCTIONS.values()})


# ---------------------------------------------------------------- functional wrappers

def _fastact(name, input, *params, inplace=False):
    """``fastact.<name>`` on tensors, arguments as the Function's ``apply`` takes them.

    Through the autograd Function when autograd records the call; else directly, and
    with ``inplace`` into the input (whose version is bumped first, as torch does).
    """
    function = FUNCTIONS[name]
    if torch.is_grad_enabled() and (input.requires_grad
                                    or name == "prelu" and params[0].requires_grad):
        return function.apply(input, *params)
    fn = getattr(fastact, name)
    if not inplace:
        return _run(function.op, fn, (input,), params)
    if _increment_version is not None:
        _increment_version(input)  # raises where torch's in-place ops would
    if input.is_contiguous() or _memory_order(input) is not None:
        (a,), _ = _arrays((input,), True)
        _call(fn, (a,), params, out=a)
    else:  # a tensor with gaps: compute on a copy, write back
        with torch.no_grad():
            input.copy_(_run(function.op, fn, (input,), params))
    return input


def _last(dim, t) -> bool:
    """True when ``dim`` is the last dim of ``t`` (not 0-d): the row ops run on fastact then."""
    return isinstance(dim, int) and t.dim() > 0 and (dim == -1 or dim == t.dim() - 1)


def _softmax_arguments(name, input, dim, stacklevel, dtype):
    """torch's ``dtype=`` and ``dim=None`` of softmax (an implicit dim, with its warning)."""
    if dtype is not None:
        input = input.to(dtype)
    if dim is None:
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. "
                      "Change the call to include dim=X as an argument.", stacklevel=stacklevel)
        dim = 0 if input.dim() in (0, 1, 3) else 1
    return input, dim


# torch.nn.functional's signatures; fastact on the tensors _fast accepts, else torch
# with the same arguments

def relu(input, inplace=False):
    if _fast(input):
        return _fastact("relu", input, inplace=inplace)
    return F.relu(input, inplace)

def leaky_relu(input, negative_slope=0.01, inplace=False):
    if _fast(input):
        return _fastact("leaky_relu", input, negative_slope, inplace=inplace)
    return F.leaky_relu(input, negative_slope, inplace)

def prelu(input, weight):
    if (_fast(input) and type(weight) in _PLAIN and weight.dtype == input.dtype
            and weight.is_cpu and weight.layout is _STRIDED and not _is_wrapped(weight)):
        return _fastact("prelu", input, weight, 1)  # the channel dim is 1, as in torch
    return F.prelu(input, weight)

def elu(input, alpha=1.0, inplace=False):
    if _fast(input):
        return _fastact("elu", input, alpha, inplace=inplace)
    return F.elu(input, alpha, inplace)

def selu(input, inplace=False):
    if _fast(input):
        return _fastact("selu", input, inplace=inplace)
    return F.selu(input, inplace)

def celu(input, alpha=1.0, inplace=False):
    if _fast(input):
        return _fastact("celu", input, alpha, inplace=inplace)
    return F.celu(input, alpha, inplace)

def gelu(input, approximate="none"):
    if _fast(input):
        return _fastact("gelu", input, approximate)
    return F.gelu(input, approximate=approximate)

def sigmoid(input):
    return _fastact("sigmoid", input) if _fast(input) else torch.sigmoid(input)

def tanh(input):
    return _fastact("tanh", input) if _fast(input) else torch.tanh(input)

def silu(input, inplace=False):
    if _fast(input):
        return _fastact("silu", input, inplace=inplace)
    return F.silu(input, inplace)

swish = silu

def softplus(input, beta=1.0, threshold=20.0):
    if _fast(input):
        return _fastact("softplus", input, beta, threshold)
    return F.softplus(input, beta, threshold)

def mish(input, inplace=False):
    if _fast(input):
        return _fastact("mish", input, inplace=inplace)
    return F.mish(input, inplace)

def hardsigmoid(input, inplace=False):
    if _fast(input):
        return _fastact("hardsigmoid", input, inplace=inplace)
    return F.hardsigmoid(input, inplace)

def hardswish(input, inplace=False):
    if _fast(input):
        return _fastact("hardswish", input, inplace=inplace)
    return F.hardswish(input, inplace)

def softmax(input, dim=None, _stacklevel=3, dtype=None):
    input, dim = _softmax_arguments("softmax", input, dim, _stacklevel, dtype)
    if _fast(input) and _last(dim, input):
        return _fastact("softmax", input, dim)
    return F.softmax(input, dim)

def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    input, dim = _softmax_arguments("log_softmax", input, dim, _stacklevel, dtype)
    if _fast(input) and _last(dim, input):
        return _fastact("log_softmax", input, dim)
    return F.log_softmax(input, dim)

def logsumexp(input, dim, keepdim=False):
    one = dim[0] if isinstance(dim, (tuple, list)) and len(dim) == 1 else dim  # torch.Size too
    if _fast(input) and _last(one, input):
        return _fastact("logsumexp", input, one, keepdim)
    return torch.logsumexp(input, dim, keepdim)

def maxout(input, pieces, dim=-1):
    if _fast(input) and _last(dim, input):
        return _fastact("maxout", input, pieces, dim)
    return _torch_maxout(input, pieces, dim)


def _functional_doc(op: Op) -> str:
    like = {"logsumexp": "Drop-in for ``torch.logsumexp``",
            "maxout": "Maxout (no PyTorch counterpart)"}.get(
        op.name, f"Drop-in for ``torch.nn.functional.{op.name}``")
    return (f"{like}, computed by fastact.{op.name} on CPU float32/float64 tensors "
            f"(else by PyTorch; see fastact.torch).\n\n"
            f"{op.summary}\n\n    {op.name}(x) = {op.formula}\n\n"
            f"Derivative: {op.derivative}." + (f"\nAt the kink: {op.kink}." if op.kink else "")
            + (f"\n\n{op.notes}" if op.notes else ""))


for _op in OPS:  # an op without a wrapper yet fails tests/test_torch.py, not the import
    if _op.name in globals():
        globals()[_op.name].__doc__ = _functional_doc(_op)
__all__ += sorted(name for op in OPS for name in (op.name, *op.aliases) if name in globals())
__all__ += sorted(f.__name__ for f in FUNCTIONS.values())


# ---------------------------------------------------------------- modules

class _Fastact:
    """Base of fastact.torch.nn's subclasses of torch.nn modules: marks them in the repr."""

    def __repr__(self):
        return super().__repr__() + " [fastact]"


class ReLU(_Fastact, torch.nn.ReLU):
    def forward(self, input):
        return relu(input, self.inplace)

class LeakyReLU(_Fastact, torch.nn.LeakyReLU):
    def forward(self, input):
        return leaky_relu(input, self.negative_slope, self.inplace)

class PReLU(_Fastact, torch.nn.PReLU):
    def forward(self, input):
        return prelu(input, self.weight)

class ELU(_Fastact, torch.nn.ELU):
    def forward(self, input):
        return elu(input, self.alpha, self.inplace)

class SELU(_Fastact, torch.nn.SELU):
    def forward(self, input):
        return selu(input, self.inplace)

class CELU(_Fastact, torch.nn.CELU):
    def forward(self, input):
        return celu(input, self.alpha, self.inplace)

class GELU(_Fastact, torch.nn.GELU):
    def forward(self, input):
        return gelu(input, self.approximate)

class Sigmoid(_Fastact, torch.nn.Sigmoid):
    def forward(self, input):
        return sigmoid(input)

class Tanh(_Fastact, torch.nn.Tanh):
    def forward(self, input):
        return tanh(input)

class SiLU(_Fastact, torch.nn.SiLU):
    def forward(self, input):
        return silu(input, self.inplace)

class Softplus(_Fastact, torch.nn.Softplus):
    def forward(self, input):
        return softplus(input, self.beta, self.threshold)

class Mish(_Fastact, torch.nn.Mish):
    def forward(self, input):
        return mish(input, self.inplace)

class Hardsigmoid(_Fastact, torch.nn.Hardsigmoid):
    def forward(self, input):
        return hardsigmoid(input, self.inplace)

class Hardswish(_Fastact, torch.nn.Hardswish):
    def forward(self, input):
        return hardswish(input, self.inplace)

class Softmax(_Fastact, torch.nn.Softmax):
    def forward(self, input):
        return softmax(input, self.dim, _stacklevel=5)

class LogSoftmax(_Fastact, torch.nn.LogSoftmax):
    def forward(self, input):
        return log_softmax(input, self.dim, _stacklevel=5)


class Maxout(torch.nn.Module):
    """Maxout: the maximum over contiguous groups of ``pieces`` entries along ``dim``.

    The length of ``dim`` must be a multiple of ``pieces``; the output has it divided by
    ``pieces``.  The gradient goes to the first maximal entry of each group.
    """

    def __init__(self, pieces: int, dim: int = -1) -> None:
        super().__init__()
        self.pieces = pieces
        self.dim = dim

    def forward(self, input):
        return maxout(input, self.pieces, self.dim)

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}, dim={self.dim}"


# exact torch.nn class -> fastact's subclass of it; the classes move to fastact.torch.nn
_SWAP = {cls.__bases__[-1]: cls for cls in _Fastact.__subclasses__()}
_MODULES = (*_SWAP.values(), Maxout)
_UNSWAP = {cls: base for base, cls in _SWAP.items()}
nn = types.ModuleType("fastact.torch.nn", "fastact's drop-in replacements for torch.nn's activation "
                      "modules (subclasses of them whose forward runs fastact), and Maxout.")
nn.__file__ = __file__  # the classes' source is here (inspect.getsource)
_OP_OF = {op.layer: op.name for op in OPS}
for _cls in _SWAP.values():
    _cls.__doc__ = (f"``torch.nn.{_cls.__name__}`` (same constructor, attributes and state_dict) "
                    f"whose forward runs fastact.torch.{_OP_OF[_cls.__name__]}.\n\n"
                    + (_cls.__bases__[-1].__doc__ or ""))
for _cls in _MODULES:
    _cls.__module__ = nn.__name__
    setattr(nn, _cls.__name__, globals().pop(_cls.__name__))
nn.__all__ = sorted(cls.__name__ for cls in _MODULES)
sys.modules[nn.__name__] = nn


def replace_activations(model: torch.nn.Module) -> dict[str, str]:
    """Make every torch.nn activation module inside ``model`` run fastact, in place.

    Each ``torch.nn.ReLU``, ``GELU``, ``SiLU``, ``PReLU``, ``Softmax``... (exactly those
    classes: subclasses, which may override forward, are left alone) becomes an instance
    of the ``fastact.torch.nn`` subclass of its class.  Nothing else changes: the module
    object, its attributes, parameters (the same PReLU weight, so an optimizer made
    before keeps working), buffers, hooks, training mode and state_dict stay as they
    were; only the repr gains `` [fastact]``.  Activations called as functions inside a
    forward (``F.gelu(x)``) are not seen; call ``fastact.torch.gelu`` there.

    Returns ``{qualified module name: torch class name}`` of what was swapped (``''``
    is ``model`` itself).
    """
    return _reclass(model, _SWAP)


def restore_activations(model: torch.nn.Module) -> dict[str, str]:
    """Undo :func:`replace_activations`: fastact.torch.nn modules back to torch.nn's classes.

    Returns ``{qualified module name: class name}`` of what was restored.
    """
    return _reclass(model, _UNSWAP)


def _reclass(model, classes):
    """Give each module whose exact class is a key of ``classes`` the mapped class."""
    changed = {}
    for name, module in model.named_modules():
        target = classes.get(type(module))
        if target is not None:
            module.__class__ = target
            changed[name] = target.__name__
    return changed


del _op, _cls, _OP_OF
