"""Numerical stability of the named functions, in value and gradient.

softplus, sigmoid, logsumexp, log_softmax, softmax, cross_entropy and
binary_cross_entropy_with_logits must stay finite and accurate (relative error <= 1e-12)
for inputs anywhere in [-1000, 1000]: the tails, the overflow edges of exp (709, -745),
ties for the max, and rows with a huge spread such as [1000, -1000, 0]. Three
implementations are checked against mpmath: the compiled module (values and gradients),
the NumPy reference backend (values and gradients of the same IR) and the eager
adc.lang run of the model file (values; it is the test oracle elsewhere).
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from mpmath import mp

from adc.compiler.backends import numpy_ref

from conftest import assert_close_rel, compile_to, import_eager, lowered

RTOL = 1e-12

MODEL = '''
from adc.lang import (Data, Index, Param, binary_cross_entropy_with_logits, cross_entropy,
                      dim, log_softmax, logsumexp, sigmoid, softmax, softplus, sum)

N = dim("N")
C = dim("C")


def softplus_map(x: Param[N]):
    return softplus(x)


def softplus_sum(x: Param[N]):
    return sum(softplus(x))


def sigmoid_map(x: Param[N]):
    return sigmoid(x)


def sigmoid_sum(x: Param[N]):
    return sum(sigmoid(x))


def logsumexp_rows(x: Param[N, C]):
    return logsumexp(x, axis=-1)


def logsumexp_all(x: Param[N, C]):
    return logsumexp(x)


def softmax_rows(x: Param[N, C]):
    return softmax(x, axis=-1)


def softmax_weighted(x: Param[N, C], w: Data[N, C]):
    return sum(w * softmax(x, axis=-1))


def log_softmax_rows(x: Param[N, C]):
    return log_softmax(x, axis=-1)


def log_softmax_cols(x: Param[N, C]):
    return log_softmax(x, axis=0)


def log_softmax_weighted(x: Param[N, C], w: Data[N, C]):
    return sum(w * log_softmax(x, axis=-1))


def cross_entropy_mean(x: Param[N, C], y: Index[N]):
    return cross_entropy(x, y)


def bce_mean(z: Param[N], t: Data[N]):
    return binary_cross_entropy_with_logits(z, t)
'''


# -- inputs ------------------------------------------------------------------------------
def _rng():
    return np.random.default_rng(20240611)


# The tails, exp's overflow (709.78) and underflow (-745.13) edges, the two sides of 0.
EDGE_VALUES = [-1000.0, -745.5, -745.0, -700.0, -40.0, -1.0, -1e-8, 0.0, 1e-8, 1.0, 40.0,
               700.0, 709.0, 710.0, 1000.0]


def scalar_inputs():
    rng = _rng()
    return np.concatenate([EDGE_VALUES, rng.uniform(-1000, 1000, 8), rng.uniform(-5, 5, 5)])


# Rows of logits: huge spreads, ties for the max (first and not first), all equal, tiny.
SPECIAL_ROWS = [
    [1000.0, -1000.0, 0.0],
    [-1000.0, 1000.0, 999.5],
    [0.0, 0.0, 0.0],
    [700.0, 700.0, -700.0],
    [-40.0, 40.0, 40.0],
    [40.0, 0.0, -40.0],
    [1e-8, -1e-8, 0.0],
    [-1000.0, -1000.0, -1000.0],
    [-1000.0, -999.0, -700.0],
    [709.0, 710.0, -745.0],
    [-2.5, 30.0, 29.0],
]


def row_inputs():
    rng = _rng()
    return np.array(SPECIAL_ROWS + rng.uniform(-1000, 1000, (3, 3)).tolist()
                    + rng.uniform(-40, 40, (3, 3)).tolist() + rng.uniform(-3, 3, (3, 3)).tolist())


def wide_inputs():
    """Six columns: a tie for the max, logits of both wide and narrow spread."""
    rng = _rng()
    x = rng.uniform(-1000, 1000, (4, 6))
    x[0, 3] = x[0].max()
    x[1] = rng.uniform(-5, 5, 6)
    return x


MATRICES = {
    "rows3": row_inputs(),
    "wide6": wide_inputs(),
    "single": np.array([[1000.0], [-1000.0], [0.0]]),
}


def weights(shape, seed=7):
    """Positive weights: sums of same-sign terms, so the exact value is well conditioned."""
    return np.random.default_rng(seed).uniform(0.5, 1.5, shape)


# -- the mpmath oracle -------------------------------------------------------------------
# Exact values and analytic gradients at 50 digits, written so that nothing cancels in
# exact arithmetic beyond what the data itself cancels: log_softmax(x)_j as
# -log1p(sum_{k != j} exp(x_k - x_j)), softmax(x)_j - 1 as -sum_{k != j} softmax(x)_k, and
# so on. The textbook formulas (x_j - log(sum(exp(x))), s - 1) would need some 900 digits
# for a spread of 2000 (e^-2000 ~ 1e-869 next to 1); test_oracle_matches_textbook_formulas
# checks the two against each other with that many digits.
DIGITS = 50


def _mpf(a):
    """Exact multiprecision copies of float64 values (an object array)."""
    a = np.asarray(a, dtype=np.float64)
    return np.array([mp.mpf(float(v)) for v in a.ravel()], dtype=object).reshape(a.shape)


def _exp(a):
    return np.vectorize(mp.exp, otypes=[object])(a)


def _log(a):
    return np.vectorize(mp.log, otypes=[object])(a)


def _log1p(a):
    return np.vectorize(mp.log1p, otypes=[object])(a)


def _sum(a, axis=None, keepdims=False):
    return np.sum(a, axis=axis, keepdims=keepdims, initial=mp.mpf(0))


def _others(a):
    """For each j along the last axis: the sum of a[..., k] over k != j (no subtraction)."""
    n = a.shape[-1]
    return np.stack([_sum(np.delete(a, j, axis=-1), axis=-1) for j in range(n)], axis=-1)


def exact_softplus(x, c):
    return _log1p(_exp(x)), c / (1 + _exp(-x))


def exact_sigmoid(x, c):
    e = _exp(-x)
    return 1 / (1 + e), c * e / (1 + e) ** 2


def exact_logsumexp(x, c, axis):
    total = _sum(_exp(x), axis=axis, keepdims=True)
    value = _log(total)  # no cancellation: |logsumexp| is never near 0 for these inputs
    if axis is None:
        return value.reshape(()), c * _exp(x) / total
    return np.squeeze(value, axis), np.expand_dims(c, axis) * _exp(x) / total


def _softmax_last(x):
    return _exp(x) / _sum(_exp(x), axis=-1, keepdims=True)


def _log_softmax_last(x):
    """-log1p(sum_{k != j} exp(x_k - x_j)) for each j."""
    n = x.shape[-1]
    diffs = np.stack([x - x[..., j:j + 1] for j in range(n)], axis=-2)  # [..., j, k]
    terms = _exp(diffs)
    for j in range(n):
        terms[..., j, j] = 0
    return -_log1p(_sum(terms, axis=-1))


def exact_softmax(x, w, axis):
    x, w = np.moveaxis(x, axis, -1), np.moveaxis(w, axis, -1)
    s = _softmax_last(x)
    # s_j * (w_j - sum_k w_k s_k) = s_j * sum_k s_k (w_j - w_k), as sum_k s_k = 1
    pair = np.stack([_sum(s * (w[..., j:j + 1] - w), axis=-1) for j in range(x.shape[-1])],
                    axis=-1)
    return np.moveaxis(s, -1, axis), np.moveaxis(s * pair, -1, axis)


def exact_log_softmax(x, w, axis):
    x, w = np.moveaxis(x, axis, -1), np.moveaxis(w, axis, -1)
    s = _softmax_last(x)
    # w_j - s_j sum_k w_k = w_j * sum_{k != j} s_k - s_j * sum_{k != j} w_k
    grad = w * _others(s) - s * _others(w)
    return np.moveaxis(_log_softmax_last(x), -1, axis), np.moveaxis(grad, -1, axis)


def exact_cross_entropy(x, y):
    n = x.shape[0]
    rows = np.arange(n)
    s = _softmax_last(x)
    grad = s.copy()
    grad[rows, y] = -_others(s)[rows, y]  # s_y - 1 = -sum_{k != y} s_k
    return -_sum(_log_softmax_last(x)[rows, y]) / n, grad / n


def exact_bce(z, t):
    """Per element: softplus(z) - t*z, split into two terms >= 0 (t in [0, 1])."""
    n = z.shape[0]
    pos = z > 0
    value = np.where(pos, (1 - t) * z + _log1p(_exp(-z)), -t * z + _log1p(_exp(z)))
    grad = np.where(pos, (1 - t) - 1 / (1 + _exp(z)), 1 / (1 + _exp(-z)) - t)
    return _sum(value) / n, grad / n


# The textbook formulas, for test_oracle_matches_textbook_formulas only.
def textbook_softplus(x, c):
    e = _exp(x)
    return _log(1 + e), c * e / (1 + e)


def textbook_sigmoid(x, c):
    s = 1 / (1 + _exp(-x))
    return s, c * s * (1 - s)


def textbook_softmax(x, w, axis):
    s = _exp(x) / _sum(_exp(x), axis=axis, keepdims=True)
    return s, s * (w - _sum(w * s, axis=axis, keepdims=True))


def textbook_log_softmax(x, w, axis):
    total = _sum(_exp(x), axis=axis, keepdims=True)
    return x - _log(total), w - _exp(x) / total * _sum(w, axis=axis, keepdims=True)


def textbook_cross_entropy(x, y):
    n = x.shape[0]
    log_p, _ = textbook_log_softmax(x, np.zeros_like(x), -1)
    probs, _ = textbook_softmax(x, np.zeros_like(x), -1)
    onehot = np.zeros(x.shape, dtype=object)
    onehot[np.arange(n), y] = 1
    return -_sum(log_p[np.arange(n), y]) / n, (probs - onehot) / n


def textbook_bce(z, t):
    s = 1 / (1 + _exp(-z))
    return _sum(_log(1 + _exp(z)) - t * z) / z.shape[0], (s - t) / z.shape[0]


def bce_gradient_terms(z, t):
    """The size of the two terms the bce gradient subtracts, each exact to a rounding:
    (sigmoid(z) + |t|) / N for z <= 0, (|1 - t| + sigmoid(-z)) / N for z > 0."""
    with mp.workdps(DIGITS):
        z, t = _mpf(z), _mpf(t)
        terms = np.where(z > 0, np.abs(1 - t) + 1 / (1 + _exp(z)),
                         1 / (1 + _exp(-z)) + np.abs(t))
        return terms / z.shape[0]


def oracle(fn, *args, digits=DIGITS, **kw):
    """Run an exact_* function at `digits` digits on exact copies of float arrays."""
    with mp.workdps(digits):
        conv = [_mpf(a) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
                for a in args]
        return tuple(np.asarray(r, dtype=object) for r in fn(*conv, **kw))


# -- the comparison ----------------------------------------------------------------------
def assert_accurate(actual, exact, what, rtol=RTOL, dtype=np.float64, inputs=None,
                    terms=None):
    """Every element finite and within rtol of the exact value, element by element.

    An exact value below the smallest normal float (e^-1000 ~ 1e-435, e^-2000) has no
    correctly rounded digits to compare with: the best a float can return is 0 or a
    subnormal. Those elements alone are held to a norm-wise bound instead,
    |error| <= rtol * max|exact| over the tensor (or rtol * the smallest normal float
    when the whole tensor underflows).

    `terms`, where given, is the size of two terms that the exact result is the
    difference of, each computable to a rounding (sigmoid(1e-8) and t = 0.5 in the bce
    gradient sigmoid(z) - t). Where they nearly cancel, the result is ill-conditioned in
    the data: one rounding of either term moves it by 2^-53 * terms, however accurate the
    difference. Such elements may also be off by a few roundings, 8 * 2^-53 * terms.
    """
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(np.asarray(exact, dtype=object).astype(np.float64))
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    assert np.all(np.isfinite(a)), f"{what}: not finite at {np.argwhere(~np.isfinite(a))}"
    tiny = np.finfo(dtype).tiny
    scale = max(float(np.max(np.abs(e), initial=0.0)), tiny)
    bound = np.where(np.abs(e) >= tiny, rtol * np.abs(e), rtol * scale)
    if terms is not None:
        unit = np.finfo(dtype).eps / 2
        bound = bound + 8 * unit * np.asarray(np.asarray(terms, dtype=object).astype(float))
    err = np.abs(a - e)
    bad = np.argwhere(err > bound)
    if len(bad):
        lines = []
        for idx in bad[:5]:
            idx = tuple(int(i) for i in idx)
            where = "" if inputs is None else f" input {_input_at(inputs, idx)}"
            lines.append(f"  at {idx}{where}: got {a[idx]!r}, exact {e[idx]!r}, "
                         f"error {err[idx]:.3e} > {bound[idx]:.3e}")
        raise AssertionError(f"{what}: {len(bad)} inaccurate element(s)\n" + "\n".join(lines))


def _input_at(inputs, idx):
    arr = np.asarray(inputs)
    if arr.ndim == len(idx):
        return arr[idx].tolist()
    return arr[idx[:1]].tolist() if arr.ndim >= 1 and idx else arr.tolist()


# -- the three implementations -----------------------------------------------------------
@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """(compiled module, lowered programs, eager module) of the stability model."""
    folder = tmp_path_factory.mktemp("stability")
    path = os.path.join(folder, "stability_model.py")
    with open(path, "w") as f:
        f.write(MODEL)
    return compile_to(path, str(folder)), lowered(path), import_eager(path)


BACKENDS = ["compiled", "numpy_ref", "eager"]


def run_backend(model, backend, fname, args, cotangent):
    """(value, gradient of <cotangent, value> w.r.t. the first argument) of one backend.

    The eager run of adc.lang computes values only: its gradient is None.
    """
    module, programs, eager = model
    wrt = next(iter(module.SIGNATURES[fname]["wrt"]))
    if backend == "compiled":
        value = getattr(module, fname)(**args)
        grads = getattr(module, f"{fname}_vjp")(**args, cotangent=cotangent)
        return value, getattr(grads, wrt)
    if backend == "numpy_ref":
        c = programs[fname]
        value = numpy_ref.forward(c.program, args)[0]
        return value, numpy_ref.vjp(c.program, args, [cotangent])[wrt]
    return getattr(eager, fname)(**args), None


def check(model, backend, fname, args, cotangent, exact_value, exact_grad, inputs,
          grad_terms=None):
    value, grad = run_backend(model, backend, fname, args, cotangent)
    assert_accurate(value, exact_value, f"{backend} {fname} value", inputs=inputs)
    if grad is not None:
        assert_accurate(grad, exact_grad, f"{backend} {fname} gradient", inputs=inputs,
                        terms=grad_terms)


# -- elementwise: softplus, sigmoid ------------------------------------------------------
ELEMENTWISE = {"softplus": exact_softplus, "sigmoid": exact_sigmoid}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_map(model, backend, name):
    """f(x) element by element, and its derivative through a random-weight cotangent."""
    x = scalar_inputs()
    c = weights(x.shape) * np.where(np.arange(x.size) % 2, -1.0, 1.0)
    value, grad = oracle(ELEMENTWISE[name], x, c)
    check(model, backend, f"{name}_map", {"x": x}, c, value, grad, x)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_sum(model, backend, name):
    """sum(f(x)): the scalar-output path (value and gradient fused differently)."""
    x = scalar_inputs()
    value, grad = oracle(ELEMENTWISE[name], x, np.ones_like(x))
    with mp.workdps(DIGITS):
        total = _sum(value)
    check(model, backend, f"{name}_sum", {"x": x}, 1.0, total, grad, x)


# -- normalisers: logsumexp, softmax, log_softmax ----------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("matrix", sorted(MATRICES))
def test_logsumexp_rows(model, backend, matrix):
    x = MATRICES[matrix]
    c = weights(x.shape[0])
    value, grad = oracle(exact_logsumexp, x, c, axis=-1)
    check(model, backend, "logsumexp_rows", {"x": x}, c, value, grad, x)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("row", range(len(SPECIAL_ROWS)))
def test_logsumexp_all(model, backend, row):
    """A full reduction (axis=None) of one special row, as a (1, C) matrix."""
    x = np.array([SPECIAL_ROWS[row]])
    value, grad = oracle(exact_logsumexp, x, mp.mpf(1), axis=None)
    check(model, backend, "logsumexp_all", {"x": x}, 1.0, value, grad, x)


NORMALISERS = {"softmax": exact_softmax, "log_softmax": exact_log_softmax}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("matrix", sorted(MATRICES))
@pytest.mark.parametrize("name", sorted(NORMALISERS))
def test_normaliser_rows(model, backend, matrix, name):
    """f(x, axis=-1) element by element; gradient of sum(w * f(x)) via the cotangent w."""
    x = MATRICES[matrix]
    w = weights(x.shape)
    value, grad = oracle(NORMALISERS[name], x, w, axis=-1)
    check(model, backend, f"{name}_rows", {"x": x}, w, value, grad, x)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("matrix", sorted(MATRICES))
@pytest.mark.parametrize("name", sorted(NORMALISERS))
def test_normaliser_weighted(model, backend, matrix, name):
    """sum(w * f(x)) with w: Data, so every output element lies on a gradient path."""
    x = MATRICES[matrix]
    w = weights(x.shape)
    value, grad = oracle(NORMALISERS[name], x, w, axis=-1)
    with mp.workdps(DIGITS):
        total = _sum(_mpf(w) * value)
    check(model, backend, f"{name}_weighted", {"x": x, "w": w}, 1.0, total, grad, x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_log_softmax_columns(model, backend):
    """axis=0: the same rows, transposed."""
    x = np.ascontiguousarray(MATRICES["rows3"].T)
    w = weights(x.shape)
    value, grad = oracle(exact_log_softmax, x, w, axis=0)
    check(model, backend, "log_softmax_cols", {"x": x}, w, value, grad, x)


# -- losses ------------------------------------------------------------------------------
def every_label(x):
    """Each row once per class label: the argmax, the tied and the far-off classes."""
    n, k = x.shape
    return np.repeat(x, k, axis=0), np.tile(np.arange(k), n)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("matrix", sorted(MATRICES))
def test_cross_entropy_batch(model, backend, matrix):
    x, y = every_label(MATRICES[matrix])
    value, grad = oracle(exact_cross_entropy, x, y)
    check(model, backend, "cross_entropy_mean", {"x": x, "y": y}, 1.0, value, grad, x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cross_entropy_each_row(model, backend):
    """One row at a time: a mean would hide a tiny loss (e^-40) next to a large one."""
    x, y = every_label(MATRICES["rows3"])
    for i in range(x.shape[0]):
        xi, yi = x[i:i + 1], y[i:i + 1]
        value, grad = oracle(exact_cross_entropy, xi, yi)
        check(model, backend, "cross_entropy_mean", {"x": xi, "y": yi}, 1.0, value, grad,
              xi)


# Targets in [0, 1]: both ends, the middle and values just off 1 and 0 (cancellation bait:
# max(z, 0) - t*z loses 1e-10 of softplus(z) - t*z at z = 1000, t = 1 - 1e-6).
TARGETS = [0.0, 1e-9, 0.25, 0.5, 0.9999, 1 - 1e-6, 1.0]


def bce_pairs():
    z = scalar_inputs()
    return np.repeat(z, len(TARGETS)), np.tile(TARGETS, z.size)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bce_batch(model, backend):
    z, t = bce_pairs()
    value, grad = oracle(exact_bce, z, t)
    check(model, backend, "bce_mean", {"z": z, "t": t}, 1.0, value, grad,
          np.stack([z, t], axis=1), grad_terms=bce_gradient_terms(z, t))


@pytest.mark.parametrize("backend", BACKENDS)
def test_bce_each_element(model, backend):
    """One (logit, target) pair at a time, so each tiny loss is checked on its own."""
    z, t = bce_pairs()
    for zi, ti in zip(z, t):
        za, ta = np.array([zi]), np.array([ti])
        value, grad = oracle(exact_bce, za, ta)
        check(model, backend, "bce_mean", {"z": za, "t": ta}, 1.0, value, grad,
              np.array([[zi, ti]]), grad_terms=bce_gradient_terms(za, ta))


HELPER_NAMED_MODEL = '''
from adc.lang import Data, Param, binary_cross_entropy_with_logits, dim, sum

N = dim("N")


def f(z: Param[N], t: Data[N]):
    sigmoid_minus = z * sum(z)
    return binary_cross_entropy_with_logits(sigmoid_minus, t) + sum(sigmoid_minus)
'''


def test_variable_named_like_the_bce_gradient_helper(tmp_path):
    """A model variable may be called sigmoid_minus: the helper's name is reserved."""
    path = tmp_path / "helper_named.py"
    path.write_text(HELPER_NAMED_MODEL)
    module = compile_to(str(path), str(tmp_path))
    z, t = np.array([1.0, -2.0]), np.array([1.0, 0.0])
    u = z * z.sum()
    d_u = (1 / (1 + np.exp(-u)) - t) / z.size + 1       # d f / d u
    expected = z.sum() * d_u + np.dot(d_u, z)           # u_i = z_i * sum(z)
    assert_close_rel(module.f_grad(z, t).z, expected, 1e-12, what="d f / d z")


# -- float32 -----------------------------------------------------------------------------
def float32_cases():
    """(entry point, float32 arguments, cotangent, exact function, its extra arguments)."""
    x = scalar_inputs().astype(np.float32)
    rows = MATRICES["rows3"].astype(np.float32)
    w = weights(rows.shape).astype(np.float32)
    labels = np.arange(rows.shape[0]) % 3
    targets = np.resize(np.array(TARGETS, dtype=np.float32), x.size)
    ones = np.ones_like(x)
    return {
        "softplus_map": ({"x": x}, ones, exact_softplus, (ones,)),
        "sigmoid_map": ({"x": x}, ones, exact_sigmoid, (ones,)),
        "logsumexp_rows": ({"x": rows}, w[:, 0], exact_logsumexp, (w[:, 0], -1)),
        "softmax_weighted": ({"x": rows, "w": w}, np.float32(1), exact_softmax, (w, -1)),
        "log_softmax_weighted": ({"x": rows, "w": w}, np.float32(1), exact_log_softmax,
                                 (w, -1)),
        "cross_entropy_mean": ({"x": rows, "y": labels}, np.float32(1), exact_cross_entropy,
                               (labels,)),
        "bce_mean": ({"z": x, "t": targets}, np.float32(1), exact_bce, (targets,)),
    }


def _as_float64(a):
    return a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype == np.float32 else a


@pytest.mark.parametrize("fname", sorted(float32_cases()))
def test_float32_finite_and_close(model, fname):
    """Float32 in, float32 out: finite everywhere and within 1e-5 of the exact values at
    the float32 inputs (elements below float32's smallest normal number: norm-wise)."""
    module = model[0]
    args, cotangent, fn, extra = float32_cases()[fname]
    value = getattr(module, fname)(**args)
    grad = getattr(module, f"{fname}_vjp")(**args, cotangent=cotangent)[0]
    assert np.asarray(value).dtype == np.float32 and grad.dtype == np.float32
    first = _as_float64(next(iter(args.values())))
    exact_value, exact_grad = oracle(fn, first, *(_as_float64(a) for a in extra))
    if fname.endswith("_weighted"):
        with mp.workdps(DIGITS):
            exact_value = _sum(_mpf(_as_float64(args["w"])) * exact_value)
    assert_accurate(value, exact_value, f"float32 {fname} value", rtol=1e-5, dtype=np.float32)
    assert_accurate(grad, exact_grad, f"float32 {fname} gradient", rtol=1e-5,
                    dtype=np.float32)


# -- the oracle itself -------------------------------------------------------------------
def test_oracle_gradients_match_numerical_differentiation():
    """The analytic gradients above agree with mpmath's own numerical derivative."""
    x = np.array([[1.5, -0.25, 3.0]])
    w = np.array([[0.75, 1.25, 1.0]])
    y = np.array([2])
    with mp.workdps(60):
        xm, wm = _mpf(x), _mpf(w)

        def partial(f, j):
            def g(v):
                xv = xm.copy()
                xv[0, j] = v
                return f(xv)
            return mp.diff(g, xm[0, j])

        fns = {
            "softmax": (lambda v: _sum(wm * exact_softmax(v, wm, -1)[0]),
                        exact_softmax(xm, wm, -1)[1]),
            "log_softmax": (lambda v: _sum(wm * exact_log_softmax(v, wm, -1)[0]),
                            exact_log_softmax(xm, wm, -1)[1]),
            "logsumexp": (lambda v: exact_logsumexp(v, wm[:, 0], -1)[0][0] * wm[0, 0],
                          exact_logsumexp(xm, wm[:, 0], -1)[1]),
            "cross_entropy": (lambda v: exact_cross_entropy(v, y)[0],
                              exact_cross_entropy(xm, y)[1]),
            "bce": (lambda v: exact_bce(v[0], wm[0] / 2)[0],
                    exact_bce(xm[0], wm[0] / 2)[1][None, :]),
            "softplus": (lambda v: _sum(exact_softplus(v, wm)[0]),
                         exact_softplus(xm, wm)[1] / wm),
            "sigmoid": (lambda v: _sum(wm * exact_sigmoid(v, wm)[0]),
                        exact_sigmoid(xm, wm)[1]),
        }
        for name, (f, grad) in fns.items():
            for j in range(x.shape[1]):
                numeric = partial(f, j)
                error = abs(numeric - grad[0, j])
                assert error <= mp.mpf(10) ** -40 * (1 + abs(grad[0, j])), \
                    f"oracle gradient of {name} at column {j}"


TEXTBOOK_DIGITS = 1000  # e^-2000 ~ 1e-869 next to 1 still keeps 130 digits


def test_oracle_matches_textbook_formulas():
    """The cancellation-free oracle at 50 digits == the textbook formulas at 1000 digits."""
    x = np.array([-1000.0, -40.0, -1e-8, 0.0, 40.0, 700.0, 1000.0])
    rows = np.array(SPECIAL_ROWS[:2] + SPECIAL_ROWS[3:7])
    w = weights(rows.shape)
    labelled, labels = every_label(rows)
    z = np.repeat(x, len(TARGETS))
    t = np.tile(TARGETS, x.size)
    pairs = [
        (exact_softplus, textbook_softplus, (x, np.ones_like(x)), {}),
        (exact_sigmoid, textbook_sigmoid, (x, np.ones_like(x)), {}),
        (exact_softmax, textbook_softmax, (rows, w), {"axis": -1}),
        (exact_log_softmax, textbook_log_softmax, (rows, w), {"axis": -1}),
        (exact_log_softmax, textbook_log_softmax, (rows.T.copy(), w.T.copy()), {"axis": 0}),
        (exact_cross_entropy, textbook_cross_entropy, (labelled, labels), {}),
        (exact_bce, textbook_bce, (z, t), {}),
    ]
    for exact_fn, textbook_fn, args, kw in pairs:
        ours = oracle(exact_fn, *args, **kw)
        textbook = oracle(textbook_fn, *args, digits=TEXTBOOK_DIGITS, **kw)
        # 1e-30, not 1e-50: the data itself cancels 8 digits in sigmoid(1e-8) - 0.5
        with mp.workdps(TEXTBOOK_DIGITS):
            for part, a, b in zip(("value", "gradient"), ours, textbook):
                for u, v in zip(np.ravel(a), np.ravel(b)):
                    assert abs(u - v) <= mp.mpf(10) ** -30 * abs(v) + mp.mpf(10) ** -2000, \
                        f"{exact_fn.__name__} {part}: {mp.nstr(u, 20)} != {mp.nstr(v, 20)}"


# -- issue 13's elementwise functions at the edges of the float range ----------------------
EDGES_MODEL = '''
from adc.lang import Param, arccosh, arcsin, arcsinh, arctan2, arctanh, dim, hypot, sum

N = dim("N")


def hypot_sum(x: Param[N], y: Param[N]):
    return sum(hypot(x, y))


def arctan2_sum(x: Param[N], y: Param[N]):
    return sum(arctan2(x, y))


def arcsinh_sum(x: Param[N]):
    return sum(arcsinh(x))


def arccosh_sum(x: Param[N]):
    return sum(arccosh(x))


def arctanh_sum(x: Param[N]):
    return sum(arctanh(x))


def arcsin_sum(x: Param[N]):
    return sum(arcsin(x))
'''

# x**2 overflows (1e200) or underflows (1e-200); 1 - x**2 cancels next to +-1
BIG_X = [1e200, -3e250, 1e-200, 5.0, 1e300, -1e-300]
BIG_Y = [2e200, 1e250, 3e-200, -1e300, 1e300, 2e-300]
EDGES = {   # entry point: (inputs, exact partials of each element)
    "hypot_sum": ((BIG_X, BIG_Y), lambda x, y: (x / mp.hypot(x, y), y / mp.hypot(x, y))),
    "arctan2_sum": ((BIG_X, BIG_Y), lambda x, y: (y / (x * x + y * y), -x / (x * x + y * y))),
    "arcsinh_sum": (([1e300, -1e200, 1e-300, 3.0, -1e155],),
                    lambda x: (1 / mp.sqrt(x * x + 1),)),
    "arccosh_sum": (([1e300, 1 + 1e-10, 1.5, 1e155],), lambda x: (1 / mp.sqrt(x * x - 1),)),
    "arctanh_sum": (([1 - 1e-10, -1 + 1e-12, 0.5, 1e-300],), lambda x: (1 / (1 - x * x),)),
    "arcsin_sum": (([1 - 1e-10, -1 + 1e-12, 1e-300],), lambda x: (1 / mp.sqrt(1 - x * x),)),
}


@pytest.fixture(scope="module")
def edges(tmp_path_factory):
    folder = tmp_path_factory.mktemp("edges")
    path = os.path.join(str(folder), "edges.py")
    with open(path, "w") as f:
        f.write(EDGES_MODEL)
    return compile_to(path, str(folder)), lowered(path)


@pytest.mark.parametrize("fname", sorted(EDGES))
def test_inverse_functions_at_the_edges(edges, fname):
    """Gradients within 1e-12 of the exact ones, element by element, where the textbook
    formulas overflow or cancel (compiled and NumPy reference)."""
    module, programs = edges
    args, exact = EDGES[fname]
    names = ["x", "y"][:len(args)]
    values = dict(zip(names, (np.array(a) for a in args)))
    mp.dps = DIGITS
    want = [np.array([float(p) for p in ps]) for ps in
            zip(*(exact(*(mp.mpf(v) for v in point)) for point in zip(*args)))]
    grads = getattr(module, f"{fname}_grad")(**values)
    ref = numpy_ref.vjp(programs[fname].program, values, [1.0])
    for name, w in zip(names, want):   # each element to RTOL (0 where the exact underflows)
        np.testing.assert_allclose(getattr(grads, name), w, rtol=RTOL, atol=0,
                                   err_msg=f"{fname} d/d{name}")
        np.testing.assert_allclose(ref[name], w, rtol=RTOL, atol=0,
                                   err_msg=f"{fname} d/d{name} (numpy reference)")
