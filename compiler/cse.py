"""CSE: `cse(schedule) -> Schedule`, common subexpressions of each fused nest as named temporaries.

The statements of a nest that run one after the other in the same iteration (no
reduction loop in between) share one `sympy.cse`; a reduction gets its own, inside its
reduction loop. Temporaries are named tmp0, tmp1, ... in order of definition, so the same
statements always give the same code (`names` keeps user tensors off these names).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy as sp

from .ir import Stmt
from .schedule import Nest, Schedule


@dataclass(frozen=True)
class Let:
    """`symbol = expr`, a temporary of one iteration of a nest."""

    symbol: sp.Symbol
    expr: sp.Expr


@dataclass(frozen=True)
class Reduction:
    """A statement with reduction loops, and the temporaries of its innermost body."""

    stmt: Stmt
    lets: tuple


def _worth_naming(expr) -> bool:
    """Name only subexpressions that cost something (not a bare access or negation) and
    that are values: one of integer symbols only (loop indices, sizes) stays inline.
    (Structural tests: an assumptions query such as `is_integer` costs more than cse.)"""
    return not (isinstance(expr, (sp.Indexed, sp.Symbol, sp.Number))
                or all(s.is_integer for s in expr.free_symbols)
                or (expr.is_Mul and len(expr.args) == 2 and expr.args[0] == -1
                    and isinstance(expr.args[1], (sp.Indexed, sp.Symbol))))


@functools.lru_cache(maxsize=None)
def _opaque_symbol(access: sp.Indexed) -> sp.Symbol:
    """The stand-in of an access: a real symbol named after it (deterministic order)."""
    return sp.Symbol(f"_a[{access}]", real=True)


@functools.lru_cache(maxsize=65536)
def _opaque(body):
    """(body with accesses as opaque symbols, symbol -> access). Cached: a forward body
    reaches cse in every program of an entry point (value, vjp, jvp, hvp)."""
    found = body.atoms(sp.Indexed)
    if not found:
        return body, {}
    mapping = {a: _opaque_symbol(a) for a in found}
    return _replace_leaves(body, mapping), {v: k for k, v in mapping.items()}


def _replace_leaves(expr, mapping, done=None):
    """expr.xreplace(mapping) for leaf replacements, rebuilt without evaluation: one
    real symbol for one real access changes nothing SymPy would simplify, and
    re-evaluating every Mul and Add (assumption queries) cost more than the cse.
    Shared subtrees are rebuilt once (`done`)."""
    done = {} if done is None else done
    if expr in mapping:
        return mapping[expr]
    if not expr.args:
        return expr
    if expr in done:
        return done[expr]
    args = [_replace_leaves(a, mapping, done) for a in expr.args]
    if all(a is b for a, b in zip(args, expr.args)):
        out = expr
    else:
        try:
            out = expr.func(*args, evaluate=False)
        except TypeError:      # a class without the keyword (ExprCondPair, ...)
            out = expr.func(*args)
    done[expr] = out
    return out


def cse_bodies(bodies, start=0):
    """(lets, reduced bodies): `sympy.cse` shared by all bodies, canonical order, temporaries
    numbered from `start`."""
    lets, reduced = _cse_bodies(tuple(sp.sympify(b) for b in bodies), start)
    return list(lets), list(reduced)


@functools.lru_cache(maxsize=1024)
def _cse_bodies(bodies: tuple, start: int):
    """cse_bodies, cached: the forward nests of f reach cse again in f_vjp's program."""
    # Accesses stand in as opaque symbols: index arithmetic (2*i + p) is never a
    # temporary, so a temporary is always a value (a float on the GPU, too).
    # Real symbols: SymPy never rebuilds an expression of them into re()/im() forms.
    back, opaque_bodies = {}, []
    for b in bodies:
        body, symbols = _opaque(sp.sympify(b))
        opaque_bodies.append(body)
        back.update(symbols)
    bodies = opaque_bodies
    temps, reduced = sp.cse(bodies, symbols=sp.numbered_symbols("_cse", real=True), order="canonical",
                            ignore=(), list=True)
    temps = [(sym, expr.xreplace(back)) for sym, expr in temps]
    reduced = [r.xreplace(back) for r in reduced]
    keep, subs = [], {}
    for sym, expr in temps:
        expr = expr.xreplace(subs)
        if _worth_naming(expr):
            keep.append((sym, expr))
        else:
            subs[sym] = expr
    renamed, lets = {}, []
    for k, (sym, expr) in enumerate(keep):
        new = sp.Symbol(f"tmp{start + k}", real=True)
        renamed[sym] = new
        lets.append(Let(new, expr.xreplace(renamed)))
    reduced = [r.xreplace(subs).xreplace(renamed) for r in reduced]
    return tuple(lets), tuple(reduced)


def _interleave(lets, stmts) -> list:
    """Each temporary just before the first statement that uses it.

    A temporary is a subexpression of every body that uses it, so at its first user it
    reads exactly what that user reads; the scheduler never lets a nest write a tensor
    after reading it, so the value stays right for the later users too. (Hoisting all
    temporaries to the top would read values the nest has not written yet.)
    """
    by_symbol = {let.symbol: let for let in lets}
    done, out = set(), []

    def need(expr):
        for sym in sorted(expr.free_symbols & set(by_symbol) - done, key=str):
            let = by_symbol[sym]
            done.add(sym)
            need(let.expr)
            out.append(let)

    for st in stmts:
        need(sp.sympify(st.body))
        out.append(st)
    order = {let.symbol: k for k, let in enumerate(lets)}
    return _stable_lets(out, order)


def _stable_lets(items, order) -> list:
    """Within each run of consecutive temporaries, keep their definition order."""
    out, run = [], []
    for it in items + [None]:
        if isinstance(it, Let):
            run.append(it)
            continue
        out.extend(sorted(run, key=lambda let: order[let.symbol]))
        run = []
        if it is not None:
            out.append(it)
    return out


# Statements sharing one sympy.cse at most: its search for common factors and terms is
# quadratic in the statements it is given, and a nest of a long unrolled program holds
# thousands; neighbours (a statement, its tangent, its adjoint) are what share values.
CSE_CHUNK = 64


def _nest(nest: Nest) -> Nest:
    items, run, counter = [], [], 0

    def flush():
        nonlocal run, counter
        for start in range(0, len(run), CSE_CHUNK):
            chunk = run[start:start + CSE_CHUNK]
            lets, bodies = cse_bodies([st.body for st in chunk], counter)
            counter += len(lets)
            items.extend(_interleave(lets, [st.with_(body=b) for st, b in zip(chunk, bodies)]))
        run = []

    for st in nest.items:
        if st.rloops:
            flush()
            lets, (body,) = cse_bodies([st.body], counter)
            counter += len(lets)
            items.append(Reduction(st.with_(body=body), tuple(lets)))
        else:
            run.append(st)
    flush()
    return Nest(nest.loops, items, nest.origin)


def cse(sched: Schedule) -> Schedule:
    """The schedule with every nest's bodies sharing their common subexpressions."""
    blocks = [_nest(b) if isinstance(b, Nest) else b for b in sched.blocks]
    return Schedule(sched.program, blocks, dict(sched.alloc))
