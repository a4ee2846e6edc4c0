"""The op table: the single source of truth for fastact's activation functions.

Every public function, its docstring, its input validation, the dispatch to a
backend, the test suite, the benchmarks and the README's tables iterate over
:data:`OPS`.  Adding an op means adding one :class:`Op` here, its math to
``fastact.reference`` (and to the fast backends), and its oracle to
``tests/oracle.py``.

Semantics follow ``torch.nn.functional`` (parameter names and defaults) except
where an entry's ``notes`` say otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Exact SELU constants (PyTorch's, from Klambauer et al. 2017), rounded to float64.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

CONSTANTS: dict[str, float] = {
    "SELU_ALPHA": SELU_ALPHA,
    "SELU_SCALE": SELU_SCALE,
    # scale*alpha rounded once (the product of the two rounded values is an ulp lower)
    "SELU_SCALE_ALPHA": 1.7580993408473768599402175208123,
    # GELU: 1/sqrt(2) and 1/sqrt(2 pi) for Phi(x) = erfc(-x/sqrt(2))/2 and phi(x)
    "INV_SQRT_2": 0.70710678118654752440084436210485,
    "INV_SQRT_2PI": 0.39894228040143267793994605993438,
    # GELU 'tanh': u = sqrt(2/pi)(x + c x^3), computed as 0.5(1 + tanh(u)) = sigmoid(2u)
    "GELU_TANH_C": 0.044715,
    "GELU_TANH_3C": 0.134145,  # 3c, for du/dx
    "SQRT_2_OVER_PI": 0.79788456080286535587989211986876,
    "SQRT_2_OVER_PI_X2": 1.5957691216057307117597842397375,
    # 2 sqrt(2/pi) c rounded once: 2u = x(2 sqrt(2/pi) + this x^2) rounds twice fewer times
    # than 2 sqrt(2/pi) x (1 + c x^2), and t's rounding is amplified 2.3-fold near x = -1.5
    "GELU_TANH_C_X2": 0.071354816272600248776338752279864,
    # GELU 'tanh' backward: beyond this |x| the sigmoid term is exactly 0 or 1 in float32
    # and float64 while x*du/dx would overflow, so the derivative takes its limits (0, 1)
    "GELU_TANH_BACKWARD_CUTOFF": 1e10,
}
"""The numeric constants of the ops, in float64: the reference, the Numba scalars and the
Cython kernels (a header setup.py generates from this table) all take them from here, and
tests/test_constants.py checks that each backend holds the same bits."""

REQUIRED = object()
"""Default of a parameter that has none (prelu's ``weight``)."""


@dataclass(frozen=True)
class Param:
    """One parameter of an op.

    ``check`` names the rule ``fastact._validate`` applies to the value:
    'real' (any finite real), 'nonzero' (finite, not 0), 'positive' (finite, > 0),
    'not_nan' (real, not NaN: ±inf allowed), 'choice' (one of ``choices``),
    'axis' (an integer axis of the input), 'pieces' (a positive integer that
    divides the axis length), 'bool', 'weight' (a float array of 1 or C values).
    """

    name: str
    default: object
    check: str
    doc: str
    choices: tuple = ()


@dataclass(frozen=True)
class Op:
    """One activation function: its parameters, what its backward takes, its math.

    ``kind`` fixes how shapes and axes are handled:
    'elementwise' (output has the input's shape), 'prelu' (elementwise with a
    per-channel weight; its backward also returns grad_weight), 'rows' (softmax
    family: shape-preserving along ``axis``), 'reduce' (logsumexp: removes
    ``axis``), 'maxout' (divides the length of ``axis`` by ``pieces``).

    ``saved`` names the arrays the backward takes after ``grad_output``: the
    forward input ``x``, the forward output ``y``, or both.
    """

    name: str
    kind: str
    params: tuple[Param, ...]
    saved: tuple[str, ...]
    summary: str
    formula: str
    derivative: str
    kink: str = ""
    notes: str = ""
    aliases: tuple[str, ...] = ()
    # Class name of the op's layer (fastact.layers, fastact.torch.nn): torch.nn's name.
    # Empty for ops without a layer (logsumexp is a reduction, not an activation).
    layer: str = ""
    # Transcendental ops (exp, tanh, erf, log inside) are held to a higher speed
    # bar than the memory-bound ones in the benchmarks.
    transcendental: bool = False
    # Parameter sets the tests and benchmarks exercise besides the defaults.
    test_params: tuple[dict, ...] = field(default=({},))
    # The compiled loops branch on the first parameter's sign once, outside the element
    # loop, for a scalar that picks a cheaper formula by that sign (GCC does not hoist the
    # test out of a vectorised loop itself; LLVM does).
    sign_split: bool = False
    # The op's ufuncs whose Cython loops stream their output (non-temporal stores) once
    # the operands outgrow the core's L2 (fastact/_cython/stream.h): those with no exp,
    # tanh, erf or log inside, memory-bound there.  Measured on an Intel Xeon (model 207),
    # blocks of 1024, each way called repeatedly: with operands beyond the L3 (14 sets
    # cycled, out=), 1.04-1.21x at 2^22 float32 and 2^21 float64, and within the L3 (the
    # same operands) 1.02-1.24x at 2^22 float32, 0.88-1.07x at 2^19-2^21.  Not streamed:
    # hardswish's forward (0.92-0.95x beyond the L3), and every kernel with a
    # transcendental, 0.84-0.98x beyond the L3 (its arithmetic is the bound, and the
    # streamed stores no longer overlap it).  Timing single calls alternately, as earlier
    # measurements did, hands each call an output buffer the other's streamed stores
    # evicted, and overstates streaming (1.35-2.0x on the same loops).  Numba's loops
    # store plainly.
    streamed: tuple[str, ...] = ()
    # The op's ufuncs whose float32 Cython loop is a hand-written AVX-512 loop on the
    # AVX-512 variant, fa_<ufunc>_vector_loop_f32 in fastact/_cython/vector_loops.h, where
    # auto-vectorised scalar code cannot say what the algorithm needs (a table lookup by
    # permute, the lanes of one path compressed into whole vectors).  The other variants
    # run the scalar kernel, and so does the Numba backend (its loops are LLVM's
    # vectorisation of scalar code, which has no permutes: a gather-based twin of the
    # GELU pieces measured 2.8x slower there), so the two backends agree within the
    # accuracy bounds, not bit for bit, on these ufuncs' lanes the vector loop computes.
    # A ufunc here is never also in ``streamed`` (setup.py refuses it).
    vector_loops: tuple[str, ...] = ()
    # The op's ufuncs whose Cython loop is software-pipelined: the scalar kernel is
    # written as two halves, scalar.pxd's <ufunc>_head (the exp) and <ufunc>_tail (the
    # rest, from the head's value), and the loop computes the heads of one block of
    # elements beside the tails of the block before (the template's _pipelined loops).
    # Why: an exp, a division and the rest make one chain of dependent operations 70-100
    # cycles long per element, and a Zen 3 holds too few elements' chains in flight to
    # keep its FMA units busy (float32 sigmoid: 16 cycles per 8 elements in a C loop,
    # where its 10 multiplies and FMAs need 5, and the exp alone takes 7).  Split in two,
    # the chains are short and the blocks independent.  Measured through the AVX2 build's
    # ufuncs on a Zen 3 (out=, medians of 15 paired runs against the plain loop): 1.05-1.38x
    # at 2^16 (softplus float64 1.38x, silu's backward 1.20-1.22x, sigmoid 1.12-1.14x),
    # 1.03-1.29x at 2^10.  Beyond the caches, where the memory bounds the lighter kernels,
    # it measured 0.86-1.0x (float32 2^22: softplus's backward 0.86x, tanh 0.91x), so the
    # loops run pipelined only up to PIPELINE_MAX_BYTES (4 MiB) of operands per thread.
    # The AVX-512 build keeps the plain loop: not measured there.  Both loops give the
    # same bits (tests/test_loop_paths.py), but for a NaN's sign.
    pipelined: tuple[str, ...] = ()

    @property
    def backward_name(self) -> str:
        return self.name + "_backward"

    @property
    def ufuncs(self) -> tuple[str, ...]:
        """The names of the op's ufuncs in ``fastact.ufuncs``, forward and backward: one
        pair per value of a choice parameter (gelu, gelu_tanh).  prelu has none of its
        own: it runs leaky_relu's with the weight broadcast along the channel axis."""
        if self.kind == "prelu":
            return ()
        names = [self.name]
        for p in self.params:
            if p.check == "choice":
                names += [f"{self.name}_{c}" for c in p.choices if c != p.default]
        return tuple(n + suffix for n in names for suffix in ("", "_backward"))


_AXIS_LAST = Param("axis", -1, "axis", "Axis along which the op works.")

OPS: tuple[Op, ...] = (
    Op(
        "relu", "elementwise", (), ("x",),
        "Rectified linear unit.",
        "max(x, 0)",
        "1 if x > 0 else 0",
        kink="0 at x = 0 (subgradient 0)",
        layer="ReLU",
        streamed=("relu", "relu_backward"),
    ),
    Op(
        "leaky_relu", "elementwise",
        (Param("negative_slope", 0.01, "real", "Slope s for x <= 0."),),
        ("x",),
        "Leaky rectified linear unit.",
        "x if x > 0 else s*x",
        "1 if x > 0 else s",
        kink="s at x = 0",
        notes="With s = 0 it equals relu, also at -inf (the limit 0, not 0*(-inf) = NaN).",
        test_params=({}, {"negative_slope": 0.2}, {"negative_slope": 0.0}, {"negative_slope": -0.5}),
        layer="LeakyReLU",
        streamed=("leaky_relu", "leaky_relu_backward"),
    ),
    Op(
        "prelu", "prelu",
        (
            Param("weight", REQUIRED, "weight",
                  "Slope for x <= 0: one value, or one per channel along ``axis``."),
            Param("axis", 1, "axis",
                  "Channel axis (ignored when ``weight`` has one value)."),
        ),
        ("x",),
        "Parametric rectified linear unit with a learnable slope per channel.",
        "x if x > 0 else w[c]*x",
        "1 if x > 0 else w[c]; d/dw[c] = sum of x*grad_output over x <= 0 in channel c",
        kink="w at x = 0",
        notes="prelu_backward returns (grad_input, grad_weight), grad_weight in weight's shape. "
              "``out=`` receives grad_input.",
        test_params=({"weight": 0.25}, {"weight": [0.1, -0.3, 0.0]}),
        layer="PReLU",
    ),
    Op(
        "elu", "elementwise",
        (Param("alpha", 1.0, "real", "Value approached as x -> -inf is -alpha."),),
        ("x",),
        "Exponential linear unit.",
        "x if x > 0 else alpha*(exp(x) - 1)",
        "1 if x > 0 else alpha*exp(x)",
        kink="alpha at x = 0",
        transcendental=True,
        test_params=({}, {"alpha": 0.5}),
        layer="ELU",
    ),
    Op(
        "selu", "elementwise", (), ("x",),
        "Scaled exponential linear unit (self-normalising).",
        f"scale*(x if x > 0 else alpha*(exp(x) - 1)), alpha = {SELU_ALPHA!r}, scale = {SELU_SCALE!r}",
        "scale if x > 0 else scale*alpha*exp(x)",
        kink="scale*alpha at x = 0",
        transcendental=True,
        layer="SELU",
    ),
    Op(
        "celu", "elementwise",
        (Param("alpha", 1.0, "nonzero", "Scale of the negative part; must not be 0."),),
        ("x",),
        "Continuously differentiable exponential linear unit.",
        "max(0, x) + min(0, alpha*(exp(x/alpha) - 1))",
        "1 if x > 0 else exp(x/alpha)",
        kink="1 at x = 0",
        transcendental=True,
        test_params=({}, {"alpha": 2.0}),
        layer="CELU",
        sign_split=True,  # alpha > 0: x/alpha <= 0: the bounded expm1 (20-30% faster), exp_neg
    ),
    Op(
        "gelu", "elementwise",
        (Param("approximate", "none", "choice",
               "'none' for the exact x*Phi(x), 'tanh' for the tanh approximation.",
               choices=("none", "tanh")),),
        ("x",),
        "Gaussian error linear unit.",
        "x*Phi(x) with Phi the standard normal CDF; "
        "'tanh': 0.5*x*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x**3)))",
        "Phi(x) + x*phi(x); 'tanh': derivative of the tanh form",
        kink="0.5 at x = 0",
        notes="gelu(-inf) = 0 (PyTorch gives NaN).",
        transcendental=True,
        test_params=({}, {"approximate": "tanh"}),
        layer="GELU",
        vector_loops=("gelu",),  # the polynomial pieces of fastact/_gelu_pieces.py
        pipelined=("gelu_tanh", "gelu_tanh_backward"),
    ),
    Op(
        "sigmoid", "elementwise", (), ("y",),
        "Logistic sigmoid.",
        "1/(1 + exp(-x))",
        "y*(1 - y), from the forward output y",
        transcendental=True,
        layer="Sigmoid",
        streamed=("sigmoid_backward",),
        pipelined=("sigmoid",),
    ),
    Op(
        "tanh", "elementwise", (), ("y",),
        "Hyperbolic tangent.",
        "tanh(x)",
        "(1 - y)*(1 + y), from the forward output y",
        transcendental=True,
        layer="Tanh",
        streamed=("tanh_backward",),
        pipelined=("tanh",),
    ),
    Op(
        "silu", "elementwise", (), ("x",),
        "Sigmoid linear unit, also known as swish.",
        "x*sigmoid(x)",
        "sigmoid(x)*(1 + x*sigmoid(-x))",
        notes="silu(-inf) = 0 (PyTorch gives NaN).",
        aliases=("swish",),
        transcendental=True,
        layer="SiLU",
        pipelined=("silu", "silu_backward"),
    ),
    Op(
        "softplus", "elementwise",
        (
            Param("beta", 1.0, "positive", "Sharpness; must be finite and > 0."),
            Param("threshold", 20.0, "not_nan", "Above beta*x > threshold the op is the identity."),
        ),
        ("x",),
        "Smooth approximation of relu.",
        "x if beta*x > threshold else log(1 + exp(beta*x))/beta",
        "1 if beta*x > threshold else sigmoid(beta*x)",
        transcendental=True,
        test_params=({}, {"beta": 2.0, "threshold": 10.0}),
        layer="Softplus",
        pipelined=("softplus", "softplus_backward"),
    ),
    Op(
        "mish", "elementwise", (), ("x",),
        "Self-regularised non-monotonic activation.",
        "x*tanh(softplus(x))",
        "tanh(softplus(x)) + x*sigmoid(x)*(1 - tanh(softplus(x))**2)",
        notes="mish(-inf) = 0 (PyTorch gives NaN).",
        transcendental=True,
        layer="Mish",
        pipelined=("mish", "mish_backward"),
    ),
    Op(
        "hardsigmoid", "elementwise", (), ("x",),
        "Piecewise-linear sigmoid.",
        "clip(x/6 + 1/2, 0, 1)",
        "1/6 if -3 < x < 3 else 0",
        kink="0 at x = -3 and x = +3",
        layer="Hardsigmoid",
        streamed=("hardsigmoid", "hardsigmoid_backward"),
    ),
    Op(
        "hardswish", "elementwise", (), ("x",),
        "Piecewise-quadratic swish.",
        "x*clip(x + 3, 0, 6)/6",
        "0 if x <= -3, 1 if x >= 3, else (2x + 3)/6",
        kink="0 at x = -3, 1 at x = +3",
        notes="hardswish(-inf) = 0 (PyTorch gives NaN); the derivative is 0 at -3 and 1 at +3 "
              "(PyTorch gives -0.5 and 1.5 there).",
        layer="Hardswish",
        streamed=("hardswish_backward",),
    ),
    Op(
        "softmax", "rows", (_AXIS_LAST,), ("y",),
        "Softmax along an axis, max-shifted for stability.",
        "exp(x - max(x))/sum(exp(x - max(x)))",
        "y*(grad_output - sum(grad_output*y)), from the forward output y",
        transcendental=True,
        layer="Softmax",
    ),
    Op(
        "log_softmax", "rows", (_AXIS_LAST,), ("y",),
        "Logarithm of softmax along an axis, computed stably.",
        "x - max(x) - log(sum(exp(x - max(x))))",
        "grad_output - exp(y)*sum(grad_output), from the forward output y",
        notes="At a -inf entry of an otherwise finite row the gradient is grad_output there "
              "(the limit of the derivative, d y_i/d x_i -> 1).",
        transcendental=True,
        layer="LogSoftmax",
    ),
    Op(
        "logsumexp", "reduce",
        (_AXIS_LAST, Param("keepdims", False, "bool", "Keep the reduced axis with length 1.")),
        ("x", "y"),
        "Logarithm of the sum of exponentials along an axis, computed stably.",
        "max(x) + log(sum(exp(x - max(x))))",
        "grad_output*exp(x - y) (softmax), from the forward input x and output y",
        notes="An empty axis gives -inf (the log of an empty sum).",
        transcendental=True,
        test_params=({}, {"keepdims": True}),
    ),
    Op(
        "maxout", "maxout",
        (
            Param("pieces", REQUIRED, "pieces",
                  "Group size; the axis length must be a multiple of it."),
            _AXIS_LAST,
        ),
        ("x",),
        "Maximum over contiguous groups of ``pieces`` entries along an axis.",
        "axis of length C*pieces split into C groups of pieces; each output is its group's max",
        "grad_output goes to the first maximal element of each group",
        notes="On a Dask array whose chunks along ``axis`` are not multiples of pieces, "
              "that axis is first rechunked to the nearest multiples (blockwise otherwise).",
        test_params=({"pieces": 2}, {"pieces": 4}),
        layer="Maxout",
    ),
)

OPS_BY_NAME: dict[str, Op] = {op.name: op for op in OPS}

ELEMENTWISE = tuple(op for op in OPS if op.kind in ("elementwise", "prelu"))
ROW_OPS = tuple(op for op in OPS if op.kind in ("rows", "reduce", "maxout"))
