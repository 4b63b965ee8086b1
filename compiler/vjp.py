"""Reverse mode: `vjp(program) -> Program`, the program of a vector-Jacobian product.

For `out[I] = reduce_R f(..., a[J], ...)` the adjoint of `a` is

    d_a[J] += sum_{I, R} d_out[I] * df/da[J]

with df/da[J] the SymPy derivative of the scalar body, the access replaced by a plain
symbol (for elementwise statements written in terms of the stored output, so that
exp' = out, tanh' = 1 - out**2). For max/min reductions the forward pass stores the flat
index of the first extremal element, and the adjoint visits only that element.

The result is an ordinary Program: its arguments are the primal ones plus one
cotangent per output; its statements are the forward statements followed by the
adjoint ones (phase 'backward'); its outputs are the primal outputs followed by the
gradient of every differentiated argument. So it can be scheduled, emitted, run by
the NumPy reference, and differentiated again (`jvp(vjp(p))` is the HVP).
"""
from __future__ import annotations

import functools

import sympy as sp
from sympy.core.add import _addsort
from sympy.core.mul import _mulsort

from . import ops
from .ir import (Arg, Program, Stmt, Tensor, access, accesses, nodes_of, reads, scan_runs,
                 tensor_name)
from .names import Namer, loop_symbols
from .ops import idiv


def active_tensors(prog: Program) -> set:
    """Float tensors that depend on a differentiated argument."""
    return propagate(prog.stmts, {a.ident for a in prog.args if a.name in prog.wrt},
                     prog.tensors)


def propagate(stmts, active: set, tensors) -> set:
    """`active` plus the float targets that read an active tensor, in program order; a
    loop kept as a loop is repeated until nothing changes (a later statement of a step
    can make what an earlier one reads active, through the carried value)."""
    active = set(active)
    for key, run in scan_runs(stmts):
        while True:
            before = len(active)
            for st in run:
                if not st.no_grad and tensors[st.target].kind == "float" and \
                        any(tensor_name(a) in active for a in accesses(st.body)):
                    active.add(st.target)
            if key is None or len(active) == before:
                break
    return active


def vjp(prog: Program) -> Program:
    """The program `(primal args, cotangents) -> (outputs..., gradients...)`."""
    namer = Namer(taken=prog.tensors)
    tensors = dict(prog.tensors)
    args = list(prog.args)
    adjoint = {}                      # tensor -> its adjoint tensor
    stmts = list(prog.stmts)
    read_later = set().union(*(reads(st) for st in prog.stmts)) if prog.stmts else set()

    def adjoint_of(name, role="grad"):
        if name not in adjoint:
            src = tensors[name]
            t = Tensor(namer.fresh(f"d_{name}"), src.shape, "float", role)
            tensors[t.name] = t
            adjoint[name] = t
        return adjoint[name]

    assert len(set(prog.outputs)) == len(prog.outputs), "outputs are distinct tensors"
    for out in prog.outputs:
        ct = Tensor(namer.fresh(f"d_{out}"), tensors[out].shape, "float", "cotangent")
        tensors[ct.name] = ct
        args.append(Arg(ct.name, "cotangent", ct.shape))
        if out in read_later:
            # other statements add to this adjoint: start from a copy of the cotangent
            stmts.append(_copy(adjoint_of(out), ct, prog, out))
        else:
            adjoint[out] = ct      # nothing adds to it: read the cotangent directly
    active = active_tensors(prog)
    for st in prog.stmts:   # a step's adjoints read each other across steps: all exist
        if st.scan and st.target in active and not st.composite:
            adjoint_of(st.target)
    for st in reversed(prog.stmts):
        if st.custom and st.target in adjoint:
            stmts.extend(_custom(st, adjoint[st.target], active, adjoint_of))
            continue
        if st.composite or st.no_grad or st.target not in adjoint:
            continue     # a composite's inner statements: its rule covers them
        stmts.extend(_contributions(tensors, st, adjoint[st.target], active, adjoint_of))
    grads = []
    for a in prog.args:
        if a.name in prog.wrt:
            if a.ident not in adjoint:
                stmts.append(_zero(adjoint_of(a.ident), prog))
            grads.append(adjoint[a.ident].name)
    return Program(prog.name, args, tensors, stmts, list(prog.outputs) + grads, prog.dims,
                   list(prog.wrt), list(prog.index_bounds), prog.line, prog.source_file,
                   adjoints={name: t.name for name, t in adjoint.items()})


def _loops_over(t: Tensor):
    syms = loop_symbols(t.rank)
    return tuple(zip(syms, t.shape)), (tuple(syms) if t.rank else (sp.Integer(0),))


def _copy(dst: Tensor, src: Tensor, prog: Program, out: str) -> Stmt:
    """dst[I] = src[I]: an adjoint that starts as the caller's cotangent."""
    loops, idx = _loops_over(dst)
    origin = next((st.origin for st in prog.stmts if st.target == out), None)
    return Stmt(dst.name, idx, loops, access(src, idx), origin=origin, phase="backward")


def _zero(t: Tensor, prog: Program) -> Stmt:
    """t[I] = 0: the gradient of an argument the outputs do not depend on."""
    loops, idx = _loops_over(t)
    return Stmt(t.name, idx, loops, sp.Integer(0), phase="backward")


# The leaves of a body become these real symbols, by position, and so do its float
# constants: the statements of an unrolled loop, or of a long program built from a few
# kinds of line, then have one body up to renaming, and `_diff` differentiates it once.
_LEAVES = tuple(sp.Symbol(f"_leaf{k}", real=True) for k in range(64))
_CONSTANTS = tuple(sp.Symbol(f"_const{k}", real=True) for k in range(32))


@functools.lru_cache(maxsize=4096)
def _diff(body, x):
    return ops.diff(body, x)


@functools.lru_cache(maxsize=4096)
def _canonical(body):
    """(body over positional symbols, leaf -> symbol, symbol -> leaf or constant, each
    subexpression of the positional body -> the subexpression of `body` it renames)."""
    # every leaf is a real number: then d|u|/du = sign(u), never re(u)/im(u) forms
    leaves = list(accesses(body)) + sorted(
        (s for s in nodes_of(body, sp.Symbol) - _labels(body)
         if not s.is_integer and not isinstance(s, sp.Dummy)), key=str)
    real = {leaf: _LEAVES[k] if k < len(_LEAVES) else sp.Dummy("x", real=True)
            for k, leaf in enumerate(leaves)}
    constants = sorted(nodes_of(body, sp.Float), key=float)
    if len(constants) <= len(_CONSTANTS):
        real.update(zip(constants, _CONSTANTS))
    back = {d: leaf for leaf, d in real.items()}
    renamed = {}
    canonical = _substitute(body, (real, renamed))
    return canonical, real, back, {c: e for e, c in renamed.items()}


def _labels(body) -> set:
    """The tensors' own symbols (x of x[i]): inside accesses, never leaves themselves."""
    return {a.base.label for a in accesses(body)}


def local_derivative(st: Stmt, acc: sp.Indexed, tensors) -> sp.Expr:
    """d body / d acc, for elementwise statements in terms of the stored output."""
    body, real, _, _ = _canonical(st.body)
    stored = None
    if st.reduce == "none" and not st.accumulate:
        stored = access(tensors[st.target], st.target_index)
    return _substitute(_diff(body, real[acc]), _back_substitution(st.body, stored))


@functools.lru_cache(maxsize=4096)
def _back_substitution(body, stored):
    """(leaf -> access mapping, memo) from canonical form back to `body`'s accesses, the
    canonical body itself read as `stored` (the statement's output) where given. The memo
    starts with the body's own subexpressions and is shared by the derivatives of one
    body (by each of its accesses, in vjp and in every jvp): they share most subtrees."""
    canonical, _, back, renamed = _canonical(body)
    mapping = dict(back)
    if stored is not None:
        mapping[canonical] = stored
    # a derivative is made mostly of the body's own subexpressions (cos(u) of sin(u)):
    # those map back to the body's at once, the very expressions the forward pass has
    return mapping, dict(renamed)


def _substitute(expr, substitution):
    """expr.xreplace(mapping), memoised, and the same expression as xreplace gives."""
    mapping, memo = substitution

    def walk(e):
        if e in mapping:
            return mapping[e]
        if not e.args:
            return e
        if e in memo:
            return memo[e]
        args = [walk(a) for a in e.args]
        if all(a is b for a, b in zip(args, e.args)):
            out = e
        else:
            out = _resorted(e, args)
            if out is None:
                out = e.func(*args)
        memo[e] = out
        return out
    return walk(expr)


def _resorted(e, args):
    """`e` rebuilt from the new `args` without SymPy's evaluation (flattening, automatic
    simplification and its assumption queries: most of the time of a long program's
    derivatives), or None where evaluation has work to do. Leaves are renamed one to one
    (a float constant may come back as a number): a sum or product whose new args do not
    combine (no two terms alike, no two factors of one base, no nested sum or product,
    one nonzero number at most, no c * (a + b) to distribute), sorted as SymPy sorts
    its args, is the expression evaluation builds; a function, power or condition of
    new non-numeric args evaluates to itself (at most a sign moved out, or the sides of
    a comparison swapped: the same value)."""
    changed = [a for a, b in zip(args, e.args) if a is not b]
    if any(a.is_number and not a.is_Number for a in changed):    # sqrt(2): radicals combine
        return None
    numbers = [a for a in args if a.is_Number]
    if e.is_Add or e.is_Mul:
        if any(a.func is e.func for a in changed):            # a nested sum flattens
            return None
        if any(a.is_Number for a in changed) and (len(numbers) > 1 or numbers[0].is_zero):
            return None
        rest = [a for a in args if not a.is_Number]
        distributes = e.is_Mul and numbers and len(rest) == 1 and rest[0].is_Add
        if distributes or _combine(e, rest):
            return None
        (_mulsort if e.is_Mul else _addsort)(rest)
        # the coefficient first, as SymPy has it; every value is a real number
        return e.func._from_args(numbers + rest, is_commutative=True)
    if any(a.is_Number for a in changed):
        return None
    if isinstance(e, (sp.Function, sp.Pow, sp.core.relational.Relational)):
        return e.func(*args, evaluate=False)
    return None


def _combine(e, args) -> bool:
    """Whether SymPy would merge two of a sum's terms (2*u + 3*u) or of a product's
    factors (u * u**2, exp(a) * exp(b))."""
    keys = [a.as_base_exp()[0] if e.is_Mul else a.as_coeff_Mul()[1] for a in args]
    return len(set(keys)) < len(keys)


def _contributions(tensors, st: Stmt, d_out: Tensor, active, adjoint_of):
    out_access = access(d_out, st.target_index)
    decode = argmax_decode(tensors, st) if st.reduce in ("max", "min") else {}
    loops = st.loops if decode else st.all_loops
    for acc in accesses(st.body):
        name = tensor_name(acc)
        if name not in active:
            continue
        local = local_derivative(st, acc, tensors)
        if local == 0:
            continue
        body = times_leaf(local, out_access).xreplace(decode)
        target = tuple(sp.sympify(i).xreplace(decode) for i in acc.indices)
        g = adjoint_of(name)
        if g.rank == 0:
            target = (sp.Integer(0),)
        yield Stmt(target=g.name, target_index=target, loops=loops, body=body,
                   accumulate=True, origin=st.origin, phase=_backward(st.phase),
                   scan=_reversed(st.scan))


def times_leaf(local, leaf):
    """local * leaf, for a leaf the local derivative does not contain (an adjoint or a
    tangent access): the product SymPy builds (nothing combines, factors sorted as it
    sorts them), without its flattening and assumption queries (much of a long
    program's derivative time)."""
    if local.is_Number:
        return local * leaf
    factors = list(local.args) if local.is_Mul else [local]
    coeff = [factors.pop(0)] if factors[0].is_Number else []
    factors.append(leaf)
    _mulsort(factors)
    return sp.Mul._from_args(coeff + factors, is_commutative=True)   # real values


def _custom(st: Stmt, d_out: Tensor, active, adjoint_of):
    """A library function's own rule: d_input[index] += d_out * local, over `loops`."""
    rule = dict(st.custom)
    if rule["input"] not in active:
        return []
    g = adjoint_of(rule["input"])
    body = access(d_out, st.target_index) * rule["local"]
    return [Stmt(g.name, rule["index"], rule["loops"], body, accumulate=True,
                 origin=st.origin, phase=_backward(st.phase), scan=_reversed(st.scan))]


def _reversed(scan):
    """A step of a loop kept as a loop has its adjoint in the same loop, run backwards:
    step t reads the adjoint of what step t wrote, complete once steps t+1.. have run."""
    return scan.reversed() if scan else None


def _backward(phase: str) -> str:
    return "backward" if phase == "forward" else f"{phase} backward"


def argmax_decode(tensors, st: Stmt) -> dict:
    """Reduction index -> its value at the stored arg index, e.g. r -> am[i] // 3."""
    am = access(tensors[st.argmax], st.target_index)
    out, stride = {}, sp.Integer(1)
    for sym, ext in reversed(st.rloops):
        part = idiv(am, stride)
        out[sym] = part if sym == st.rloops[0][0] else sp.Mod(part, ext)
        stride = stride * ext
    return out
