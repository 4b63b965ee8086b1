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

from . import ops
from .ir import Arg, Program, Stmt, Tensor, access, accesses, reads, scan_runs
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
                        any(str(a.base) in active for a in accesses(st.body)):
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
    """(body over positional symbols, leaf -> symbol, symbol -> leaf or constant)."""
    # every leaf is a real number: then d|u|/du = sign(u), never re(u)/im(u) forms
    leaves = list(accesses(body)) + sorted(
        (s for s in body.free_symbols if not s.is_integer and not isinstance(s, sp.Dummy)),
        key=str)
    real = {leaf: _LEAVES[k] if k < len(_LEAVES) else sp.Dummy("x", real=True)
            for k, leaf in enumerate(leaves)}
    constants = sorted(body.atoms(sp.Float), key=float)
    if len(constants) <= len(_CONSTANTS):
        real.update(zip(constants, _CONSTANTS))
    back = {d: leaf for leaf, d in real.items()}
    return body.xreplace(real), real, back


def local_derivative(st: Stmt, acc: sp.Indexed, tensors) -> sp.Expr:
    """d body / d acc, for elementwise statements in terms of the stored output."""
    body, real, back = _canonical(st.body)
    local = _diff(body, real[acc]).xreplace(back)
    if st.reduce == "none" and not st.accumulate:
        local = local.xreplace({st.body: access(tensors[st.target], st.target_index)})
    return local


def _contributions(tensors, st: Stmt, d_out: Tensor, active, adjoint_of):
    out_access = access(d_out, st.target_index)
    decode = argmax_decode(tensors, st) if st.reduce in ("max", "min") else {}
    loops = st.loops if decode else st.all_loops
    for acc in accesses(st.body):
        name = str(acc.base)
        if name not in active:
            continue
        local = local_derivative(st, acc, tensors)
        if local == 0:
            continue
        body = (out_access * local).xreplace(decode)
        target = tuple(sp.sympify(i).xreplace(decode) for i in acc.indices)
        g = adjoint_of(name)
        if g.rank == 0:
            target = (sp.Integer(0),)
        yield Stmt(target=g.name, target_index=target, loops=loops, body=body,
                   accumulate=True, origin=st.origin, phase=_backward(st.phase),
                   scan=_reversed(st.scan))


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
