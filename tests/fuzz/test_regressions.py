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


def rejected(tmp_path, source, line=None, words=()):
    """`adc compile` exits 1 with a located message and no traceback (at `line`, with
    `words` in the message)."""
    path = tmp_path / "bad_model.py"
    path.write_bytes(source if isinstance(source, bytes) else source.encode())
    try:
        outcome = mutants.cli_compile(str(path), str(tmp_path / "bad_model_adc.py"))
    except oracle.Failure as exc:
        pytest.fail(f"{exc}\n--- model ---\n{source!r}", pytrace=False)
    assert outcome == "rejected", f"compiled, but the model is not valid:\n{source!r}"
    if line is not None or words:
        from click.testing import CliRunner
        from adc.cli.main import main
        err = CliRunner().invoke(main, ["compile", str(path)]).stderr
        assert line is None or f"{path}:{line}:" in err, err
        assert all(w in err for w in words), err


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


def _many_arguments(names, role="Param[N, 3]"):
    """One model whose arguments take all of `names` (one Numba compile for the lot)."""
    args = ", ".join(f"{n}: {role}" for n in names)
    return HEAD + f"def f({args}, ww: Param[3]):\n    h = tanh(({' + '.join(names)}) @ ww)\n" \
        "    return sum(h * h)\n"


@pytest.mark.parametrize("names", [["value", "acc", "arg", "np", "math", "njit", "sizes"],
                                   ["tmp0", "tmp", "namedtuple", "dtype", "k", "step", "prange"],
                                   ["float64", "cuda", "SimpleNamespace", "i", "r", "out"],
                                   ["total", "mm", "grads", "values", "N_", "best"]])
def test_any_identifier_can_name_an_argument(tmp_path, names):
    """Arguments named like the compiler's own names: KeyError in autodiff.grad_tensor
    (every name of values.CODEGEN_NAMES). Locals of these names work."""
    check(tmp_path, _many_arguments(names))


def test_any_identifier_can_name_a_data_argument(tmp_path):
    """A Data argument of such a name compiles, but the kernel reads a renamed `arg_`
    that is never defined: NameError (a Numba TypingError) at call time."""
    check(tmp_path, _many_arguments(["arg", "prange", "value", "np", "math", "acc"], "Data[3]"))


def test_argument_named_like_a_global_of_the_generated_module(tmp_path):
    """The wrappers' parameters shadow the module's globals: f_value_and_grad(f_Grads=...)
    calls the array ('ndarray' object is not callable); SIGNATURES breaks f_vjp."""
    check(tmp_path, _many_arguments(["SIGNATURES", "f_Grads", "f_value_and_grad", "f_grad"]))


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


def test_nesting_too_deep_for_python_compiles_or_is_a_located_error(tmp_path):
    """3000 additions: a RecursionError traceback from parse_module. Python's own compile()
    gives up here, so a located error is right; adc now parses on a deep stack and
    compiles it (tests/compiler/test_hostile.py), which must then be right."""
    src = HEAD + "def f(x: Param[3]):\n    return sum(x" + " + 0.0" * 3000 + ")\n"
    if _cli(tmp_path, src) == "compiled":
        module = oracle.import_file(str(tmp_path / "model_adc.py"), "deep_adc")
        assert module.f(np.array([1.0, 2.0, 3.0])) == 6.0


HINGE = "from adc.lang import Param, Index, dim, multiclass_hinge, tanh\nN = dim(\"N\")\n\n"


def test_entry_point_named_like_a_helper_the_module_uses(tmp_path):
    """The kernels call the scalar helper relu(); an entry point of that name replaced it
    (TypingError at call time)."""
    check(tmp_path, HINGE + "def relu(s: Param[N, 3], y: Index[N]):\n"
          "    return multiclass_hinge(tanh(s), y)\n", entry="relu")


@pytest.mark.parametrize("name", ["np", "math"])
def test_entry_point_named_like_a_module_the_generated_code_imports(tmp_path, name):
    """An entry point `np` replaced NumPy in the generated module (AttributeError at call
    time). Main now refuses the name, at the def, telling to rename the function."""
    rejected(tmp_path, HINGE + f"def {name}(s: Param[N, 3], y: Index[N]):\n"
             "    return multiclass_hinge(tanh(s), y)\n", line=4,
             words=[f"the name '{name}'", f"rename the function '{name}'"])


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
    """f_Grads is a namedtuple: a field '_x' made the module fail at import. Main now
    refuses the name with a located error (a Data argument `_x` still compiles)."""
    rejected(tmp_path, HEAD + "def f(_x: Param[3]):\n    return sum(tanh(_x))\n", line=4,
             words=["'_x'", "named-tuple fields cannot start with '_'"])
    check(tmp_path, HEAD + "def f(_x: Data[3], w: Param[3]):\n    return sum(tanh(_x * w))\n")


@pytest.mark.parametrize("name", ["cotangent", "tangents", "vector"])
def test_argument_named_like_a_keyword_of_the_generated_functions(tmp_path, name):
    """f_vjp(..., cotangent) got a duplicate argument: a SyntaxError at import. Main now
    refuses these names (f_vjp, f_jvp, f_hvp take them) with a located error."""
    rejected(tmp_path, HEAD + f"def f({name}: Data[3], w: Param[3]):\n"
             f"    return tanh(w) * {name}\n", line=4, words=[f"'{name}'", "rename it"])


@pytest.mark.parametrize("inner", ["x", "x * s", "x * w"])
def test_nested_tanh_compiles_in_reasonable_time(inner):
    """Compile time doubled per tanh: 10 nested tanh took 34 s (sin, exp: 0.03 s). SymPy
    asked whether tanh(tanh(x[i])) is real, splitting every level into re() and im():
    tensor elements and float arguments are now real symbols."""
    src = HEAD + "def f(x: Param[3], w: Param[()], s: float = 0.5):\n    return sum(" + \
        "tanh(" * 12 + inner + ")" * 12 + ")\n"
    start = time.time()
    with mutants.time_limit(60):
        driver.compile_source("nested.py", src)
    assert time.time() - start < 10


def test_comparison_used_as_a_number_is_a_located_error(tmp_path):
    """`c = x < y` then `c` in arithmetic crashed autodiff (StrictLessThan has no diff).
    The error points at the operator that uses it."""
    rejected(tmp_path, HEAD + "def f(x: Param[3], y: Param[3]):\n    c = x < y\n"
             "    return sum(c * x)\n", line=6, words=["comparison", "where("])


@pytest.mark.parametrize("use", ["binary_cross_entropy_with_logits(x, y)",
                                 "mse(x, y)", "sum(maximum(x, y))", "sum(clip(y, 0.0, x))"])
def test_comparison_as_a_library_argument_is_a_located_error(tmp_path, use):
    """Mutant `y = y < y` (false for every element): 'BooleanFalse' object has no
    attribute 'diff' in vjp.local_derivative, a traceback."""
    rejected(tmp_path, HEAD + "def f(x: Param[3], y: Data[3]):\n    y = y < y\n"
             f"    return {use}\n", line=6, words=["comparison", "where("])


def test_every_function_takes_the_keywords_of_adc_lang():
    """A keyword call must mean the same to the compiler and to the eager run (where()
    was (cond, x, y) against adc.lang's (cond, a, b); maximum (x, y) against (a, b))."""
    import inspect
    import adc.lang
    from adc.compiler import library
    for name, lower in library.FUNCTIONS.items():
        eager = inspect.signature(getattr(adc.lang, name)).parameters.values()
        if any(p.kind == p.POSITIONAL_ONLY for p in eager):
            continue     # a NumPy ufunc: no keywords for the operands
        compiled = list(inspect.signature(lower).parameters.values())[1:]   # the builder
        assert [(p.name, p.kind, p.default) for p in compiled] == \
            [(p.name, p.kind, p.default) for p in eager] or name == "einsum", name


def test_where_takes_the_keywords_of_adc_lang(tmp_path):
    """adc.lang.where(cond, a, b); the compiler's where took (cond, x, y): a keyword
    call that runs eagerly was a compile error, and one that compiled failed eagerly."""
    check(tmp_path, HEAD + "def f(x: Param[3], y: Param[3]):\n"
          "    return sum(where(cond=x > y, a=x * y, b=tanh(x)))\n")
    rejected(tmp_path, HEAD + "def f(x: Param[3], y: Param[3]):\n"
             "    return sum(where(x > y, x=x, y=y))\n", line=5)


def test_dim_with_an_unknown_keyword_is_rejected(tmp_path):
    """The eager run raises TypeError at import; the compiler ignored the keyword."""
    rejected(tmp_path, "from adc.lang import *\nN = dim(\"N\", eps=1)\n\n"
             "def f(x: Param[N]):\n    return sum(x)\n", line=2, words=["'eps'"])


def test_dim_with_its_name_as_a_keyword(tmp_path):
    check(tmp_path, "from adc.lang import *\nN = dim(name=\"N\")\n\n"
          "def f(x: Param[N]):\n    return sum(tanh(x))\n")


@pytest.mark.parametrize("junk", [b"\x00", b"\xff\xfe", b"\xe3\x18\x82"])
def test_bytes_python_cannot_read_give_a_located_error(tmp_path, junk):
    """A NUL byte or invalid UTF-8 was an error with no line:col."""
    src = HEAD.encode() + b"def f(x: Param[3]):\n    return sum(x" + junk + b")\n"
    rejected(tmp_path, src, line=5)
    if junk != b"\x00":
        from adc.compiler.errors import CompileError
        path = tmp_path / "junk.py"
        path.write_bytes(src)
        with pytest.raises(CompileError) as err:
            driver.read_source(str(path))
        assert (err.value.line, err.value.col) == (5, 17) and "sum(x" in err.value.source_line


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


@pytest.mark.parametrize("loss", ["cross_entropy", "multiclass_hinge"])
@pytest.mark.parametrize("shapes", ["X: Data[N, 4], y: Index[1]", "X: Data[1, 4], y: Index[N]",
                                    "X: Data[5, 4], y: Index[3]"])
def test_labels_and_logits_rows_that_differ_are_a_located_error(tmp_path, loss, shapes):
    """Index[1] labels for (N, C) logits compiled; the kernel read y[i] for every row i
    out of bounds and the process died (SIGSEGV); later a call-time ValueError. The eager
    run reads as many rows as there are labels: one label per row is the contract."""
    src = (f"from adc.lang import Data, Param, Index, dim, {loss}\nN = dim(\"N\")\n\n"
           f"def f({shapes}, W: Param[4, 3]):\n    return {loss}(X @ W, y)\n")
    rejected(tmp_path, src, line=5, words=["labels have", "rows"])


@pytest.mark.parametrize("lines", [
    "h = x * 2.0\n    v = h[1:]\n    h -= 1.0",            # the view sees the write
    "h = x * 2.0\n    v = h[1:]\n    v *= 3.0",            # the base sees the write
    "h = x * 2.0\n    v = h\n    h += 1.0",                # another name of the array
    "h = x * 2.0\n    v = h.T\n    h += 1.0",
    "h = x * 2.0\n    v = reshape(h, (3, 1))\n    h += 1.0",
    "h = x * 2.0\n    v = h[0:2][1:]\n    h += 1.0",       # a view of a view
    "v = x\n    v += 1.0",                                 # writes into the argument
    "h = x * 2.0\n    t = (h, 1.0)\n    h += 1.0"])
def test_in_place_update_of_a_shared_array_is_rejected(tmp_path, lines):
    """`v = h[1:]; h -= 1.0` changes v in NumPy (a view); adc computed v from the old h."""
    rejected(tmp_path, HEAD + f"def f(x: Param[3]):\n    {lines}\n    return sum(x * 2.0)\n",
             words=["in place", "adc does not model writes through views"])


def test_in_place_update_inside_a_helper_of_the_callers_array_is_rejected(tmp_path):
    """NumPy: _g(h) adds 1 to h itself, so `h * y` reads the new h."""
    rejected(tmp_path, HEAD + "def _g(a):\n    a += 1.0\n    return a\n\n"
             "def f(x: Param[3]):\n    h = x * 2.0\n    y = _g(h)\n    return sum(h * y)\n",
             line=5, words=["'h' would change with it"])


@pytest.mark.parametrize("lines", [
    "h = x * 2.0\n    g = h[1:]\n    h = h * 3.0\n    g += 1.0\n    g = g[0] + h",  # h: new
    "h = x * 2.0\n    g = h[0]\n    h *= 3.0",                   # h[0] of a vector: a copy
    "h = x * 2.0\n    g = h[arange(3)]\n    h *= 3.0",           # a gather: a copy
    "h = x * 2.0\n    c = h > 1.0\n    h -= 1.0\n    g = where(c, h, 0.0)",
    "s = sum(x)\n    t = s\n    s += 1.0\n    g = t",           # NumPy scalars: immutable
    "h = x * 2.0\n    h += x * h\n    g = h",                    # no other name
    "x += 1.0\n    g = x"])
def test_in_place_update_without_a_shared_array_compiles(tmp_path, lines):
    """The same programs without sharing: `h op= e` is `h = h op e`, as in NumPy."""
    src = HEAD + f"def f(x: Param[3]):\n    {lines}\n    return sum(g * x) + sum(x * x)\n"
    check(tmp_path, src)


def test_in_place_update_that_broadcasts_the_target_is_rejected(tmp_path):
    """NumPy: `b += X` with b (3,) and X (N, 3) is 'non-broadcastable output operand'."""
    rejected(tmp_path, HEAD + "def f(b: Param[3], X: Data[N, 3]):\n    b = b * 1.0\n"
             "    b += X\n    return sum(b)\n", line=6, words=["shape of b"])


def test_a_tensor_passed_as_eps_is_a_clear_error(tmp_path):
    """layer_norm(a, g, b, g): 'adc cannot lower this expression (SympifyError ...)', an
    internal error, instead of saying that eps must be a number."""
    rejected(tmp_path, HEAD + "def f(a: Param[N, 3], g: Param[3], b: Param[3]):\n"
             "    return sum(layer_norm(a, g, b, g))\n", line=5)


@pytest.mark.parametrize("use", ["p = p[...]", "p = p[()]", "q = (p * 2.0 + 1)[...]",
                                 "p = p * 2.0\n    p = p[...]", "q = p.T", "q = p.shape"])
def test_subscript_of_a_float_argument_is_rejected(tmp_path, use):
    """`p[...]` of a float argument compiled; Python cannot subscript a float."""
    rejected(tmp_path, HEAD + f"def f(x: Param[3], p: float = 0.5):\n    {use}\n"
             "    return sum(x * p)\n", words=["Python number"])


@pytest.mark.parametrize("use", ["q = sum(x * p)[...]", "q = exp(p)[()]", "q = w[...] * p"])
def test_subscript_of_a_numpy_scalar_compiles(tmp_path, use):
    """NumPy scalars and 0-d arrays (a reduction, a function of a float, Param[()]) can
    be indexed with [...] and [()]."""
    check(tmp_path, HEAD + f"def f(x: Param[3], w: Param[()], p: float = 0.5):\n    {use}\n"
          "    return sum(x * q)\n")


def test_bool_constant_in_arithmetic(tmp_path):
    """`h + True` crashed the front end (TypeError: BooleanAtom not allowed in this
    context, a traceback). NumPy reads True as 1."""
    check(tmp_path, HEAD + "def f(x: Param[N, 3], W: Param[3, 2], y: Index[N]):\n"
          "    h = (True * (x @ W) + True) * -True\n"
          "    h = h / (True + True) - (2 > 1) + (False - 0.5) * h\n"
          "    return cross_entropy(h, y)\n")


def test_keyword_only_arguments_keep_their_star(tmp_path):
    """The generated f(x, s=0.5) lost the `*` of f(x, *, s=0.5) (known, issue 8 item 11)."""
    check(tmp_path, HEAD + "def f(x: Param[3], *, s: float = 0.5):\n"
          "    return sum(tanh(x) * s)\n")


def test_keyword_only_argument_without_a_default_after_a_default(tmp_path):
    """f(x, s=0.5, *, t) was emitted as f(x, s=0.5, t): a SyntaxError at import."""
    check(tmp_path, HEAD + "def f(x: Param[3], s: float = 0.5, *, t: float):\n"
          "    return sum(tanh(x) * s * t)\n")


@pytest.mark.parametrize("body", ["abs(tanh(u) * v + sigmoid(v))",
                                  "abs(exp(sqrt(v * v + 1.0) + sigmoid(u * v)))"])
def test_abs_of_a_value_sympy_cannot_prove_real(tmp_path, body):
    """Seeds 27 and 29: d|u|/du of u = ... + sigmoid(v) is SymPy's re(u)/im(u) form ('no
    printing rule for re', an internal error), and its second derivative an unevaluated
    Derivative(sign(u)); every |w| inside was rewritten w/sign(w), NaN at w = 0."""
    module = check(tmp_path, HEAD + f"def f(u: Data[3], v: Param[3]):\n    return sum({body})\n")
    u, v, t = np.array([0.3, -1.2, 0.7]), np.array([0.0, 0.4, -0.9]), np.array([1.0, -0.5, 2.0])
    hv = module.f_hvp(u, v, vector={"v": t}).v
    h = 1e-6
    fd = (module.f_grad(u, v + h * t).v - module.f_grad(u, v - h * t).v) / (2 * h)
    assert np.all(np.isfinite(hv)), hv
    np.testing.assert_allclose(hv, fd, rtol=1e-5, atol=1e-6)


def test_a_kink_of_log_softmax(tmp_path):
    """Seed 74 (shrunk): relu(log_softmax(x)) crashed the compiler (AttributeError:
    'isfinite' object has no attribute '_eval_as_set'): relu' compares a body holding
    log_softmax's finite-max Piecewise, and SymPy asked for the set where isfinite holds."""
    check(tmp_path, HEAD + "def f(x: Param[2, 3], y: Param[2, 3]):\n"
          "    return sum(relu(log_softmax(x) + 1.0) + minimum(y, log_softmax(x)))\n")


@pytest.mark.parametrize("body", ["square(s ** t)", "(s ** t) ** 3", "(s ** (0.5 * cos(t))) ** 2.5",
                                  "var(square(s ** t), axis=0)"])
def test_a_tensor_power_raised_again(tmp_path, body):
    """Seed 208 (after the generator learned item assignment, shrunk): square(s ** t) with
    a tensor exponent printed as `s[i]**t[i]**2`, which Python reads as s**(t**2): a wrong
    value, silently. `power(x, p)` prints as `x**p` and now has the precedence of `**`
    (its base parenthesised) on the CPU and on CUDA."""
    check(tmp_path, HEAD + f"def f(s: Param[4, 2], t: Param[4, 2]):\n    return sum({body})\n",
          domains={"s": "positive"})


def test_the_power_printer_parenthesises_a_power_base():
    import sympy as sp
    from adc.compiler.backends.numba_cuda import CudaPrinter
    from adc.compiler.ops import power
    from adc.compiler.printer import KernelPrinter
    s, t = sp.IndexedBase("s"), sp.IndexedBase("t")
    i = sp.Symbol("i", integer=True)
    for e, want in [(power(s[i], t[i]) ** 2, "(s[i]**t[i])**2"),
                    (power(s[i], t[i]) ** 2.5, "(s[i]**t[i])**2.5"),
                    (power(power(s[i], t[i]), t[i]), "(s[i]**t[i])**t[i]")]:
        assert KernelPrinter().doprint(e) == want
    cuda = CudaPrinter([i]).doprint(power(s[i], t[i]) ** 2.5)
    assert "(s[i]**t[i])**" in cuda, cuda
