"""The rewrite pass: each rule on tiny expressions, the user's own unstable formulas at
extreme inputs against mpmath at 50 digits, against the built-in stable functions in
float64 and float32, and the rewritten program equal to the original wherever the
original is finite."""
from __future__ import annotations

import os
import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy.codegen.cfunctions import expm1, log1p

import adc
from adc.compiler import ops, rewrite

from conftest import compile_to, write_model

mpmath.mp.dps = 50
z, a, b = sp.symbols("z a b", real=True)


# -- each rule on a tiny expression ------------------------------------------------------
@pytest.mark.parametrize("before, after, rule", [
    (1 / (1 + sp.exp(-z)), ops.sigmoid(z), "sigmoid"),
    (sp.exp(z) / (1 + sp.exp(z)), ops.sigmoid(z), "sigmoid_ratio"),
    (sp.log(1 + sp.exp(z)), ops.softplus(z), "softplus"),
    (sp.log(ops.sigmoid(z)), ops.log_sigmoid(z), "log_sigmoid"),
    (sp.log(1 - ops.sigmoid(z)), ops.log_sigmoid(-z), "one_minus_sigmoid"),
    (1 - ops.sigmoid(z), ops.sigmoid(-z), "one_minus_sigmoid"),
    ((sp.exp(z) - sp.exp(-z)) / (sp.exp(z) + sp.exp(-z)), ops.tanh(z), "tanh"),
    (sp.log(sp.exp(a) + sp.exp(b)), ops.logaddexp(a, b), "logaddexp"),
    (sp.log(1 + a * a), log1p(a * a), "log1p"),
    (sp.exp(a) - 1, expm1(a), "expm1"),
    (sp.log(sp.exp(a) / (1 + b)), a - log1p(b), "log_of_exp_product"),
])
def test_scalar_rule(before, after, rule):
    fired = []
    assert sp.simplify(rewrite.rewrite_scalar(before, fired) - after) == 0 or \
        rewrite.rewrite_scalar(before, []) == after
    assert rule in fired


def test_every_rule_has_its_formula_as_docstring():
    for rule in rewrite.SCALAR_RULES:
        assert "->" in (rule.__doc__ or ""), rule.__name__


# -- the user's formulas, compiled, at extreme inputs ------------------------------------
Z = np.array([-1000.0, -700.0, -100.0, -30.0, -1.5, 0.0, 1e-8, 2.0, 30.0, 100.0, 700.0,
              1000.0])
N = len(Z)

HAND = f'''from adc.lang import *
N = {N}

def sig(z: Param[N]):
    return 1 / (1 + exp(-z))

def sig_ratio(z: Param[N]):
    e = exp(z)
    return e / (1 + e)

def splus(z: Param[N]):
    return log(1 + exp(z))

def log_sig(z: Param[N]):
    return log(1 / (1 + exp(-z)))

def log_one_minus_sig(z: Param[N]):
    p = 1 / (1 + exp(-z))
    return log(1 - p)

def tanh_(z: Param[N]):
    return (exp(z) - exp(-z)) / (exp(z) + exp(-z))

def lse(z: Param[2, N]):
    return log(sum(exp(z), axis=1))

def smax(z: Param[2, N]):
    return exp(z) / sum(exp(z), axis=1, keepdims=True)

def lsmax(z: Param[2, N]):
    return log(exp(z) / sum(exp(z), axis=1, keepdims=True))

def lae(a: Param[N], b: Param[N]):
    return log(exp(a) + exp(b))
'''

EXACT = {
    "sig": lambda x: 1 / (1 + mpmath.exp(-x)),
    "sig_ratio": lambda x: mpmath.exp(x) / (1 + mpmath.exp(x)),
    "splus": lambda x: mpmath.log1p(mpmath.exp(x)),
    "log_sig": lambda x: -mpmath.log1p(mpmath.exp(-x)),
    "log_one_minus_sig": lambda x: -mpmath.log1p(mpmath.exp(x)),
    "tanh_": mpmath.tanh,
}


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rewrite")
    return compile_to(write_model(folder, HAND, "hand"), str(folder))


def _agree(got, exact, what, rtol=1e-12):
    """Relative 1e-12 where the exact value is a normal float; absolute below that."""
    got = np.asarray(got, dtype=np.float64).reshape(-1)
    exact = [float(v) for v in exact]
    assert np.all(np.isfinite(got)), f"{what}: {got}"
    for g, e in zip(got, exact):
        tol = rtol * abs(e) if abs(e) >= np.finfo(float).tiny else 1e-300
        assert abs(g - e) <= tol, f"{what}: {g!r} vs exact {e!r}"


def _sigmoid(x):
    return 1 / (1 + mpmath.exp(-x))


def _dsigmoid(x):
    return mpmath.exp(-x) / (1 + mpmath.exp(-x)) ** 2


# the exact derivatives, in closed forms mpmath evaluates without cancellation
DERIVATIVE = {"sig": _dsigmoid, "sig_ratio": _dsigmoid, "splus": _sigmoid,
              "log_sig": lambda x: _sigmoid(-x), "log_one_minus_sig": lambda x: -_sigmoid(x),
              "tanh_": lambda x: mpmath.sech(x) ** 2}


@pytest.mark.parametrize("fname", list(EXACT))
def test_elementwise_forms_at_extremes_match_mpmath(hand, fname):
    f = EXACT[fname]
    _agree(getattr(hand, fname)(Z), [f(mpmath.mpf(x)) for x in Z], f"{fname} value")
    grads = getattr(hand, f"{fname}_vjp")(Z, cotangent=np.ones(N)).z
    _agree(grads, [DERIVATIVE[fname](mpmath.mpf(x)) for x in Z], f"{fname} gradient")


def _rows():
    return np.stack([Z, Z[::-1] * 0.5])


def _log_norm(row):
    """(m, log(sum(exp(row - m)))) with the max's own 1 kept out of the sum (log1p), so
    that mpmath's 50 digits do not cancel either."""
    xs = [mpmath.mpf(x) for x in row]
    m = max(xs)
    first = xs.index(m)
    rest = mpmath.fsum(mpmath.exp(x - m) for k, x in enumerate(xs) if k != first)
    return m, mpmath.log1p(rest)


def _lse_exact(row):
    m, l = _log_norm(row)
    return m + l


def _log_softmax_exact(row):
    m, l = _log_norm(row)
    return [(mpmath.mpf(x) - m) - l for x in row]


def test_log_sum_exp_by_hand_matches_mpmath(hand):
    rows = _rows()
    _agree(hand.lse(rows), [_lse_exact(r) for r in rows], "logsumexp value")
    g = hand.lse_vjp(rows, cotangent=np.ones(2)).z
    exact = [mpmath.exp(v) for r in rows for v in _log_softmax_exact(r)]
    _agree(g, exact, "logsumexp gradient (the softmax)")


def test_softmax_and_log_softmax_by_hand_match_mpmath(hand):
    rows = _rows()
    exact_log = [v for r in rows for v in _log_softmax_exact(r)]
    _agree(hand.smax(rows), [mpmath.exp(v) for v in exact_log], "softmax value")
    _agree(hand.lsmax(rows), exact_log, "log_softmax value")
    u = np.arange(2 * N, dtype=float).reshape(2, N) / N
    g = hand.lsmax_vjp(rows, cotangent=u).z
    exact_g = []
    for k, r in enumerate(rows):
        p = [mpmath.exp(v) for v in _log_softmax_exact(r)]
        total = mpmath.fsum(mpmath.mpf(v) for v in u[k])
        exact_g += [mpmath.mpf(u[k][j]) - p[j] * total for j in range(N)]
    _agree(g, exact_g, "log_softmax gradient", rtol=1e-11)


def test_logaddexp_by_hand_matches_mpmath(hand):
    other = Z[::-1] + 3.0
    exact = [max(x, y) + mpmath.log1p(mpmath.exp(-abs(mpmath.mpf(x) - mpmath.mpf(y))))
             for x, y in zip(Z, other)]
    _agree(hand.lae(Z, other), exact, "logaddexp value")


# -- inside a hidden layer, against the built-in functions, float64 and float32 -------------
LAYER = '''from adc.lang import *
N = dim("N")

def hand(X: Data[N, 3], W: Param[3, 4], v: Param[4]):
    h = 1 / (1 + exp(-(X @ W)))
    s = log(1 + exp(h @ v * 800.0 - 400.0))
    return sum(s) + sum(log(sum(exp(X @ W), axis=1)))

def builtin(X: Data[N, 3], W: Param[3, 4], v: Param[4]):
    h = sigmoid(X @ W)
    s = softplus(h @ v * 800.0 - 400.0)
    return sum(s) + sum(logsumexp(X @ W, axis=1))
'''


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_hand_written_layer_equals_builtins(tmp_path, dtype, rtol):
    module = compile_to(write_model(tmp_path, LAYER, "layer"), str(tmp_path))
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((5, 3)) * 300).astype(dtype)     # pre-activations to ~1000
    W = rng.standard_normal((3, 4)).astype(dtype)
    v = rng.standard_normal(4).astype(dtype)
    vh, gh = module.hand_value_and_grad(X, W, v)
    vb, gb = module.builtin_value_and_grad(X, W, v)
    assert np.isfinite(vh) and np.all(np.isfinite(gh.W)) and np.all(np.isfinite(gh.v))
    np.testing.assert_allclose(vh, vb, rtol=rtol)
    np.testing.assert_allclose(gh.W, gb.W, rtol=rtol, atol=rtol * np.abs(gb.W).max())
    np.testing.assert_allclose(gh.v, gb.v, rtol=rtol, atol=rtol * np.abs(gb.v).max())


# -- rewriting never changes a finite value -------------------------------------------------
@pytest.fixture(scope="module")
def both(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rewrite-both")
    path = write_model(folder, HAND, "both")
    on = adc.compile(path, str(folder / "on_adc.py"))
    off = adc.compile(path, str(folder / "off_adc.py"), rewrites=False)
    return on, off


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(st.floats(-12, 12), min_size=N, max_size=N))
def test_rewritten_equals_original_where_finite(both, xs):
    """|x| <= 12: beyond, the original formulas themselves lose digits (log(1 - p) for p
    within 1e-9 of 1 is off by 1e-8), so they are no reference there; mpmath is, above."""
    on, off = both
    x = np.array(xs)
    rows = np.stack([x, x[::-1]])
    for fname, args in [(f, (x,)) for f in EXACT] + [("lse", (rows,)), ("smax", (rows,)),
                                                     ("lsmax", (rows,)), ("lae", (x, -x))]:
        with np.errstate(all="ignore"):
            original = np.asarray(getattr(off, fname)(*args))
        rewritten = np.asarray(getattr(on, fname)(*args))
        finite = np.isfinite(original)
        # the original itself is only absolutely accurate where it cancels (log(1 - p)
        # for p near 1): allow its rounding, ~1e-16 of the O(1) values it subtracts
        np.testing.assert_allclose(rewritten[finite], original[finite], rtol=1e-9,
                                   atol=1e-14, err_msg=fname)


def test_no_rewrite_keeps_the_formula(tmp_path):
    src = "from adc.lang import *\ndef f(z: Param[3]):\n    return sum(1 / (1 + exp(-z)))\n"
    path = write_model(tmp_path, src)
    off = adc.compile(path, str(tmp_path / "off_adc.py"), rewrites=False)
    on = adc.compile(path, str(tmp_path / "on_adc.py"))
    big = np.array([-1000.0, 0.0, 1000.0])
    with np.errstate(all="ignore"):
        assert not np.all(np.isfinite(off.f_grad(big).z))      # exp(1000) overflows
    assert np.all(np.isfinite(on.f_grad(big).z))


def test_every_rule_is_in_the_docs():
    """docs/language.md §2.7 lists each scalar rule with its formula."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "docs", "language.md"), encoding="utf-8") as f:
        docs = f.read()
    for rule in rewrite.SCALAR_RULES:
        formula = rule.__doc__.strip().splitlines()[0]
        assert f"| `{rule.__name__[5:]}` | `{formula}` |" in docs, rule.__name__


# -- a hand-written softmax cross-entropy is cross_entropy ---------------------------------
CROSS = '''from adc.lang import *
N = dim("N")
C = dim("C")

def builtin(z: Param[N, C], y: Index[N]):
    return cross_entropy(z, y)

def by_log_softmax(z: Param[N, C], y: Index[N]):
    return -mean(log_softmax(z, axis=1)[arange(N), y])

def by_softmax(z: Param[N, C], y: Index[N]):
    p = softmax(z, axis=1)
    return -mean(log(p[arange(N), y]))

def by_logsumexp(z: Param[N, C], y: Index[N]):
    return mean(logsumexp(z, axis=1) - z[arange(N), y])

def by_log_sum_exp(z: Param[N, C], y: Index[N]):
    return sum(log(sum(exp(z), axis=1)) - z[arange(N), y]) / N

def by_ratio(z: Param[N, C], y: Index[N]):
    p = exp(z) / sum(exp(z), axis=1, keepdims=True)
    return -sum(log(p[arange(N), y])) / N

def summed(z: Param[N, C], y: Index[N]):
    return -sum(log_softmax(z, axis=1)[arange(N), y])

def in_a_network(X: Data[N, 3], W: Param[3, 5], y: Index[N]):
    z = tanh(X @ W) * 900.0
    return -mean(log_softmax(z, axis=1)[arange(N), y])

def network_builtin(X: Data[N, 3], W: Param[3, 5], y: Index[N]):
    return cross_entropy(tanh(X @ W) * 900.0, y)

def not_cross_entropy(z: Param[N, C], y: Index[N]):
    return mean(logsumexp(z, axis=1) - 2.0 * z[arange(N), y])
'''
HAND_CE = ["by_log_softmax", "by_softmax", "by_logsumexp", "by_log_sum_exp", "by_ratio"]


@pytest.fixture(scope="module")
def cross(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cross")
    path = write_model(folder, CROSS, "cross")
    return path, compile_to(path, str(folder))


def _ce_exact(z, y):
    """mean_i (logsumexp(z_i) - z_i[y_i]) and its gradient, in mpmath at 50 digits."""
    n = len(y)
    value, grad = mpmath.mpf(0), []
    for row, label in zip(z, y):
        lse = mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(float(v))) for v in row))
        value += lse - mpmath.mpf(float(row[label]))
        grad.append([(mpmath.exp(mpmath.mpf(float(v)) - lse) - (j == label)) / n
                     for j, v in enumerate(row)])
    return value / n, grad


def _extreme_logits(dtype):
    z = np.array([[1000.0, -1000.0, 0.0, 30.0], [-1000.0, -999.0, -1000.0, -1000.0],
                  [0.0, 0.0, 0.0, 0.0], [40.0, 0.0, -3.0, 1e-8], [-700.0, 700.0, 5.0, 2.0]])
    return z.astype(dtype), np.array([0, 1, 2, 0, 3])


@pytest.mark.parametrize("fname", HAND_CE)
def test_hand_written_cross_entropy_is_rewritten(cross, fname):
    from click.testing import CliRunner
    from adc.cli.main import main
    path, _ = cross
    rules = [a.rule for a in _rewrites(path, fname)]
    assert "cross_entropy" in rules, rules
    # the backward pass is the library's rule: one nest, (softmax - onehot)/N
    shown = CliRunner().invoke(main, ["inspect", path, "--function", fname, "--show",
                                      "formulas"])
    assert shown.exit_code == 0, shown.output
    assert "(softmax(z)[i, j] - onehot(y)[i, j])/N" in shown.output, shown.output


def _rewrites(path, fname):
    from adc.compiler import driver
    lowered = [p for p in driver.lower(path, open(path).read()) if p.name == fname][0]
    return driver.transforms(lowered)["value"].rewrites


@pytest.mark.parametrize("fname", HAND_CE + ["summed"])
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_hand_written_cross_entropy_at_extremes(cross, fname, dtype, rtol):
    """Logits up to 1000, in float64 and float32: the same value and gradient as the
    built-in cross_entropy, and mpmath's at 50 digits."""
    _, module = cross
    z, y = _extreme_logits(dtype)
    value, grad = getattr(module, f"{fname}_value_and_grad")(z, y)
    v_ref, g_ref = module.builtin_value_and_grad(z, y)
    scale = len(y) if fname == "summed" else 1
    np.testing.assert_allclose(value, scale * v_ref, rtol=rtol)
    np.testing.assert_allclose(grad.z, scale * g_ref.z, rtol=rtol, atol=rtol * 1e-3)
    if dtype == np.float64:
        exact_value, exact_grad = _ce_exact(z, y)
        _agree([value / scale], [exact_value], f"{fname} value")
        for row, exact_row in zip(grad.z / scale, exact_grad):
            for g, e in zip(row, exact_row):
                assert abs(g - float(e)) <= 1e-12 * abs(float(e)) + 1e-300, (fname, g, e)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_hand_written_cross_entropy_inside_a_network(cross, dtype, rtol):
    path, module = cross
    assert "cross_entropy" in [a.rule for a in _rewrites(path, "in_a_network")]
    rng = np.random.default_rng(1)
    X = (rng.standard_normal((6, 3)) * 5).astype(dtype)
    W = rng.standard_normal((3, 5)).astype(dtype)
    y = rng.integers(0, 5, 6)
    vh, gh = module.in_a_network_value_and_grad(X, W, y)
    vb, gb = module.network_builtin_value_and_grad(X, W, y)
    assert np.isfinite(vh) and np.all(np.isfinite(gh.W))
    np.testing.assert_allclose(vh, vb, rtol=rtol)
    np.testing.assert_allclose(gh.W, gb.W, rtol=rtol, atol=rtol * np.abs(gb.W).max())


def test_a_different_loss_is_not_taken_for_cross_entropy(cross):
    """logsumexp(z) - 2 z[y] is not cross_entropy: no rewrite, and the eager value and
    central differences agree with the compiled ones."""
    path, module = cross
    assert "cross_entropy" not in [a.rule for a in _rewrites(path, "not_cross_entropy")]
    rng = np.random.default_rng(2)
    z, y = rng.standard_normal((4, 3)), np.array([0, 2, 1, 2])
    value, grad = module.not_cross_entropy_value_and_grad(z, y)

    def eager(z):
        lse = np.log(np.exp(z).sum(axis=1))
        return np.mean(lse - 2.0 * z[np.arange(4), y])
    assert np.isclose(value, eager(z), rtol=1e-12)
    h, fd = 1e-6, np.zeros_like(z)
    for k in np.ndindex(z.shape):
        e = np.zeros_like(z)
        e[k] = h
        fd[k] = (eager(z + e) - eager(z - e)) / (2 * h)
    np.testing.assert_allclose(grad.z, fd, rtol=1e-6, atol=1e-9)


@pytest.fixture(scope="module")
def cross_both(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cross-both")
    path = write_model(folder, CROSS, "cross_both")
    return adc.compile(path, str(folder / "on_adc.py")), \
        adc.compile(path, str(folder / "off_adc.py"), rewrites=False)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.lists(st.floats(-12, 12), min_size=12, max_size=12),
       st.lists(st.integers(0, 3), min_size=3, max_size=3))
def test_cross_entropy_rewrite_equals_original_where_finite(cross_both, xs, labels):
    on, off = cross_both
    z, y = np.array(xs).reshape(3, 4), np.array(labels)
    for fname in HAND_CE + ["summed"]:
        v_on, g_on = getattr(on, f"{fname}_value_and_grad")(z, y)
        v_off, g_off = getattr(off, f"{fname}_value_and_grad")(z, y)
        np.testing.assert_allclose(v_on, v_off, rtol=1e-12, atol=1e-15, err_msg=fname)
        np.testing.assert_allclose(g_on.z, g_off.z, rtol=1e-10, atol=1e-15, err_msg=fname)


def test_a_loss_that_branches_on_the_row_max_is_not_taken_for_cross_entropy(tmp_path):
    """where(max > 0, lse - z[y], 0) equals cross_entropy's row loss only where the max
    is positive: the rule must see the user's condition, not treat it as the stable
    softmax's own branches."""
    source = '''from adc.lang import *
N = dim("N")

def loss(z: Param[N, 3], y: Index[N]):
    m = max(z, axis=1)
    rest = sum(exp(z - m[:, None]), axis=1)
    return mean(where(m > 0, log(rest) + m - z[arange(N), y], 0.0))
'''
    path = write_model(tmp_path, source, "branchy")
    assert "cross_entropy" not in [a.rule for a in _rewrites(path, "loss")]
    module = compile_to(path, str(tmp_path))
    z, y = np.array([[1.0, 2.0, 0.5], [-1.0, -2.0, -3.0]]), np.array([0, 1])
    m = z.max(axis=1)
    lse = np.log(np.exp(z - m[:, None]).sum(axis=1)) + m
    expected = np.mean(np.where(m > 0, lse - z[np.arange(2), y], 0.0))
    assert np.isclose(module.loss(z, y), expected, rtol=1e-12)


def test_log_of_a_full_sum_of_exp_is_a_rank_0_logsumexp(tmp_path):
    """`log(sum(exp(h)))` over every axis: the rewritten logsumexp is read at [0] (it was
    read at [0, 0] of a one-element buffer, a module Numba could not type)."""
    from conftest import check_against_eager
    source = ("from adc.lang import *\n\n"
              "def f(x: Param[3, 2]):\n"
              "    h = tanh(x) * 300.0\n"
              "    return log(sum(exp(h)))\n")
    module = check_against_eager(tmp_path, source)
    x = np.array([[0.3, -1.0], [2.0, 0.5], [-0.2, 1.5]])
    h = np.tanh(x) * 300.0
    expected = h.max() + np.log(np.sum(np.exp(h - h.max())))
    assert abs(module.f(x=x) - expected) <= 1e-12 * abs(expected)
