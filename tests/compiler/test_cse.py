"""CSE on tiny bodies: what becomes a temporary, in which order, and that substituting the
temporaries back gives exactly the bodies it was given (random bodies, hypothesis)."""
from __future__ import annotations

import sympy as sp
from hypothesis import given, settings, strategies as st

from adc.compiler import cse
from adc.compiler.ir import Stmt, tensor_base

i, j = (sp.Symbol(n, integer=True) for n in "ij")
x, y, z = (tensor_base(n) for n in "xyz")


def _evaluated(e):
    """e rebuilt with SymPy's evaluation (temporaries are built unevaluated)."""
    return e.func(*[_evaluated(a) for a in e.args]) if e.args else e


def _expanded(lets, body):
    """body with every temporary replaced by its definition (innermost first)."""
    for let in reversed(lets):
        body = body.xreplace({let.symbol: let.expr})
    return body


def test_a_shared_subexpression_is_computed_once():
    shared = sp.tanh(x[i] * y[i] + 1)
    lets, (a, b) = cse.cse_bodies([shared * z[i], shared + z[i]])
    assert [let.expr for let in lets] == [shared]
    t = lets[0].symbol
    assert _evaluated(a) == t * z[i] and _evaluated(b) == t + z[i]


def test_index_arithmetic_accesses_and_negations_are_never_temporaries():
    bodies = [x[2 * i + 1] * -y[i] + sp.exp(-y[i]), x[2 * i + 1] - y[i] + sp.sin(-y[i])]
    lets, reduced = cse.cse_bodies(bodies)
    assert lets == [] and reduced == bodies


def test_a_repeated_condition_is_named_and_reads_as_a_condition():
    cond = sp.And(sp.Eq(j, y[i]), x[i] > 0)
    bodies = [sp.Piecewise((x[i], cond), (0, True)), sp.Piecewise((z[i], cond), (1, True))]
    lets, reduced = cse.cse_bodies(bodies)
    assert [let.expr for let in lets] == [cond]
    assert [_expanded(lets, b) for b in reduced] == bodies


def test_temporaries_are_numbered_from_start_in_order_of_use_and_deterministic():
    inner = sp.exp(x[i] * y[i])
    outer = sp.log(inner + z[i])
    bodies = [outer * inner, outer + inner]
    first = cse.cse_bodies(bodies, start=7)
    assert first == cse.cse_bodies(bodies, start=7)
    lets, _ = first
    assert [str(let.symbol) for let in lets] == ["tmp7", "tmp8"]
    assert lets[0].expr == inner                  # a part before what uses it
    assert _evaluated(lets[1].expr) == sp.log(lets[0].symbol + z[i])


def test_a_temporary_is_defined_once_before_its_first_user():
    # tmp10 sorts before tmp9 by name and uses it: each still appears once, in order
    lets = [cse.Let(sp.Symbol(f"tmp{k}", real=True), e) for k, e in
            ((9, sp.exp(x[i])), (10, sp.Symbol("tmp9", real=True) + 1))]
    t9, t10 = (let.symbol for let in lets)
    st = Stmt("out", (i,), ((i, 4),), t10 * t9)
    out = cse._interleave(lets, [st])
    assert out == [lets[0], lets[1], st]


LEAVES = [x[i], y[i], z[i + 1], sp.Symbol("a", real=True)]


def _bodies():
    leaf = st.sampled_from(LEAVES) | st.sampled_from([sp.Integer(2), sp.Float(0.5)])

    def extend(children):
        return st.one_of(
            st.tuples(children, children).map(lambda p: p[0] + p[1]),
            st.tuples(children, children).map(lambda p: p[0] * p[1]),
            st.tuples(children, children).map(lambda p: p[0] - p[1]),
            children.map(sp.tanh), children.map(sp.exp), children.map(lambda c: c ** 2),
            st.tuples(children, children).map(
                lambda p: sp.Piecewise((p[0], LEAVES[0] > 0), (p[1], True))))
    return st.recursive(leaf, extend, max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(_bodies(), min_size=1, max_size=4))
def test_substituting_the_temporaries_back_gives_the_bodies_exactly(bodies):
    bodies = [sp.sympify(b) for b in bodies]
    lets, reduced = cse.cse_bodies(bodies)
    assert [_expanded(lets, b) for b in reduced] == bodies
    names = {let.symbol for let in lets}
    for k, let in enumerate(lets):     # each temporary reads only earlier ones
        assert let.expr.free_symbols & names <= {t.symbol for t in lets[:k]}
