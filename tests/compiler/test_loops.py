"""Loops kept as loops (compiler/loops.py): `for t in range(K)` lowered once, as a scan.

Every model here is checked three ways: the compiled module (the scan) against the eager
NumPy run (value) and central differences of it (gradient, JVP, HVP), and against the
NumPy reference backend running the *unrolled* program (`driver.lower(scan=False)`),
which shares no scan code with the compiled one. Structural tests check that the loop
did stay a loop, that the IR does not grow with K, and that what the scan cannot
express unrolls with the same results.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from adc.compiler import driver, ir
from adc.compiler.backends import numpy_ref

from conftest import check_against_eager, import_eager, write_model
from mode_checks import check_hvp, check_jvp

HEAD = "from adc.lang import *\n\n"

RNN = HEAD + """\
def loss(X: Data[7, 3, 4], h0: Param[3, 5], Wx: Param[4, 5], Wh: Param[5, 5], b: Param[5]):
    h = h0
    for t in range(7):
        h = tanh(X[t] @ Wx + h @ Wh + b)
    return sum(h * h)
"""

# Each model keeps its loop as a loop; the comment says what it exercises.
SCANNED = {
    "rnn": RNN,
    # two carries that feed each other, assigned by tuple unpacking
    "swap": HEAD + """\
def f(x: Param[6, 3], w: Param[3]):
    a = x[0] * 1.0
    c = x[1] * 0.5
    for t in range(6):
        a, c = c * w, tanh(a + x[t])
    return sum(a * c)
""",
    # the carry becomes active only inside the loop, through an earlier statement
    "late_active": HEAD + """\
def f(x: Data[5, 4], w: Param[4]):
    s = x[0] * 0.0
    for t in range(5):
        u = s * 0.5
        s = sin(u) + w * x[t]
    return sum(s * s)
""",
    # a downward range with a step, the loop variable as a number, a last-step temporary
    "reverse_range": HEAD + """\
def f(x: Param[9, 2], w: Param[2]):
    h = w * 1.0
    for t in range(8, -1, -2):
        z = h * x[t] + t * 0.25
        h = sigmoid(z) * w
    return sum(h) + sum(z * z)
""",
    # a scalar carry, a max reduction per step (its arg index per step), exp of a sum
    "scalar_carry": HEAD + """\
def f(x: Param[6, 4], w: Param[4]):
    s = sum(w) * 0.1
    for t in range(1, 6):
        s = s * 0.9 + max(x[t] * w) + exp(-sum(x[t - 1] * x[t - 1]))
    return s * s
""",
    # `x += ...` carries x (its read is implicit), a carry that is not a param
    "augmented": HEAD + """\
def f(x: Data[4, 2], c: Param[()]):
    total = x[0, 0] * 1.0
    for _x in range(4):
        total += cos(c) * total
    return total
""",
    # the language reference's example: a carried Python float, weights indexed by step
    "residual": HEAD + """\
H = 4
DEPTH = 3


def _block(x, W):
    return x + tanh(x @ W)


def f(X: Data[2, H], W: Param[DEPTH, H, H], lam: float = 0.01):
    h, penalty = X, 0.0
    for k in range(DEPTH):
        h = _block(h, W[k])
        penalty += sum(W[k] * W[k])
    return sum(h * h) / X.shape[0] + lam * penalty
""",
    # a helper called in the body, a carry that is never read after the loop
    "helper": HEAD + """\
def cell(h, x, W):
    return tanh(h @ W + x)


def f(X: Data[4, 2, 3], W: Param[3, 3]):
    h = X[0] * 1.0
    g = X[0] * 0.0
    for t in range(4):
        g = g + h
        h = cell(h, X[t], W)
    return sum(g)
""",
}

# Loops the scan cannot express: they unroll, with the same results.
UNROLLED = {
    "growing": HEAD + """\
def f(x: Param[3]):
    h = x * 1.0
    for t in range(3):
        h = concatenate([h, h[:1] * 2.0])
    return sum(h * h)
""",
    "moving_slice": HEAD + """\
def f(x: Param[6]):
    s = x[0] * 0.0
    for t in range(4):
        s = s + sum(x[t:t + 3] ** 2)
    return s
""",
    "negative_index": HEAD + """\
def f(x: Param[5]):
    s = x[0] * 0.0
    for t in range(5):
        s = s * 0.5 + x[-1 - t]
    return s * s
""",
    "python_int": HEAD + """\
def f(x: Param[4, 4]):
    j = 0
    h = x[0] * 1.0
    for t in range(3):
        j = j + 1
        h = h * x[j]
    return sum(h)
""",
    "return_inside": HEAD + """\
def f(x: Param[3]):
    h = x * 1.0
    for t in range(3):
        h = tanh(h)
        if t == 1:
            return sum(h)
    return sum(h * 2.0)
""",
}


# Found by an independent review of the scan (each was a silent wrong number): checked
# against the eager run and the unrolled reference, whether the loop stays a loop or not.
REVIEWED = {
    # the step compared with ==, != or `not` (was decided as Python's structural ==)
    "step_equals": HEAD + """\
def f(x: Param[3, 3]):
    h = x[0] * 1.0
    for t in range(3):
        h = tanh(h + x[t])
        if t == 0:
            h = h * 2.0
    return sum(h * h)
""",
    "step_not": HEAD + """\
def f(x: Param[3, 3]):
    h = x[0] * 1.0
    for t in range(3):
        h = tanh(h + x[t])
        if not t:
            h = h * 2.0
    return sum(h * h)
""",
    "step_where": HEAD + """\
def f(x: Param[3, 3]):
    h = x[0] * 1.0
    for t in range(3):
        h = where(t != 1, tanh(h + x[t]), h)
    return sum(h * h)
""",
    # one helper's loop lowered twice: two loops on one line (their steps interleaved)
    "helper_twice": HEAD + """\
def run(v, W):
    s = 0.0
    for t in range(3):
        s = s + sum(W[t] * v)
    return s


def f(v: Param[3], W: Param[3, 3]):
    return run(run(v, W), W)
""",
    "helper_twice_temporary": HEAD + """\
def run(v, W):
    for t in range(2):
        u = exp(W[t] / v)
    return u


def f(v: Param[3], W: Param[2, 3]):
    return sum(run(run(v * v + 1.0, W), W))
""",
    # floor division by a step expression, an int power with a step exponent (printing)
    "step_floordiv": HEAD + """\
def f(x: Param[4, 3]):
    h = x[0] * 1.0
    for t in range(4):
        h = tanh(h * (7 // (t + 1)) + h * (10 // (2 * t + 1)) + x[t])
    return sum(h * h)
""",
    "step_power": HEAD + """\
def f(x: Param[4, 3]):
    h = x[0] * 1.0
    for t in range(4):
        h = tanh(h * 2 ** -t + x[t])
    return sum(h * h)
""",
    # a carried float decided by an `if` after the loop (the entry point unrolls)
    "float_then_if": HEAD + """\
def f(x: Param[3]):
    c = 1.0
    h = x * 1.0
    for t in range(3):
        h = h * c
        c = c * 0.5
    if c > 0.1:
        return sum(h)
    return sum(h * 2.0)
""",
    # the loop variable reassigned in the body: after the loop it is not the last step
    "step_reassigned": HEAD + """\
def f(x: Param[4, 3]):
    h = x[0] * 1.0
    for t in range(3):
        t = t + 1
        h = tanh(h + x[t])
    return sum(h) * t
""",
    # float arguments carried and named like the step
    "float_arguments": HEAD + """\
def f(x: Param[4, 3], w: Param[3], lam: float = 0.3, t: float = 0.5):
    s = sum(w * w) * t
    p = w[1]
    q = lam * 2.0
    for t in range(4):
        s = s * p + sum(x[t]) * q
        p = tanh(p + s * 0.1)
        q = q * lam + p
    return s + p * q
""",
}

# Found by the second review of the scan.
REVIEWED.update({
    # an integer-valued base with a step exponent (Numba's int ** int truncates)
    "step_int_power": HEAD + """\
def f(w: Param[3], x: Data[5, 3]):
    h = w
    for t in range(5):
        h = h * 0.9 + x[t] * (t + 1) ** (-t)
    return sum(h)
""",
    # floor division of the step on a strided range from a negative start
    "step_floordiv_strided": HEAD + """\
def f(w: Param[3], x: Data[5, 3]):
    h = w
    for t in range(-3, 7, 2):
        h = h * 0.9 + x[(t + 3) // 2] * ((t - 4) // 3)
    return sum(h)
""",
    # a size to a size-dependent power, no loop: the same printing
    "size_power": HEAD + """\
def f(w: Param[8], X: Data[3, 3]):
    n = X.shape[0]
    return sum(X) * 2 ** (n - 5) + sum(w) * n ** (n - 5)
""",
})

# Loops that must stay loops although a name shares an array (no in-place update).
SCANNED.update({
    "step_input_named": HEAD + """\
def f(X: Data[3, 6, 4], Wx: Param[4, 5], Wh: Param[5, 5]):
    h = tanh(X[:, 0] @ Wx)
    for t in range(1, 6):
        xt = X[:, t]
        W = Wh
        h = tanh(xt @ Wx + h @ W)
    return sum(h * h)
""",
})

# In-place updates through names that share an array: NumPy writes through both names,
# so adc refuses them, scanned or not (the review found the scan had lost track).
SHARED_ARRAYS = {
    "carry_is_an_argument": ("""\
def f(W: Param[3], x: Data[3, 3]):
    h = W
    for t in range(3):
        h += x[t]
    return sum(h * W)
""", "'W' would change with it"),
    "view_before_the_loop": ("""\
def f(x: Param[3], W: Param[2, 3]):
    h = x * 1.0
    v = h[0:2]
    for t in range(2):
        h += W[t]
    return sum(v * v) + sum(h)
""", "'v' would change with it"),
    "alias_made_in_a_step": ("""\
def f(x: Param[3], W: Param[2, 3]):
    h = x * 1.0
    g = x * 0.0
    out = sum(x) * 0.0
    for t in range(2):
        h += W[t]
        out = sum(g * g)
        g = h
    return out
""", "'g' would change with it"),
    "alias_after_the_loop": ("""\
def f(x: Param[3], W: Param[2, 3]):
    h = x * 1.0
    for t in range(2):
        h = h * W[t]
    g = h
    h += 1.0
    return sum(g * g)
""", "'g' would change with it"),
    "step_alias_after_the_loop": ("""\
def f(x: Param[3], W: Param[2, 3]):
    h = x * 1.0
    for t in range(2):
        h = h * W[t]
        y = h
    y += 1.0
    return sum(h * h)
""", "'h' would change with it"),
}


def _lowered(path, scan=True):
    with open(path) as f:
        source = f.read()
    return driver.lower(path, source, scan=scan)[0]


def _is_scan(prog) -> bool:
    return any(st.scan for st in prog.stmts)


def _values(module, fname, seed=0):
    from adc.runtime import gradcheck
    return gradcheck.random_inputs(module, fname, None, seed)


@pytest.mark.parametrize("name", sorted(SCANNED))
def test_scan_matches_eager_and_the_unrolled_reference(build_dir, name):
    source = SCANNED[name]
    path = write_model(build_dir, source, name)
    assert _is_scan(_lowered(path)), f"{name}: the loop should stay a loop"
    module = check_against_eager(build_dir, source)
    fname = "loss" if name == "rnn" else "f"
    values = _values(module, fname)
    unrolled = _lowered(path, scan=False)
    assert not _is_scan(unrolled)
    want = numpy_ref.run(unrolled, values)[0]
    np.testing.assert_allclose(getattr(module, fname)(**values), want, rtol=1e-12)
    grads = getattr(module, f"{fname}_grad")(**values)
    ref = numpy_ref.vjp(unrolled, values, [np.ones(())])
    for arg, g in ref.items():
        np.testing.assert_allclose(getattr(grads, arg), g, rtol=1e-10, atol=1e-13)
    eager = import_eager(path)
    check_jvp(module, eager, unrolled, fname, values)
    check_hvp(module, unrolled, fname, values)


@pytest.mark.parametrize("name", sorted(REVIEWED))
def test_reviewed_loops_match_eager_and_the_unrolled_reference(build_dir, name):
    source = REVIEWED[name]
    path = write_model(build_dir, source, name)
    module = check_against_eager(build_dir, source)
    values = _values(module, "f")
    unrolled = _lowered(path, scan=False)
    np.testing.assert_allclose(module.f(**values), numpy_ref.run(unrolled, values)[0],
                               rtol=1e-12)
    grads = module.f_grad(**values)
    for arg, g in numpy_ref.vjp(unrolled, values, [np.ones(())]).items():
        np.testing.assert_allclose(getattr(grads, arg), g, rtol=1e-10, atol=1e-13)


def test_the_reference_backend_divides_the_step_exactly(build_dir):
    """floor(2*t/3 - 7/3) in floats rounds below -1 at t = 1: the NumPy reference running
    the scanned program must agree with the kernel's (2*t - 7) // 3."""
    source = REVIEWED["step_floordiv_strided"]
    path = write_model(build_dir, source, "floordiv_ref")
    module = check_against_eager(build_dir, source)
    values = _values(module, "f")
    scanned = _lowered(path)
    assert _is_scan(scanned)
    np.testing.assert_allclose(numpy_ref.run(scanned, values)[0], module.f(**values),
                               rtol=1e-12)


@pytest.mark.parametrize("name", sorted(SHARED_ARRAYS))
def test_in_place_updates_of_shared_arrays_are_refused(build_dir, name):
    from adc.compiler.errors import CompileError
    source, message = SHARED_ARRAYS[name]
    path = write_model(build_dir, HEAD + source, name)
    with pytest.raises(CompileError, match=message):
        driver.compile_source(path, HEAD + source)


@pytest.mark.parametrize("name", sorted(UNROLLED))
def test_what_the_scan_cannot_express_unrolls(build_dir, name):
    source = UNROLLED[name]
    path = write_model(build_dir, source, name)
    assert not _is_scan(_lowered(path))
    check_against_eager(build_dir, source)


def test_the_program_does_not_grow_with_the_step_count(build_dir):
    sizes = []
    for steps in (10, 1000, 100000):
        source = RNN.replace("Data[7,", f"Data[{steps},").replace("range(7)",
                                                                   f"range({steps})")
        prog = _lowered(write_model(build_dir, source, f"rnn{steps}"))
        sizes.append(len(prog.stmts))
        assert any(st.loops and st.loops[0][1] == steps for st in prog.stmts if st.scan)
    assert sizes[0] == sizes[1] == sizes[2]


def test_the_emitted_kernel_is_a_loop_over_the_steps(build_dir):
    path = write_model(build_dir, RNN, "rnn_text")
    text, _ = driver.compile_source(path, RNN)
    assert "# line 5: for t in range(7):" in text
    assert "for t in range(7):" in text
    assert "# line 5 (backward, last step first): for t in range(7):" in text
    assert "for t in range(7 - 1, -1, -1):" in text
    assert "h_steps[t + 1, i, j] = vtanh(" in text


def test_an_index_that_leaves_the_array_is_the_unrolled_error(build_dir):
    source = HEAD + """\
def f(x: Param[3]):
    s = x[0] * 0.0
    for t in range(4):
        s = s + x[t]
    return s
"""
    path = write_model(build_dir, source, "outside")
    from adc.compiler.errors import CompileError
    with pytest.raises(CompileError, match="out of range"):
        _lowered(path)


def test_cuda_hosts_loop_over_the_steps(build_dir):
    """The CUDA host functions launch one step's kernels per iteration, the step an int
    kernel argument (tests/cuda runs digits_rnn in the simulator and compiles its PTX)."""
    path = write_model(build_dir, RNN, "rnn_cuda")
    text, compiled = driver.compile_source(path, RNN, target="all")
    assert _is_scan(compiled[0].lowered)
    host = text[text.index("def _loss_vjp_cuda_host"):]
    assert "    for t in range(7 - 1, -1, -1):\n" in host
    assert re.search(r"        kernels\.k\d+_d_h_steps\[_grid\(3 \* 5 \* 5\)\]\(t, ", host)


def test_scan_statements_are_marked_in_the_ir(build_dir):
    prog = _lowered(write_model(build_dir, RNN, "rnn_ir"))
    text = ir.format_program(prog)
    assert "h_steps[0, i, j] = h0[i, j]" in text
    assert "[step t up]" in text
