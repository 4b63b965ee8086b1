"""Reverse mode over the IR: the adjoint program of a forward program.

For `out[I] = reduce_R f(..., a[J], ...)` the adjoint of `a` is

    da[J] += sum_{I, R} dout[I] * df/da[J]

with df/da[J] the SymPy derivative of the scalar body, the access replaced by a plain
symbol. For max/min reductions the forward pass stores the flat index of the first
extremal element, and the adjoint visits only that element (no loop over R).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from .ir import Program, Stmt, Tensor, access, accesses
from .ops import idiv


@dataclass
class Adjoint:
    """The backward half of a gradient program."""

    stmts: list
    tensors: dict                 # grad and seed tensors created here
    grads: dict                   # differentiated argument -> its grad tensor name
    seeds: dict                   # output name -> seed (cotangent) tensor name
    groups: list = field(default_factory=list)  # per stmt: id of the forward stmt


def active_tensors(prog: Program) -> set:
    """Float tensors that depend on a differentiated argument."""
    active = set(prog.wrt)
    for st in prog.stmts:
        if st.no_grad:
            continue
        if any(str(a.base) in active for a in accesses(st.body)):
            if prog.tensors[st.target].kind == "float":
                active.add(st.target)
    return active


def grad_name(name: str) -> str:
    return f"d_{name}"


def reverse(prog: Program) -> Adjoint:
    """Build the adjoint statements of `prog`, last forward statement first."""
    active = active_tensors(prog)
    tensors, grads_of, seeds = {}, {}, {}

    def grad_tensor(name, role="grad"):
        if name not in grads_of:
            src = prog.tensors[name]
            t = Tensor(grad_name(name), src.shape, "float", role, zero_init=True)
            tensors[t.name] = t
            grads_of[name] = t
        return grads_of[name]

    for out in prog.outputs:
        seeds[out] = grad_tensor(out, "seed").name
    stmts, groups = [], []
    for pos in range(len(prog.stmts) - 1, -1, -1):
        st = prog.stmts[pos]
        if st.no_grad or st.target not in grads_of:
            continue
        for contrib in _contributions(prog, st, grads_of[st.target], active, grad_tensor):
            stmts.append(contrib)
            groups.append(pos)
    grads = {name: grad_tensor(name).name for name in prog.wrt}
    return Adjoint(stmts, tensors, grads, seeds, groups)


def _contributions(prog, st: Stmt, d_out: Tensor, active, grad_tensor):
    out_access = access(d_out, st.target_index)
    decode = _argmax_decode(prog, st) if st.reduce in ("max", "min") else {}
    loops = st.loops if decode else st.all_loops
    elementwise = st.reduce == "none" and not st.accumulate
    stored = access(prog.tensors[st.target], st.target_index)
    for acc in accesses(st.body):
        name = str(acc.base)
        if name not in active:
            continue
        x = sp.Dummy("x", real=True)
        local = sp.diff(st.body.xreplace({acc: x}), x).xreplace({x: acc})
        if elementwise:
            local = local.xreplace({st.body: stored})  # in terms of the stored output
        if local == 0:
            continue
        body = (out_access * local).xreplace(decode)
        target = tuple(sp.sympify(i).xreplace(decode) for i in acc.indices)
        g = grad_tensor(name)
        if g.rank == 0:
            target = (sp.Integer(0),)
        yield Stmt(target=g.name, target_index=target, loops=loops, body=body,
                   accumulate=True, origin=st.origin)


def _argmax_decode(prog, st: Stmt) -> dict:
    """Reduction index -> its value at the stored arg index, e.g. r -> am[i] // 3."""
    am = access(prog.tensors[st.argmax], st.target_index)
    out, stride = {}, sp.Integer(1)
    for sym, ext in reversed(st.rloops):
        part = idiv(am, stride)
        out[sym] = part if sym == st.rloops[0][0] else sp.Mod(part, ext)
        stride = stride * ext
    return out
