"""Schedule: statements -> blocks (fused loop nests and GEMM calls), plus allocations.

- A contraction `T[p, q] (+)= sum_r A[.., ..] * B[.., ..]` over plain indices is a GEMM
  and becomes one `np.dot` on (possibly transposed) contiguous arrays.
- Consecutive statements over the same free loops fuse into one loop nest when every
  value the later ones read from the nest is read at the very index it was written.
- The adjoint statements of one forward statement always share a nest.
- A gradient buffer whose first write covers it exactly once is assigned, not zeroed
  and accumulated.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from .ir import Origin, Stmt, accesses, is_plain_target, reads
from .values import same_size


@dataclass
class Nest:
    """Loops shared by `items`; each item may still have reduction loops of its own."""

    loops: tuple
    items: list
    origin: Origin | None


@dataclass
class Gemm:
    """target (=|+=) op(a) @ op(b), op = transpose when the flag is set."""

    target: str
    a: str
    ta: bool
    b: str
    tb: bool
    accumulate: bool
    origin: Origin | None


@dataclass
class Schedule:
    blocks: list
    alloc: dict = field(default_factory=dict)   # tensor -> 'zeros' | 'empty' | 'gemm'


def _plain_symbols(index) -> tuple | None:
    idx = tuple(sp.sympify(i) for i in index)
    if all(isinstance(i, sp.Symbol) for i in idx) and len(set(idx)) == len(idx):
        return idx
    return None


def spans(tensor, index, extents) -> bool:
    """True when `tensor[index]` over loops of these extents visits every element once.

    The index must be distinct loop symbols, one per axis, each looping over the whole
    axis: `X[i, r]` with r < 3 reads only a slice of a (N, 6) array.
    """
    idx = _plain_symbols(index)
    if idx is None or len(idx) != tensor.rank:
        return False
    return all(s in extents and same_size(extents[s], n) for s, n in zip(idx, tensor.shape))


def covers(st: Stmt, tensor) -> bool:
    """True when one run of `st` writes every element of its target exactly once."""
    if tensor.rank == 0:
        return not st.loops and not (st.accumulate and st.rloops)
    if st.accumulate and st.rloops:
        return False
    return len(st.loops) == tensor.rank and spans(tensor, st.target_index, dict(st.loops))


def as_gemm(st: Stmt, tensors) -> Gemm | None:
    """Recognise a GEMM- or GEMV-shaped contraction of whole arrays."""
    if st.argmax or st.reduce not in ("sum", "none") or tensors[st.target].rank == 0:
        return None
    if not st.accumulate and (st.reduce != "sum" or not is_plain_target(st)):
        return None
    target = _plain_symbols(st.target_index)
    loops = [s for s, _ in st.all_loops]
    if target is None or not set(target) <= set(loops):
        return None
    reduced = [s for s in loops if s not in target]
    if len(reduced) != 1 or len(target) not in (1, 2) or len(loops) != len(set(loops)):
        return None
    factors = sp.Mul.make_args(st.body)
    if len(factors) != 2 or not all(isinstance(f, sp.Indexed) for f in factors):
        return None
    if any(tensors[str(f.base)].kind != "float" for f in factors):
        return None
    (r,) = reduced
    fa, fb = factors
    if target[0] not in fb.indices and target[0] in fa.indices:
        pass
    elif target[0] in fb.indices:
        fa, fb = fb, fa
    else:
        return None
    ia, ib = _plain_symbols(fa.indices), _plain_symbols(fb.indices)
    if ia is None or ib is None:
        return None
    # np.dot reads whole arrays: every operand and the target must span its tensor
    extents = dict(st.all_loops)
    for t, idx in ((tensors[st.target], st.target_index), (tensors[str(fa.base)], ia),
                   (tensors[str(fb.base)], ib)):
        if not spans(t, idx, extents):
            return None
    if len(target) == 2:
        p, q = target
        if set(ia) != {p, r} or set(ib) != {r, q}:
            return None
        return Gemm(st.target, str(fa.base), ia != (p, r), str(fb.base), ib != (r, q),
                    st.accumulate, st.origin)
    (p,) = target
    if set(ia) != {p, r} or ib != (r,):
        return None
    return Gemm(st.target, str(fa.base), ia != (p, r), str(fb.base), False,
                st.accumulate, st.origin)


def _fusable(nest: Nest, st: Stmt, written: dict) -> bool:
    if st.loops != nest.loops or not st.loops or not is_plain_target(st):
        return False
    for acc in accesses(st.body):
        name = str(acc.base)
        if name in written and tuple(acc.indices) != written[name]:
            return False
    for ix in st.target_index:
        if any(str(a.base) in written for a in accesses(sp.sympify(ix))):
            return False
    return True


def schedule_forward(stmts, tensors) -> Schedule:
    """Blocks for the forward statements."""
    blocks, alloc = [], {}
    nest, written = None, {}
    for st in stmts:
        gemm = as_gemm(st, tensors)
        if gemm:
            blocks.append(gemm)
            alloc[st.target] = "gemm"
            nest = None
            continue
        if st.target not in alloc:
            whole = covers(st, tensors[st.target]) and not st.accumulate
            alloc[st.target] = "empty" if whole and not tensors[st.target].zero_init \
                else "zeros"
        if st.argmax:
            alloc[st.argmax] = "empty"
        if nest is not None and _fusable(nest, st, written) and st.target not in written:
            nest.items.append(st)
        else:
            nest = Nest(st.loops, [st], st.origin)
            written = {}
            blocks.append(nest)
        if is_plain_target(st):
            written[st.target] = tuple(st.target_index)
        else:
            nest = None   # piecewise writers (padding, concatenate) stand alone
    return Schedule(blocks, alloc)


def schedule_backward(stmts, groups, tensors, seeds=()) -> Schedule:
    """Blocks for the adjoint statements (one nest per forward statement).

    `seeds` are the adjoints that arrive holding the cotangent: they are written already.
    """
    blocks, alloc, written = [], {}, set(seeds)
    pos = 0
    while pos < len(stmts):
        end = pos
        while end < len(stmts) and groups[end] == groups[pos]:
            end += 1
        rest = []
        for st in stmts[pos:end]:
            gemm = as_gemm(st, tensors)
            if gemm:
                if st.target not in written:
                    gemm.accumulate = False
                    alloc[st.target] = "gemm"
                written.add(st.target)
                blocks.append(gemm)
            else:
                rest.append(st)
        if rest:
            items = []
            for st in rest:
                first = st.target not in written
                alone = sum(1 for o in rest if o.target == st.target) == 1
                if first and alone and covers(st, tensors[st.target]) \
                        and tensors[st.target].rank > 0:
                    st = st.with_(accumulate=False)
                    alloc[st.target] = "empty"
                elif first:
                    alloc[st.target] = "zeros"
                items.append(st)
            for st in rest:
                written.add(st.target)
            blocks.append(Nest(rest[0].loops, items, rest[0].origin))
        pos = end
    return Schedule(blocks, alloc)


def saved_for_backward(forward_names, backward: Schedule) -> list:
    """Forward tensors the backward pass reads, in first-use order."""
    out = []
    for block in backward.blocks:
        names = ([block.a, block.b] if isinstance(block, Gemm)
                 else [n for st in block.items for n in sorted(reads(st))])
        for n in names:
            if n in forward_names and n not in out:
                out.append(n)
    return out
