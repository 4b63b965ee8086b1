"""vjp's fast rebuilding of derivative bodies on random bodies (hypothesis): the canonical
form's derivatives substituted back have the value xreplace gives, and the very same
expression where only sums, products and powers are involved (a function of a renamed
argument may keep its sign inside, tanh(-u) for -tanh(u)); the products and sums the
passes build are exactly SymPy's, so rewrites and CSE see what they saw before."""
from __future__ import annotations

import sympy as sp
from hypothesis import given, settings, strategies as st

from adc.compiler import jvp, vjp
from adc.compiler.ir import tensor_base

i = sp.Symbol("i", integer=True)
x, y, t = (tensor_base(n) for n in ("x", "y", "t_x"))
a = sp.Symbol("a", real=True)
LEAVES = [x[i], y[i], x[i + 1], a]


def _bodies():
    leaf = st.sampled_from(LEAVES) | st.sampled_from(
        [sp.Integer(2), sp.Integer(-1), sp.Float(0.25), sp.Float(-1.5)])

    def extend(c):
        return st.one_of(
            st.tuples(c, c).map(lambda p: p[0] + p[1]),
            st.tuples(c, c).map(lambda p: p[0] * p[1]),
            st.tuples(c, c).map(lambda p: p[0] - 2 * p[1]),
            st.tuples(c, c).map(lambda p: p[0] / (1 + p[1] ** 2)),
            c.map(sp.tanh), c.map(sp.exp), c.map(sp.sin), c.map(sp.Abs),
            c.map(lambda e: e ** 3), c.map(lambda e: sp.sqrt(1 + e ** 2)),
            st.tuples(c, c).map(lambda p: sp.Piecewise((p[0], p[1] > 0), (p[1], True))))
    return st.recursive(leaf, extend, max_leaves=10)


@settings(max_examples=150, deadline=None)
@given(_bodies())
def test_derivatives_substituted_back_are_what_xreplace_builds(body):
    body = sp.sympify(body)
    canonical, real, back, _ = vjp._canonical(body)
    _same(canonical, body.xreplace(real), body, real)
    substitution = vjp._back_substitution(body, None)
    for leaf in real:
        if isinstance(leaf, sp.Float):
            continue
        local = vjp._diff(canonical, real[leaf])
        _same(vjp._substitute(local, substitution), local.xreplace(back), body, real)


POINTS = [dict(zip(LEAVES, map(sp.Float, values)))
          for values in ((0.3, -1.2, 0.7, 2.1), (-0.8, 0.4, -1.9, -0.6))]


def _same(ours, theirs, body, real):
    """The same expression (sums, products and powers) or at least the same value."""
    algebraic = all(isinstance(e, (sp.Add, sp.Mul, sp.Pow, sp.Number, sp.Indexed, sp.Symbol))
                    for e in sp.preorder_traversal(body))
    if algebraic:
        assert ours == theirs
    for point in POINTS:
        numbers = {**point, **{s: point.get(leaf, leaf) for leaf, s in real.items()}}
        # SymPy numbers, not complex(): exp(exp(exp(a))) is finite but past float range
        values = [sp.sympify(e).xreplace(numbers).evalf(30) for e in (ours, theirs)]
        if not all(v.is_finite for v in values):
            assert values[0] == values[1] or not any(v.is_finite for v in values)
            continue
        assert sp.Abs(values[0] - values[1]) <= 1e-9 * (1 + sp.Abs(values[1]))


@settings(max_examples=150, deadline=None)
@given(_bodies(), _bodies())
def test_products_and_sums_with_a_new_leaf_are_sympys(first, second):
    first, second = sp.sympify(first), sp.sympify(second)
    assert vjp.times_leaf(first, t[i]) == first * t[i]
    terms = [vjp.times_leaf(first, t[i]), vjp.times_leaf(second, t[i + 1])]
    assert jvp._sum(terms) == sp.Add(*terms)
