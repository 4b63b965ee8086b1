"""One test per bug the fuzzers found (tests/fuzz), each on its shrunk model.

Every test states the right behaviour, never today's: the compiled value equals the
eager NumPy run, every gradient / VJP equals central differences of the eager run, or
the compiler rejects the model with a located error (`file:line:col: error:`, exit 1,
no traceback). `check` and `rejected` below do the work (oracle.py, mutants.py).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

import mutants
import oracle
from adc.compiler import driver

HERE = os.path.dirname(os.path.abspath(__file__))


def check(tmp_path, source, entry="f", sizes=None, domains=None, wrt=(), seed=0,
          float32=False):
    """Compile `source`; value == eager run, gradients == FD of the eager run."""
    name = f"reg_{abs(hash(source)) % 10 ** 8}"
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    try:
        module = oracle.compile_model(str(path), str(tmp_path / f"{name}_adc.py"), wrt)
        eager = oracle.import_file(str(path), f"eager_{name}")
        specs = mutants.inputs_from_signature(module, entry, seed)
        for s in specs:
            if sizes:
                s.shape = tuple(_resize(module, entry, s.name, sizes) or s.shape)
            if domains and s.name in domains:
                s.domain = domains[s.name]
        values = oracle.draw_inputs(specs, seed)

        def run():
            oracle.check_module(module, getattr(eager, entry), entry, specs, values, seed)
            if float32:
                oracle.check_float32(module, getattr(eager, entry), entry, values)
        oracle.in_child(run)
    except oracle.Failure as exc:
        pytest.fail(f"{exc}\n--- model ---\n{source}", pytrace=False)
    return module


def _resize(module, entry, name, sizes):
    shape = module.SIGNATURES[entry]["args"][name]["shape"]
    if any(isinstance(d, str) for d in shape):
        return [d if isinstance(d, int) else sizes[d] for d in shape]
    return None


def rejected(tmp_path, source, line=None):
    """`adc compile` exits 1 with a located message and no traceback (at `line`)."""
    path = tmp_path / "bad_model.py"
    path.write_bytes(source if isinstance(source, bytes) else source.encode())
    try:
        outcome = mutants.cli_compile(str(path), str(tmp_path / "bad_model_adc.py"))
    except oracle.Failure as exc:
        pytest.fail(f"{exc}\n--- model ---\n{source!r}", pytrace=False)
    assert outcome == "rejected", f"compiled, but the model is not valid:\n{source!r}"
    if line is not None:
        from click.testing import CliRunner
        from adc.cli.main import main
        err = CliRunner().invoke(main, ["compile", str(path)]).stderr
        assert f"{path}:{line}:" in err, err


HEAD = "from adc.lang import *\nN = dim(\"N\")\n\n"


# -- known before the fuzzers (issue 8), rediscovered --------------------------------------------
def test_prefix_slices_on_both_sides_of_matmul(tmp_path):
    check(tmp_path, HEAD + "def f(X: Data[N, 6], A: Param[6, 4]):\n"
          "    return sum(tanh(X[:, :3] @ A[:3, :]))\n")


def test_prefix_slice_before_matmul_with_unsliced_right_operand(tmp_path):
    check(tmp_path, HEAD + "def f(X: Data[N, 6], A: Param[3, 4]):\n"
          "    return sum(relu(X[:, :3] @ A))\n")


def test_transposed_prefix_slice_as_right_operand(tmp_path):
    check(tmp_path, HEAD + "def f(X: Data[N, 6], A: Param[3, 5]):\n"
          "    return sum(sin(A.T @ X[:, :3].T))\n")


def test_gradient_of_a_prefix_slice_is_initialised(tmp_path):
    check(tmp_path, HEAD + "def f(x: Param[10]):\n    return sum(x[:6] * x[:6])\n")


def test_gradient_of_a_prefix_column_slice_is_initialised(tmp_path):
    check(tmp_path, HEAD + "def f(cc: Param[3, 6, 6]):\n"
          "    return max(softmax(cc[:, :, :2]))\n")


def test_vjp_of_two_outputs_sharing_a_temporary(tmp_path):
    check(tmp_path, HEAD + "def f(x: Param[3]):\n    h = tanh(x)\n    return h, h\n")


def test_vjp_of_a_scalar_and_a_tensor_sharing_work(tmp_path):
    check(tmp_path, HEAD + "def f(x: Param[3]):\n    h = tanh(x)\n    return sum(h), h\n")


def test_vjp_of_an_output_shaped_by_a_size_expression(tmp_path):
    check(tmp_path, HEAD + "def f(X: Param[N, 3]):\n    return tanh(X[1:, :])\n")


def test_local_named_like_the_adjoint_of_a_parameter(tmp_path):
    check(tmp_path, HEAD + "def f(x: Param[3]):\n    d_x = tanh(x)\n"
          "    return sum(d_x * x)\n")


@pytest.mark.parametrize("name", ["value", "acc", "arg", "np", "math", "njit", "sizes",
                                  "tmp0", "tmp", "namedtuple", "dtype", "k", "step", "prange",
                                  "float64", "cuda", "SimpleNamespace", "i", "r", "out",
                                  "total", "mm", "grads", "values", "N_", "best"])
def test_any_identifier_can_name_an_argument(tmp_path, name):
    """Arguments named like the compiler's own names: KeyError in autodiff.grad_tensor
    (every name of values.CODEGEN_NAMES). Locals of these names work."""
    check(tmp_path, HEAD + f"def f({name}: Param[N, 3], ww: Param[3]):\n"
          f"    h = tanh({name} @ ww)\n    return sum(h * h)\n")


@pytest.mark.parametrize("name", ["arg", "prange", "value", "np", "math", "acc"])
def test_any_identifier_can_name_a_data_argument(tmp_path, name):
    """A Data argument of such a name compiles, but the kernel reads a renamed `arg_`
    that is never defined: NameError (a Numba TypingError) at call time."""
    check(tmp_path, HEAD + f"def f({name}: Data[3], ww: Param[3]):\n"
          f"    return sum(tanh(ww * {name}))\n")


@pytest.mark.parametrize("name", ["SIGNATURES", "f_Grads", "f_value_and_grad", "f_grad"])
def test_argument_named_like_a_global_of_the_generated_module(tmp_path, name):
    """The wrappers' parameters shadow the module's globals: f_value_and_grad(f_Grads=...)
    calls the array ('ndarray' object is not callable); SIGNATURES breaks f_vjp."""
    check(tmp_path, HEAD + f"def f({name}: Param[N, 3], ww: Param[3]):\n"
          f"    h = tanh({name} @ ww)\n    return sum(h * h)\n")


@pytest.mark.parametrize("call", ["batch_norm(x, g, b, eps)", "batch_norm(x, g, b, eps=eps)",
                                  "layer_norm(x, g, b, eps=eps)"])
def test_runtime_float_as_normaliser_eps(tmp_path, call):
    check(tmp_path, HEAD + "def f(x: Param[N, 3], g: Param[3], b: Param[3], "
          f"eps: float = 0.01):\n    return sum(tanh({call}))\n")


def test_runtime_float_as_hinge_margin(tmp_path):
    check(tmp_path, HEAD + "def f(s: Param[N, 3], y: Index[N], m: float = 0.5):\n"
          "    return multiclass_hinge(s, y, margin=m)\n")


def test_mixed_integer_slice_and_gather_indexing(tmp_path):
    # NumPy: the advanced indices (0 and idx) are apart, so their axis goes first: (4, 3)
    check(tmp_path, HEAD + "def f(x: Param[2, 3, 5], idx: Index[4]):\n"
          "    return sum(tanh(x[0, :, idx]) * arange(3))\n")


def test_power_of_parameters_at_zero_base(tmp_path):
    src = HEAD + "def f(x: Param[3], y: Param[3]):\n    return sum(x ** y)\n"
    module = check(tmp_path, src, domains={"x": "positive"})
    _, g = module.f_value_and_grad(np.array([0.0, 1.0, 2.0]), np.array([2.0, 2.0, 2.0]))
    assert np.all(np.isfinite(g.x)) and np.all(np.isfinite(g.y)), g   # JAX: dx = 0, dy = 0


def test_dot_of_nd_arrays_follows_numpy(tmp_path):
    check(tmp_path, HEAD + "def f(a: Param[2, 2, 3], b: Param[2, 3, 4]):\n"
          "    return sum(sin(dot(a, b)))\n")


def test_reshape_with_minus_one_that_does_not_divide(tmp_path):
    rejected(tmp_path, HEAD + "def f(x: Param[7]):\n    return sum(reshape(x, (-1, 3)))\n",
             line=5)


@pytest.mark.parametrize("expr", ["x" + " + 0.0" * 1000, "- " * 1000 + "x"])
def test_deeply_nested_expression_python_compiles(tmp_path, expr):
    """Python compiles these; adc said "cannot lower this expression (RecursionError)"."""
    src = HEAD + f"def f(x: Param[3]):\n    return sum({expr})\n"
    compile(src, "deep.py", "exec")
    check(tmp_path, src)


def test_nesting_too_deep_for_python_is_a_located_error(tmp_path):
    """3000 additions: a RecursionError traceback from parse_module (Python's own
    compile() gives up here too, so a located error is right)."""
    src = HEAD + "def f(x: Param[3]):\n    return sum(x" + " + 0.0" * 3000 + ")\n"
    assert _cli(tmp_path, src) == "rejected"


@pytest.mark.parametrize("name", ["relu", "np", "math"])
def test_entry_point_named_like_a_name_the_module_uses(tmp_path, name):
    """The kernels call the scalar helper relu() and np.*; an entry point of that name
    replaced them (TypingError / AttributeError at call time)."""
    check(tmp_path, "from adc.lang import Param, Index, dim, multiclass_hinge, tanh\n"
          f"N = dim(\"N\")\n\ndef {name}(s: Param[N, 3], y: Index[N]):\n"
          "    return multiclass_hinge(tanh(s), y)\n", entry=name)


def _cli(tmp_path, source):
    path = tmp_path / "model.py"
    path.write_bytes(source if isinstance(source, bytes) else source.encode())
    try:
        return mutants.cli_compile(str(path), str(tmp_path / "model_adc.py"))
    except oracle.Failure as exc:
        pytest.fail(str(exc), pytrace=False)


# -- found by the fuzzers ------------------------------------------------------------------------
def test_abs_of_a_product_prints_valid_code(tmp_path):
    """d|v*w|/dv printed SymPy's re()/im() as '# Not supported in Python' (a SyntaxError)."""
    check(tmp_path, HEAD + "def f(v: Param[3], w: Param[3]):\n    return sum(abs(v * w))\n")


def test_abs_of_a_parameter_times_data(tmp_path):
    check(tmp_path, HEAD + "def f(c: Data[()], w: Param[3]):\n    return sum(abs(c * w))\n")


def test_sigmoid_of_a_product_with_exp_prints_valid_code(tmp_path):
    """The same printer hole without abs in the source: sigmoid's stable form takes |z|,
    and SymPy rewrites |w*exp(a)| as |w|*exp(re(a)) -> '# Not supported in Python'."""
    check(tmp_path, HEAD + "def f(w: Param[3], a: Param[3]):\n"
          "    return sum(sigmoid(w * exp(a)))\n")


def test_parameter_name_with_a_leading_underscore(tmp_path):
    """f_Grads is a namedtuple: a field '_x' made the module fail at import."""
    check(tmp_path, HEAD + "def f(_x: Param[3]):\n    return sum(tanh(_x))\n")


def test_argument_named_cotangent(tmp_path):
    """f_vjp(..., cotangent) got a duplicate argument: a SyntaxError at import."""
    check(tmp_path, HEAD + "def f(cotangent: Data[3], w: Param[3]):\n"
          "    return tanh(w) * cotangent\n")


def test_nested_tanh_compiles_in_reasonable_time():
    """Compile time doubled per tanh: 10 nested tanh took 34 s (sin, exp: 0.03 s)."""
    src = HEAD + "def f(x: Param[3]):\n    return sum(" + "tanh(" * 12 + "x" + ")" * 12 + ")\n"
    start = time.time()
    with mutants.time_limit(60):
        driver.compile_source("nested.py", src)
    assert time.time() - start < 10


def test_comparison_used_as_a_number_is_a_located_error(tmp_path):
    """`c = x < y` then `c` in arithmetic crashed autodiff (StrictLessThan has no diff)."""
    rejected(tmp_path, HEAD + "def f(x: Param[3], y: Param[3]):\n    c = x < y\n"
             "    return sum(c * x)\n", line=5)


def test_dim_with_an_unknown_keyword_is_rejected(tmp_path):
    """The eager run raises TypeError at import; the compiler ignored the keyword."""
    rejected(tmp_path, "from adc.lang import *\nN = dim(\"N\", eps=1)\n\n"
             "def f(x: Param[N]):\n    return sum(x)\n", line=2)


@pytest.mark.parametrize("junk", [b"\x00", b"\xff\xfe", b"\xe3\x18\x82"])
def test_bytes_python_cannot_read_give_a_located_error(tmp_path, junk):
    """A NUL byte or invalid UTF-8 was an error with no line:col."""
    src = HEAD.encode() + b"def f(x: Param[3]):\n    return sum(x" + junk + b")\n"
    rejected(tmp_path, src, line=5)


def test_cse_temporary_is_computed_after_the_values_it_reads(tmp_path):
    """In the fused loop `tmp0 = a[i]*g[i]` was hoisted above `a[i] = 2.0*g[i]`: the
    value read uninitialised memory."""
    check(tmp_path, HEAD + "def f(g: Param[3]):\n    a = g * 2.0\n"
          "    p = sin(a * g) + cos(a * g)\n    c = a[0]\n    return p\n")


@pytest.mark.parametrize("body", ["s = s * 2.0\n    return sum(s * x)",
                                  "s = sum(x) * s\n    return s * sum(x)"])
def test_rebinding_a_float_hyper_parameter(tmp_path, body):
    """The kernel took the argument `s` and the local `s`: duplicate argument (SyntaxError)."""
    check(tmp_path, HEAD + f"def f(x: Param[3], s: float = 0.5):\n    {body}\n")


def test_labels_shorter_than_the_logits_rows_is_not_a_crash(tmp_path):
    """Index[1] labels for (N, C) logits compiled; the kernel read y[i] for every row i
    out of bounds and the process died (SIGSEGV). NumPy's eager run uses one row; a
    located error (the labels must have the logits' rows) would do too."""
    src = ("from adc.lang import Data, Param, Index, dim, cross_entropy\nN = dim(\"N\")\n\n"
           "def f(X: Data[N, 4], y: Index[1], W: Param[4, 3]):\n"
           "    return cross_entropy(X @ W, y)\n")
    if _cli(tmp_path, src) == "compiled":
        check(tmp_path, src, sizes={"N": 2000})


def test_in_place_update_through_a_view_follows_numpy_or_is_rejected(tmp_path):
    """`v = h[1:]; h -= 1.0` changes v in NumPy (a view); adc computed v from the old h.
    Either follow NumPy or reject `op=` on an array that has live views."""
    src = HEAD + ("def f(x: Param[3]):\n    h = x * 2.0\n    v = h[1:]\n    h -= 1.0\n"
                  "    return sum(v * x[1:])\n")
    if _cli(tmp_path, src) == "compiled":
        check(tmp_path, src)


def test_a_tensor_passed_as_eps_is_a_clear_error(tmp_path):
    """layer_norm(a, g, b, g): 'adc cannot lower this expression (SympifyError ...)', an
    internal error, instead of saying that eps must be a number."""
    rejected(tmp_path, HEAD + "def f(a: Param[N, 3], g: Param[3], b: Param[3]):\n"
             "    return sum(layer_norm(a, g, b, g))\n", line=5)


def test_subscript_of_a_float_argument_is_rejected(tmp_path):
    """`p[...]` of a float argument compiled; Python cannot subscript a float."""
    rejected(tmp_path, HEAD + "def f(x: Param[3], p: float = 0.5):\n    p = p[...]\n"
             "    return sum(x * p)\n", line=5)


def test_bool_constant_in_arithmetic(tmp_path):
    """`h + True` crashed the front end (TypeError: BooleanAtom not allowed in this
    context, a traceback). NumPy reads True as 1; a located error would do too."""
    src = HEAD + ("def f(x: Param[N, 3], W: Param[3, 2], y: Index[N]):\n"
                  "    h = x @ W + True\n    return cross_entropy(h, y)\n")
    if _cli(tmp_path, src) == "compiled":
        check(tmp_path, src)


def test_keyword_only_arguments_keep_their_star(tmp_path):
    """The generated f(x, s=0.5) lost the `*` of f(x, *, s=0.5) (known, issue 8 item 11)."""
    check(tmp_path, HEAD + "def f(x: Param[3], *, s: float = 0.5):\n"
          "    return sum(tanh(x) * s)\n")


def test_keyword_only_argument_without_a_default_after_a_default(tmp_path):
    """f(x, s=0.5, *, t) was emitted as f(x, s=0.5, t): a SyntaxError at import."""
    check(tmp_path, HEAD + "def f(x: Param[3], s: float = 0.5, *, t: float):\n"
          "    return sum(tanh(x) * s * t)\n")
