"""Property tests over shapes and broadcasting: elementwise, reductions and matmul.

Hypothesis draws shapes (NumPy-broadcastable pairs, axes, keepdims, 1-D/2-D/batched
matmul operands); each example writes a tiny model with those sizes as literals, runs it
through the compiler's front end and autodiff (driver.lower, driver.compile_program) and
evaluates the IR with the NumPy reference backend. The value must equal the eager NumPy
run of the same source (adc.lang), and the gradients must equal central finite
differences of that eager run. Numba would JIT every example, so it is covered by one
spot-check model at the end instead.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

from adc.compiler import driver
from adc.compiler.backends import numpy_ref
from adc.runtime import gradcheck

from conftest import assert_close_rel, compile_to, import_eager, lowered

HEADER = "import numpy as np\nfrom adc.lang import *\n\n\n"
PROPERTY = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


# -- running one example ----------------------------------------------------------------
def annotation(role, shape) -> str:
    return f"{role}[{', '.join(map(str, shape))}]" if shape else f"{role}[()]"


def model_source(args: dict, expr: str) -> str:
    """`def f(<args>): return sum(sin(1.3 * (expr)))` with the shapes as literals."""
    params = ", ".join(f"{name}: {annotation(role, shape)}"
                       for name, (role, shape) in args.items())
    return HEADER + f"def f({params}):\n    return sum(sin(1.3 * ({expr})))\n"


def eager_function(source: str):
    """The model's `f`, run as plain Python with adc.lang's NumPy implementations."""
    namespace = {}
    exec(compile(source, "<property model>", "exec"), namespace)
    return namespace["f"]


def random_values(args: dict, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape) for name, (_, shape) in args.items()}


def check_model(args: dict, expr: str, seed: int = 0):
    """Value == eager run; gradients == central differences of the eager run."""
    source = model_source(args, expr)
    (lowered_f,) = driver.lower("property_model.py", source)
    compiled = driver.compile_program(lowered_f)   # the whole pipeline must not crash
    values = random_values(args, seed)
    eager = eager_function(source)

    expected = eager(**values)
    (value,) = numpy_ref.forward(compiled.program, values)
    assert_close_rel(value, expected, 1e-10, what=f"value of {expr}")

    grads = numpy_ref.vjp(compiled.program, values, [1.0])
    floor = 1e-4 * max(1.0, abs(float(expected)))
    for name, (role, _) in args.items():
        if role != "Param":
            continue
        _, numeric = gradcheck.numeric_gradient(eager, values, name)
        analytic = np.asarray(grads[name], dtype=float).reshape(-1)
        scale = max(np.max(np.abs(numeric)), np.max(np.abs(analytic)), floor)
        err = np.max(np.abs(analytic - numeric)) / scale
        assert err <= 1e-6, f"d/d{name} of {expr}: finite-difference error {err:.2e}"


# -- elementwise with broadcasting ----------------------------------------------------------
BINARY = ["x + y", "x - y", "x * y", "x / (y * y + 1)", "maximum(x, y)", "minimum(x, y)",
          "where(x > y, x * y, y)", "x ** 2 * y", "x * 0.5 - 2.0 * y"]
UNARY = ["{}", "exp({})", "tanh({})", "sigmoid({})", "softplus({})", "square({})",
         "log(1.5 + sin({}))", "sqrt(2.0 + cos({}))"]


@PROPERTY
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       binary=st.sampled_from(BINARY), unary=st.sampled_from(UNARY),
       seed=st.integers(0, 2**16))
def test_elementwise_broadcasting(shapes, binary, unary, seed):
    x_shape, y_shape = shapes.input_shapes
    args = {"x": ("Param", x_shape), "y": ("Param", y_shape)}
    check_model(args, unary.format(binary), seed)


@PROPERTY
@given(shapes=mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3),
       seed=st.integers(0, 2**16))
def test_where_broadcasts_all_three_operands(shapes, seed):
    c_shape, x_shape, y_shape = shapes.input_shapes
    args = {"c": ("Data", c_shape), "x": ("Param", x_shape), "y": ("Param", y_shape)}
    check_model(args, "where(c > 0, exp(x), y * y)", seed)


# -- reductions -----------------------------------------------------------------------------
REDUCTIONS = ["sum", "mean", "max", "min", "logsumexp", "var"]


@st.composite
def axis_spec(draw, rank):
    """None, an int (possibly negative) or a tuple of distinct axes in any order."""
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-rank, rank - 1))
    axes = draw(st.lists(st.integers(0, rank - 1), min_size=1, max_size=rank, unique=True))
    return tuple(a - rank if draw(st.booleans()) else a for a in axes)


@st.composite
def reduced_operand(draw):
    """x's shape, and a shape for y that broadcasts to it (trailing axes, some of size 1)."""
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple))
    keep = draw(st.integers(0, len(shape)))
    y_shape = tuple(n if draw(st.booleans()) else 1 for n in shape[len(shape) - keep:])
    return shape, y_shape


@PROPERTY
@given(operand=reduced_operand(), op=st.sampled_from(REDUCTIONS), data=st.data(),
       keepdims=st.booleans(), times_input=st.booleans(), seed=st.integers(0, 2**16))
def test_reductions_over_axes(operand, op, data, keepdims, times_input, seed):
    shape, y_shape = operand
    axis = data.draw(axis_spec(len(shape)), label="axis")
    expr = f"{op}(x * y, axis={axis!r}, keepdims={keepdims})"
    if keepdims and times_input:
        expr += " * x"   # the kept size-1 axes broadcast back against the input
    check_model({"x": ("Param", shape), "y": ("Param", y_shape)}, expr, seed)


@PROPERTY
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
       op=st.sampled_from(["softmax", "log_softmax"]), data=st.data(),
       seed=st.integers(0, 2**16))
def test_normalisers_over_an_axis(shape, op, data, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    check_model({"x": ("Param", shape)}, f"{op}(x, axis={axis})", seed)


# -- matmul: 1-D, 2-D and batched operands ----------------------------------------------------
@st.composite
def matmul_shapes(draw):
    """Operand shapes NumPy's matmul accepts: vectors, matrices, batches that broadcast."""
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    bx, by = draw(mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=2,
                                                max_side=3)).input_shapes
    left = draw(st.sampled_from(["vec", "mat", "batch"]))
    right = draw(st.sampled_from(["vec", "mat", "batch"]))
    x = {"vec": (k,), "mat": (n, k), "batch": bx + (n, k)}[left]
    y = {"vec": (k,), "mat": (k, m), "batch": by + (k, m)}[right]
    return x, y


@PROPERTY
@given(shapes=matmul_shapes(), seed=st.integers(0, 2**16))
def test_matmul_shapes(shapes, seed):
    x_shape, y_shape = shapes
    check_model({"x": ("Param", x_shape), "y": ("Param", y_shape)}, "x @ y", seed)


# -- the Numba backend on a few broadcasting shapes -------------------------------------------
SPOT_CHECK = HEADER + '''def broadcast(x: Param[2, 1, 3], y: Param[4, 1], z: Param[()]):
    return sum(sin(1.3 * (maximum(x, y) * z + x / (y * y + 1))))


def reduce_broadcast(x: Param[2, 3, 4], y: Param[3, 1]):
    return sum(sin(1.3 * (logsumexp(x * y, axis=(0, 2), keepdims=True) * x
                          + var(x - y, axis=-1, keepdims=True))))


def batched_matmul(x: Param[2, 3, 4], y: Param[4, 2], w: Param[1, 4, 2], v: Param[4]):
    return sum(sin(1.3 * ((x @ y) * (x @ w) + (x @ v)[:, :, None])))
'''


def test_numba_spot_check(tmp_path):
    """The compiled module agrees with the eager run, finite differences and numpy_ref."""
    path = os.path.join(tmp_path, "spot_check.py")
    with open(path, "w") as f:
        f.write(SPOT_CHECK)
    module = compile_to(path, str(tmp_path))
    eager = import_eager(path)
    programs = lowered(path)
    for fname in ("broadcast", "reduce_broadcast", "batched_matmul"):
        values = gradcheck.random_inputs(module, fname, seed=4)
        value, grads = getattr(module, f"{fname}_value_and_grad")(**values)
        assert_close_rel(value, getattr(eager, fname)(**values), 1e-10, what=f"{fname} value")
        for row in gradcheck.check_gradients(module, fname, values):
            assert row.rel_error <= 1e-6, f"{fname}: d/d{row.name} error {row.rel_error:.2e}"
        c = programs[fname]
        ref = numpy_ref.vjp(c.program, values, [1.0])
        for name in module.SIGNATURES[fname]["wrt"]:
            assert_close_rel(getattr(grads, name), ref[name], 1e-10,
                             what=f"{fname}: d/d{name} vs numpy reference")
