"""The SymPy side of the primitives: a function class per generated row of `prims.PRIMS`,
the builders of every row's SymPy form, and the few functions only lowerings use
(integer division of indices, `power` with JAX's rules at 0, `isfinite`).

Nothing here is written per primitive: `prims.py` is the one table.
"""
from __future__ import annotations

from types import SimpleNamespace

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.logic.boolalg import BooleanFunction

from . import prims


def _function_class(row: prims.Prim) -> type:
    """A SymPy function named after the row whose fdiff is the row's derivative rule."""

    def fdiff(self, argindex=1):
        partials = row.derivative(sp, F, *self.args)
        return partials[argindex - 1]

    return type(row.name, (sp.Function,), {"nargs": row.arity, "fdiff": fdiff,
                                            "__doc__": row.doc, "__module__": __name__})


# The generated functions, by name (F.sigmoid, ...): the derivative rules refer to them.
F = SimpleNamespace(**{row.name: _function_class(row) for row in prims.GENERATED})
globals().update(vars(F))   # ops.sigmoid, ops.relu, ... for the lowerings


def _course_class(row: prims.Prim) -> type:
    """The same function (printed the same) differentiated as the course writes it."""

    def fdiff(self, argindex=1):
        partials = (row.course or row.derivative)(sp, T, *self.args)
        return partials[argindex - 1]

    return type(row.name, (sp.Function,), {"nargs": row.arity, "fdiff": fdiff,
                                            "__doc__": row.doc, "__module__": __name__})


# The course's forms, for `adc inspect --show formulas` only (never in emitted code: the
# stable forms of F compute the same derivatives without cancellation).
T = SimpleNamespace(**{row.name: _course_class(row) for row in prims.GENERATED})


def course_form(expr):
    """`expr` with every generated function in its course form (see T)."""
    for row in prims.GENERATED:
        cls = getattr(F, row.name)
        if not expr.has(cls):
            continue
        if row.shows:
            expr = expr.replace(cls, lambda *args, row=row: row.shows(sp, T, *args))
        else:
            expr = expr.replace(cls, getattr(T, row.name))
    return expr


def _sympy_builder(row: prims.Prim):
    """(*args) -> the row's SymPy expression."""
    if row.generated:
        return getattr(F, row.name)
    if callable(row.sympy):
        return lambda *args: row.sympy(sp, *args)
    if row.sympy in ("log1p", "expm1"):
        return {"log1p": log1p, "expm1": expm1}[row.sympy]
    return getattr(sp, row.sympy)


BUILD = {row.name: _sympy_builder(row) for row in prims.PRIMS}
# Scalar helpers the generated module defines when a body calls them: name -> Numba source
HELPERS = {row.name: row.numba for row in prims.GENERATED}
# The generated functions' classes -> their names. Code that finds helper calls in a
# body goes by class, not by name: SymPy's own sign is not the sign helper.
HELPER_CLASSES = {getattr(F, row.name): row.name for row in prims.GENERATED}


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
    if not expr.has(sp.Abs, sp.sign):    # (replace walks and rebuilds the whole body)
        return sp.diff(expr, x)
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


def _numpy_funcs():
    """SymPy function name -> its NumPy implementation, for the NumPy reference backend."""
    import numpy as np
    from scipy.special import erf, erfc
    out = {row.name: row.numpy for row in prims.GENERATED}
    out.update({row.sympy: row.numpy for row in prims.PRIMS if isinstance(row.sympy, str)})
    out.update({
        "idiv": lambda a, b: a // b,
        "power": lambda x, p: np.power(np.asarray(x, dtype=float), p),
        "isfinite": np.isfinite,
        "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos,
        "tan": np.tan, "tanh": np.tanh, "log1p": np.log1p, "expm1": np.expm1,
        "Abs": np.abs, "sign": np.sign, "cosh": np.cosh, "sinh": np.sinh,
        "erf": erf, "erfc": erfc, "re": np.real, "im": np.imag,
    })
    return out


NUMPY_FUNCS = _numpy_funcs()

__all__ = ["F", "T", "course_form", "BUILD", "HELPERS", "HELPER_CLASSES", "NUMPY_FUNCS", "isfinite", "power", "pow_", "idiv"] + \
    [row.name for row in prims.GENERATED]
