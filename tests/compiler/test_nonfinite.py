"""NaN and ±inf propagate exactly as in the eager NumPy run, for every function.

Each case returns the function's (unsummed) result so that every element is compared,
NaN for NaN and inf for inf (`sum(relu([nan, 1, -2, 3]))` is NaN, as in NumPy, JAX and
PyTorch, not 4.0).
"""
from __future__ import annotations

import numpy as np
import pytest

from conftest import compile_to, import_eager, write_model

X = [np.nan, 1.0, -2.0, 3.0, np.inf, -np.inf, 0.0, 0.5]
ROWS = [[np.nan, 1.0, 2.0], [1.0, np.inf, 0.0], [-np.inf, 2.0, 1.0], [3.0, 1.0, -1.0],
        [-np.inf, -np.inf, -np.inf], [np.inf, np.nan, 1.0]]

ELEMENTWISE = ["exp(x)", "log(x)", "log1p(x)", "expm1(x)", "sqrt(x)", "square(x)", "abs(x)",
               "sin(x)", "cos(x)", "tan(x)", "tanh(x)", "sigmoid(x)", "relu(x)",
               "leaky_relu(x, 0.1)", "elu(x, 1.0)", "softplus(x)", "maximum(x, 0.5)",
               "minimum(x, 0.5)", "maximum(0.5, x)", "clip(x, -1.0, 2.0)",
               "where(x > 0, x, 2.0 * x)", "x ** 2", "x ** 0.5", "power(x, 3.0)", "-x",
               "x / 2.0", "x - 1.0"]
# Not here: x * 0.0 and x - x, which SymPy folds to 0 while the expression is built
# (docs/language.md, "NaN and infinities").
REDUCTIONS = ["sum(x)", "mean(x)", "max(x)", "min(x)", "logsumexp(x)", "var(x)",
              "sum(relu(x))"]
ROW_FUNCTIONS = ["max(M, axis=1)", "min(M, axis=1)", "logsumexp(M, axis=1)",
                 "softmax(M, axis=1)", "log_softmax(M, axis=1)", "sum(M, axis=1)",
                 "mean(M, axis=0)", "max(M, axis=0)"]


def _model(cases, arg):
    lines = ["from adc.lang import *", "import numpy as np", ""]
    for k, expr in enumerate(cases):
        lines += [f"def f{k}({arg}):", f"    return {expr}", ""]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nonfinite")
    out = {}
    for name, cases, arg in (("vec", ELEMENTWISE + REDUCTIONS, f"x: Param[{len(X)}]"),
                             ("rows", ROW_FUNCTIONS, f"M: Param[{len(ROWS)}, 3]")):
        path = write_model(folder, _model(cases, arg), name)
        out[name] = (compile_to(path, str(folder)), import_eager(path))
    return out


def _same(got, want, what):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, what
    assert np.array_equal(np.isnan(got), np.isnan(want)), f"{what}: NaN at {got} vs {want}"
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0, equal_nan=True, err_msg=what)


@pytest.mark.parametrize("k, expr", list(enumerate(ELEMENTWISE + REDUCTIONS)))
def test_vector_functions_with_nan_and_inf(built, k, expr):
    module, eager = built["vec"]
    x = np.array(X)
    with np.errstate(all="ignore"):
        want = getattr(eager, f"f{k}")(x)
    _same(getattr(module, f"f{k}")(x), want, expr)


@pytest.mark.parametrize("k, expr", list(enumerate(ROW_FUNCTIONS)))
def test_row_functions_with_nan_and_inf(built, k, expr):
    module, eager = built["rows"]
    m = np.array(ROWS)
    with np.errstate(all="ignore"):
        want = getattr(eager, f"f{k}")(m)
    _same(getattr(module, f"f{k}")(m), want, expr)


def test_nan_in_the_data_is_not_a_finite_loss(tmp_path):
    """A NaN anywhere in the inputs of a classifier makes the loss NaN, never finite."""
    src = ("from adc.lang import *\nN = dim('N')\n"
           "def loss(X: Data[N, 3], y: Index[N], W: Param[3, 2]):\n"
           "    return cross_entropy(relu(X @ W), y) + sum(maximum(W, 0.0))\n")
    module = compile_to(write_model(tmp_path, src), str(tmp_path))
    X = np.ones((4, 3))
    X[2, 1] = np.nan
    assert np.isnan(module.loss(X, np.array([0, 1, 0, 1]), np.ones((3, 2))))
    W = np.ones((3, 2))
    W[0, 0] = np.nan
    assert np.isnan(module.loss(np.ones((4, 3)), np.array([0, 1, 0, 1]), W))
