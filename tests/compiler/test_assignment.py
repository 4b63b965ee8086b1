"""Item assignment (`y[key] = v`, `y[key] op= v`), np.add.at and index_add
(compiler/assignment.py): new versions of y written as disjoint boxes.

Checked three ways: the boxes of one assignment cover y exactly once (on the IR, for
random keys); the value and the gradients of random assignments through the NumPy
reference backend against the eager run and its central differences; and a few models
compiled through Numba against the eager run, its finite differences, the reference
backend, and in forward mode and second order.
"""
from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
import sympy as sp

from adc.compiler.backends import numpy_ref

from conftest import check_against_eager, import_eager, lowered, write_model
from mode_checks import check_hvp, check_jvp

HEAD = "import numpy as np\nfrom adc.lang import *\n\n"


# -- random keys: ints, slices with any step, `...` -----------------------------------------
def _random_item(rng: random.Random, n: int):
    r = rng.random()
    if r < 0.3:
        return str(rng.randint(-n, n - 1))
    if r < 0.4:
        return ":"
    start = rng.choice(["", str(rng.randint(-n, n - 1))])
    stop = rng.choice(["", str(rng.randint(-n, n))])
    step = rng.choice(["", "1", "2", "3", "-1", "-2"])
    return f"{start}:{stop}" + (f":{step}" if step else "")


def _random_case(seed):
    rng = random.Random(seed)
    shape = tuple(rng.randint(2, 5) for _ in range(rng.randint(1, 3)))
    items = [_random_item(rng, n) for n in shape[:rng.randint(1, len(shape))]]
    if len(items) < len(shape) and rng.random() < 0.3:
        items.append("...")
    key = ", ".join(items)
    selected = np.zeros(shape)[eval(f"np.s_[{key}]")].shape
    if 0 in selected:
        return None
    # the value: the selection's shape, or a broadcast of it (a row, a number)
    v_shape = selected if rng.random() < 0.6 else \
        tuple(1 if rng.random() < 0.5 else n for n in selected)[rng.randint(0, len(selected)):]
    op = rng.choice(["=", "=", "+=", "*="])
    return shape, key, v_shape, op


CASES = [c for c in (_random_case(s) for s in range(120)) if c is not None][:60]


def _source(shape, key, v_shape, op):
    v_arg = f"v: Param[{', '.join(map(str, v_shape)) or '()'}]"
    return (HEAD + f"def f(x: Param[{', '.join(map(str, shape))}], {v_arg}):\n"
            f"    y = x * 1.5\n    y[{key}] {op} sin(v)\n    return y\n")


def _inputs(shape, v_shape, seed):
    rng = np.random.default_rng(seed)
    return {"x": rng.normal(size=shape), "v": rng.normal(size=v_shape)}


def _covered_once(program, shape):
    """Every element of the final y written by exactly one statement of its version."""
    out = program.outputs[0]
    writes = np.zeros(shape, dtype=int)
    for st in program.stmts:
        if st.target != out:
            continue
        extents = [int(e) for _, e in st.loops]
        for point in itertools.product(*(range(e) for e in extents)):
            at = {s: k for (s, _), k in zip(st.loops, point)}
            writes[tuple(int(sp.sympify(i).subs(at)) for i in st.target_index)] += 1
    return writes


@pytest.mark.parametrize("case", CASES, ids=[f"{c[1]}|{c[3]}" for c in CASES])
def test_random_assignments_match_numpy(case, tmp_path):
    shape, key, v_shape, op = case
    path = write_model(tmp_path, _source(shape, key, v_shape, op))
    compiled = lowered(path)["f"]
    writes = _covered_once(compiled.program, shape)
    assert (writes == 1).all(), f"y[{key}] {op} v: elements written {writes.tolist()} times"
    eager = import_eager(path)
    values = _inputs(shape, v_shape, 0)
    want = eager.f(**values)
    got = numpy_ref.forward(compiled.program, values)[0]
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)
    u = np.random.default_rng(1).normal(size=shape)
    grads = numpy_ref.vjp(compiled.program, values, [u])
    for name in ("x", "v"):
        fd = np.zeros_like(values[name])
        for i in np.ndindex(fd.shape):
            hi = {k: a.copy() for k, a in values.items()}
            lo = {k: a.copy() for k, a in values.items()}
            hi[name][i] += 1e-6
            lo[name][i] -= 1e-6
            fd[i] = np.sum(u * (eager.f(**hi) - eager.f(**lo))) / 2e-6
        np.testing.assert_allclose(grads[name], fd, rtol=1e-6, atol=1e-8,
                                   err_msg=f"d/d{name} of y[{key}] {op} v")


# -- models through Numba ---------------------------------------------------------------------
MODELS = {
    "rows_in_a_loop": """
def f(x: Param[4, 3], w: Param[3]):
    h = zeros((4, 3))
    h[0] = tanh(x[0] * w)
    for i in range(1, 4):
        h[i] = tanh(x[i] * w + h[i - 1])
    return sum(h * h)
""",
    "blocks_and_updates": """
def f(x: Param[3, 4], v: Param[4]):
    y = np.zeros((5, 4))
    y[0] = v
    y[1:4, 1:3] = x[:, :2] * 2.0
    y[4, ::2] += tanh(x[0, :2])
    y[::-2, 3] = x[:, 3]
    z = zeros_like(x)
    z[:, -1] = 1.5
    z[1] = full((4,), 0.5) + v
    return sum(sin(y)) + sum(z * x)
""",
    "scatter_add": """
def f(x: Param[5, 3], v: Param[4, 3], idx: Index[4], e: Param[6, 2]):
    y = np.zeros((5, 3))
    np.add.at(y, idx, v * x[:4])
    y[0, 1:] += 1.0
    h = index_add(x, [1, 1, 2], v[1:])
    w = index_add(e[:5], (idx, 1), v[:, 0])
    return sum(tanh(y)) + sum(h * h) + sum(w ** 3)
""",
    "ones_and_full": """
N = dim("N")

def f(x: Param[N, 3], s: float = 0.5):
    y = ones((x.shape[0], 3))
    y[:, 1] = x[:, 0] * s
    y[0, :] = full((3,), s)
    g = full_like(x, 2.0)
    g[1:, ::2] *= x[1:, ::2]
    return sum(y * x) + sum(ones_like(x) * g)
""",
}


def _values(module, fname):
    rng = np.random.default_rng(3)
    spec = module.SIGNATURES[fname]["args"]
    out = {}
    for name, arg in spec.items():
        shape = tuple(5 if isinstance(n, str) else n for n in arg["shape"])
        if arg["role"] == "index":
            out[name] = np.array([0, 0, 3, 4])
        elif arg["role"] in ("param", "data"):
            out[name] = rng.normal(size=shape)
        else:
            out[name] = 0.7          # a float hyper-parameter
    return out


@pytest.mark.parametrize("name", sorted(MODELS))
def test_assignment_models(build_dir, name):
    source = HEAD + MODELS[name].lstrip()
    module = check_against_eager(build_dir, source, values=_values)
    path = write_model(build_dir, source)
    compiled = lowered(path)["f"]
    values = _values(module, "f")
    _, grads = module.f_value_and_grad(**values)
    ref = numpy_ref.vjp(compiled.program, values, [1.0])
    for arg in module.SIGNATURES["f"]["wrt"]:
        np.testing.assert_allclose(getattr(grads, arg), ref[arg], rtol=1e-10, atol=1e-12)
    eager = import_eager(path)
    check_jvp(module, eager, compiled.program, "f", values)
    check_hvp(module, compiled.program, "f", values)


def test_repeated_indices_add_up(build_dir):
    """np.add.at is unbuffered: index 0 twice adds both rows (y[idx] += v would not)."""
    module = check_against_eager(build_dir, HEAD + """
def f(v: Param[3, 2], idx: Index[3]):
    y = zeros((4, 2))
    np.add.at(y, idx, v)
    return y
""", values=lambda m, f: {"v": np.arange(6.0).reshape(3, 2), "idx": np.array([0, 0, 2])})
    got = module.f(v=np.arange(6.0).reshape(3, 2), idx=np.array([0, 0, 2]))
    np.testing.assert_array_equal(got, [[2, 4], [0, 0], [4, 5], [0, 0]])


def test_an_assignment_in_a_loop_unrolls(build_dir):
    """A scan cannot carry a new version of y per step: the loop unrolls, and is right."""
    source = HEAD + """
def f(x: Param[12, 2]):
    y = zeros((12, 2))
    for i in range(12):
        y[i] = x[i] * (i + 1.0)
    return sum(y * y)
"""
    check_against_eager(build_dir, source)
    compiled = lowered(write_model(build_dir, source))["f"]
    assert not any(st.scan for st in compiled.program.stmts)
