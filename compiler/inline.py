"""Recompute instead of store: inline an elementwise temporary into its only reader.

`t[i, j] = f(...)` followed by exactly one statement reading `t` once, at a distinct
loop index per axis that covers all of that reader's loops, visits every element of
`t` exactly once: computing `f` in place costs nothing extra and saves a buffer and a
pass over memory. Everything else (several readers, reads inside a contraction that
would recompute `f` per output element) stays stored for the backward pass.
"""
from __future__ import annotations

import sympy as sp

from .ir import Program, accesses, is_plain_target, reads, tensor_name


def _candidate(st, prog: Program) -> bool:
    t = prog.tensors[st.target]
    return (t.role == "temp" and t.kind == "float" and not t.zero_init
            and st.reduce == "none" and not st.accumulate and is_plain_target(st)
            and st.target not in prog.outputs and t.rank > 0)


def _inlinable_access(consumer, name):
    found = {a for a in accesses(consumer.body) if tensor_name(a) == name}
    if len(found) != 1 or consumer.accumulate or consumer.argmax and False:
        return None
    (acc,) = found
    if _occurrences(consumer.body, acc) != 1:
        return None      # inlined twice, f would be a tree of copies of itself: keep it
    idx = tuple(acc.indices)
    loop_syms = {s for s, _ in consumer.all_loops}
    if not all(isinstance(i, sp.Symbol) for i in idx) or len(set(idx)) != len(idx):
        return None
    if set(idx) != loop_syms:
        return None
    if any(name in {tensor_name(a) for a in accesses(sp.sympify(ix))}
           for ix in consumer.target_index):
        return None
    return acc


# The largest body inlining builds, in expression nodes: an unrolled chain of 1000
# `h = tanh(h * w)` stays 1000 small statements instead of one expression 1000 deep,
# which SymPy would differentiate and traverse recursively.
MAX_BODY = 40


def _size(body) -> int:
    return sum(1 for _ in sp.preorder_traversal(body))


def _occurrences(body, acc) -> int:
    """How often `acc` appears in `body` as a tree (SymPy shares equal subtrees, so a
    set of accesses counts a repeated read once)."""
    if body == acc:
        return 1
    return sum(_occurrences(a, acc) for a in body.args) if body.has(acc) else 0


def inline_elementwise(prog: Program) -> Program:
    """The program with single-use elementwise temporaries folded into their reader.

    One pass in program order, linear in the number of statements: a producer always
    comes before its reader, so by the time a statement is visited every chain of
    temporaries feeding it has already been folded into the last link."""
    stmts = list(prog.stmts)
    reads_of = [reads(st) for st in stmts]
    writers, readers = {}, {}
    for pos, st in enumerate(stmts):
        writers.setdefault(st.target, []).append(pos)
        for name in reads_of[pos]:
            readers.setdefault(name, set()).add(pos)
    removed = set()
    for pos in range(len(stmts)):
        changed = True
        while changed:
            changed = False
            for name in sorted(reads_of[pos]):
                found = writers.get(name, [])
                if len(found) != 1 or readers.get(name) != {pos} or found[0] >= pos:
                    continue
                src = found[0]
                producer = stmts[src]
                if src in removed or not _candidate(producer, prog):
                    continue
                consumer = stmts[pos]
                acc = _inlinable_access(consumer, name)
                if acc is None:
                    continue
                mapping = {s: i for (s, _), i in zip(producer.loops, acc.indices)}
                body = consumer.body.xreplace({acc: producer.body.xreplace(mapping)})
                if _size(body) > MAX_BODY:
                    continue
                stmts[pos] = consumer.with_(body=body)
                removed.add(src)
                for other in reads_of[src]:        # the reader reads them now
                    readers[other].discard(src)
                    readers[other].add(pos)
                reads_of[pos] = (reads_of[pos] - {name}) | reads_of[src]
                readers.pop(name, None)
                changed = True
                break
    stmts = [st for pos, st in enumerate(stmts) if pos not in removed]
    used = {st.target for st in stmts} | {n for st in stmts for n in reads(st)}
    tensors = {n: t for n, t in prog.tensors.items()
               if n in used or t.role != "temp" or n in prog.outputs}
    return prog.with_stmts(stmts, tensors)
