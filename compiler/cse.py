"""CSE: `cse(schedule) -> Schedule`, common subexpressions of each fused nest as named temporaries.

The statements of a nest that run one after the other in the same iteration (no
reduction loop in between) share one search for repeated subexpressions; a reduction
gets its own, inside its reduction loop. Temporaries are named tmp0, tmp1, ... in order
of definition, so the same statements always give the same code (`names` keeps user
tensors off these names).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import sympy as sp
from sympy.logic.boolalg import Boolean

from .ir import Stmt, nodes_of
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


def _valued(expr, memo) -> bool:
    """Whether expr reads a value (an access, a real symbol), not only integer symbols
    (loop indices, sizes): index arithmetic such as 2*i + p is never a temporary, so a
    temporary is always a value (a float on the GPU, too). Bottom-up: `free_symbols` of
    every node would be quadratic in the body's depth."""
    if expr in memo:
        return memo[expr]
    if isinstance(expr, sp.Symbol):
        out = not expr.is_integer
    elif isinstance(expr, sp.Indexed):
        out = _access_reads_value(expr)
    else:
        out = any(_valued(a, memo) for a in expr.args)
    memo[expr] = out
    return out


@functools.lru_cache(maxsize=65536)
def _access_reads_value(access) -> bool:
    return any(not s.is_integer for s in access.free_symbols)


def _worth_naming(expr, valued) -> bool:
    """Name only values and conditions that cost something: not an access, a symbol, a
    number, a negated access or symbol (nor a Piecewise's (value, condition) pair)."""
    return (isinstance(expr, (sp.Expr, Boolean)) and bool(expr.args)
            and not isinstance(expr, (sp.Indexed, sp.Number))
            and not (expr.is_Mul and len(expr.args) == 2
                     and expr.args[0] is sp.S.NegativeOne
                     and isinstance(expr.args[1], (sp.Indexed, sp.Symbol)))
            and _valued(expr, valued))


def _repeated(bodies) -> set:
    """The subexpressions worth naming that the bodies reach more than once: a hash-consed
    walk (SymPy expressions are structurally hashed), not descending into a subtree
    already seen, so the parts of a repeated subtree count once, through it."""
    seen, repeated, valued = set(), set(), {}

    def visit(expr):
        if not expr.args or isinstance(expr, sp.Indexed):
            return
        if not _worth_naming(expr, valued):
            for a in expr.args:        # transparent: its parts may repeat elsewhere
                visit(a)
            return
        if expr in seen:
            repeated.add(expr)
            return
        seen.add(expr)
        for a in expr.args:
            visit(a)

    for b in bodies:
        visit(b)
    return repeated


def _rebuild(expr, named, memo, lets, start):
    """expr with every named subexpression read from its temporary; a temporary's
    definition is appended to `lets` after those of its parts. Rebuilt without evaluation:
    replacing a subtree by a symbol changes nothing SymPy would simplify, and
    re-evaluating every Mul and Add (assumption queries) costs more than the search."""
    if expr in memo:
        return memo[expr]
    if not expr.args or isinstance(expr, sp.Indexed):
        return expr
    args = [_rebuild(a, named, memo, lets, start) for a in expr.args]
    if all(a is b for a, b in zip(args, expr.args)):
        out = expr
    elif expr.is_Add or expr.is_Mul:
        out = expr.func._from_args(args, is_commutative=True)   # real values
    else:
        try:
            out = expr.func(*args, evaluate=False)
        except TypeError:      # a class without the keyword (ExprCondPair, ...)
            out = expr.func(*args)
    if expr in named:
        symbol = sp.Symbol(f"tmp{start + len(lets)}", real=True)
        lets.append(Let(symbol, out))
        out = symbol
    memo[expr] = out
    return out


def cse_bodies(bodies, start=0):
    """(lets, reduced bodies): the subexpressions the bodies share, each computed once as
    a temporary numbered from `start`, in order of first use (deterministic)."""
    lets, reduced = _cse_bodies(tuple(sp.sympify(b) for b in bodies), start)
    return list(lets), list(reduced)


@functools.lru_cache(maxsize=1024)
def _cse_bodies(bodies: tuple, start: int):
    """cse_bodies, cached: the forward nests of f reach cse again in f_vjp's program.
    (Our own search rather than `sympy.cse`: its search for common factors of products
    and sums, and its rebuilding with evaluation, were most of the compile time of a long
    program; exact structural sharing is what the passes produce: a statement, its
    tangent and its adjoint share the same subtrees.)"""
    named = _repeated(bodies)
    lets, memo = [], {}
    reduced = [_rebuild(b, named, memo, lets, start) for b in bodies]
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
        for sym in sorted(nodes_of(expr, sp.Symbol) & set(by_symbol) - done, key=str):
            if sym in done:      # defined meanwhile, as a part of an earlier one
                continue
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


# Statements sharing one search at most: a nest of a long unrolled program holds
# thousands, and every temporary of a chunk is a live local; neighbours (a statement,
# its tangent, its adjoint) are what share values.
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
    return replace(nest, items=items)


def cse(sched: Schedule) -> Schedule:
    """The schedule with every nest's bodies sharing their common subexpressions."""
    blocks = [_nest(b) if isinstance(b, Nest) else b for b in sched.blocks]
    return Schedule(sched.program, blocks, dict(sched.alloc))
