"""Regression tests for silent wrong answers (issue: exactness you can trust).

Each test compiles a small model and compares it with an independent oracle: the eager
NumPy run of the same file and central differences of that eager run.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import adc
from adc.compiler.errors import CompileError

from conftest import check_against_eager, compile_to, write_model


# -- slices as GEMM operands: np.dot must see exactly the sliced array ---------------
@pytest.mark.parametrize("expr, a_shape", [
    ("X[:, :3] @ A[:3, :]", "6, 4"),
    ("relu(X[:, :3] @ A)", "3, 4"),
    ("A.T @ X[:, :3].T", "3, 4"),
    ("X[:, 1:4] @ A[::2, :]", "6, 4"),
    ("X[1:, 2:] @ A[2:, 1:]", "6, 4"),
    ("tanh(X[:, ::2] @ A[:3, :])", "6, 4"),
])
def test_sliced_matmul_operands(tmp_path, expr, a_shape):
    src = ("from adc.lang import *\nN = dim('N')\n"
           f"def f(X: Data[N, 6], A: Param[{a_shape}]):\n    return sum(sin({expr}))\n")
    check_against_eager(tmp_path, src, {"N": 4})


def test_sliced_vector_matmul(tmp_path):
    src = ("from adc.lang import *\n"
           "def f(v: Param[5], M: Param[4, 3]):\n    return sum(v[1:] @ M) + sum(M @ v[:3])\n")
    check_against_eager(tmp_path, src)


# -- gradient buffers of partial writes start at zero ---------------------------------
@pytest.mark.parametrize("body", [
    "sum(x[:6] * x[:6])",
    "sum(M[:, :4] * M[:, :4])",
    "sum(tanh(M)[:, :2])",
    "sum(x[::3]) + sum(x[2:5] ** 2)",
    "sum(M[1:, :] * 2.0)",
])
def test_partial_slices_have_zero_gradient_elsewhere(tmp_path, body):
    src = ("from adc.lang import *\n"
           f"def f(x: Param[10], M: Param[3, 6]):\n    return {body}\n")
    module = check_against_eager(tmp_path, src)
    values = {"x": np.ones(10), "M": np.ones((3, 6))}
    for _ in range(3):   # garbage in an np.empty buffer shows up on later calls too
        grads = module.f_grad(**values)
        assert np.all(np.isfinite(grads.x)) and np.all(np.isfinite(grads.M))


# -- tuple outputs: every output's cotangent accumulates, the caller's arrays stay ----
@pytest.mark.parametrize("ret", ["s, h", "h, s", "h, h", "s, h, s"])
def test_vjp_of_outputs_that_share_work(tmp_path, ret):
    src = ("from adc.lang import *\n"
           "def f(x: Param[3]):\n    h = tanh(x)\n    s = sum(h * x)\n"
           f"    return {ret}\n")
    check_against_eager(tmp_path, src)


def test_vjp_does_not_write_into_the_cotangent(tmp_path):
    src = ("from adc.lang import *\n"
           "def f(x: Param[3]):\n    h = tanh(x)\n    return sum(h * x), h\n")
    module = compile_to(write_model(tmp_path, src), str(tmp_path))
    u = (np.array(0.5), np.array([1.0, 2.0, 3.0]))
    before = [np.copy(c) for c in u]
    module.f_vjp(np.array([0.1, 0.2, 0.3]), cotangent=u)
    assert all(np.array_equal(a, b) for a, b in zip(u, before))


def test_docs_two_outputs_example_matches_jax(tmp_path):
    """The docs' two-outputs example; JAX gives [1.089, 4.261, 1.289] for this cotangent."""
    src = ("from adc.lang import *\n"
           "def f(x: Param[3]):\n    h = tanh(x)\n    return sum(h * h), h\n")
    module = check_against_eager(tmp_path, src)
    x = np.array([0.5, -1.0, 2.0])
    u = (np.array(1.0), np.array([1.0, 2.0, 3.0]))
    g = module.f_vjp(x, cotangent=u).x
    h = np.tanh(x)
    np.testing.assert_allclose(g, (2 * h * u[0] + u[1]) * (1 - h * h), rtol=1e-12)


@pytest.mark.parametrize("body", [
    "reshape(X, (-1, 3))",
    "concatenate((X, X), axis=0)",
    "X[1:, :]",
    "tanh(X[:, 1:])",
])
def test_vjp_of_outputs_sized_by_expressions(tmp_path, body):
    """Output shapes such as (2*N, 3) or (N - 1, 6): the cotangent is checked as such."""
    src = ("from adc.lang import *\nN = dim('N')\n"
           f"def f(X: Param[N, 6]):\n    return {body}\n")
    check_against_eager(tmp_path, src, {"N": 4})


# -- runtime hyper-parameters in every numeric keyword --------------------------------
def test_runtime_floats_in_layer_and_loss_keywords(tmp_path):
    src = '''from adc.lang import *
N = dim("N")
def f(x: Data[N, 3], g: Param[3], b: Param[3], eps: float = 1e-5):
    return sum(batch_norm(x, g, b, eps) ** 2)
def f2(x: Param[N, 3], g: Param[3], b: Param[3], eps: float = 0.1):
    return sum(layer_norm(x, g, b, eps=eps) ** 3)
def f3(s: Param[N, 4], y: Index[N], m: float = 0.7):
    return multiclass_hinge(s, y, margin=m)
def f4(x: Param[N, 4], sl: float = 0.2, al: float = 0.5, lo: float = -0.3, hi: float = 0.4):
    return sum(leaky_relu(x, slope=sl) + elu(x, alpha=al) + clip(x, lo, hi) * x)
'''
    module = check_against_eager(tmp_path, src, {"N": 5})
    x = np.random.default_rng(0).standard_normal((5, 3))
    # the run-time value is used, not the default
    assert module.f2(x, np.ones(3), np.zeros(3), eps=10.0) != module.f2(x, np.ones(3), np.zeros(3))


def test_tensor_as_a_scalar_keyword_is_a_located_error(tmp_path):
    src = ("from adc.lang import *\nN = dim('N')\n"
           "def f(x: Param[N, 3], g: Param[3], b: Param[3]):\n"
           "    return sum(batch_norm(x, g, b, eps=g))\n")
    with pytest.raises(CompileError) as err:
        compile_to(write_model(tmp_path, src), str(tmp_path))
    assert err.value.line == 4 and "eps must be a number" in err.value.message


# -- the printer is strict: what it cannot print is an error, never a broken module ---
def test_unprintable_function_is_an_error_and_nothing_is_written(tmp_path, monkeypatch):
    from adc.compiler import library, values
    import os

    class unknown_fn(sp.Function):
        """A function with no printing rule."""

    monkeypatch.setitem(library.FUNCTIONS, "exp",
                        lambda b, x: values.elementwise(unknown_fn, x))
    src = "from adc.lang import *\ndef f(x: Param[3]):\n    return sum(exp(x))\n"
    path = write_model(tmp_path, src)
    out = os.path.join(str(tmp_path), "out_adc.py")
    with pytest.raises(CompileError) as err:
        adc.compile(path, out)
    assert "no printing rule" in err.value.message and "unknown_fn" in err.value.message
    assert not os.path.exists(out)
