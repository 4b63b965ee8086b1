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


# -- names: any identifier a user picks works -----------------------------------------
NAME_CLASH_MODELS = {
    "gradient name": "def f(x: Param[3]):\n    d_x = tanh(x)\n    return sum(d_x * x)\n",
    "kernel locals": "def f(value: Param[3], acc: Param[3], arg: Param[3], dtype: Param[3]):\n"
                     "    tmp0 = value * acc\n    return sum(max(tmp0 + arg, axis=0) * dtype)\n",
    "module names": "def f(np: Param[3], math: Param[3], args: Param[3], results: Param[3]):\n"
                    "    return sum(np * math + args * results)\n",
    "loop index names": "N = dim('i')\nM = dim('acc')\n"
                        "def f(x: Param[N, M], j: Param[M]):\n    return sum(x @ j)\n",
    "dims like builtins": "N = dim('range')\nM = dim('np')\n"
                          "def f(x: Param[N, M]):\n    return sum(tanh(x) * 2.0)\n",
    "float named like a dim": "N = dim('N')\n"
                              "def f(x: Param[N], N: float = 2.0):\n    return sum(x * N)\n",
    "helpers' names": "def f(sigmoid_minus: Param[3], relu_: Param[3]):\n"
                      "    return sum(sigmoid(sigmoid_minus) + relu(relu_))\n",
    "wrapper internals": "def f(_f_args: Data[3], values: Param[3], _prepare: Data[3]):\n"
                         "    return sum(_f_args * values * _prepare)\n",
}


@pytest.mark.parametrize("what", NAME_CLASH_MODELS)
def test_user_names_that_look_generated(tmp_path, what):
    src = "from adc.lang import *\n" + NAME_CLASH_MODELS[what]
    check_against_eager(tmp_path, src, {"i": 3, "acc": 4, "range": 3, "np": 2, "N": 5})


def test_entry_points_named_like_helpers_and_generated_functions(tmp_path):
    src = ("from adc.lang import *\n"
           "def relu(x: Param[3]):\n    return sum(tanh(x))\n"
           "def sigmoid(x: Param[3]):\n    return sum(x * x)\n"
           "def g(x: Param[3]):\n    return sum(maximum(x, 0.0) * 2.0)\n")
    module = check_against_eager(tmp_path, src)
    x = np.array([0.5, -1.0, 2.0])
    assert module.relu(x) == pytest.approx(np.tanh(x).sum())
    assert module.sigmoid(x) == pytest.approx((x * x).sum())


@pytest.mark.parametrize("src, words", [
    ("def f(x: Param[3]):\n    return sum(x)\ndef f_grad(x: Param[3]):\n    return sum(x)\n",
     "'f_grad'"),
    ("def SIGNATURES(x: Param[3]):\n    return sum(x)\n", "'SIGNATURES'"),
    ("def np(x: Param[3]):\n    return sum(x)\n", "'np'"),
    ("def len(x: Param[3]):\n    return sum(x)\n", "'len'"),
])
def test_public_name_clash_is_a_located_error(tmp_path, src, words):
    with pytest.raises(CompileError) as err:
        compile_to(write_model(tmp_path, "from adc.lang import *\n" + src), str(tmp_path))
    assert words in err.value.message and err.value.line > 1 and err.value.source_line


def test_differentiated_argument_with_underscore_is_a_located_error(tmp_path):
    src = "from adc.lang import *\ndef f(_w: Param[3]):\n    return sum(_w)\n"
    with pytest.raises(CompileError) as err:
        compile_to(write_model(tmp_path, src), str(tmp_path))
    assert "'_w'" in err.value.message and "f_Grads" in err.value.message


@pytest.mark.parametrize("arg", ["cotangent", "tangents", "vector"])
def test_argument_named_like_a_call_keyword_is_a_located_error(tmp_path, arg):
    src = f"from adc.lang import *\ndef f({arg}: Param[3]):\n    return sum({arg})\n"
    with pytest.raises(CompileError) as err:
        compile_to(write_model(tmp_path, src), str(tmp_path))
    assert f"'{arg}'" in err.value.message and err.value.line == 2


def test_keyword_only_arguments_stay_keyword_only(tmp_path):
    src = ("from adc.lang import *\n"
           "def f(x: Param[3], *, s: float = 2.0, y: Data[3]):\n    return sum(x * y * s)\n")
    module = compile_to(write_model(tmp_path, src), str(tmp_path))
    x, y = np.ones(3), np.arange(3.0)
    assert module.f(x, y=y) == pytest.approx(6.0)
    assert module.f(x, s=1.0, y=y) == pytest.approx(3.0)
    with pytest.raises(TypeError):
        module.f(x, 2.0, y)
    assert module.SIGNATURES["f"]["args"]["s"]["kwonly"] is True


# -- NumPy semantics the tests of other projects rely on -------------------------------
@pytest.mark.parametrize("a, b", [("2, 3", "2, 3, 4"), ("2, 2, 3", "2, 3, 4"),
                                  ("2, 2, 3", "3"), ("3", "2, 3, 4"), ("4, 3", "3, 2")])
def test_dot_follows_numpy_for_nd_arrays(tmp_path, a, b):
    src = ("from adc.lang import *\nimport numpy as np\n"
           f"def f(x: Param[{a}], y: Param[{b}]):\n    return np.dot(x, y)\n")
    check_against_eager(tmp_path, src)


@pytest.mark.parametrize("index", ["x[3, 2:, idx]", "x[:, 2, idx]", "x[idx, 2]",
                                   "x[1:, idx, 0]", "x[0, :, idx]", "x[idx, :, idx]",
                                   "x[None, idx, 1]", "x[idx, None, 1]", "x[idx, ..., 1]",
                                   "x[..., idx]", "x[2, 1:5:2, -1]"])
def test_mixed_int_slice_and_gather_indexing(tmp_path, index):
    src = ("from adc.lang import *\n"
           f"def f(x: Param[5, 6, 4], idx: Index[2]):\n    return sin({index})\n")
    check_against_eager(tmp_path, src, values=lambda m, f: {
        "x": np.random.default_rng(0).standard_normal((5, 6, 4)), "idx": np.array([1, 3])})


def test_power_gradients_at_zero_are_those_of_jax(tmp_path):
    src = ("from adc.lang import *\nimport numpy as np\n"
           "def f(x: Param[()], y: float):\n    return np.power(x, y)\n"
           "def g(y: Param[()]):\n    return np.power(0.0, y)\n"
           "def h(x: Param[3], y: Param[3]):\n    return sum(x ** y)\n"
           "def k(x: Param[3], n: int = 3):\n    return sum(x ** n)\n")
    module = compile_to(write_model(tmp_path, src), str(tmp_path))
    zero = np.array(0.0)
    assert module.f_grad(zero, 0.0).x == 0.0 and module.f_grad(zero, 2.0).x == 0.0
    assert module.f_grad(np.array(2.0), 3.0).x == pytest.approx(12.0)
    assert module.g_grad(np.array(0.5)).y == 0.0
    g = module.h_grad(np.zeros(3), np.array([0.0, 1.0, 2.0]))
    np.testing.assert_array_equal(g.x, [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(g.y, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(module.k_grad(np.zeros(3)).x, np.zeros(3))
    assert module.f_hvp(zero, 2.0, vector={"x": np.array(1.0)}).x == pytest.approx(2.0)


# -- smaller items -------------------------------------------------------------------
def test_reshape_with_an_indivisible_minus_one_is_a_compile_error(tmp_path):
    src = ("from adc.lang import *\nN = dim('N')\n"
           "def f(x: Param[N, 6]):\n    return sum(reshape(x, (-1, 4)))\n")
    with pytest.raises(CompileError) as err:
        compile_to(write_model(tmp_path, src), str(tmp_path))
    assert err.value.line == 4 and "not a multiple of 4" in err.value.message


def test_max_with_a_number_hints_at_maximum(tmp_path):
    src = "from adc.lang import *\ndef f(x: Param[3]):\n    return sum(max(x, 0.0))\n"
    with pytest.raises(CompileError) as err:
        compile_to(write_model(tmp_path, src), str(tmp_path))
    assert "maximum(x, y)" in err.value.hint


@pytest.fixture
def linear(tmp_path):
    src = ("from adc.lang import *\nN = dim('N')\nD = dim('D')\n"
           "def f(X: Data[N, D], w: Param[D]):\n    return sum(tanh(X @ w))\n")
    return compile_to(write_model(tmp_path, src), str(tmp_path))


def test_an_empty_batch_follows_numpy(tmp_path, linear):
    """N = 0: sums are 0 and means NaN, as in NumPy; a max over the empty axis has no
    value, and raises a ValueError naming the line (NumPy raises too)."""
    assert linear.f(np.zeros((0, 3)), np.ones(3)) == 0.0
    np.testing.assert_array_equal(linear.f_grad(np.zeros((0, 3)), np.ones(3)).w, np.zeros(3))
    src = ("from adc.lang import *\nN = dim('N')\n"
           "def g(X: Data[N, 3], w: Param[3]):\n    return mean(tanh(X @ w))\n"
           "def h(X: Data[N, 3], w: Param[3]):\n    return max(X @ w)\n")
    module = compile_to(write_model(tmp_path, src), str(tmp_path))
    assert np.isnan(module.g(np.zeros((0, 3)), np.ones(3)))
    with pytest.raises(ValueError, match=r"line 6 .* takes the max over an empty axis, "
                                         r"which fails with N = 0"):
        module.h(np.zeros((0, 3)), np.ones(3))


def test_the_max_of_an_empty_slice_is_a_compile_error(tmp_path):
    src = "from adc.lang import *\ndef f(x: Param[4]):\n    return max(x[2:2]) + sum(x)\n"
    with pytest.raises(CompileError) as err:
        compile_to(write_model(tmp_path, src), str(tmp_path))
    assert err.value.line == 3 and "empty axis" in err.value.message


def test_float16_is_refused_not_promoted(linear):
    with pytest.raises(ValueError, match="float16.*float32 or float64"):
        linear.f(np.zeros((4, 3), np.float16), np.ones(3))


def test_a_shape_error_names_where_the_size_was_bound(linear):
    """X transposed binds D from X; the message on w says so."""
    with pytest.raises(ValueError) as err:
        linear.f(np.zeros((3, 4)), np.ones(3))
    assert "'w'" in str(err.value) and "D = 4 from X.shape[1]" in str(err.value)


def test_sizes_written_as_expressions_are_checked(tmp_path):
    src = ("from adc.lang import *\nN = dim('N')\nM = 2 * N\n"
           "def f(x: Param[N], W: Param[M]):\n    return sum(x) * sum(W)\n")
    module = compile_to(write_model(tmp_path, src), str(tmp_path))
    assert module.f(np.ones(3), np.ones(6)) == pytest.approx(18.0)
    with pytest.raises(ValueError, match=r"'W' has size 5 on axis 0, expected 2\*N = 6"):
        module.f(np.ones(3), np.ones(5))


# -- memory safety: every index in range, proved or checked before the kernel runs ----
def test_gather_with_arange_past_the_axis_is_checked(tmp_path):
    src = ("from adc.lang import *\nN = dim('N')\n"
           "def f(X: Data[N, 3], w: Param[2]):\n    return sum(w[arange(X.shape[0])] * 2.0)\n")
    module = compile_to(write_model(tmp_path, src), str(tmp_path))
    assert module.f(np.ones((2, 3)), np.ones(2)) == 4.0
    for f in (module.f, module.f_grad, module.f_value_and_grad):
        with pytest.raises(ValueError, match=r"reads 'w' at indices up to N - 1 on axis 0 "
                                             r"\(of size 2\), which fails with N = 50"):
            f(np.ones((50, 3)), np.ones(2))


def test_gather_after_a_new_axis_is_checked(tmp_path):
    src = ("from adc.lang import *\nN = dim('N')\n"
           "def f(lp: Param[N, 3], y: Index[N]):\n    lp2 = lp[None]\n"
           "    return sum(lp2[arange(N), y])\n")
    module = compile_to(write_model(tmp_path, src), str(tmp_path))
    assert module.f(np.full((1, 3), 2.0), np.array([0])) == 6.0   # a row of 3
    with pytest.raises(ValueError, match="reads 'lp2' at indices up to N - 1 on axis 0"):
        module.f_value_and_grad(np.ones((4, 3)), np.array([1, 0, 2, 1]))


def test_an_index_out_of_range_for_every_size_is_a_compile_error(tmp_path):
    src = ("from adc.lang import *\nN = dim('N')\n"
           "def f(x: Param[N], w: Param[3]):\n    return sum(w[arange(5)])\n")
    with pytest.raises(CompileError) as err:
        compile_to(write_model(tmp_path, src), str(tmp_path))
    assert err.value.line == 4 and "out of range" in err.value.message


def test_arithmetic_on_index_values_is_refused(tmp_path):
    src = ("from adc.lang import *\nN = dim('N')\n"
           "def f(x: Param[5], y: Index[N]):\n    return sum(x[y + 1])\n")
    with pytest.raises(CompileError) as err:
        compile_to(write_model(tmp_path, src), str(tmp_path))
    assert err.value.line == 4 and "index" in err.value.message


def test_a_size_seen_only_inside_an_expression_is_a_compile_error(tmp_path):
    src = ("from adc.lang import *\nN = dim('N')\n"
           "def f(W: Param[2 * N]):\n    return sum(W)\n")
    with pytest.raises(CompileError) as err:
        compile_to(write_model(tmp_path, src), str(tmp_path))
    assert err.value.line == 3 and "size N appears only inside" in err.value.message


def test_sigmoid_of_maximum_compiles_and_matches_eager(tmp_path):
    """CSE temporaries are real symbols: no re()/im() in the kernel (hypothesis found
    sigmoid(maximum(x, y)) failing with 'no printing rule for re')."""
    check_against_eager(tmp_path, """
from adc.lang import Param, maximum, sigmoid, sum

def f(x: Param[()], y: Param[()], v: Param[3]):
    return sum(sigmoid(maximum(x, y))) + sum(sigmoid(maximum(v, x)))
""")
