"""fastact inside PyTorch: autograd Functions, functional wrappers and ``nn`` Modules.

Importable only when PyTorch is installed (``import fastact`` never imports it)::

    from fastact.torch import replace_activations
    replace_activations(model)          # swaps nn.GELU, nn.SiLU, ... for fastact's, in place

    import fastact.torch as FT
    y = FT.gelu(t, approximate="tanh")  # torch.nn.functional's names and signatures
    layer = FT.nn.PReLU(num_parameters=64)  # torch.nn's names and constructor arguments

Everything here is generated from the op table (:data:`fastact.catalogue.OPS`)
with the small name map :data:`TORCH_NAMES`:

* one ``torch.autograd.Function`` per op, in :data:`FUNCTIONS` (``GELUFunction``...),
  called as ``Function.apply(x, *params)`` with the parameters of ``fastact.<op>``
  (prelu: ``apply(x, weight, axis)``).  Its forward runs ``fastact.<op>`` and saves
  for backward exactly what ``fastact.<op>_backward`` takes (``op.saved``: x, y or
  both; prelu also its weight); its backward runs ``fastact.<op>_backward``.
* functional wrappers with ``torch.nn.functional``'s names and signatures
  (``logsumexp`` is ``torch.logsumexp(input, dim, keepdim=False)``; ``maxout(input,
  pieces, dim=-1)`` has no torch counterpart; ``swish`` is ``silu``).
* ``fastact.torch.nn``: subclasses of the ``torch.nn`` activation modules (same
  name, constructor, attributes, ``repr`` and ``state_dict``; ``isinstance(m,
  torch.nn.GELU)`` stays true) whose ``forward`` runs fastact, plus
  ``Maxout(pieces, dim=-1)``.

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
ops), a 0-d input to the row ops, ``logsumexp`` over several dims, and a PReLU whose
weight has another dtype or device than its input.  Copying such tensors to CPU
float32 would cost more than fastact saves.

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

__all__ = ["FUNCTIONS", "TORCH_NAMES", "nn", "replace_activations", "restore_activations"]


def _torch_maxout(input, pieces, dim=-1):
    """Maxout in PyTorch ops (the fallback): the max over groups of ``pieces`` along ``dim``."""
    d = dim % input.dim() if input.dim() else 0
    return input.unflatten(d, (-1, pieces)).max(d + 1).values


# op -> (whether torch's functional has inplace=, the PyTorch function with the same
# signature, used as the fallback); module names are the op table's ``layer``
TORCH_NAMES: dict[str, tuple] = {
    "relu": (True, F.relu),
    "leaky_relu": (True, F.leaky_relu),
    "prelu": (False, F.prelu),
    "elu": (True, F.elu),
    "selu": (True, F.selu),
    "celu": (True, F.celu),
    "gelu": (False, F.gelu),
    "sigmoid": (False, torch.sigmoid),
    "tanh": (False, torch.tanh),
    "silu": (True, F.silu),
    "softplus": (False, F.softplus),
    "mish": (True, F.mish),
    "hardsigmoid": (True, F.hardsigmoid),
    "hardswish": (True, F.hardswish),
    "softmax": (False, F.softmax),
    "log_softmax": (False, F.log_softmax),
    "logsumexp": (False, torch.logsumexp),
    "maxout": (False, _torch_maxout),
}

# fastact's parameter names -> torch's
_RENAME = {"axis": "dim", "keepdims": "keepdim"}
# torch signatures that are not the catalogue's parameters renamed
_SIGNATURES = {
    "prelu": "weight",  # the channel axis is 1, as in torch
    "softmax": "dim=None, _stacklevel=3, dtype=None",
    "log_softmax": "dim=None, _stacklevel=3, dtype=None",
    "logsumexp": "dim, keepdim=False",
}


class _Spec:
    """What the wrappers of one op need: the op, fastact's functions, the torch fallback."""

    def __init__(self, op: Op):
        self.op = op
        self.name = op.name
        self.inplace, self.native = TORCH_NAMES[op.name]
        self.module_name = op.layer or None
        self.forward = getattr(fastact, op.name)
        self.backward = getattr(fastact, op.backward_name)
        self.elementwise = op.kind == "elementwise"
        self.function = None  # the autograd.Function, set below


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


def _inverse(order):
    inverse = [0] * len(order)
    for i, d in enumerate(order):
        inverse[d] = i
    return inverse


def _arrays(tensors, elementwise):
    """NumPy views of ``tensors`` (all C-contiguous), and the dim order they are in.

    Elementwise ops run in the memory order of the last tensor (x or y) when it is
    dense, so channels_last and transposed tensors need no copy; any tensor not
    contiguous in that order is copied to one that is.
    """
    order = None
    if elementwise:
        ref = tensors[-1]
        if not ref.is_contiguous():
            order = _memory_order(ref)
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
    return t if order is None else t.permute(_inverse(order))


def _call(fn, arrays, params, **out):
    """``fn(*arrays, *params)`` on as many threads as torch uses."""
    n = torch.get_num_threads()
    if n == fastact.get_num_threads():
        return fn(*arrays, *params, **out)
    with fastact.num_threads(n):
        return fn(*arrays, *params, **out)


def _run(spec: _Spec, fn, tensors, params):
    """fastact's ``fn`` on ``tensors`` and ``params``; tensors back (a tuple for prelu's backward)."""
    if spec.op.kind == "prelu":  # the weight is a parameter of fastact's functions
        tensors, params = tensors[:-1], (tensors[-1].detach().numpy(),) + params
    arrays, order = _arrays(tensors, spec.elementwise)
    result = _call(fn, arrays, params)
    if type(result) is tuple:
        return tuple(_tensor(r) for r in result)
    return _tensor(result, order)


# ---------------------------------------------------------------- autograd

def _differentiable_backward(spec: _Spec, grad, saved, params, needs):
    """The backward in differentiable PyTorch ops, for create_graph=True (higher derivatives)."""
    name = spec.name
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
    inputs = list(saved)
    wanted = [t for t, need in zip(inputs, needs) if need and t.requires_grad]
    with torch.enable_grad():
        if name == "prelu":
            out = F.prelu(inputs[0], inputs[1])
        elif name == "maxout":
            out = _torch_maxout(inputs[0], *params)
        else:
            out = spec.native(inputs[0], **dict(zip(_torch_params(spec.op), params)))
        grads = iter(torch.autograd.grad(out, wanted, grad, create_graph=True))
    return tuple(next(grads) if need and t.requires_grad else None
                 for t, need in zip(inputs, needs))


def _make_function(spec: _Spec) -> type:
    op = spec.op
    n_tensors = 2 if op.kind == "prelu" else 1

    def forward(ctx, *args):
        tensors, params = args[:n_tensors], args[n_tensors:]
        y = _run(spec, spec.forward, tensors, params)
        values = {"x": tensors[0], "y": y}
        ctx.save_for_backward(*[values[s] for s in op.saved], *tensors[1:])
        ctx.params = params
        return y

    def backward(ctx, grad):
        saved = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True
            grads = _differentiable_backward(spec, grad, saved, ctx.params,
                                             ctx.needs_input_grad[:n_tensors])
        else:
            grads = _run(spec, spec.backward, (grad,) + saved, ctx.params)
            if n_tensors == 1:
                grads = (grads,)
        return tuple(grads) + (None,) * len(ctx.params)

    name = (spec.module_name or "LogSumExp") + "Function"
    return type(name, (torch.autograd.Function,), {
        "forward": staticmethod(forward),
        "backward": staticmethod(backward),
        "__module__": __name__,
        "__qualname__": name,
        "__doc__": f"``torch.autograd.Function`` running fastact.{op.name} and "
                   f"fastact.{op.backward_name}; ``apply(x, *params)`` with "
                   f"fastact.{op.name}'s parameters.  Saves {', '.join(op.saved)}"
                   + (" and weight." if op.kind == "prelu" else "."),
    })


# ---------------------------------------------------------------- the wrappers' bodies

def _needs_grad(t) -> bool:
    return t.requires_grad and torch.is_grad_enabled()


def _elementwise(spec: _Spec, x, params, inplace):
    if _needs_grad(x):
        return spec.function.apply(x, *params)
    if not inplace:
        return _run(spec, spec.forward, (x,), params)
    # in place, outside autograd: bump the version first (this raises where torch would)
    if _increment_version is not None:
        _increment_version(x)
    order = None if x.is_contiguous() else _memory_order(x)
    if x.is_contiguous() or order is not None:
        (a,), _ = _arrays((x,), True)
        _call(spec.forward, (a,), params, out=a)
    else:  # a tensor with gaps: compute on a copy, write back
        with torch.no_grad():
            x.copy_(_run(spec, spec.forward, (x,), params))
    return x


def _apply(spec: _Spec, x, params):
    if _needs_grad(x):
        return spec.function.apply(x, *params)
    return _run(spec, spec.forward, (x,), params)


def _prelu(spec: _Spec, x, weight):
    if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad):
        return spec.function.apply(x, weight, 1)
    return _run(spec, spec.forward, (x, weight), (1,))


def _prelu_fast(x, weight) -> bool:
    return (type(weight) in _PLAIN and weight.dtype == x.dtype and weight.is_cpu
            and weight.layout is _STRIDED and not _is_wrapped(weight))


def _softmax_dim(name, ndim, stacklevel):
    """torch's implicit dim for softmax(dim=None), with its deprecation warning."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. "
                  "Change the call to include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def _last(dim, t) -> bool:
    """True when ``dim`` is the last dim of ``t`` (not 0-d): the row ops run on fastact then."""
    return isinstance(dim, int) and t.dim() > 0 and (dim == -1 or dim == t.dim() - 1)


def _one_dim(dim):
    """logsumexp's dim as one int, or None when it names several dims (torch handles those)."""
    if isinstance(dim, (tuple, list, torch.Size)):
        return dim[0] if len(dim) == 1 else None
    return dim


# ---------------------------------------------------------------- generated functions

def _torch_params(op: Op) -> list[str]:
    return [_RENAME.get(p.name, p.name) for p in op.params]


def _signature(spec: _Spec) -> str:
    op = spec.op
    if op.name in _SIGNATURES:
        sig = _SIGNATURES[op.name]
    else:
        sig = ", ".join(_RENAME.get(p.name, p.name) + ("" if p.default is fastact.catalogue.REQUIRED
                                                      else f"={p.default!r}")
                        for p in op.params)
    parts = ["input"] + ([sig] if sig else []) + (["inplace=False"] if spec.inplace else [])
    return ", ".join(parts)


def _source(spec: _Spec, name: str) -> str:
    """The source of the functional wrapper ``name`` of ``spec``'s op."""
    op = spec.op
    names = _torch_params(op)
    values = "".join(f"{n}, " for n in names)  # a tuple's items
    kwargs = "".join(f", {n}={n}" for n in names)  # keyword arguments after input
    lines = [f"def {name}({_signature(spec)}):"]
    if op.kind == "elementwise":
        inplace = "inplace" if spec.inplace else "False"
        native_extra = ", inplace=inplace" if spec.inplace else ""
        lines += [f"    if _fast(input):",
                  f"        return _elementwise(_spec, input, ({values}), {inplace})",
                  f"    return _native(input{kwargs}{native_extra})"]
    elif op.kind == "prelu":
        lines += ["    if _fast(input) and _prelu_fast(input, weight):",
                  "        return _prelu(_spec, input, weight)",
                  "    return _native(input, weight)"]
    elif op.kind == "rows":
        lines += ["    if dtype is not None:",
                  "        input = input.to(dtype)",
                  "    if dim is None:",
                  f"        dim = _softmax_dim({name!r}, input.dim(), _stacklevel + 1)",
                  "    if _fast(input) and _last(dim, input):",
                  "        return _apply(_spec, input, (dim,))",
                  "    return _native(input, dim)"]
    elif op.kind == "reduce":
        lines += ["    one = _one_dim(dim)",
                  "    if _fast(input) and _last(one, input):",
                  "        return _apply(_spec, input, (one, keepdim))",
                  "    return _native(input, dim, keepdim)"]
    else:  # maxout
        lines += ["    if _fast(input) and _last(dim, input):",
                  "        return _apply(_spec, input, (pieces, dim))",
                  "    return _native(input, pieces, dim)"]
    return "\n".join(lines) + "\n"


def _functional_doc(spec: _Spec, name: str) -> str:
    op = spec.op
    torch_name = {"logsumexp": "torch.logsumexp", "maxout": None}.get(
        op.name, f"torch.nn.functional.{op.name}")
    like = f"Drop-in for ``{torch_name}``" if torch_name else "Maxout (no PyTorch counterpart)"
    return (f"{like}, computed by fastact.{op.name} on CPU float32/float64 tensors "
            f"(else by PyTorch; see fastact.torch).\n\n"
            f"{op.summary}\n\n    {op.name}(x) = {op.formula}\n\n"
            f"Derivative: {op.derivative}." + (f"\nAt the kink: {op.kink}." if op.kink else "")
            + (f"\n\n{op.notes}" if op.notes else ""))


def _make_functional(spec: _Spec, name: str):
    namespace = {"_spec": spec, "_native": spec.native, "_fast": _fast, "_prelu_fast": _prelu_fast,
                 "_elementwise": _elementwise, "_apply": _apply, "_prelu": _prelu,
                 "_softmax_dim": _softmax_dim, "_one_dim": _one_dim, "_last": _last}
    exec(compile(_source(spec, name), f"<fastact.torch.{name}>", "exec"), namespace)
    fn = namespace[name]
    fn.__module__ = __name__
    fn.__doc__ = _functional_doc(spec, name)
    return fn


# ---------------------------------------------------------------- modules

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
        return maxout(input, self.pieces, self.dim)  # noqa: F821 (generated below)

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}, dim={self.dim}"


def _make_module(spec: _Spec, functional):
    """``fastact.torch.nn.<Name>``: torch.nn.<Name> with a forward that runs fastact."""
    name = spec.module_name
    base = getattr(torch.nn, name)
    op = spec.op
    if op.kind == "rows":
        call = "_fn(input, self.dim, _stacklevel=5)"
    else:
        args = _torch_params(op) if op.kind != "prelu" else ["weight"]
        if spec.inplace:
            args.append("inplace")
        call = "_fn(input" + "".join(f", self.{a}" for a in args) + ")"
    namespace = {"_fn": functional}
    exec(compile(f"def forward(self, input):\n    return {call}\n",
                 f"<fastact.torch.nn.{name}.forward>", "exec"), namespace)
    forward = namespace["forward"]
    forward.__qualname__ = f"{name}.forward"
    return type(name, (base,), {
        "forward": forward,
        "__module__": "fastact.torch.nn",
        "__qualname__": name,
        "__doc__": f"``torch.nn.{name}`` (same constructor, attributes and state_dict) whose "
                   f"forward runs fastact.{op.name} through fastact.torch.{op.name}.\n\n"
                   + (base.__doc__ or ""),
    })


# ---------------------------------------------------------------- build everything

SPECS: dict[str, _Spec] = {}
FUNCTIONS: dict[str, type] = {}
"""op name -> its ``torch.autograd.Function``."""
_functionals: dict[str, object] = {}
_modules: dict[str, type] = {}

for _op in OPS:
    if _op.name not in TORCH_NAMES:  # a new op without a torch mapping yet (tests catch this)
        continue
    _spec = SPECS[_op.name] = _Spec(_op)
    _spec.function = FUNCTIONS[_op.name] = _make_function(_spec)
    for _name in (_op.name,) + _op.aliases:
        _functionals[_name] = _make_functional(_spec, _name)
    if _spec.module_name and _op.kind != "maxout":
        _modules[_spec.module_name] = _make_module(_spec, _functionals[_op.name])
_modules["Maxout"] = Maxout
Maxout.__module__ = "fastact.torch.nn"

globals().update(_functionals)
globals().update({f.__name__: f for f in FUNCTIONS.values()})
__all__ += sorted(_functionals) + sorted(f.__name__ for f in FUNCTIONS.values())

nn = types.ModuleType("fastact.torch.nn", "fastact's drop-in replacements for torch.nn's activation "
                      "modules (subclasses of them whose forward runs fastact), and Maxout.")
nn.__dict__.update(_modules)
nn.__all__ = sorted(_modules)
sys.modules[nn.__name__] = nn

# exact torch.nn class -> fastact's subclass of it
_SWAP = {cls.__mro__[1]: cls for cls in _modules.values() if cls is not Maxout}
_UNSWAP = {cls: base for base, cls in _SWAP.items()}


def replace_activations(model: torch.nn.Module) -> dict[str, str]:
    """Make every torch.nn activation module inside ``model`` run fastact, in place.

    Each ``torch.nn.ReLU``, ``GELU``, ``SiLU``, ``PReLU``, ``Softmax``... (exactly those
    classes: subclasses, which may override forward, are left alone) becomes an instance
    of the ``fastact.torch.nn`` subclass of its class.  Nothing else changes: the module
    object, its attributes, parameters (the same PReLU weight, so an optimizer made
    before keeps working), buffers, hooks, training mode and state_dict stay as they
    were.  Activations called as functions inside a forward (``F.gelu(x)``) are not
    seen; call ``fastact.torch.gelu`` there.

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


del _op, _name, _spec
