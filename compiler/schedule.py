"""Schedule: a program's statements -> blocks (fused loop nests and GEMM calls) + allocations.

- A contraction `T[p, q] (+)= sum_r A[.., ..] * B[.., ..]` of whole arrays over plain
  indices is a GEMM and becomes one `np.dot` on (possibly transposed) arrays.
- Consecutive statements over the same free loops fuse into one loop nest when that
  cannot change a result: a statement reads a value the nest writes only at the very
  index that one thread/iteration wrote, and never writes what the nest reads.
- A buffer whose first write visits every element exactly once (and is alone in its
  nest) is assigned into `np.empty`; every other buffer starts as `np.zeros` and its
  writes accumulate.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import sympy as sp

from .ir import (Origin, Program, Stmt, accesses, is_plain_target, scan_runs, step_body,
                 tensor_name)
from .values import same_size


@dataclass
class Nest:
    """Loops shared by `items`; each item may still have reduction loops of its own.

    Items are statements (after `cse`, also its `Let` temporaries and `Reduction`s)."""

    loops: tuple
    items: list
    origin: Origin | None
    threads: bool = False      # the outer loop may run on all cores (threads.py)
    scatters: tuple = ()       # targets summed across the outer loop: per-chunk partials


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
    phase: str = "forward"


@dataclass
class ScanStart:
    """`for step in range(count)` (downwards when direction < 0): the blocks up to the
    matching ScanEnd run once per step, in order, with `step` fixed."""

    step: object
    count: object
    direction: int
    origin: Origin | None


@dataclass
class ScanEnd:
    """The end of the innermost open ScanStart."""


@dataclass
class Schedule:
    """A program and the blocks that run it; `alloc`: tensor -> 'zeros' | 'empty' | 'gemm'."""

    program: Program
    blocks: list
    alloc: dict = field(default_factory=dict)


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
    if any(tensors[tensor_name(f)].kind != "float" for f in factors):
        return None
    (r,) = reduced
    fa, fb = factors
    if target[0] in fb.indices:
        fa, fb = fb, fa
    elif target[0] not in fa.indices:
        return None
    ia, ib = _plain_symbols(fa.indices), _plain_symbols(fb.indices)
    if ia is None or ib is None:
        return None
    # np.dot reads whole arrays: every operand and the target must span its tensor
    extents = dict(st.all_loops)
    for t, idx in ((tensors[st.target], st.target_index), (tensors[tensor_name(fa)], ia),
                   (tensors[tensor_name(fb)], ib)):
        if not spans(t, idx, extents):
            return None
    if len(target) == 2:
        p, q = target
        if set(ia) != {p, r} or set(ib) != {r, q}:
            return None
        return Gemm(st.target, tensor_name(fa), ia != (p, r), tensor_name(fb), ib != (r, q),
                    st.accumulate, st.origin, st.phase)
    (p,) = target
    if set(ia) != {p, r} or ib != (r,):
        return None
    return Gemm(st.target, tensor_name(fa), ia != (p, r), tensor_name(fb), False,
                st.accumulate, st.origin, st.phase)


class _Open:
    """The nest being filled, with what it has written and read so far."""

    def __init__(self, st: Stmt):
        self.nest = Nest(st.loops, [], st.origin)
        self.writes: dict[str, list] = {}     # tensor -> [(index, plain and owned)]
        self.reads: set = set()
        self.accumulates: dict[str, bool] = {}
        self.add(st)

    def add(self, st: Stmt):
        self.nest.items.append(st)
        owned = is_plain_target(st)
        for name, index in ((st.target, tuple(st.target_index)),) + \
                (((st.argmax, tuple(st.target_index)),) if st.argmax else ()):
            self.writes.setdefault(name, []).append((index, owned))
            self.accumulates[name] = self.accumulates.get(name, True) and st.accumulate \
                and name == st.target
        self.reads |= _read_names(st)

    def accepts(self, st: Stmt) -> bool:
        if st.loops != self.nest.loops:
            return False
        if not st.loops:
            return True           # one element each, in program order
        if not st.accumulate and not is_plain_target(st):
            return False          # piecewise writers (padding, concatenate) stand alone
        plain = tuple(s for s, _ in st.loops)
        for acc in _read_accesses(st):
            name = tensor_name(acc)
            for index, owned in self.writes.get(name, ()):
                if not owned or index != plain or tuple(acc.indices) != plain:
                    return False  # another iteration writes it: not complete yet
        targets = [st.target] + ([st.argmax] if st.argmax else [])
        for name in targets:
            if name in self.reads:
                return False      # an earlier statement of the nest reads it
            if name in self.writes and not (st.accumulate and self.accumulates[name]):
                return False
        return True


def _read_accesses(st: Stmt) -> list:
    found = list(accesses(st.body))
    for ix in st.target_index:
        found += accesses(sp.sympify(ix))
    return found


def _read_names(st: Stmt) -> set:
    return {tensor_name(a) for a in _read_accesses(st)}


def schedule(prog: Program) -> Schedule:
    """Blocks and allocations for any program (forward, vjp, jvp, hvp). A run of scan
    statements is scheduled as one step (its statements without the step loop) between
    ScanStart and ScanEnd; nothing fuses across the run's ends."""
    blocks = []
    for key, stmts in scan_runs(prog.stmts):
        if key is None:
            blocks += _blocks(stmts, prog)
            continue
        step, count, direction, origin, _ = key
        blocks.append(ScanStart(step, count, direction, origin))
        blocks += _blocks([step_body(st) for st in stmts], prog, gemms=False)
        blocks.append(ScanEnd())
    return _allocate(Schedule(prog, blocks))


def _blocks(stmts, prog: Program, gemms=True) -> list:
    """Fused nests and GEMMs (`gemms=False` inside a step: np.dot writes whole arrays)."""
    blocks, current = [], None
    for st in stmts:
        gemm = as_gemm(st, prog.tensors) if gemms else None
        if gemm:
            blocks.append(gemm)
            current = None
        elif current is not None and current.accepts(st):
            current.add(st)
        else:
            current = _Open(st)
            blocks.append(current.nest)
    return blocks


def _allocate(sched: Schedule) -> Schedule:
    """np.empty for buffers whose first write covers them (that write becomes `=`),
    np.zeros for the rest; arguments are never allocated."""
    prog = sched.program
    inputs = {a.ident for a in prog.args if a.is_tensor}
    alloc, blocks = {}, []
    in_scan = 0        # a statement inside a scan runs once per step: it never covers
    for block in sched.blocks:
        if isinstance(block, (ScanStart, ScanEnd)):
            in_scan += 1 if isinstance(block, ScanStart) else -1
            blocks.append(block)
            continue
        if isinstance(block, Gemm):
            if block.target not in alloc and block.target not in inputs:
                alloc[block.target] = "gemm"
                block = replace(block, accumulate=False)
            blocks.append(block)
            continue
        items = []
        for st in block.items:
            for name in (st.target, st.argmax):
                if name is None or name in alloc or name in inputs:
                    continue
                alone = sum(1 for o in block.items if name in (o.target, o.argmax)) == 1
                if name == st.target and alone and not in_scan and \
                        covers(st, prog.tensors[name]):
                    alloc[name] = "empty"
                    st = st.with_(accumulate=False)
                else:
                    alloc[name] = "empty" if name == st.argmax else "zeros"
            items.append(st)
        blocks.append(Nest(block.loops, items, block.origin))
    return Schedule(prog, blocks, alloc)


def saved_for_backward(sched: Schedule) -> list:
    """Forward tensors that backward statements read (what reverse mode keeps), in order."""
    prog = sched.program
    forward = {st.target for st in prog.stmts if st.phase == "forward"} | \
        {st.argmax for st in prog.stmts if st.phase == "forward" and st.argmax}
    out = []
    for st in prog.stmts:
        if st.phase != "forward":
            for name in sorted(_read_names(st)):
                if name in forward and name not in out:
                    out.append(name)
    return out
