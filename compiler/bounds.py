"""Bounds: every index a program computes is proved in range, or checked before its kernel runs.

For each tensor access `t[e0, e1, ...]` (read or written) the range of each index
expression is evaluated by interval arithmetic over the statement's loops: a loop index
runs over [0, extent - 1], an `Index` argument over [0, bound - 1] (its values are checked
at call time), an arg-max over its reduction, an integer temporary over the range of the
expression that defines it. Then `0 <= lo` and `hi <= size - 1` must hold. What SymPy
proves for all sizes needs no code; what it proves false is a compile error; the rest
becomes a check of the sizes at call time (`w[arange(N)]` with `w: Param[2]` is fine for
N <= 2 only).
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .errors import Located
from .ir import Origin, Program, Stmt, accesses, tensor_name
from .ops import idiv


@dataclass(frozen=True)
class Requirement:
    """`expr >= 0` must hold for the call's sizes; `what` says what breaks otherwise."""

    expr: sp.Expr
    what: str


def _where(origin) -> str:
    return f"line {origin.line} (`{origin.text}`)" if origin else "the program"


class _Ranges:
    """Value ranges of integer tensors, computed on demand from their writers."""

    def __init__(self, prog: Program):
        self.prog = prog
        self.cache: dict[str, tuple | None] = {}
        self.bounds = {}
        for ident, bound in prog.index_bounds:
            self.bounds.setdefault(ident, []).append(sp.sympify(bound))

    def of(self, name: str):
        if name not in self.cache:
            self.cache[name] = None          # a cycle (never in a DAG) stays unknown
            self.cache[name] = self._compute(name)
        return self.cache[name]

    def _compute(self, name):
        t = self.prog.tensors[name]
        if t.role == "index":
            bs = self.bounds.get(name)
            return (sp.Integer(0), sp.Min(*bs) - 1) if bs else None
        ranges = []
        for st in self.prog.stmts:
            if st.argmax == name:
                ranges.append((sp.Integer(0), _count(st.rloops) - 1))
            elif st.target == name and not st.accumulate:
                ranges.append(interval(st.body, _loop_ranges(st), self))
        if not ranges or any(r is None for r in ranges):
            return None
        return (sp.Min(*(r[0] for r in ranges)), sp.Max(*(r[1] for r in ranges)))


def _count(loops) -> sp.Expr:
    n = sp.Integer(1)
    for _, e in loops:
        n *= e
    return n


def _loop_ranges(st: Stmt) -> dict:
    return {s: (sp.Integer(0), sp.sympify(e) - 1) for s, e in st.all_loops}


def interval(expr, loops: dict, ranges: _Ranges):
    """(lo, hi) of an integer index expression, or None when it cannot be bounded."""
    expr = sp.sympify(expr)
    if expr.is_Integer:
        return expr, expr
    if isinstance(expr, sp.Symbol):
        if expr in loops:
            return loops[expr]
        return (expr, expr) if expr.is_integer else None       # a size
    if isinstance(expr, sp.Indexed):
        return ranges.of(tensor_name(expr))
    if isinstance(expr, sp.Add):
        parts = [interval(a, loops, ranges) for a in expr.args]
        if any(p is None for p in parts):
            return None
        return sum((p[0] for p in parts), sp.Integer(0)), sum((p[1] for p in parts), sp.Integer(0))
    if isinstance(expr, sp.Mul):
        out = (sp.Integer(1), sp.Integer(1))
        for a in expr.args:
            part = interval(a, loops, ranges)
            if part is None:
                return None
            out = _product(out, part)
            if out is None:
                return None
        return out
    if isinstance(expr, idiv):
        a, b = interval(expr.args[0], loops, ranges), sp.sympify(expr.args[1])
        if a is None or not b.is_positive:
            return None
        return sp.floor(a[0] / b), sp.floor(a[1] / b)
    if isinstance(expr, sp.Mod):
        b = sp.sympify(expr.args[1])
        return (sp.Integer(0), b - 1) if b.is_positive else None
    if isinstance(expr, sp.Piecewise):
        parts = [interval(v, loops, ranges) for v, _ in expr.args]
        if any(p is None for p in parts):
            return None
        return sp.Min(*(p[0] for p in parts)), sp.Max(*(p[1] for p in parts))
    return None


def _product(a, b):
    """Interval product; signs must be known (sizes and loop indices are >= 0)."""
    corners = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]]
    if all(c.is_number for c in corners):
        return min(corners), max(corners)
    if all(x.is_nonnegative for x in (*a, *b)):
        return a[0] * b[0], a[1] * b[1]
    if a[0] == a[1] and a[0].is_number:          # a constant factor
        k = a[0]
        return (k * b[0], k * b[1]) if k >= 0 else (k * b[1], k * b[0])
    if b[0] == b[1] and b[0].is_number:
        return _product(b, a)
    return None


def requirements(prog: Program) -> list:
    """What must hold for every access of `prog` to be in range; raises `Located` (with
    the statement's origin) for an access that is out of range for every size."""
    ranges = _Ranges(prog)
    found = {}
    for st in prog.stmts:
        loops = _loop_ranges(st)
        if st.reduce in ("max", "min") and st.rloops:
            req = _nonempty(st)
            if req is not None:
                found.setdefault(req.expr, req)
        targets = [(st.target, tuple(st.target_index))]
        if st.argmax:
            targets.append((st.argmax, tuple(st.target_index)))
        reads = [(tensor_name(a), tuple(a.indices)) for a in accesses(st.body)]
        for ix in st.target_index:
            reads += [(tensor_name(a), tuple(a.indices)) for a in accesses(sp.sympify(ix))]
        for name, index in targets + reads:
            tensor = prog.tensors[name]
            if tensor.rank == 0:
                continue
            for axis, (e, n) in enumerate(zip(index, tensor.shape)):
                for req in _axis_requirements(e, n, loops, ranges, name, axis, st.origin):
                    found.setdefault(req.expr, req)
    return list(found.values())


def _nonempty(st: Stmt):
    """max/min of nothing has no value: NumPy raises, and so does the call (or compile)."""
    count = sp.simplify(_count(st.rloops) - 1)
    # a size may be 0 at call time (an empty batch), whatever its symbol assumes
    maybe_zero = {d: sp.Symbol(d.name, integer=True, nonnegative=True)
                  for d in count.free_symbols if d.is_positive}
    if count.xreplace(maybe_zero).is_nonnegative:
        return None
    what = f"{_where(st.origin)} takes the {st.reduce} over an empty axis"
    if count.is_negative:
        raise OutOfRange(f"the {st.reduce} of an empty axis has no value (NumPy raises "
                         "here too)", "reduce over an axis with at least one element",
                         st.origin)
    return Requirement(count, what)


class OutOfRange(Located):
    """An access that no size makes valid, or whose range cannot be bounded."""

    def __init__(self, message, hint, origin):
        super().__init__(message, hint)
        self.origin = origin


def _axis_requirements(e, n, loops, ranges, name, axis, origin):
    span = interval(e, loops, ranges)
    if span is None:
        raise OutOfRange(f"{name} is indexed with `{e}`, whose range adc cannot bound",
                         "gather with an Index argument or arange (sliced, broadcast or "
                         "scaled), not with arithmetic on Index values: pass the computed "
                         "indices as an Index argument", origin)
    lo, hi = (_simplified(v) for v in span)
    n = sp.sympify(n)
    for expr, reach in ((lo, "down to"), (n - 1 - hi, "up to")):
        expr = _simplified(expr)
        if expr.is_nonnegative:
            continue
        if expr.is_negative:
            raise OutOfRange(f"{name} is read out of range on axis {axis}: the index runs "
                             f"from {lo} to {hi}, the axis has size {n}",
                             "check the slice bounds, gathers and shapes", origin)
        end = lo if reach == "down to" else hi
        yield Requirement(expr, f"{_where(origin)} reads '{name}' at indices {reach} {end} "
                                f"on axis {axis} (of size {n})")


def _simplified(v):
    # almost every bound is a plain number (fixed sizes): nothing to simplify
    v = sp.sympify(v)
    return v if v.is_Number else sp.simplify(v)


__all__ = ["Requirement", "OutOfRange", "requirements", "interval"]
