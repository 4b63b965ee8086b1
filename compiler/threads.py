"""Threads: which loop nests of a schedule may run their outer loop on all cores.

One ownership analysis, shared with the CUDA backend: a statement is *owned* by loop
symbols when distinct values of them write distinct elements of its target (each symbol
is an entry of the target index by itself). The CPU kernels split a nest's outer loop
across threads (`prange`) when every statement is owned by that loop, or is a sum into a
small buffer (the bias gradient `d_b[j] += ...` over the batch, a convolution's kernel
gradient): such a *scatter* adds into per-chunk partial copies of its target, summed in
chunk order after the loop.

The outer loop then runs in chunks whose number depends on its size alone (up to
CHUNKS, each of CHUNK_ROWS rows or more), never on the number of threads, and the serial
kernel runs the same chunks one after another: the threaded results are the same, bit for
bit, on any number of threads and from run to run, and agree with the serial kernel's to
rounding (the two are compiled apart: LLVM may contract a multiply-add in one only).
"""
from __future__ import annotations

from dataclasses import replace

import sympy as sp

from .ir import Stmt
from .schedule import Gemm, Nest, ScanEnd, ScanStart, Schedule, spans

CHUNKS = 16            # most pieces of a scattering nest's outer loop (>= threads used)
CHUNK_ROWS = 64        # fewest rows per piece: a smaller batch runs in fewer pieces
PARTIAL_MAX = 4096     # largest scatter target (elements) given per-chunk partials


def owned_by(st: Stmt, syms) -> bool:
    """Whether distinct values of the loop symbols `syms` write distinct elements of the
    statement's target (and of its argmax, which shares the index)."""
    index = [sp.sympify(i) for i in st.target_index]
    return all(s in index for s in syms)


def _size(tensor) -> int | None:
    n = sp.Integer(1)
    for s in tensor.shape:
        n *= sp.sympify(s)
    return int(n) if n.is_Integer else None


def _summable(st: Stmt, tensor, nest: Nest) -> bool:
    """Whether the partials of a scatter target can be summed back with loops of the
    kernel: a vector or scalar (a flat loop), or a target indexed by distinct loop
    symbols over its whole shape (loops over those symbols)."""
    return tensor.rank <= 1 or spans(tensor, st.target_index, dict(nest.loops))


def _scatters(nest: Nest, tensors) -> tuple | None:
    """The targets a nest sums into across its outer loop, or None when the outer loop
    cannot run on threads."""
    outer, extent = nest.loops[0]
    if not sp.sympify(extent).free_symbols:
        return None        # a fixed, small loop: starting threads would cost more
    found = []
    for st in nest.items:
        if owned_by(st, (outer,)):
            continue
        tensor = tensors[st.target]
        size = _size(tensor)
        if not st.accumulate or st.argmax or st.reduce not in ("sum", "none") or \
                size is None or size > PARTIAL_MAX or not _summable(st, tensor, nest):
            return None    # a write other iterations also make: order matters
        if st.target not in found:
            found.append(st.target)
    return tuple(found)


def plan_threads(sched: Schedule) -> Schedule:
    """The schedule with `threads` set on every nest whose outer loop may be split across
    threads, and `scatters` on those that sum across it (nests of scan steps stay serial:
    a step is small, and starting threads once per step costs more than it saves)."""
    tensors = sched.program.tensors
    blocks, depth = [], 0
    for block in sched.blocks:
        if isinstance(block, (ScanStart, ScanEnd)):
            depth += 1 if isinstance(block, ScanStart) else -1
        elif isinstance(block, Nest) and block.loops and not depth:
            scatters = _scatters(block, tensors)
            if scatters is not None:
                block = replace(block, threads=True, scatters=scatters)
        blocks.append(block)
    return Schedule(sched.program, blocks, dict(sched.alloc))


def threaded(sched: Schedule) -> list:
    """The nests that run on threads."""
    return [b for b in sched.blocks if isinstance(b, Nest) and b.threads]


def work(sched: Schedule):
    """The elements of the largest threaded nest's loops, as a size expression (None when
    nothing runs on threads): what decides at run time whether a call is worth threads."""
    sizes = []
    for nest in threaded(sched):
        n = sp.Integer(1)
        for _, extent in nest.loops:
            n *= sp.sympify(extent)
        sizes.append(n)
    return sp.Max(*sizes) if sizes else None


# OpenBLAS runs a GEMM of at most 65536 * 4 multiply-adds (M*N*K) on one thread, a GEMV
# of at most 2304 * 4 matrix elements (its GEMM_MULTITHREAD_THRESHOLD of 4): the
# generated module's BLAS_ALONE is the first, and a GEMV's elements count GEMV_WEIGHT
# times so that the one bound covers both.
GEMV_WEIGHT = 29


def products(sched: Schedule):
    """The multiply-adds of the kernel's largest matrix product (GEMVs weighted), as a
    size expression, or None without products. A threaded call keeps every product at or
    below the module's BLAS_ALONE: above it BLAS runs the product on its own threads, which spin
    after the call, and the prange loops between products waited for a core (a threaded
    MLP was 20-40x slower than the serial kernel on 2 cores, bench/cpu.py at batch 256)."""
    tensors = sched.program.tensors
    loads = []
    for block in sched.blocks:
        if isinstance(block, Gemm):
            target, a = tensors[block.target].shape, tensors[block.a].shape
            inner = sp.sympify(a[0] if block.ta else a[-1])
            if len(target) == 2:
                loads.append(sp.sympify(target[0]) * sp.sympify(target[1]) * inner)
            else:
                loads.append(GEMV_WEIGHT * sp.sympify(target[0]) * inner)
    return sp.Max(*loads) if loads else None


__all__ = ["GEMV_WEIGHT", "products", "CHUNKS", "CHUNK_ROWS", "PARTIAL_MAX", "owned_by", "plan_threads", "threaded", "work"]
