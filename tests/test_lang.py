"""adc.lang, the NumPy reference of the language, against independent formulas."""
import itertools
import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import adc.lang as L
from adc.lang import Data, Index, Param, dim

mpmath.mp.dps = 50
# Python's own builtins under unambiguous names (this file uses adc.lang's as L.sum ...).
builtin_abs, builtin_sum, builtin_max = abs, sum, max
EXTREMES = [-1000.0, -700.0, -30.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 30.0, 700.0, 1000.0]
rng = np.random.default_rng(0)


def assert_rel(actual, true, tol=1e-12):
    """Relative error <= tol against float(mpmath value); a true value that
    underflows to 0 in float64 must come out as exactly 0."""
    actual, true = float(actual), float(true)
    if true == 0.0:
        assert actual == 0.0, (actual, true)
    else:
        assert math.isfinite(actual) and builtin_abs(actual - true) <= tol * builtin_abs(true), \
            (actual, true)


# -- names and annotations ---------------------------------------------------------
SECTION_2 = """pi e arange exp log log1p expm1 sqrt square abs sin cos tan tanh sigmoid relu
leaky_relu elu softplus maximum minimum clip where sum mean max min logsumexp var softmax
log_softmax cross_entropy binary_cross_entropy_with_logits mse multiclass_hinge dot outer
transpose einsum reshape concatenate stack batch_norm layer_norm dropout conv2d max_pool2d
avg_pool2d Param Data Index dim""".split()


def test_all_lists_every_language_name():
    assert set(SECTION_2) <= set(L.__all__)
    for name in L.__all__:
        assert hasattr(L, name), name
    assert len(L.__all__) == len(set(L.__all__))


def test_every_compiler_function_has_a_reference():
    library = pytest.importorskip("adc.compiler.library")
    for name in list(library.FUNCTIONS) + list(library.CONSTANTS):
        assert name in L.__all__, name


def test_annotations_evaluate():
    N = dim("N")
    assert repr(N) == "dim('N')" and N.name == "N" and N == dim("N") and N != dim("M")
    assert Param[3, 4].shape == (3, 4) and Param[3, 4].kind == "Param"
    assert Param[()].shape == ()
    assert Param[7].shape == (7,)
    assert Data[dim("N"), 5].shape == (dim("N"), 5) and Data[N, 5].kind == "Data"
    assert Index[N].shape == (N,) and Index[N].kind == "Index"
    assert Param[np.int64(2), 3].shape == (2, 3)
    assert repr(Param[()]) == "Param[()]"
    assert repr(Data[N, 5]) == "Data[dim('N'), 5]"
    assert Param[3, 4] == Param[3, 4] and Param[3, 4] != Data[3, 4]


def test_bad_annotations_raise():
    with pytest.raises(TypeError):
        Param[1.5]
    with pytest.raises(TypeError):
        Param["N"]
    with pytest.raises(TypeError):
        Param()
    with pytest.raises(TypeError):
        dim(3)


def test_size_arithmetic_does_not_crash_an_eager_run():
    N = dim("N")
    assert (2 * N).name == "(2 * N)" and (N + 1).name == "(N + 1)"
    assert Data[N // 2, 3].shape[1] == 3


MODEL = '''
from adc.lang import Data, Param, Index, dim, relu, cross_entropy, sum

N = dim("N")
D, H, C = 4, 5, 3

def loss(X: Data[N, D], y: Index[N], W1: Param[D, H], b1: Param[H],
         W2: Param[H, C], b2: Param[C], lam: float = 1e-4):
    h = relu(X @ W1 + b1)
    logits = h @ W2 + b2
    return cross_entropy(logits, y) + lam * (sum(W1 * W1) + sum(W2 * W2))
'''


def test_language_example_runs_eagerly():
    ns = {}
    exec(compile(MODEL, "model.py", "exec"), ns)
    X, W1, b1 = rng.normal(size=(6, 4)), rng.normal(size=(4, 5)), rng.normal(size=5)
    W2, b2, y = rng.normal(size=(5, 3)), rng.normal(size=3), np.array([0, 1, 2, 2, 1, 0])
    got = ns["loss"](X, y, W1, b1, W2, b2)
    logits = np.maximum(X @ W1 + b1, 0) @ W2 + b2
    nll = [math.log(builtin_sum(math.exp(v) for v in row)) - row[t] for row, t in zip(logits, y)]
    want = builtin_sum(nll) / 6 + 1e-4 * (np.square(W1).sum() + np.square(W2).sum())
    assert np.ndim(got) == 0 and got == pytest.approx(want, rel=1e-12)
    assert ns["loss"].__annotations__["W1"] == Param[4, 5]


# -- constants and elementwise --------------------------------------------------------
def test_constants_and_arange():
    assert L.pi == math.pi and L.e == math.e
    np.testing.assert_array_equal(L.arange(4), [0, 1, 2, 3])
    assert np.issubdtype(L.arange(3).dtype, np.integer)


@pytest.mark.parametrize("name,ref", [
    ("exp", math.exp), ("log", math.log), ("log1p", math.log1p), ("expm1", math.expm1),
    ("sqrt", math.sqrt), ("square", lambda v: v * v), ("abs", math.fabs), ("sin", math.sin),
    ("cos", math.cos), ("tan", math.tan), ("tanh", math.tanh),
])
def test_plain_elementwise(name, ref):
    xs = np.array([0.1, 0.5, 1.0, 2.5, 3.0])
    fn = getattr(L, name)
    np.testing.assert_allclose(fn(xs), [ref(v) for v in xs], rtol=1e-14)
    assert fn(1.5) == pytest.approx(ref(1.5), rel=1e-14)
    assert fn(np.float32(1.5)).dtype == np.float32


def test_piecewise_elementwise():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_array_equal(L.relu(x), [0, 0, 0, 0.5, 2])
    np.testing.assert_array_equal(L.leaky_relu(x), [-0.02, -0.005, 0, 0.5, 2])
    np.testing.assert_array_equal(L.leaky_relu(x, slope=0.2), [-0.4, -0.1, 0, 0.5, 2])
    np.testing.assert_allclose(L.elu(x), [math.expm1(-2), math.expm1(-0.5), 0, 0.5, 2],
                               rtol=1e-15)
    np.testing.assert_allclose(L.elu(x, alpha=2.0)[:2], [2 * math.expm1(-2), 2 * math.expm1(-0.5)])
    assert L.leaky_relu(-3.0, 0.1) == pytest.approx(-0.3) and L.relu(-3.0) == 0
    assert L.elu(-1.0) == pytest.approx(math.expm1(-1.0), rel=1e-15)
    with np.errstate(over="raise", invalid="raise"):
        assert L.elu(1000.0) == 1000.0
    np.testing.assert_array_equal(L.clip(x, -1, 1), [-1, -0.5, 0, 0.5, 1])
    np.testing.assert_array_equal(L.maximum(x, 0.25), [0.25, 0.25, 0.25, 0.5, 2])
    np.testing.assert_array_equal(L.minimum(x, 0.25), [-2, -0.5, 0, 0.25, 0.25])
    np.testing.assert_array_equal(L.where(x > 0, x, -x), np.abs(x))
    np.testing.assert_array_equal(L.power(x, 2), x * x)


def test_elementwise_broadcasts():
    a, b = np.array([[1.0], [2.0]]), np.array([0.0, 3.0, 1.5])
    assert L.maximum(a, b).shape == (2, 3)
    np.testing.assert_array_equal(L.where(a > b, a, b), [[1, 3, 1.5], [2, 3, 2]])
    np.testing.assert_array_equal(L.clip(b, a, 2.0), [[1, 2, 1.5], [2, 2, 2]])


# -- the numerically delicate functions against mpmath ---------------------------------
def exact():
    """Enough digits that e**-1000 survives next to 1000: the reference never cancels."""
    return mpmath.workdps(1000)


def no_overflow():
    return np.errstate(over="raise", invalid="raise", divide="raise")


def mp_sigmoid(x):
    return 1 / (1 + mpmath.exp(-mpmath.mpf(x)))


def mp_softplus(x):
    return mpmath.log(1 + mpmath.exp(mpmath.mpf(x)))


@pytest.mark.parametrize("x", EXTREMES)
def test_sigmoid_and_softplus_are_exact(x):
    with exact(), no_overflow():
        assert_rel(L.sigmoid(x), mp_sigmoid(x))
        assert_rel(L.softplus(x), mp_softplus(x))
        assert_rel(L.sigmoid(np.array([x]))[0], mp_sigmoid(x))
        assert_rel(L.softplus(np.array([x]))[0], mp_softplus(x))


@pytest.mark.parametrize("x", EXTREMES)
def test_logsumexp_family_is_exact(x):
    v = np.array([x, 0.0, -2.0])
    with exact(), np.errstate(over="raise", invalid="raise"):
        mv = [mpmath.mpf(t) for t in v]
        lse = mpmath.log(builtin_sum(mpmath.exp(t) for t in mv))
        assert_rel(L.logsumexp(v), lse)
        for got, t in zip(L.log_softmax(v), mv):
            assert_rel(got, t - lse)
        for got, t in zip(L.softmax(v), mv):
            assert_rel(got, mpmath.exp(t - lse))
        # cross-entropy of a row is -log_softmax at the label: tiny when the label wins.
        for label in range(3):
            assert_rel(L.cross_entropy(v[None, :], np.array([label])), lse - mv[label])


@pytest.mark.parametrize("x", EXTREMES)
@pytest.mark.parametrize("y", [0.0, 0.3, 1.0])
def test_bce_with_logits_is_exact(x, y):
    with exact(), np.errstate(over="raise", invalid="raise"):
        p = mp_sigmoid(x)
        true = -y * mpmath.log(p) - (1 - y) * mpmath.log(1 - p)
        assert_rel(L.binary_cross_entropy_with_logits(np.array([x]), np.array([y])), true)


def test_logsumexp_edge_values():
    assert L.logsumexp([1000.0, 1000.0]) == pytest.approx(1000 + math.log(2), rel=1e-15)
    assert L.logsumexp([-np.inf, -np.inf]) == -np.inf
    assert L.logsumexp([np.inf, 1.0]) == np.inf
    assert L.logsumexp([-np.inf, 2.0]) == 2.0
    np.testing.assert_array_equal(L.softmax(np.array([[1000.0, 1000.0]])), [[0.5, 0.5]])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-300, 300), min_size=1, max_size=6))
def test_logsumexp_matches_mpmath(xs):
    true = mpmath.log(builtin_sum(mpmath.exp(mpmath.mpf(t)) for t in xs))
    got = L.logsumexp(np.array(xs))
    scale = builtin_max(1.0, builtin_abs(float(true)))
    assert builtin_abs(float(got) - float(true)) <= 1e-13 * scale
    p = L.softmax(np.array(xs))
    assert builtin_abs(p.sum() - 1) < 1e-13 and (p >= 0).all()


def test_stable_functions_keep_float32():
    x = np.array([-100.0, 0.0, 100.0], dtype=np.float32)
    for fn in (L.sigmoid, L.softplus, L.relu, L.elu, L.leaky_relu, L.softmax, L.log_softmax):
        assert fn(x).dtype == np.float32, fn.__name__
    assert L.logsumexp(x).dtype == np.float32
    assert np.isfinite(L.sigmoid(x)).all() and np.isfinite(L.softplus(x)).all()


# -- reductions --------------------------------------------------------------------------
def _by_loops(x, axis, fn, keepdims):
    """Reduce `x` over `axis` by gathering each slice into a Python list."""
    axes = tuple(range(x.ndim)) if axis is None else \
        tuple(a % x.ndim for a in (axis if isinstance(axis, tuple) else (axis,)))
    kept = [d for d in range(x.ndim) if d not in axes]
    out_shape = tuple(1 if d in axes else x.shape[d] for d in range(x.ndim)) if keepdims \
        else tuple(x.shape[d] for d in kept)
    out = np.empty([x.shape[d] for d in kept])
    for k in itertools.product(*(range(x.shape[d]) for d in kept)):
        vals = []
        for r in itertools.product(*(range(x.shape[d]) for d in axes)):
            idx = [0] * x.ndim
            for d, i in zip(kept, k):
                idx[d] = i
            for d, i in zip(axes, r):
                idx[d] = i
            vals.append(float(x[tuple(idx)]))
        out[k] = fn(vals)
    return out.reshape(out_shape)


def _var(vals):
    m = math.fsum(vals) / len(vals)
    return math.fsum((v - m) ** 2 for v in vals) / len(vals)


REDUCERS = {
    "sum": math.fsum,
    "mean": lambda v: math.fsum(v) / len(v),
    "max": lambda v: builtin_max(v),
    "min": lambda v: -builtin_max(-t for t in v),
    "var": _var,
    "logsumexp": lambda v: math.log(math.fsum(math.exp(t) for t in v)),
}


@pytest.mark.parametrize("name", sorted(REDUCERS))
def test_reductions(name):
    x = np.random.default_rng(1).normal(size=(2, 3, 4))
    for axis in [None, 0, 1, -1, (0, 2), (2, 0), (0, 1, 2), (-1, -2)]:
        for keepdims in (False, True):
            got = getattr(L, name)(x, axis=axis, keepdims=keepdims)
            want = _by_loops(x, axis, REDUCERS[name], keepdims)
            assert np.shape(got) == want.shape, (axis, keepdims)
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14, err_msg=str(axis))


def test_reductions_default_to_all_axes():
    x = np.array([[1.0, -2.0], [3.0, 5.0]])
    assert L.sum(x) == 7 and L.mean(x) == 1.75 and L.max(x) == 5 and L.min(x) == -2
    assert L.var(x) == pytest.approx(((1 - 1.75) ** 2 + 3.75 ** 2 + 1.25 ** 2 + 3.25 ** 2) / 4)
    assert L.var(np.array([1.0, 3.0])) == 1.0  # population variance, not 2.0
    assert np.ndim(L.logsumexp(x)) == 0
    assert L.sum(x, keepdims=True).shape == (1, 1)


def test_softmax_axis():
    x = np.array([[0.0, math.log(3.0)], [math.log(2.0), math.log(2.0)]])
    np.testing.assert_allclose(L.softmax(x), [[0.25, 0.75], [0.5, 0.5]], rtol=1e-15)
    np.testing.assert_allclose(L.softmax(x, axis=0), [[1 / 3, 0.6], [2 / 3, 0.4]], rtol=1e-15)
    np.testing.assert_allclose(L.log_softmax(x, axis=0), np.log([[1 / 3, 0.6], [2 / 3, 0.4]]),
                               rtol=1e-14)


# -- losses -------------------------------------------------------------------------------
def test_cross_entropy_by_hand():
    assert L.cross_entropy(np.array([[0.0, 0.0]]), np.array([0])) == pytest.approx(math.log(2))
    logits = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    want = ((math.log(math.e + math.e ** 2 + math.e ** 3) - 1) + math.log(3)) / 2
    assert L.cross_entropy(logits, np.array([0, 2])) == pytest.approx(want, rel=1e-14)
    with pytest.raises(TypeError):
        L.cross_entropy(logits, np.array([0.0, 2.0]))


def test_bce_mse_dropout_by_hand():
    z, y = np.array([0.0, 2.0]), np.array([1.0, 0.0])
    want = (math.log(2) + math.log(1 + math.exp(2))) / 2
    assert L.binary_cross_entropy_with_logits(z, y) == pytest.approx(want, rel=1e-14)
    assert L.mse(np.array([1.0, 2.0, 4.0]), np.array([1.0, 0.0, 1.0])) == pytest.approx(13 / 3)
    x, mask = np.array([2.0, 4.0, 6.0]), np.array([1.0, 0.0, 1.0])
    np.testing.assert_allclose(L.dropout(x, mask, 0.5), [4.0, 0.0, 12.0])
    np.testing.assert_allclose(L.dropout(x, mask, 0.25), [8 / 3, 0.0, 8.0])


def test_multiclass_hinge_cs231n_example():
    # The CS231n notes' three-example table: per-row losses 2.9, 0 and 12.9.
    scores = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
    labels = np.array([0, 1, 2])
    assert L.multiclass_hinge(scores, labels) == pytest.approx((2.9 + 0 + 12.9) / 3, rel=1e-12)


def test_multiclass_hinge_by_loops():
    s = np.random.default_rng(2).normal(size=(5, 4))
    labels = np.array([0, 3, 1, 1, 2])
    for margin in (1.0, 0.5):
        want = builtin_sum(builtin_max(0.0, s[i, j] - s[i, labels[i]] + margin)
                           for i in range(5) for j in range(4) if j != labels[i]) / 5
        assert L.multiclass_hinge(s, labels, margin=margin) == pytest.approx(want, rel=1e-14)
    # A row whose label wins by more than the margin costs nothing (the label column
    # itself would otherwise add `margin`).
    assert L.multiclass_hinge(np.array([[5.0, 0.0, 0.0]]), np.array([0])) == 0.0


# -- linear algebra and shape ----------------------------------------------------------
def test_linear_algebra_and_shape():
    a = np.arange(6.0).reshape(2, 3)
    b = np.arange(12.0).reshape(3, 4)
    mm = [[builtin_sum(a[i, k] * b[k, j] for k in range(3)) for j in range(4)] for i in range(2)]
    np.testing.assert_array_equal(L.dot(a, b), mm)
    np.testing.assert_array_equal(L.matmul(a, b), mm)
    np.testing.assert_array_equal(L.einsum("ij,jk->ik", a, b), mm)
    assert L.einsum("ij->", a) == 15.0
    assert L.dot(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == 11.0
    np.testing.assert_array_equal(L.outer([1.0, 2.0], [3.0, 4.0, 5.0]), [[3, 4, 5], [6, 8, 10]])
    np.testing.assert_array_equal(L.transpose(a), a.T)
    t = np.zeros((2, 3, 4))
    assert L.transpose(t).shape == (4, 3, 2) and L.transpose(t, (1, 0, 2)).shape == (3, 2, 4)
    np.testing.assert_array_equal(L.reshape(a, (3, 2)), [[0, 1], [2, 3], [4, 5]])
    assert L.reshape(a, (-1,)).shape == (6,)
    np.testing.assert_array_equal(L.concatenate([a, a], axis=1)[1], [3, 4, 5, 3, 4, 5])
    assert L.concatenate((a, a)).shape == (4, 3)
    assert L.stack([a, a]).shape == (2, 2, 3) and L.stack([a, a], axis=2).shape == (2, 3, 2)
    np.testing.assert_array_equal(L.stack([a, a + 1], axis=-1)[1, 2], [5, 6])
    batched = np.random.default_rng(3).normal(size=(2, 4, 3))
    np.testing.assert_allclose(L.matmul(batched, b)[1], batched[1] @ b)
    assert L.matmul(batched, b).shape == (2, 4, 4)


# -- layers --------------------------------------------------------------------------------
def test_batch_norm_matches_per_channel_formula():
    g = np.random.default_rng(4)
    for shape in [(5, 3), (2, 3, 4, 2)]:
        x = g.normal(size=shape) * 3 + 1
        gamma, beta = g.normal(size=3), g.normal(size=3)
        got = L.batch_norm(x, gamma, beta, eps=1e-3)
        want = np.empty_like(x)
        for c in range(3):
            vals = list(np.moveaxis(x, 1, 0)[c].ravel())
            mu = math.fsum(vals) / len(vals)
            var = math.fsum((v - mu) ** 2 for v in vals) / len(vals)
            want[:, c] = gamma[c] * (x[:, c] - mu) / math.sqrt(var + 1e-3) + beta[c]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert L.batch_norm(np.ones((2, 3), np.float32), np.ones(3, np.float32),
                        np.zeros(3, np.float32)).dtype == np.float32


def test_layer_norm_matches_per_row_formula():
    g = np.random.default_rng(5)
    x, gamma, beta = g.normal(size=(2, 3, 4)), g.normal(size=4), g.normal(size=4)
    got = L.layer_norm(x, gamma, beta)
    for i, j in itertools.product(range(2), range(3)):
        row = list(x[i, j])
        mu = math.fsum(row) / 4
        var = math.fsum((v - mu) ** 2 for v in row) / 4
        want = [gamma[k] * (row[k] - mu) / math.sqrt(var + 1e-5) + beta[k] for k in range(4)]
        np.testing.assert_allclose(got[i, j], want, rtol=1e-12, atol=1e-12)


def conv2d_loops(x, w, stride, padding, dilation=(1, 1), groups=1):
    """Element by element: padding ((top, bottom), (left, right)), per-axis stride and
    dilation, groups; outside the input is the zero padding."""
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    (top, bottom), (left, right) = padding
    (sh, sw), (dh, dw) = stride, dilation
    oh = (h + top + bottom - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + left + right - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, f, oh, ow))
    for b, o, i, j in itertools.product(range(n), range(f), range(oh), range(ow)):
        g = o // (f // groups)
        acc = 0.0
        for ch, p, q in itertools.product(range(cg), range(kh), range(kw)):
            r, s = sh * i + dh * p - top, sw * j + dw * q - left
            if 0 <= r < h and 0 <= s < wd:
                acc += x[b, g * cg + ch, r, s] * w[o, ch, p, q]
        out[b, o, i, j] = acc
    return out


@pytest.mark.parametrize("stride,padding,kernel", [
    (1, 0, (3, 3)), (1, 1, (3, 3)), (2, 0, (3, 3)), (2, 1, (3, 2)), (3, 2, (2, 3)), (1, 0, (1, 1)),
])
def test_conv2d_matches_loops(stride, padding, kernel):
    g = np.random.default_rng(6)
    x, w = g.normal(size=(2, 3, 7, 6)), g.normal(size=(4, 3) + kernel)
    got = L.conv2d(x, w, stride=stride, padding=padding)
    want = conv2d_loops(x, w, (stride, stride), ((padding,) * 2,) * 2)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("options,pads,kernel,groups", [
    (dict(stride=(2, 1)), ((0, 0), (0, 0)), (3, 2), 1),
    (dict(padding=(1, 2)), ((1, 1), (2, 2)), (3, 3), 1),
    (dict(padding=((0, 2), (1, 0))), ((0, 2), (1, 0)), (2, 3), 1),
    (dict(dilation=2), ((0, 0), (0, 0)), (2, 2), 1),
    (dict(dilation=(1, 2), stride=(1, 2), padding=1), ((1, 1), (1, 1)), (3, 2), 1),
    (dict(padding="same"), ((1, 1), (1, 1)), (3, 3), 1),
    (dict(padding="same"), ((0, 1), (1, 1)), (2, 3), 1),       # even: the extra pad after
    (dict(padding="same", dilation=2), ((1, 1), (2, 2)), (2, 3), 1),
    (dict(padding="valid", groups=2), ((0, 0), (0, 0)), (2, 2), 2),
    (dict(groups=4, padding=1), ((1, 1), (1, 1)), (3, 3), 4),   # depthwise
])
def test_conv2d_options_match_loops(options, pads, kernel, groups):
    g = np.random.default_rng(16)
    x, w = g.normal(size=(2, 4, 7, 6)), g.normal(size=(8, 4 // groups) + kernel)
    got = L.conv2d(x, w, **options)
    stride = options.get("stride", 1)
    dilation = options.get("dilation", 1)
    pair = (lambda v: v if isinstance(v, tuple) else (v, v))
    want = conv2d_loops(x, w, pair(stride), pads, pair(dilation), groups)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("call,message", [
    (lambda x, w: L.conv2d(x, w, padding="same", stride=2), "needs stride 1"),
    (lambda x, w: L.conv2d(x, w, padding="full"), "'valid' and 'same'"),
    (lambda x, w: L.conv2d(x, w, groups=3), "groups=3"),
    (lambda x, w: L.conv2d(x, w, stride=(1, 2, 3)), "pair of ints"),
    (lambda x, w: L.max_pool2d(x, 2, padding=2), "more than half the kernel"),
    (lambda x, w: L.conv2d(x, w, dilation=5), "does not fit"),
])
def test_conv2d_and_pool_options_raise(call, message):
    x, w = np.zeros((1, 4, 6, 6)), np.zeros((2, 4, 3, 3))
    with pytest.raises(ValueError, match=message):
        call(x, w)


def test_conv2d_by_hand():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])  # x[i, j] - x[i+1, j+1] (no kernel flip)
    np.testing.assert_array_equal(L.conv2d(x, w), [[[[-4.0, -4.0], [-4.0, -4.0]]]])
    assert L.conv2d(x, w, padding=1).shape == (1, 1, 4, 4)
    padded = L.conv2d(x, w, padding=1)
    assert padded[0, 0, 0, 1] == -1.0  # 0 * w[0,0] + x[0,1] * w[1,1]: the pad is zero
    assert padded[0, 0, 1, 1] == -4.0 and padded[0, 0, 3, 3] == 8.0


def pool_loops(x, k, stride, fn, padding=(0, 0), dilation=(1, 1), fill=0.0):
    """Element by element over (kh, kw) windows; outside the input counts as `fill`."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = [v if isinstance(v, tuple) else (v, v)
                                              for v in (k, stride, padding, dilation)]
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, c, oh, ow))
    for b, ch, i, j in itertools.product(range(n), range(c), range(oh), range(ow)):
        taps = [(sh * i + dh * p - ph, sw * j + dw * q - pw)
                for p in range(kh) for q in range(kw)]
        out[b, ch, i, j] = fn([x[b, ch, r, s] if 0 <= r < h and 0 <= s < w else fill
                               for r, s in taps])
    return out


@pytest.mark.parametrize("k,stride", [(2, None), (2, 2), (3, None), (2, 1), (3, 2), (1, None)])
def test_pooling_matches_loops(k, stride):
    x = np.random.default_rng(7).normal(size=(2, 3, 7, 6))
    s = k if stride is None else stride
    for got, fn in [(L.max_pool2d(x, k, stride), builtin_max),
                    (L.avg_pool2d(x, k, stride), lambda v: math.fsum(v) / len(v))]:
        want = pool_loops(x, k, s, fn)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("k,stride,padding,dilation", [
    ((2, 3), None, 0, 1), ((3, 2), (1, 2), 0, 1), (3, 2, 1, 1), ((2, 4), (2, 1), (1, 2), 1),
    (2, 1, 0, 2), ((3, 2), 1, (1, 0), (2, 1)),
])
def test_pooling_options_match_loops(k, stride, padding, dilation):
    x = np.random.default_rng(17).normal(size=(2, 3, 7, 6)) - 3.0   # all below the zero pad
    s = k if stride is None else stride
    got = L.max_pool2d(x, k, stride, padding=padding, dilation=dilation)
    want = pool_loops(x, k, s, builtin_max, padding, dilation, fill=-math.inf)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)
    if dilation == 1:
        got = L.avg_pool2d(x, k, stride, padding=padding)
        kh, kw = k if isinstance(k, tuple) else (k, k)
        want = pool_loops(x, k, s, lambda v: math.fsum(v) / (kh * kw), padding)
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)


def test_pooling_by_hand():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(L.max_pool2d(x, 2), [[[[5, 7], [13, 15]]]])
    np.testing.assert_array_equal(L.avg_pool2d(x, 2), [[[[2.5, 4.5], [10.5, 12.5]]]])
    np.testing.assert_array_equal(L.max_pool2d(x, 3, 1), [[[[10, 11], [14, 15]]]])
    out = L.max_pool2d(x, 1)
    out[...] = 0  # the result is a fresh array, never a view of the input
    assert x[0, 0, 0, 1] == 1.0
