"""Recompute instead of store: inline an elementwise temporary into its only reader.

`t[i, j] = f(...)` followed by exactly one statement reading `t` once, at a distinct
loop index per axis that covers all of that reader's loops, visits every element of
`t` exactly once: computing `f` in place costs nothing extra and saves a buffer and a
pass over memory. Everything else (several readers, reads inside a contraction that
would recompute `f` per output element) stays stored for the backward pass.
"""
from __future__ import annotations

import sympy as sp

from .ir import Program, accesses, is_plain_target, reads


def _candidate(st, prog: Program) -> bool:
    t = prog.tensors[st.target]
    return (t.role == "temp" and t.kind == "float" and not t.zero_init
            and st.reduce == "none" and not st.accumulate and is_plain_target(st)
            and st.target not in prog.outputs and t.rank > 0)


def _inlinable_access(consumer, name):
    found = {a for a in accesses(consumer.body) if str(a.base) == name}
    if len(found) != 1 or consumer.accumulate or consumer.argmax and False:
        return None
    (acc,) = found
    idx = tuple(acc.indices)
    loop_syms = {s for s, _ in consumer.all_loops}
    if not all(isinstance(i, sp.Symbol) for i in idx) or len(set(idx)) != len(idx):
        return None
    if set(idx) != loop_syms:
        return None
    if any(name in {str(a.base) for a in accesses(sp.sympify(ix))}
           for ix in consumer.target_index):
        return None
    return acc


def inline_elementwise(prog: Program) -> Program:
    """The program with single-use elementwise temporaries folded into their reader."""
    stmts = list(prog.stmts)
    changed = True
    while changed:
        changed = False
        writers = {}
        for st in stmts:
            writers.setdefault(st.target, []).append(st)
        for pos, st in enumerate(stmts):
            if len(writers[st.target]) != 1 or not _candidate(st, prog):
                continue
            readers = [k for k, o in enumerate(stmts) if st.target in reads(o)]
            if len(readers) != 1:
                continue
            consumer = stmts[readers[0]]
            acc = _inlinable_access(consumer, st.target)
            if acc is None:
                continue
            mapping = {s: i for (s, _), i in zip(st.loops, acc.indices)}
            body = consumer.body.xreplace({acc: st.body.xreplace(mapping)})
            stmts[readers[0]] = consumer.with_(body=body)
            del stmts[pos]
            changed = True
            break
    used = {st.target for st in stmts} | {n for st in stmts for n in reads(st)}
    tensors = {n: t for n, t in prog.tensors.items()
               if n in used or t.role != "temp" or n in prog.outputs}
    return prog.with_stmts(stmts, tensors)
