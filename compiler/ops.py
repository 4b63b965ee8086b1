"""One table of named scalar functions: SymPy form, local derivative, NumPy and Numba spellings.

Each row keeps a function's forward definition and its derivative rule together.
Derivatives are written in terms of the function's own output where that is cheaper and
at least as stable (`exp' = exp(x)`, `relu' = [relu(x) > 0]`): after differentiation the
autodiff pass replaces a statement's whole forward body by the stored output, and CSE
shares the rest with the recomputed forward subexpressions.
"""
from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.logic.boolalg import BooleanFunction

__all__ = [
    "sigmoid", "softplus", "bce_with_logits", "sigmoid_minus", "relu", "leaky_relu", "elu",
    "maximum", "minimum", "idiv", "power", "pow_", "isfinite", "HELPERS", "UNARY", "NUMPY_FUNCS",
]


def _step(cond):
    """1 where `cond` holds, else 0 (an explicit conditional: no Heaviside(0) = 1/2)."""
    return sp.Piecewise((sp.Integer(1), cond), (sp.Integer(0), True))


class sigmoid(sp.Function):
    """Logistic function 1/(1+exp(-x)), evaluated without overflow."""

    def fdiff(self, argindex=1):
        # exp(-|x|)/(1+exp(-|x|))^2 is accurate in both tails; s*(1-s) cancels for x >> 0.
        x = self.args[0]
        t = sp.exp(-sp.Abs(x))
        return t / (1 + t) ** 2


class softplus(sp.Function):
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))."""

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])


class bce_with_logits(sp.Function):
    """softplus(z) - y*z, as a sum of two terms that are >= 0 for y in [0, 1].

    z > 0: (1 - y)*z + log1p(exp(-z)); z <= 0: -y*z + log1p(exp(z)). Never
    max(z, 0) - y*z: for z = 1000, y = 0.9999 that subtracts two numbers near 1000, and
    the result, 0.1, inherits the rounding error of y*z (1e-13, a relative 1e-12).
    """

    nargs = 2

    def fdiff(self, argindex=1):
        z, y = self.args
        return sigmoid_minus(z, y) if argindex == 1 else -z


class sigmoid_minus(sp.Function):
    """sigmoid(z) - y, the logit gradient of bce_with_logits, without rounding sigmoid(z).

    For z > 0 it is (1 - y) - sigmoid(-z): sigmoid(z) itself rounds to 1 there, and
    sigmoid(z) - 1 would lose the whole e^-z of a y = 1 gradient. It is one function
    rather than a SymPy sum because SymPy flattens and reorders sums, and
    (-sigmoid(-z) - y) + 1 cancels just the same.
    """

    nargs = 2

    def fdiff(self, argindex=1):
        z, _ = self.args
        return sigmoid(z).fdiff() if argindex == 1 else sp.Integer(-1)


class relu(sp.Function):
    """max(x, 0) with relu'(0) = 0."""

    def fdiff(self, argindex=1):
        return _step(sp.StrictGreaterThan(self, 0))


class leaky_relu(sp.Function):
    """x if x > 0 else slope*x."""

    nargs = 2

    def fdiff(self, argindex=1):
        x, slope = self.args
        if argindex == 1:
            return sp.Piecewise((sp.Integer(1), x > 0), (slope, True))
        return sp.Piecewise((sp.Integer(0), x > 0), (x, True))


class elu(sp.Function):
    """x if x > 0 else alpha*expm1(x); elu'(x) = elu(x) + alpha on the negative side."""

    nargs = 2

    def fdiff(self, argindex=1):
        x, alpha = self.args
        if argindex == 1:
            return sp.Piecewise((sp.Integer(1), x > 0), (alpha * sp.exp(x), True))
        return sp.Piecewise((sp.Integer(0), x > 0), (expm1(x), True))


class maximum(sp.Function):
    """Elementwise max; the gradient goes to the first argument on ties."""

    nargs = 2

    def fdiff(self, argindex=1):
        a, b = self.args
        return _step(a >= b) if argindex == 1 else _step(a < b)


class minimum(sp.Function):
    """Elementwise min; the gradient goes to the first argument on ties."""

    nargs = 2

    def fdiff(self, argindex=1):
        a, b = self.args
        return _step(a <= b) if argindex == 1 else _step(a > b)


class isfinite(BooleanFunction):
    """True where x is neither infinite nor NaN (printed as math.isfinite)."""

    nargs = 1

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return sp.true if x.is_finite else sp.false
        return None

    def _eval_as_set(self):
        # SymPy asks for the set where a condition holds when a comparison contains a
        # Piecewise (relu(log_softmax(x))); NotImplementedError keeps the condition as is
        raise NotImplementedError("isfinite has no set form")


class power(sp.Function):
    """x ** p for an exponent that is not a number (a tensor or a run-time argument).

    The derivative rules are JAX's: d/dx = p * x**(p - 1), taken as 0 where p = 0 (not
    0 * 0**-1); d/dp = log(x) * x**p, taken as 0 where x = 0 (the limit of x**p log x).
    SymPy's own rule for x**p, p*x**p/x, is NaN at x = 0 for every p.
    """

    nargs = 2

    @classmethod
    def eval(cls, x, p):
        if p.is_Number:
            return x ** p
        return None

    def fdiff(self, argindex=1):
        x, p = self.args
        if argindex == 1:
            return sp.Piecewise((sp.Integer(0), sp.Eq(p, 0)), (p * power(x, p - 1), True))
        return sp.Piecewise((sp.Integer(0), sp.Eq(x, 0)), (sp.log(x) * self, True))


class _abs(sp.Function):
    """|u| while a body is differentiated: d|u|/du = sign(u) whatever SymPy can prove about
    u. (SymPy's own rule, for a u it cannot prove real such as sigmoid(x), writes re(u),
    im(u) and rewrites every |v| inside as v/sign(v), which is NaN at v = 0.)"""

    def fdiff(self, argindex=1):
        return _sign(self.args[0])


class _sign(sp.Function):
    """sign(u) while a body is differentiated: its derivative is 0 almost everywhere."""

    def fdiff(self, argindex=1):
        return sp.Integer(0)


def diff(expr, x):
    """d expr / dx with the language's kink rules: abs' = sign (0 at 0), sign' = 0."""
    hidden = expr.replace(sp.Abs, _abs).replace(sp.sign, _sign)
    return sp.diff(hidden, x).replace(_abs, sp.Abs).replace(_sign, sp.sign)


def pow_(x, p):
    """`x ** p` of two scalar bodies: SymPy's Pow for a numeric exponent, else `power`."""
    p = sp.sympify(p)
    return x ** p if p.is_Number else power(x, p)


class idiv(sp.Function):
    """Integer floor division of index expressions (printed as `a // b`)."""

    nargs = 2
    is_integer = True

    @classmethod
    def eval(cls, a, b):
        if a.is_Integer and b.is_Integer:
            return sp.Integer(int(a) // int(b))
        if b == 1:
            return a
        return None


# Scalar helper functions the generated module defines when a body uses them.
# name -> (Numba source, NumPy reference)
HELPERS = {
    "sigmoid": (
        "def sigmoid(x):\n"
        "    # stable logistic: never exponentiates a positive number\n"
        "    if x >= 0:\n"
        "        return 1.0 / (1.0 + math.exp(-x))\n"
        "    z = math.exp(x)\n"
        "    return z / (1.0 + z)\n"
    ),
    "softplus": (
        "def softplus(x):\n"
        "    # log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))\n"
        "    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))\n"
    ),
    "bce_with_logits": (
        "def bce_with_logits(z, y):\n"
        "    # softplus(z) - y*z as two terms >= 0 (y in [0, 1]): nothing cancels\n"
        "    if z > 0:\n"
        "        return (1.0 - y) * z + math.log1p(math.exp(-z))\n"
        "    return -y * z + math.log1p(math.exp(z))\n"
    ),
    "sigmoid_minus": (
        "def sigmoid_minus(z, y):\n"
        "    # sigmoid(z) - y; for z > 0 as (1 - y) - sigmoid(-z), since sigmoid(z) rounds to 1\n"
        "    if z > 0:\n"
        "        t = math.exp(-z)\n"
        "        return (1.0 - y) - t / (1.0 + t)\n"
        "    t = math.exp(z)\n"
        "    return t / (1.0 + t) - y\n"
    ),
    "relu": (
        "def relu(x):\n"
        "    # not x > 0: NaN passes through, as in NumPy's maximum(x, 0)\n"
        "    return 0.0 if x <= 0 else x\n"
    ),
    "leaky_relu": (
        "def leaky_relu(x, slope):\n"
        "    return x if x > 0 else slope * x\n"
    ),
    "elu": (
        "def elu(x, alpha):\n"
        "    return x if x > 0 else alpha * math.expm1(x)\n"
    ),
    "maximum": (
        "def maximum(a, b):\n"
        "    # ties go to the first argument, like the gradient rule; NaN propagates\n"
        "    return a if a >= b or a != a else b\n"
    ),
    "minimum": (
        "def minimum(a, b):\n"
        "    return a if a <= b or a != a else b\n"
    ),
}


def _np_sigmoid(x):
    import numpy as np
    x = np.asarray(x, dtype=float)
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def _np_softplus(x):
    import numpy as np
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _np_bce_with_logits(z, y):
    import numpy as np
    z = np.asarray(z, dtype=float)
    return np.where(z > 0, (1.0 - y) * z, -y * z) + np.log1p(np.exp(-np.abs(z)))


def _np_sigmoid_minus(z, y):
    import numpy as np
    z = np.asarray(z, dtype=float)
    t = np.exp(-np.abs(z))
    return np.where(z > 0, (1.0 - y) - t / (1.0 + t), t / (1.0 + t) - y)


def _np_maximum(a, b):
    import numpy as np
    return np.where((a >= b) | np.isnan(a), a, b)


def _np_minimum(a, b):
    import numpy as np
    return np.where((a <= b) | np.isnan(a), a, b)


def _numpy_funcs():
    import numpy as np
    return {
        "sigmoid": _np_sigmoid,
        "softplus": _np_softplus,
        "relu": lambda x: np.where(x > 0, x, 0.0 * x),
        "bce_with_logits": _np_bce_with_logits,
        "sigmoid_minus": _np_sigmoid_minus,
        "leaky_relu": lambda x, s: np.where(x > 0, x, s * x),
        "elu": lambda x, a: np.where(x > 0, x, a * np.expm1(np.minimum(x, 0.0))),
        "maximum": _np_maximum,
        "minimum": _np_minimum,
        "idiv": lambda a, b: a // b,
        "power": lambda x, p: np.power(np.asarray(x, dtype=float), p),
        "isfinite": np.isfinite,
        "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos,
        "tan": np.tan, "tanh": np.tanh, "log1p": np.log1p, "expm1": np.expm1,
        "Abs": np.abs, "sign": np.sign, "cosh": np.cosh, "sinh": np.sinh,
        "re": np.real, "im": np.imag,
    }


NUMPY_FUNCS = _numpy_funcs()

# Language name -> builder of the SymPy scalar expression (extra args are SymPy exprs).
UNARY = {
    "exp": sp.exp,
    "log": sp.log,
    "log1p": log1p,
    "expm1": expm1,
    "sqrt": sp.sqrt,
    "square": lambda x: x ** 2,
    "abs": sp.Abs,
    "sin": sp.sin,
    "cos": sp.cos,
    "tan": sp.tan,
    "tanh": sp.tanh,
    "sigmoid": sigmoid,
    "relu": relu,
    "softplus": softplus,
}
