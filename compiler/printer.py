"""SymPy -> Python source that types in Numba (`@njit`) and reads like hand-written code."""
from __future__ import annotations

import functools

import sympy as sp
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pycode import PythonCodePrinter

from . import ops, prims
from .ir import nodes_of

_HELPER_FUNCS = set(ops.HELPERS)
# Generated functions SymPy's printer would print by their class name (floor as an index
# division, sign as copysign), so they print as helper calls; those that are `math.<name>`
# itself (tanh) keep SymPy's `math.tanh(x)`, which the vectorised loops recognise.
_CALLED = {cls: name for cls, name in ops.HELPER_CLASSES.items()
           if not prims.BY_NAME[name].math_alias}


def helpers_used(programs) -> set:
    """The scalar helper functions (sigmoid, relu, ...) the programs' bodies call."""
    found = set()
    for prog in programs:
        for st in prog.stmts:
            found |= _helpers_in(sp.sympify(st.body))
    return found


@functools.lru_cache(maxsize=65536)
def _helpers_in(body) -> frozenset:
    # cached: the forward bodies are in every program of an entry point
    return frozenset(ops.HELPER_CLASSES[type(f)] for f in nodes_of(body, sp.Function)
                     if type(f) in ops.HELPER_CLASSES)


def _subtracted(term) -> bool:
    """A term printed with a leading minus: a negative number or coefficient."""
    coeff = term.args[0] if term.is_Mul else term
    return bool(coeff.is_Number and coeff.is_extended_negative)


class KernelPrinter(PythonCodePrinter):
    """PythonCodePrinter with tensor accesses, helper calls and plain float literals.

    Strict: an expression it has no rule for raises instead of printing a comment.
    `helpers` maps a helper's language name to its name in the module (see names.py).
    """

    def __init__(self, helpers=None, settings=None):
        super().__init__(dict(settings or {}, fully_qualified_modules=True, strict=True,
                              order="none"))
        self.helpers = dict(helpers or {})
        self._printed = {}

    def doprint(self, expr, assign_to=None):
        """Printed once per expression: one printer serves every kernel of an entry
        point, and the forward bodies are in all of them. (SymPy's equality tells 2
        from 2.0, so a cached text is always the expression's own.)"""
        if assign_to is not None or getattr(self, "_plain", 0):   # a context: not cached
            return super().doprint(expr, assign_to)
        if expr not in self._printed:
            self._printed[expr] = super().doprint(expr)
        return self._printed[expr]

    def _print(self, expr, **kwargs):
        if type(expr) in _CALLED:
            return self._print_Function(expr)
        return super()._print(expr, **kwargs)

    def _handle_UnevaluatedExpr(self, expr):
        # adc builds no UnevaluatedExpr, and re(u) prints as u (below): SymPy's pass
        # rebuilding every body to drop re() around them is not needed
        return expr

    def _as_ordered_terms(self, expr, order=None):
        """A sum's terms in SymPy's canonical order, numbers after the other terms and
        subtracted terms last (`t + 1`, `a - b`, not `1 + t`, `-b + a`): SymPy's own
        ordering by degree queries assumptions per term, and was most of the printing
        time of a long program."""
        return sorted(expr.args, key=lambda t: (_subtracted(t), t.is_Number))

    def _print_Indexed(self, expr):
        idx = ", ".join(self._print_index(i) for i in expr.indices)
        return f"{expr.base.label.name}[{idx}]"

    def _print_index(self, e):
        return self._print(e)

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Rational(self, expr):
        return repr(float(expr.p) / float(expr.q))

    def _print_Integer(self, expr):
        return str(int(expr))

    def _print_Dummy(self, expr):
        return f"_{expr.name}"

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.args
        if exp.is_Integer and int(exp) < 0:
            return f"1.0 / {self.parenthesize(base ** -exp, 0.5) if int(exp) != -1 else self.parenthesize(base, 100)}"
        if exp == sp.Rational(-1, 2):
            return f"1.0 / math.sqrt({self._print(base)})"
        if exp.is_Number and float(exp) == 0.5:   # x ** 0.5 is sqrt in NumPy too (at -inf)
            return f"math.sqrt({self._print(base)})"
        if base.is_integer and not exp.is_Number:
            # `2 ** -t`, `(t + 1) ** -t` (a loop step): Python gives a float, Numba's
            # int ** int truncates (0 for a negative exponent)
            return f"float({self._print(base)})**{self._power_operand(exp)}"
        return super()._print_Pow(expr, rational=rational)

    def parenthesize(self, item, level, strict=False):
        """As SymPy's, with `power(x, p)` (printed `x**p`) at the precedence of `**`, not
        of a call: the base of a power is parenthesised, `(x**p)**2`, never `x**p**2`
        (which Python reads as x**(p**2))."""
        if isinstance(item, ops.power):
            prec = PRECEDENCE["Pow"]
            if prec < level or (not strict and prec <= level):
                return f"({self._print(item)})"
            return self._print(item)
        return super().parenthesize(item, level, strict)

    def _print_isfinite(self, expr):
        return f"math.isfinite({self._print(expr.args[0])})"

    def _print_power(self, expr):
        return "**".join(self._power_operand(a) for a in expr.args)

    def _power_operand(self, e) -> str:
        """An operand of `**`, parenthesised unless atomic (`**` is right-associative)."""
        text = self._print(e)
        atomic = isinstance(e, (sp.Symbol, sp.Indexed)) or (e.is_Number and e >= 0)
        return text if atomic else f"({text})"

    def _print_Mod(self, expr):
        a, b = expr.args
        return f"({self._operand(a)} % {self._operand(b)})"

    def _print_idiv(self, expr):
        a, b = expr.args
        return f"({self._operand(a)} // {self._operand(b)})"

    def _operand(self, e) -> str:
        """An operand of `%` or `//`, parenthesised unless it is atomic."""
        text = self._print(e)
        return text if e.is_Atom or isinstance(e, (sp.Indexed, sp.Function)) else f"({text})"

    def _print_floor(self, expr):
        num, den = sp.fraction(sp.together(expr.args[0]))
        if den == 1:
            return self._print(num)
        return f"(({self._print(num)}) // ({self._print(den)}))"

    def _print_Function(self, expr):
        name = type(expr).__name__
        if name in _HELPER_FUNCS:
            return f"{self.helpers.get(name, name)}({', '.join(self._print(a) for a in expr.args)})"
        return super()._print_Function(expr)

    def _print_Piecewise(self, expr):
        # a chain of conditional expressions, evaluated lazily like the Python source
        *rest, (last, cond) = expr.args
        out = self._print(last)
        if cond != sp.true:
            out = f"({self._print(last)} if {self._print(cond)} else 0.0)"
        for value, c in reversed(rest):
            out = f"({self._print(value)} if {self._print(c)} else {out})"
        return out

    def _print_Relational(self, expr):
        op = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}[expr.rel_op]
        return f"{self.parenthesize(expr.lhs, 40)} {op} {self.parenthesize(expr.rhs, 40)}"

    def _print_sign(self, expr):
        x = self._print(expr.args[0])
        return f"(0.0 if {x} == 0 else math.copysign(1.0, {x}))"

    def _print_re(self, expr):
        """Every value a kernel computes is a real float: re(u) = u (SymPy writes
        |exp(u)| as exp(re(u)) when it cannot prove u real)."""
        return self._print(expr.args[0])

    def _print_im(self, expr):
        return "0.0"

    def _print_BooleanTrue(self, expr):
        return "True"

    def _print_BooleanFalse(self, expr):
        return "False"


def size_code(expr) -> str:
    """A size expression (ints, dims, floor division) as Python code."""
    return KernelPrinter().doprint(sp.sympify(expr))
