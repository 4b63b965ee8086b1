"""Forward mode: `jvp(program) -> Program`, the program of a Jacobian-vector product.

Each statement `out[I] = reduce_R f(..., a[J], ...)` is followed by its tangent

    t_out[I] = reduce_R  sum_a  df/da[J] * t_a[J]

over the accesses `a` of tensors that carry a tangent (for max/min reductions: the
body's tangent at the stored first extremal element, with no loop over R). The result
is an ordinary Program: its arguments are the primal ones plus one tangent per
differentiated argument; its outputs are the primal outputs followed by their tangents.
Applied to `vjp(p)` it gives the Hessian-vector product (forward-over-reverse).
"""
from __future__ import annotations

import sympy as sp
from sympy.core.add import _addsort

from .ir import Arg, Program, Stmt, Tensor, access, accesses, tensor_name
from .names import Namer, loop_symbols
from .vjp import argmax_decode, local_derivative, propagate, times_leaf


def jvp(prog: Program) -> Program:
    """The program `(primal args, tangents of prog.wrt) -> (outputs..., tangents...)`."""
    namer = Namer(taken=prog.tensors)
    tensors = dict(prog.tensors)
    args = list(prog.args)
    tangent = {}                       # tensor -> its tangent tensor

    def tangent_of(name, role="temp"):
        if name not in tangent:
            src = tensors[name]
            t = Tensor(namer.fresh(f"t_{name}"), src.shape, "float", role)
            tensors[t.name] = t
            tangent[name] = t
        return tangent[name]

    for a in prog.args:
        if a.name in prog.wrt:
            t = tangent_of(a.ident, "tangent")
            args.append(Arg(t.name, "tangent", a.shape))
    stmts = []
    carried = propagate(prog.stmts, set(tangent), tensors)
    for st in prog.stmts:   # a step reads tangents the step before wrote: all exist
        if st.scan and st.target in carried and not st.no_grad:
            tangent_of(st.target)
    for st in prog.stmts:
        stmts.append(st)
        stmts.extend(_tangent(tensors, st, tangent, tangent_of))
    outputs = []
    for out in prog.outputs:
        if out not in tangent:
            stmts.append(_zero(tangent_of(out)))
        outputs.append(tangent[out].name)
    return Program(prog.name, args, tensors, stmts, list(prog.outputs) + outputs, prog.dims,
                   list(prog.wrt), list(prog.index_bounds), prog.line, prog.source_file)


def _tangent(tensors, st: Stmt, tangent: dict, tangent_of):
    """The tangent statements of `st` (none when no input of it carries a tangent)."""
    if st.no_grad:
        return []
    active = [a for a in accesses(st.body) if tensor_name(a) in tangent]
    if not active:
        return []
    decode = argmax_decode(tensors, st) if st.argmax else {}
    terms = [times_leaf(local_derivative(st, acc, tensors),
                        access(tangent[tensor_name(acc)], acc.indices)) for acc in active]
    if decode:    # decoded, two accesses may be one: SymPy's sum collects them
        terms = [t.xreplace(decode) for t in terms]
    body = sp.Add(*terms) if decode else _sum(terms)
    out = tangent_of(st.target)
    index = tuple(sp.sympify(i).xreplace(decode) for i in st.target_index)
    if decode:    # the tangent of a max/min is the tangent of its first extremal element
        return [Stmt(out.name, index, st.loops, body, accumulate=st.accumulate,
                     origin=st.origin, phase=_tangent_phase(st.phase), scan=st.scan)]
    tangent_st = st.with_(target=out.name, target_index=index, body=body, argmax=None,
                          reduce="sum" if st.rloops else "none", phase=_tangent_phase(st.phase))
    return _split(tangent_st, terms)


def _sum(terms):
    """sp.Add(*terms) for terms that each hold their own tangent access (none combine)."""
    terms = [t for t in terms if t != 0]
    if len(terms) < 2 or any(t.is_Add or t.is_Number for t in terms):
        return sp.Add(*terms)
    _addsort(terms)
    return sp.Add._from_args(terms, is_commutative=True)


def _split(st: Stmt, terms) -> list:
    """A contraction's tangent `sum_r (A*t_B + t_A*B)` as one statement per product, so
    that each is a GEMM again; elementwise tangents stay one statement (one pass)."""
    loops = {s for s, _ in st.all_loops}
    target = {i for i in st.target_index if isinstance(i, sp.Symbol)}
    contraction = bool(st.rloops) or (st.accumulate and target < loops)
    if len(terms) == 1 or not contraction:
        return [st]
    return [st.with_(body=t, accumulate=st.accumulate or k > 0) for k, t in enumerate(terms)]


def _tangent_phase(phase: str) -> str:
    return "tangent" if phase == "forward" else f"{phase} tangent"


def _zero(t: Tensor) -> Stmt:
    syms = loop_symbols(t.rank)
    idx = tuple(syms) if t.rank else (sp.Integer(0),)
    return Stmt(t.name, idx, tuple(zip(syms, t.shape)), sp.Integer(0), phase="tangent")
