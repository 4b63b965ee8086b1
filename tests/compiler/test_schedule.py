"""The scheduler on tiny IR: coverage decides np.empty vs np.zeros, GEMMs see whole arrays,
fusion never lets a statement see a value another iteration has not written yet."""
from __future__ import annotations

import sympy as sp

from adc.compiler import schedule
from adc.compiler.ir import Arg, Program, Stmt, Tensor

i, j, r = (sp.Symbol(n, integer=True) for n in "ijr")
N = sp.Symbol("N", integer=True, positive=True)


def _t(name, *shape, role="temp"):
    return Tensor(name, tuple(sp.sympify(s) for s in shape), role=role)


def _program(stmts, tensors, args=()):
    tensors = {t.name: t for t in tensors}
    args = [Arg(t.name, t.role if t.role != "temp" else "param", t.shape) for t in args]
    return Program("f", args, tensors, stmts, [stmts[-1].target])


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
    s = _t("s", role="param")
    stmt = Stmt("d_x", (i,), ((i, 6),), sp.IndexedBase("s")[0], accumulate=True)
    sched = schedule.schedule(_program([stmt], [s, _t("d_x", 10)], [s]))
    assert sched.alloc["d_x"] == "zeros"
    (nest,) = sched.blocks
    assert nest.items[0].accumulate


def test_a_covering_first_write_is_an_assignment_into_an_empty_buffer():
    s = _t("s", role="param")
    stmt = Stmt("d_x", (i,), ((i, N),), sp.IndexedBase("s")[0], accumulate=True)
    sched = schedule.schedule(_program([stmt], [s, _t("d_x", N)], [s]))
    assert sched.alloc["d_x"] == "empty"
    assert not sched.blocks[0].items[0].accumulate


def test_gemm_only_on_whole_operands():
    X, A = sp.IndexedBase("X"), sp.IndexedBase("A")
    tensors = {"X": _t("X", N, 6, role="data"), "A": _t("A", 6, 4, role="param"),
               "mm": _t("mm", N, 4)}
    whole = Stmt("mm", (i, j), ((i, N), (j, 4)), X[i, r] * A[r, j], "sum", ((r, 6),))
    prefix = whole.with_(rloops=((r, 3),))
    assert schedule.as_gemm(whole, tensors) is not None
    assert schedule.as_gemm(prefix, tensors) is None


def test_inputs_are_never_allocated_and_accumulate_stays():
    """An input holding a value (a cotangent) is added to, never replaced or reallocated."""
    h, s = _t("d_h", 3, role="param"), _t("s", role="param")
    stmt = Stmt("d_h", (i,), ((i, 3),), sp.IndexedBase("s")[0], accumulate=True)
    sched = schedule.schedule(_program([stmt], [h, s], [h, s]))
    assert "d_h" not in sched.alloc
    assert sched.blocks[0].items[0].accumulate


def test_no_fusion_when_another_iteration_writes_the_value():
    """b[i] = sum over writes a[perm(i)]: reading a[i] in the same nest would be too early."""
    x = _t("x", 5, role="param")
    a, b = sp.IndexedBase("a"), sp.IndexedBase("b")
    write = Stmt("a", (4 - i,), ((i, 5),), sp.IndexedBase("x")[i], accumulate=True)
    read = Stmt("b", (i,), ((i, 5),), a[i] * 2)
    sched = schedule.schedule(_program([write, read], [x, _t("a", 5), _t("b", 5)], [x]))
    assert len(sched.blocks) == 2


def test_elementwise_chain_fuses_into_one_nest():
    x = _t("x", N, role="param")
    a = sp.IndexedBase("a")
    first = Stmt("a", (i,), ((i, N),), sp.exp(sp.IndexedBase("x")[i]))
    second = Stmt("b", (i,), ((i, N),), a[i] + 1)
    sched = schedule.schedule(_program([first, second], [x, _t("a", N), _t("b", N)], [x]))
    assert len(sched.blocks) == 1 and sched.alloc == {"a": "empty", "b": "empty"}


def test_no_write_after_read_in_one_nest():
    x = _t("x", 5, role="param")
    a = sp.IndexedBase("a")
    read = Stmt("b", (i,), ((i, 5),), a[i] * 2)
    write = Stmt("a", (i,), ((i, 5),), sp.IndexedBase("x")[i], accumulate=True)
    prog = _program([read, write], [x, _t("a", 5), _t("b", 5)], [x])
    assert len(schedule.schedule(prog).blocks) == 2
