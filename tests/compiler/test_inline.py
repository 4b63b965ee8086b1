"""Inlining on tiny IR: single-use elementwise temporaries fold into their reader, chains
fold into their last link, a temporary read twice stays stored, and the pass is linear
in the number of statements."""
from __future__ import annotations

import sympy as sp

from adc.compiler import inline
from adc.compiler.ir import Arg, Program, Stmt, Tensor, tensor_base

i = sp.Symbol("i", integer=True)
N = sp.Symbol("N", integer=True, positive=True)


def _t(name, role="temp"):
    return Tensor(name, (N,), role=role)


def _program(bodies):
    """x -> t1 -> t2 ... : `bodies[k]` is a function of the previous tensor's element."""
    tensors = [_t("x", "param")]
    stmts = []
    for k, body in enumerate(bodies, 1):
        prev = tensor_base(tensors[-1].name)[i]
        tensors.append(_t(f"t{k}"))
        stmts.append(Stmt(f"t{k}", (i,), ((i, N),), body(prev)))
    return Program("f", [Arg("x", "param", (N,))], {t.name: t for t in tensors}, stmts,
                   [stmts[-1].target])


def test_a_chain_folds_into_its_last_link():
    prog = inline.inline_elementwise(_program([sp.sin, sp.exp, lambda u: 2 * u]))
    (st,) = prog.stmts
    x = tensor_base("x")[i]
    assert st.target == "t3" and st.body == 2 * sp.exp(sp.sin(x))
    assert set(prog.tensors) == {"x", "t3"}


def test_a_temporary_read_twice_stays_stored():
    """tanh(t)*t with t = sin(x): inlining would compute sin twice per element, and in a
    chain of such statements the body would double with every link."""
    prog = inline.inline_elementwise(_program([sp.sin, lambda u: sp.tanh(u) * u]))
    assert [st.target for st in prog.stmts] == ["t1", "t2"]


def test_doubling_chains_stay_linear_in_size():
    prog = inline.inline_elementwise(_program([lambda u: sp.tanh(u) * u] * 60))
    assert len(prog.stmts) == 60
    assert all(sp.count_ops(st.body) <= 3 for st in prog.stmts)


def test_the_pass_reads_each_statement_a_bounded_number_of_times(monkeypatch):
    """Linear in program size: `reads` is called a bounded number of times per
    statement (it was called once per statement for every inlined temporary)."""
    calls = []
    real = inline.reads
    monkeypatch.setattr(inline, "reads", lambda st: calls.append(1) or real(st))
    n = 400
    prog = inline.inline_elementwise(_program([lambda u: sp.sin(u) + 1] * n))
    assert len(calls) <= 3 * n
    assert 1 < len(prog.stmts) < n / 10      # folded into bodies of bounded size
    assert all(inline._size(st.body) <= inline.MAX_BODY for st in prog.stmts)
