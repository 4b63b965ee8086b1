"""The scheduler on tiny IR: coverage decides np.empty vs np.zeros, GEMMs see whole arrays."""
from __future__ import annotations

import sympy as sp

from adc.compiler import schedule
from adc.compiler.ir import Stmt, Tensor

i, j, r = (sp.Symbol(n, integer=True) for n in "ijr")
N = sp.Symbol("N", integer=True, positive=True)


def _t(name, *shape, role="temp"):
    return Tensor(name, tuple(sp.sympify(s) for s in shape), role=role)


def test_a_loop_over_part_of_an_axis_does_not_cover_it():
    x = _t("d_x", 10)
    part = Stmt("d_x", (i,), ((i, 6),), sp.Integer(1), accumulate=True)
    whole = Stmt("d_x", (i,), ((i, 10),), sp.Integer(1), accumulate=True)
    assert not schedule.covers(part, x)
    assert schedule.covers(whole, x)


def test_a_strided_or_shifted_write_does_not_cover():
    x = _t("d_x", 10)
    assert not schedule.covers(Stmt("d_x", (2 * i,), ((i, 5),), sp.Integer(1)), x)
    assert not schedule.covers(Stmt("d_x", (i + 1,), ((i, 9),), sp.Integer(1)), x)


def test_partial_gradient_buffers_are_zeroed():
    tensors = {"d_x": _t("d_x", 10, role="grad"), "d_s": _t("d_s", role="seed")}
    stmt = Stmt("d_x", (i,), ((i, 6),), sp.IndexedBase("d_s")[0], accumulate=True)
    sched = schedule.schedule_backward([stmt], [0], tensors, seeds=["d_s"])
    assert sched.alloc["d_x"] == "zeros"
    (nest,) = sched.blocks
    assert nest.items[0].accumulate


def test_a_covering_first_write_is_an_assignment_into_an_empty_buffer():
    tensors = {"d_x": _t("d_x", N, role="grad"), "d_s": _t("d_s", role="seed")}
    stmt = Stmt("d_x", (i,), ((i, N),), sp.IndexedBase("d_s")[0], accumulate=True)
    sched = schedule.schedule_backward([stmt], [0], tensors, seeds=["d_s"])
    assert sched.alloc["d_x"] == "empty"
    assert not sched.blocks[0].items[0].accumulate


def test_gemm_only_on_whole_operands():
    X, A, C = sp.IndexedBase("X"), sp.IndexedBase("A"), "mm"
    tensors = {"X": _t("X", N, 6, role="data"), "A": _t("A", 6, 4, role="param"),
               "mm": _t("mm", N, 4)}
    whole = Stmt(C, (i, j), ((i, N), (j, 4)), X[i, r] * A[r, j], "sum", ((r, 6),))
    prefix = whole.with_(rloops=((r, 3),))
    assert schedule.as_gemm(whole, tensors) is not None
    assert schedule.as_gemm(prefix, tensors) is None


def test_seeds_count_as_written():
    """A seed holds the cotangent: a later contribution must add to it, not replace it."""
    tensors = {"d_h": _t("d_h", 3, role="seed"), "d_s": _t("d_s", role="seed")}
    stmt = Stmt("d_h", (i,), ((i, 3),), sp.IndexedBase("d_s")[0], accumulate=True)
    sched = schedule.schedule_backward([stmt], [0], tensors, seeds=["d_s", "d_h"])
    assert "d_h" not in sched.alloc
    assert sched.blocks[0].items[0].accumulate
