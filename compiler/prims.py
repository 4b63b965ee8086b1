"""One row per primitive: everything the compiler and its tests know about a named function.

A row holds the function's NumPy reference (what `adc.lang` exports and the eager run
uses), its SymPy form (a SymPy function used as is, or a function generated from this
row with the row's derivative rule), the local derivative in terms of the inputs and
the output (`sigmoid' = sigmoid(x) * sigmoid(-x)`, i.e. out * (1 - out) without the
cancellation), the Numba scalar source of generated functions (CUDA derives a typed
version), its kind for the initialisers, its test domain and kinks, and how formulas
show it. Every other table (library wrappers, printer helpers, the NumPy reference
backend, reserved names, the initialisers' activations, the docs table, the test table)
is derived from `PRIMS`. Adding a function is adding a row (and its docs).

This module imports NumPy only: `adc.lang` (the eager run of a model file) uses it.
SymPy is imported by the rules when the compiler calls them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

# SELU's constants (Klambauer et al. 2017)
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
SQRT1_2 = 0.70710678118654752440084436210485       # 1/sqrt(2)
INV_SQRT_2PI = 0.39894228040143267793994605993438  # 1/sqrt(2*pi)
GELU_TANH_C = 0.79788456080286535587989211986876   # sqrt(2/pi)


@dataclass(frozen=True)
class Prim:
    """A named elementwise function (see the module docstring)."""

    name: str
    doc: str
    numpy: Callable                    # NumPy reference on arrays (broadcasting)
    operands: int = 1                  # tensor operands, then `params`
    params: tuple = ()                 # ((keyword, default), ...) scalar parameters
    sympy: object = None               # SymPy function name, or (sp, *args) -> expr; None:
    #                                    generated from `derivative` and `numba`
    derivative: Callable | None = None  # (sp, F, *args) -> partials, F: generated functions
    numba: str | None = None           # scalar source of a generated function
    kind: str = "elementwise"          # 'activation' | 'relu-like' | 'elementwise' | 'internal'
    #                                    | 'step' (piecewise constant: gradient 0)
    domain: tuple = (-2.0, 2.0)        # where the gradient tests draw inputs
    kinks: tuple = ()                  # points the gradient tests keep away from
    draw: Callable | None = None       # (rng, shape) -> test operands, where domain and
    #                                    kinks cannot say it (mod: x / y off the integers)
    display: str = ""                  # formula display, e.g. "σ({0})"; "" = the name
    spellings: tuple = ()              # NumPy / math names accepted beside the name
    example: str = ""                  # a docs example call
    rule: str = ""                     # the derivative as the docs table shows it
    course: Callable | None = None     # (sp, T, *args) -> partials as the course writes
    #                                    them (sigmoid' = s*(1 - s)); None: `derivative`
    shows: Callable | None = None      # (sp, T, *args) -> how formulas write a call of an
    #                                    internal helper (sigmoid_minus -> sigmoid(z) - y)

    @property
    def generated(self) -> bool:
        return self.sympy is None

    @property
    def public(self) -> bool:
        return self.kind != "internal"

    @property
    def arity(self) -> int:
        return self.operands + len(self.params)

    @property
    def math_alias(self) -> bool:
        """The generated function is `math.<name>` itself (tanh): SymPy prints it so."""
        return bool(self.numba) and self.numba.rstrip().endswith(
            f"return math.{self.name}({', '.join(['x', 'y'][:self.arity])})")


def _asarray(x):
    """An array of x's float type (float32 stays float32; ints and Python numbers -> float64)."""
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def _scalar(out):
    """NumPy-style results: a 0-d result is a NumPy scalar."""
    return out[()] if isinstance(out, np.ndarray) and out.ndim == 0 else out


# -- NumPy references (stable, NaN-propagating, like the compiled helpers) ---------------
def np_sigmoid(x):
    x = _asarray(x)
    t = np.exp(-np.abs(x))
    return _scalar(np.where(x >= 0, 1 / (1 + t), t / (1 + t)))


def np_softplus(x):
    x = _asarray(x)
    return _scalar(np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))))


def np_log_sigmoid(x):
    x = _asarray(x)
    return _scalar(-(np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x)))))


def np_relu(x):
    return np.maximum(x, 0)


def np_leaky_relu(x, slope=0.01):
    x = _asarray(x)
    return _scalar(np.where(x > 0, x, slope * x))


def np_elu(x, alpha=1.0):
    x = _asarray(x)   # expm1 only sees x <= 0: no overflow on the unused branch
    return _scalar(np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))))


def np_selu(x):
    x = _asarray(x)
    return _scalar(SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0))))


def np_silu(x):
    return _scalar(_asarray(x) * np_sigmoid(x))


def _erfc(x):
    from scipy.special import erfc
    return erfc(x)


def _erf(x):
    from scipy.special import erf
    return erf(x)


def np_gelu(x):
    x = _asarray(x)   # erfc keeps the negative tail accurate (1 + erf would cancel)
    return _scalar(0.5 * x * _erfc(-x * SQRT1_2))


def np_gelu_tanh(x):
    x = _asarray(x)
    return _scalar(0.5 * x * (1 + np.tanh(GELU_TANH_C * (x + 0.044715 * x ** 3))))


def np_softsign(x):
    x = _asarray(x)
    return _scalar(x / (1 + np.abs(x)))


def np_hard_tanh(x):
    return np.clip(x, -1.0, 1.0)


def np_logaddexp(x, y):
    return np.logaddexp(x, y)


def np_maximum(x, y):
    return np.maximum(x, y)


def np_minimum(x, y):
    return np.minimum(x, y)


def np_bce_with_logits(z, y):
    z = _asarray(z)
    return _scalar(np.where(z > 0, (1.0 - y) * z, -y * z) + np.log1p(np.exp(-np.abs(z))))


def np_sigmoid_minus(z, y):
    z = _asarray(z)
    t = np.exp(-np.abs(z))
    return _scalar(np.where(z > 0, (1.0 - y) - t / (1.0 + t), t / (1.0 + t) - y))


def _floats(fn):
    """fn on float arrays: ints become float64 first (np.sign of an int array is int).
    Its operands are positional only, as the ufunc's are (np.round is a function of one)."""
    if getattr(fn, "nin", 1) == 1:
        def unary(x, /):
            return _scalar(fn(_asarray(x)))
        return unary

    def binary(x, y, /):
        return _scalar(fn(_asarray(x), _asarray(y)))
    return binary


def np_hypot_unit(a, b):
    a, h = _asarray(a), np.hypot(a, b)
    return _scalar(np.where(h > 0, a / np.where(h > 0, h, 1.0), 0.0))


# -- test operands for the rows whose domain and kinks cannot describe them -------------
def _off_axes(rng, shape):
    """Two operands, each at least 0.15 from 0: away from the origin, where hypot and
    arctan2 have no derivative, and from arctan2's branch cut (y = 0, x < 0)."""
    def one():
        x = rng.uniform(-2.0, 2.0, shape)
        return np.where(np.abs(x) < 0.15, np.where(x >= 0, 0.15, -0.15) + x, x)
    return one(), one()


def _off_multiples(rng, shape):
    """x, y with |y| in [0.5, 2] of either sign and x / y at least 0.15 from an integer:
    away from the jumps of mod and fmod."""
    y = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    q = rng.integers(-3, 3, shape) + rng.uniform(0.15, 0.85, shape)
    return q * y, y


# -- derivative rules (SymPy, called by the compiler) ----------------------------------
def _step(sp, cond):
    """1 where `cond` holds, else 0 (an explicit conditional: no Heaviside(0) = 1/2)."""
    return sp.Piecewise((sp.Integer(1), cond), (sp.Integer(0), True))


PRIMS = [
    # SymPy's own functions: printed as math.*, differentiated by SymPy
    Prim("exp", "e to the x", np.exp, sympy="exp", domain=(-2, 2), display="exp({0})",
         rule='exp(x)'),
    Prim("log", "natural logarithm", np.log, sympy="log", domain=(0.3, 3.0),
         rule='1 / x'),
    Prim("log1p", "log(1 + x), accurate for small x", np.log1p, sympy="log1p",
         domain=(-0.6, 2.0),
         rule='1 / (1 + x)'),
    Prim("expm1", "exp(x) - 1, accurate for small x", np.expm1, sympy="expm1",
         rule='exp(x)'),
    Prim("sqrt", "square root", np.sqrt, sympy="sqrt", domain=(0.3, 3.0),
         rule='1 / (2 * sqrt(x))'),
    Prim("square", "x * x", np.square, sympy=lambda sp, x: x ** 2,
         rule='2 * x'),
    Prim("abs", "abs(x); abs'(0) = 0", np.abs, sympy="Abs", kinks=(0.0,),
         spellings=("absolute", "fabs"),
         rule='sign(x); 0 at 0'),
    Prim("sin", "sine", np.sin, sympy="sin",
         rule='cos(x)'),
    Prim("cos", "cosine", np.cos, sympy="cos",
         rule='-sin(x)'),
    Prim("tan", "tangent", np.tan, sympy="tan", domain=(-1.2, 1.2),
         rule='1 + tan(x)**2'),
    Prim("tanh", "hyperbolic tangent; its derivative keeps full accuracy in the tails",
         np.tanh, kind="activation", display="tanh({0})",
         derivative=lambda sp, F, x: (F.tanh_grad(x, F.tanh(x)),),
         course=lambda sp, T, x: (1 - T.tanh(x) ** 2,),
         numba=("def tanh(x):\n"
                "    return math.tanh(x)\n"),
         rule='1 - tanh(x)**2'),
    Prim("erf", "the error function", _erf, sympy="erf",
         rule='2 / sqrt(pi) * exp(-x**2)'),
    # functions generated from their row
    Prim("sigmoid", "1 / (1 + exp(-x)), through exp(-abs(x)): no overflow in either tail",
         np_sigmoid, kind="activation", display="sigmoid({0})",
         derivative=lambda sp, F, x: (F.sigmoid(x) * F.sigmoid(-x),),
         course=lambda sp, T, x: (T.sigmoid(x) * (1 - T.sigmoid(x)),),
         numba=("def sigmoid(x):\n"
                "    # stable logistic: exponentiates -|x| only (never overflows), no branch\n"
                "    z = math.exp(-abs(x))\n"
                "    s = 1.0 / (1.0 + z)\n"
                "    return s if x >= 0 else z * s\n"),
         rule='sigmoid(x) * sigmoid(-x)'),
    Prim("softplus", "log(1 + exp(x)) = max(x, 0) + log1p(exp(-abs(x)))", np_softplus,
         kind="activation", derivative=lambda sp, F, x: (F.sigmoid(x),),
         numba=("def softplus(x):\n"
                "    # log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))\n"
                "    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))\n"),
         rule='sigmoid(x)'),
    Prim("log_sigmoid", "log(sigmoid(x)) = -softplus(-x)", np_log_sigmoid,
         derivative=lambda sp, F, x: (F.sigmoid(-x),),
         numba=("def log_sigmoid(x):\n"
                "    # log(sigmoid(x)) = -(max(-x, 0) + log1p(exp(-|x|)))\n"
                "    return -(max(-x, 0.0) + math.log1p(math.exp(-abs(x))))\n"),
         rule='sigmoid(-x)'),
    Prim("relu", "max(x, 0); relu'(0) = 0", np_relu, kind="relu-like", kinks=(0.0,),
         display="relu({0})",
         derivative=lambda sp, F, x: (_step(sp, sp.StrictGreaterThan(F.relu(x), 0)),),
         course=lambda sp, T, x: (_step(sp, sp.StrictGreaterThan(x, 0)),),
         numba=("def relu(x):\n"
                "    # not x > 0: NaN passes through, as in NumPy's maximum(x, 0)\n"
                "    return 0.0 if x <= 0 else x\n"),
         rule='[relu(x) > 0]'),
    Prim("leaky_relu", "x if x > 0 else slope * x", np_leaky_relu, params=(("slope", 0.01),),
         kind="relu-like", kinks=(0.0,), example="leaky_relu(x, slope=0.1)",
         derivative=lambda sp, F, x, s: (sp.Piecewise((sp.Integer(1), x > 0), (s, True)),
                                         sp.Piecewise((sp.Integer(0), x > 0), (x, True))),
         numba=("def leaky_relu(x, slope):\n"
                "    return x if x > 0 else slope * x\n"),
         rule='[x > 0] + slope * [x <= 0]'),
    Prim("elu", "x if x > 0 else alpha * (exp(x) - 1)", np_elu, params=(("alpha", 1.0),),
         kind="relu-like", kinks=(0.0,), example="elu(x, alpha=0.5)",
         derivative=lambda sp, F, x, a: (
             sp.Piecewise((sp.Integer(1), x > 0), (a * sp.exp(x), True)),
             sp.Piecewise((sp.Integer(0), x > 0), (_expm1(sp)(x), True))),
         numba=("def elu(x, alpha):\n"
                "    return x if x > 0 else alpha * math.expm1(x)\n"),
         rule='[x > 0] + alpha * exp(x) * [x <= 0]'),
    Prim("selu", "scale * elu(x, alpha), the self-normalising constants", np_selu,
         kind="relu-like", kinks=(0.0,),
         derivative=lambda sp, F, x: (sp.Piecewise(
             (sp.Float(SELU_SCALE), x > 0), (sp.Float(SELU_SCALE * SELU_ALPHA) * sp.exp(x),
                                              True)),),
         numba=("def selu(x):\n"
                f"    return {SELU_SCALE!r} * (x if x > 0 else {SELU_ALPHA!r} * "
                "math.expm1(x))\n"),
         rule='scale * ([x > 0] + alpha * exp(x) * [x <= 0])'),
    Prim("silu", "x * sigmoid(x) (swish)", np_silu, kind="activation",
         derivative=lambda sp, F, x: (F.sigmoid(x) * (1 + x * F.sigmoid(-x)),),
         numba=("def silu(x):\n"
                "    # x * sigmoid(x) from exp(-|x|), as in sigmoid\n"
                "    z = math.exp(-abs(x))\n"
                "    s = x / (1.0 + z)\n"
                "    return s if x >= 0 else z * s\n"),
         rule='sigmoid(x) * (1 + x * sigmoid(-x))'),
    Prim("gelu", "x * Phi(x), Phi the normal CDF: 0.5 * x * erfc(-x / sqrt(2)); "
         "gelu(x, approximate=True) is the tanh form", np_gelu, kind="activation",
         example="gelu(x) + gelu(x, approximate=True)",
         derivative=lambda sp, F, x: (sp.Rational(1, 2) * sp.erfc(-x * sp.Float(SQRT1_2))
                                      + x * sp.Float(INV_SQRT_2PI) * sp.exp(-x ** 2 / 2),),
         numba=("def gelu(x):\n"
                "    # erfc keeps the negative tail accurate (1 + erf would cancel)\n"
                f"    return 0.5 * x * math.erfc(-x * {SQRT1_2!r})\n"),
         rule='Phi(x) + x * phi(x)'),
    Prim("gelu_tanh", "gelu's tanh approximation", np_gelu_tanh, kind="internal",
         sympy=lambda sp, x: sp.Rational(1, 2) * x * (1 + sp.tanh(
             sp.Float(GELU_TANH_C) * (x + sp.Float(0.044715) * x ** 3)))),
    Prim("softsign", "x / (1 + abs(x))", np_softsign, kind="activation",
         derivative=lambda sp, F, x: (1 / (1 + sp.Abs(x)) ** 2,),
         numba=("def softsign(x):\n"
                "    return x / (1.0 + abs(x))\n"),
         rule='1 / (1 + abs(x))**2'),
    Prim("hard_tanh", "clip(x, -1, 1); the gradient is 1 strictly inside", np_hard_tanh,
         kind="activation", kinks=(-1.0, 1.0),
         derivative=lambda sp, F, x: (_step(sp, sp.And(x > -1, x < 1)),),
         numba=("def hard_tanh(x):\n"
                "    if x > 1.0:\n"
                "        return 1.0\n"
                "    if x < -1.0:\n"
                "        return -1.0\n"
                "    return x\n"),
         rule='[-1 < x < 1]'),
    Prim("logaddexp", "log(exp(x) + exp(y)) = max(x, y) + log1p(exp(-abs(x - y)))",
         np_logaddexp, operands=2, example="logaddexp(x, y)",
         derivative=lambda sp, F, a, b: (F.sigmoid(a - b), F.sigmoid(b - a)),
         numba=("def logaddexp(a, b):\n"
                "    if a == b:  # also a = b = +-inf, where a - b is NaN\n"
                "        return a + 0.6931471805599453\n"
                "    return max(a, b) + math.log1p(math.exp(-abs(a - b)))\n"),
         rule='sigmoid(x - y), sigmoid(y - x)'),
    Prim("maximum", "elementwise max; ties send the gradient to the first argument",
         np_maximum, operands=2, kinks=(0.0,), example="maximum(x, 0.5)",
         spellings=("fmax",),
         derivative=lambda sp, F, a, b: (_step(sp, a >= b), _step(sp, a < b)),
         numba=("def maximum(a, b):\n"
                "    # ties go to the first argument, like the gradient rule; NaN propagates\n"
                "    return a if a >= b or a != a else b\n"),
         rule='[x >= y], [x < y]'),
    Prim("minimum", "elementwise min; ties send the gradient to the first argument",
         np_minimum, operands=2, kinks=(0.0,), example="minimum(x, 0.5)",
         spellings=("fmin",),
         derivative=lambda sp, F, a, b: (_step(sp, a <= b), _step(sp, a > b)),
         numba=("def minimum(a, b):\n"
                "    return a if a <= b or a != a else b\n"),
         rule='[x <= y], [x > y]'),
    # trigonometric and hyperbolic; the derivatives avoid 1 - x**2 (cancels near +-1) and
    # x**2 (overflows for |x| > 1e154 where the derivative is finite)
    Prim("arcsin", "inverse sine, in [-pi/2, pi/2]", np.arcsin, domain=(-0.9, 0.9),
         spellings=("asin",),
         derivative=lambda sp, F, x: (1 / sp.sqrt((1 - x) * (1 + x)),),
         numba=("def arcsin(x):\n"
                "    return math.asin(x)\n"),
         rule='1 / sqrt((1 - x) * (1 + x))'),
    Prim("arccos", "inverse cosine, in [0, pi]", np.arccos, domain=(-0.9, 0.9),
         spellings=("acos",),
         derivative=lambda sp, F, x: (-1 / sp.sqrt((1 - x) * (1 + x)),),
         numba=("def arccos(x):\n"
                "    return math.acos(x)\n"),
         rule='-1 / sqrt((1 - x) * (1 + x))'),
    Prim("arctan", "inverse tangent, in (-pi/2, pi/2)", np.arctan, sympy="atan",
         domain=(-3.0, 3.0), spellings=("atan",),
         rule='1 / (1 + x**2)'),
    Prim("arctan2", "arctan2(x1, x2): the angle of the point (x2, x1), in [-pi, pi]; "
         "gradient 0 at the origin", np.arctan2, operands=2, draw=_off_axes,
         spellings=("atan2",), example="arctan2(x, y)",
         derivative=lambda sp, F, a, b: (
             sp.Piecewise((F.hypot_unit(b, a) / F.hypot(a, b), F.hypot(a, b) > 0),
                          (sp.Integer(0), True)),
             sp.Piecewise((-F.hypot_unit(a, b) / F.hypot(a, b), F.hypot(a, b) > 0),
                          (sp.Integer(0), True))),
         numba=("def arctan2(a, b):\n"
                "    return math.atan2(a, b)\n"),
         rule='y / hypot(x, y)**2, -x / hypot(x, y)**2'),
    Prim("sinh", "hyperbolic sine", np.sinh, sympy="sinh",
         rule='cosh(x)'),
    Prim("cosh", "hyperbolic cosine", np.cosh, sympy="cosh",
         rule='sinh(x)'),
    Prim("arcsinh", "inverse hyperbolic sine", np.arcsinh, domain=(-3.0, 3.0),
         spellings=("asinh",),
         derivative=lambda sp, F, x: (1 / F.hypot(x, sp.Float(1.0)),),
         numba=("def arcsinh(x):\n"
                "    return math.asinh(x)\n"),
         rule='1 / hypot(x, 1)'),
    Prim("arccosh", "inverse hyperbolic cosine, x >= 1", np.arccosh, domain=(1.1, 3.0),
         spellings=("acosh",),
         derivative=lambda sp, F, x: (1 / (sp.sqrt(x - 1) * sp.sqrt(x + 1)),),
         numba=("def arccosh(x):\n"
                "    return math.acosh(x)\n"),
         rule='1 / (sqrt(x - 1) * sqrt(x + 1))'),
    Prim("arctanh", "inverse hyperbolic tangent, -1 < x < 1", np.arctanh, domain=(-0.9, 0.9),
         spellings=("atanh",),
         derivative=lambda sp, F, x: (1 / ((1 - x) * (1 + x)),),
         numba=("def arctanh(x):\n"
                "    return math.atanh(x)\n"),
         rule='1 / ((1 - x) * (1 + x))'),
    Prim("hypot", "sqrt(x**2 + y**2) without overflow; gradient 0 at the origin", np.hypot,
         operands=2, draw=_off_axes, example="hypot(x, y)",
         derivative=lambda sp, F, a, b: (F.hypot_unit(a, b), F.hypot_unit(b, a)),
         numba=("def hypot(x, y):\n"
                "    return math.hypot(x, y)\n"),
         rule='x / hypot(x, y), y / hypot(x, y)'),
    Prim("deg2rad", "degrees to radians, x * pi / 180", np.deg2rad, spellings=("radians",),
         sympy=lambda sp, x: x * sp.Float(math.pi / 180),
         rule='pi / 180'),
    Prim("rad2deg", "radians to degrees, x * 180 / pi", np.rad2deg, spellings=("degrees",),
         sympy=lambda sp, x: x * sp.Float(180 / math.pi),
         rule='180 / pi'),
    # logarithms, powers and roots
    Prim("log2", "base-2 logarithm", np.log2, domain=(0.3, 3.0),
         derivative=lambda sp, F, x: (sp.Float(1 / math.log(2)) / x,),
         numba=("def log2(x):\n"
                "    return math.log2(x)\n"),
         rule='1 / (x * log(2))'),
    Prim("log10", "base-10 logarithm", np.log10, domain=(0.3, 3.0),
         derivative=lambda sp, F, x: (sp.Float(1 / math.log(10)) / x,),
         numba=("def log10(x):\n"
                "    return math.log10(x)\n"),
         rule='1 / (x * log(10))'),
    Prim("exp2", "2 to the x", np.exp2,
         derivative=lambda sp, F, x: (F.exp2(x) * sp.Float(math.log(2)),),
         numba=("def exp2(x):\n"
                "    return math.exp2(x)\n"),
         rule='exp2(x) * log(2)'),
    Prim("cbrt", "cube root, real for x < 0", _floats(np.cbrt), kinks=(0.0,),
         derivative=lambda sp, F, x: (1 / (3 * F.cbrt(x) ** 2),),
         numba=("def cbrt(x):\n"
                "    # |x|**(1/3) and a Newton step (1/3 is rounded: 8**(1/3) < 2); 0, +-inf\n"
                "    # and NaN are their own cube roots\n"
                "    a = abs(x)\n"
                "    r = a ** (1.0 / 3.0)\n"
                "    r = (2.0 * r + a / (r * r)) / 3.0\n"
                "    return math.copysign(r, x) if r > 0.0 and r - r == 0.0 else x\n"),
         rule='1 / (3 * cbrt(x)**2)'),
    Prim("reciprocal", "1 / x", _floats(np.reciprocal), kinks=(0.0,),
         sympy=lambda sp, x: 1 / x,
         rule='-1 / x**2'),
    # piecewise constant: the gradient is 0 everywhere, at the jumps too
    Prim("sign", "-1, 0 or 1 (NaN stays NaN); sign'(x) = 0, also at 0", _floats(np.sign),
         kind="step", kinks=(0.0,),
         derivative=lambda sp, F, x: (sp.Integer(0),),
         numba=("def sign(x):\n"
                "    # x itself at 0 and NaN, like np.sign\n"
                "    return 1.0 if x > 0 else (-1.0 if x < 0 else x)\n"),
         rule='0'),
    Prim("floor", "the largest integer <= x; gradient 0, also at the integers",
         _floats(np.floor), kind="step", kinks=(-2.0, -1.0, 0.0, 1.0, 2.0),
         derivative=lambda sp, F, x: (sp.Integer(0),),
         numba=("def floor(x):\n"
                "    # x // 1.0 is floor as a float (math.floor gives an int); from 2**52 on\n"
                "    # every float is an integer (and inf // 1.0 is NaN)\n"
                "    return x // 1.0 if abs(x) < 4503599627370496.0 else x\n"),
         rule='0'),
    Prim("ceil", "the smallest integer >= x; gradient 0, also at the integers",
         _floats(np.ceil), kind="step", kinks=(-2.0, -1.0, 0.0, 1.0, 2.0),
         derivative=lambda sp, F, x: (sp.Integer(0),),
         numba=("def ceil(x):\n"
                "    # -floor(-x), floor as in the floor helper\n"
                "    return -((-x) // 1.0) if abs(x) < 4503599627370496.0 else x\n"),
         rule='0'),
    Prim("round", "the nearest integer, halves to even (np.round: round(2.5) = 2); "
         "gradient 0", _floats(np.round), kind="step", kinks=(-1.5, -0.5, 0.5, 1.5),
         spellings=("around", "rint"),
         derivative=lambda sp, F, x: (sp.Integer(0),),
         numba=("def round(x):\n"
                "    # half to even from the floor f: x - f is exact below 2**52\n"
                "    f = x // 1.0\n"
                "    d = x - f\n"
                "    up = d > 0.5 or (d == 0.5 and f % 2.0 == 1.0)\n"
                "    return (f + 1.0 if up else f) if abs(x) < 4503599627370496.0 else x\n"),
         rule='0'),
    Prim("mod", "x - floor(x / y) * y, with the sign of y (np.mod, Python's %)",
         _floats(np.mod), operands=2, domain=(-3.0, 3.0), draw=_off_multiples,
         spellings=("remainder",), example="mod(x, 2.0)",
         derivative=lambda sp, F, x, y: (sp.Integer(1), -F.floor(x / y)),
         numba=("def mod(x, y):\n"
                "    # Python's float % is np.mod: the sign of y\n"
                "    return x % y\n"),
         rule='1, -floor(x / y)'),
    Prim("fmod", "x - trunc(x / y) * y, with the sign of x (np.fmod, C's fmod)",
         _floats(np.fmod), operands=2, domain=(-3.0, 3.0), draw=_off_multiples,
         example="fmod(x, 2.0)",
         derivative=lambda sp, F, x, y: (sp.Integer(1),
                                         -F.sign(x / y) * F.floor(sp.Abs(x / y))),
         numba=("def fmod(x, y):\n"
                "    # |x| % |y| is C's fmod of |x|, |y| exactly (equal signs: Python's % adds\n"
                "    # nothing); Numba has no math.fmod\n"
                "    return math.copysign(abs(x) % abs(y), x)\n"),
         rule='1, -trunc(x / y)'),
    # internal: what the losses lower to, and derivative helpers
    Prim("hypot_unit", "x / hypot(x, y), 0 at the origin: hypot's partials, bounded by 1",
         np_hypot_unit, operands=2, kind="internal",
         shows=lambda sp, T, a, b: a / T.hypot(a, b),
         derivative=lambda sp, F, a, b: (F.hypot_unit(b, a) ** 2 / F.hypot(a, b),
                                         -F.hypot_unit(a, b) * F.hypot_unit(b, a) / F.hypot(a, b)),
         numba=("def hypot_unit(a, b):\n"
                "    h = math.hypot(a, b)\n"
                "    return a / h if h > 0.0 else 0.0\n")),
    Prim("tanh_grad", "1 - tanh(x)**2 from t = tanh(x), accurate where t rounds to +-1",
         lambda x, t: np.where(np.abs(t) < 0.9, (1 - t) * (1 + t),
                               4 * np.exp(-2 * np.abs(x)) / (1 + np.exp(-2 * np.abs(x))) ** 2),
         operands=2, kind="internal", shows=lambda sp, T, x, t: 1 - t ** 2,
         derivative=lambda sp, F, x, t: (
             sp.Piecewise((sp.Integer(0), sp.Abs(t) < sp.Float(0.9)),
                          (-2 * F.tanh(x) * F.tanh_grad(x, t), True)),
             sp.Piecewise((-2 * t, sp.Abs(t) < sp.Float(0.9)), (sp.Integer(0), True))),
         numba=("def tanh_grad(x, t):\n"
                "    # 1 - t**2 = (1 - |t|)(1 + |t|) and 1 - |t| = u (1 + |t|), u = exp(-2|x|):\n"
                "    # exact also where t rounds to +-1, with no division and no branch\n"
                "    u = math.exp(-2.0 * abs(x))\n"
                "    s = 1.0 + abs(t)\n"
                "    return u * s * s\n")),
    Prim("bce_with_logits", "softplus(z) - y*z as two terms >= 0 for y in [0, 1]",
         np_bce_with_logits, operands=2, kind="internal",
         derivative=lambda sp, F, z, y: (F.sigmoid_minus(z, y), -z),
         course=lambda sp, T, z, y: (T.sigmoid(z) - y, -z),
         numba=("def bce_with_logits(z, y):\n"
                "    # softplus(z) - y*z as two terms >= 0 (y in [0, 1]): nothing cancels\n"
                "    e = math.log1p(math.exp(-abs(z)))\n"
                "    return (1.0 - y) * z + e if z > 0 else e - y * z\n"),
         rule='sigmoid(z) - y, -z'),
    Prim("sigmoid_minus", "sigmoid(z) - y without rounding sigmoid(z) to 1 for z > 0",
         np_sigmoid_minus, operands=2, kind="internal",
         derivative=lambda sp, F, z, y: (F.sigmoid(z) * F.sigmoid(-z), sp.Integer(-1)),
         shows=lambda sp, T, z, y: T.sigmoid(z) - y,
         numba=("def sigmoid_minus(z, y):\n"
                "    # sigmoid(z) - y; for z > 0 as (1 - y) - sigmoid(-z), since sigmoid(z) "
                "rounds to 1\n"
                "    t = math.exp(-abs(z))\n"
                "    s = t / (1.0 + t)  # sigmoid(-|z|)\n"
                "    return (1.0 - y) - s if z > 0 else s - y\n")),
]

BY_NAME = {p.name: p for p in PRIMS}
PUBLIC = [p for p in PRIMS if p.public]
GENERATED = [p for p in PRIMS if p.generated]
# NumPy/math spellings -> language names
SPELLINGS = {s: p.name for p in PRIMS for s in p.spellings}


def _expm1(sp):
    from sympy.codegen.cfunctions import expm1
    return expm1


def signature_text(prim: Prim) -> str:
    """How a call of the function reads, e.g. `leaky_relu(x, slope=0.01)`."""
    if prim.name == "gelu":
        return "gelu(x, approximate=False)"
    operands = ["x", "y"][:prim.operands]
    return f"{prim.name}({', '.join(operands + [f'{k}={d!r}' for k, d in prim.params])})"


def docs_row(prim: Prim) -> str:
    """The function's row in the docs table of docs/language.md section 2.2."""
    return f"| `{signature_text(prim)}` | {prim.doc} | `{prim.rule}` |"


def kind_names(*kinds) -> tuple:
    """The public functions of the given kinds (e.g. the initialisers' activations)."""
    return tuple(p.name for p in PUBLIC if p.kind in kinds)


def test_inputs(prim: Prim, shape, seed=0):
    """Inputs inside the row's domain, at least 0.15 from each of its kinks."""
    rng = np.random.default_rng(seed)
    lo, hi = prim.domain
    x = rng.uniform(lo, hi, shape)
    for k in prim.kinks:
        near = np.abs(x - k) < 0.15
        x = np.where(near, k + np.where(x >= k, 0.15, -0.15) + (x - k), x)
    return x


def test_operands(prim: Prim, shape, seed=1) -> tuple:
    """The operands of a gradient test: the row's `draw`, else each inside its domain
    away from its kinks (for two operands, x - y away from them, as in maximum)."""
    if prim.draw is not None:
        return prim.draw(np.random.default_rng(seed), shape)
    if prim.operands == 1:
        return (test_inputs(prim, shape, seed=seed),)
    y = test_inputs(prim, shape, seed=seed + 1)
    return y + test_inputs(prim, shape, seed=seed + 2), y


__all__ = ["Prim", "PRIMS", "BY_NAME", "PUBLIC", "GENERATED", "SPELLINGS", "kind_names",
           "signature_text", "docs_row",
           "test_inputs", "test_operands", "math"]
