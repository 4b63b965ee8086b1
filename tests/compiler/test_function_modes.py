"""Every language function in forward mode and second order, plus f_jacobian, f_hessian,
the derivative conventions at the kinks, float32 and bad tangents.

The cases are the table of test_functions.py (one entry point per row, each family one
model file, shared with that module through the same build folder, so Numba's cache of
the value and vjp kernels is reused). For every row (tests/mode_checks.py):

  (a) f_jvp == central differences of the eager run along a random direction, == the
      NumPy reference backend, and <w, J u> == <J^T w, u> against f_vjp;
  (b) f_hvp == central differences of the compiled gradient along v, == the NumPy
      reference backend, and <u, H v> == <v, H u>;
  (c) f_jacobian of the scalar output is the gradient; f_hessian is (P, P), symmetric,
      and H @ v is f_hvp.

Then models written for the other APIs: Jacobians in forward mode (few parameters,
many outputs) and reverse mode (many parameters), a Hessian known exactly, the
Hessian size limit, the kinks (relu'' = 0, abs'' = 0, first maximum, where routes by
the condition), float32 and the errors for bad `tangents` / `vector`.
"""
from __future__ import annotations

import numpy as np
import pytest

from adc.compiler.backends import numpy_ref

from conftest import assert_close_rel
from mode_checks import check_hvp, check_jvp, direction, grads_dict, parameter_count, wrt
from test_functions import (CASES, CONVENTION_CASES, HEADER, build, build_folder,
                            conventions, families, inputs_for)

IDS = [c.name for _, c in CASES]


# -- (a), (b), (c) for every row of the table ------------------------------------------------
@pytest.mark.parametrize("family, case", CASES, ids=IDS)
def test_jvp(family, case, families):
    built = families[family]
    values = inputs_for(built.module, case)
    check_jvp(built.module, built.eager, built.programs[case.name].program, case.name, values,
              seed=5)


@pytest.mark.parametrize("family, case", CASES, ids=IDS)
def test_hvp(family, case, families):
    built = families[family]
    values = inputs_for(built.module, case)
    check_hvp(built.module, built.programs[case.name].program, case.name, values, seed=6)


@pytest.mark.parametrize("family, case", CASES, ids=IDS)
def test_jacobian_and_hessian(family, case, families):
    m, fname = families[family].module, case.name
    values = inputs_for(m, case)
    names = wrt(m, fname)
    grads = grads_dict(getattr(m, f"{fname}_grad")(**values), names)
    jac = getattr(m, f"{fname}_jacobian")(**values)
    for n in names:
        assert_close_rel(getattr(jac, n), grads[n], 1e-14, what=f"{fname}_jacobian.{n}")
    hessian = getattr(m, f"{fname}_hessian")(**values)
    total = parameter_count(m, fname, values)
    assert hessian.shape == (total, total)
    scale = float(np.max(np.abs(hessian)))
    assert_close_rel(hessian, hessian.T, 1e-12, atol=1e-15 * scale,
                     what=f"{fname}_hessian symmetry")
    v = direction(m, fname, values, seed=7)
    hv = grads_dict(getattr(m, f"{fname}_hvp")(**values, vector=v), names)
    flat = np.concatenate([np.reshape(v[n], -1) for n in names])
    assert_close_rel(hessian @ flat, np.concatenate([hv[n].reshape(-1) for n in names]),
                     1e-12, atol=1e-14 * scale * np.abs(flat).sum(), what=f"{fname}: H v")


# -- f_jacobian and f_hessian on models made for them ----------------------------------------
MODELS = HEADER + '''

def wide(x: Param[3], s: Param[()], A: Data[4, 3]):
    return outer(tanh(A @ x), x) * s


def two_outputs(x: Param[2], y: Param[3]):
    return sin(outer(x, y)), sum(x) * y


def tall(W: Param[4, 5], b: Param[4], x: Data[5]):
    return sum(sin(W @ x + b))


def tall_vector(W: Param[4, 5], x: Data[5]):
    return tanh(W @ x)


def quadratic(x: Param[2, 2], y: Param[1], A: Data[5, 5]):
    z = concatenate((reshape(x, (4,)), y))
    return 0.5 * (z @ A @ z)


def too_big(W: Param[65, 64]):
    return sum(W * W)
'''

# entry point, which kernel f_jacobian must use
JACOBIAN_CASES = [("wide", "jvp"), ("two_outputs", "jvp"), ("tall", "vjp"),
                  ("tall_vector", "vjp")]


@pytest.fixture(scope="module")
def models(request, tmp_path_factory):
    return build(build_folder(request, tmp_path_factory), "modes_models", MODELS)


def model_inputs(m, fname, seed=0):
    rng = np.random.default_rng(seed)
    return {n: rng.standard_normal(tuple(a["shape"])) if a["shape"] else
            float(rng.standard_normal()) for n, a in m.SIGNATURES[fname]["args"].items()}


def stacked_jvps(m, fname, values):
    """Column by column: one f_jvp per parameter element (outputs as a tuple)."""
    names = wrt(m, fname)
    value = getattr(m, fname)(**values)
    outs = value if isinstance(value, tuple) else (value,)
    jac = {(o, n): np.zeros(np.shape(out) + np.shape(values[n])) for o, out in enumerate(outs)
           for n in names}
    for n in names:
        for e in range(int(np.size(values[n]))):
            t = np.zeros(np.shape(values[n]))
            t.reshape(-1)[e] = 1.0
            _, tangent = getattr(m, f"{fname}_jvp")(**values, tangents={n: t})
            tangent = tangent if isinstance(tangent, tuple) else (tangent,)
            for o, col in enumerate(tangent):
                size = int(np.size(values[n]))
                jac[o, n].reshape(-1, size)[:, e] = np.reshape(col, -1)
    return jac


def stacked_vjps(m, fname, values):
    """Row by row: one f_vjp per output element."""
    names = wrt(m, fname)
    value = getattr(m, fname)(**values)
    outs = value if isinstance(value, tuple) else (value,)
    jac = {(o, n): np.zeros(np.shape(out) + np.shape(values[n])) for o, out in enumerate(outs)
           for n in names}
    for o, out in enumerate(outs):
        for e in range(int(np.size(out))):
            seeds = [np.zeros(np.shape(x)) for x in outs]
            seeds[o].reshape(-1)[e] = 1.0
            cotangent = tuple(seeds) if isinstance(value, tuple) else seeds[0]
            grads = getattr(m, f"{fname}_vjp")(**values, cotangent=cotangent)
            for n in names:
                jac[o, n].reshape(int(np.size(out)), -1)[e] = np.reshape(getattr(grads, n), -1)
    return jac


def counting(kernel, calls, kind):
    def wrapped(*args):
        calls[kind] += 1
        return kernel(*args)
    return wrapped


@pytest.mark.parametrize("fname, mode", JACOBIAN_CASES, ids=[c[0] for c in JACOBIAN_CASES])
def test_jacobian_is_stacked_jvps_and_vjps(fname, mode, models, monkeypatch):
    m = models.module
    values = model_inputs(m, fname)
    names = wrt(m, fname)
    value = getattr(m, fname)(**values)
    outs = value if isinstance(value, tuple) else (value,)
    n_params = parameter_count(m, fname, values)
    m_outputs = sum(int(np.size(o)) for o in outs)
    assert (n_params <= m_outputs) == (mode == "jvp"), "the case does not test its mode"

    calls = {"jvp": 0, "vjp": 0}
    for kind in calls:
        kernel = f"_{fname}_{kind}_kernel"
        monkeypatch.setattr(m, kernel, counting(getattr(m, kernel), calls, kind))
    jac = getattr(m, f"{fname}_jacobian")(**values)
    monkeypatch.undo()
    assert calls == {"jvp": n_params if mode == "jvp" else 0,
                     "vjp": m_outputs if mode == "vjp" else 0}, f"{fname}_jacobian: {calls}"

    rows = jac if isinstance(value, tuple) else (jac,)
    assert len(rows) == len(outs)
    by_jvp, by_vjp = stacked_jvps(m, fname, values), stacked_vjps(m, fname, values)
    for o, (row, out) in enumerate(zip(rows, outs)):
        assert type(row).__name__ == f"{fname}_Grads"
        for n in names:
            got = getattr(row, n)
            assert got.shape == np.shape(out) + np.shape(values[n]), f"{fname} J[{o}].{n} shape"
            assert_close_rel(got, by_jvp[o, n], 1e-12, what=f"{fname} J[{o}].{n} vs f_jvp")
            assert_close_rel(got, by_vjp[o, n], 1e-12, what=f"{fname} J[{o}].{n} vs f_vjp")


def test_hessian_of_a_quadratic_is_exact(models):
    """0.5 z^T A z with z = (x.ravel(), y): H = (A + A^T) / 2, in signature order."""
    m = models.module
    values = model_inputs(m, "quadratic", seed=3)
    hessian = m.quadratic_hessian(**values)
    A = values["A"]
    assert hessian.shape == (5, 5)
    assert_close_rel(hessian, (A + A.T) / 2, 1e-14, what="quadratic_hessian")
    np.testing.assert_array_equal(hessian, hessian.T)


def test_hessian_refuses_above_the_limit(models):
    m = models.module
    values = model_inputs(m, "too_big")
    assert values["W"].size > m._HESSIAN_MAX
    with pytest.raises(ValueError, match=r"too_big_hvp") as info:
        m.too_big_hessian(**values)
    assert str(m._HESSIAN_MAX) in str(info.value)
    hv = m.too_big_hvp(**values, vector={"W": values["W"]})   # the way out it names
    np.testing.assert_array_equal(hv.W, 2 * values["W"])


# -- derivative conventions at the kinks, in forward mode and second order ------------------
def test_kink_conventions_in_forward_mode(conventions):
    """The cases of test_functions.py at their kinks: along an integer direction u the
    tangent is <expected gradient, u> exactly; the functions are piecewise linear, so
    H v = 0 exactly (relu'' = 0, abs'' = 0, max and where route without curvature)."""
    for fname, inputs, expected in CONVENTION_CASES:
        values = {k: np.array(v, dtype=float) for k, v in inputs.items()}
        names = wrt(conventions.module, fname)
        u = {n: np.arange(values[n].size, dtype=float).reshape(values[n].shape) + 1 for n in names}
        want = sum(float(np.sum(np.array(expected[n], dtype=float) * u[n])) for n in names)
        _, tangent = getattr(conventions.module, f"{fname}_jvp")(**values, tangents=u)
        assert float(tangent) == want, f"{fname}: tangent {tangent} != {want}"
        program = conventions.programs[fname].program
        _, (ref,) = numpy_ref.jvp(program, values, u)
        assert float(ref) == want, f"{fname}: numpy reference tangent {ref} != {want}"
        hv = getattr(conventions.module, f"{fname}_hvp")(**values, vector=u)
        ref_hv = numpy_ref.hvp(program, values, u)
        for n in names:
            np.testing.assert_array_equal(getattr(hv, n), 0.0, err_msg=f"{fname}_hvp.{n}")
            np.testing.assert_array_equal(ref_hv[n], 0.0, err_msg=f"{fname}: numpy ref H v")


KINKS = HEADER + '''

def relu_sq(x: Param[5]):
    return sum(relu(x) ** 2)


def x_abs(x: Param[5]):
    return sum(x * abs(x))


def max_sq(x: Param[3]):
    return max(x) ** 2


def max_rows_sq(x: Param[2, 4]):
    return sum(max(x, axis=1) ** 2)


def maximum_sq(x: Param[4], y: Param[4]):
    return sum(maximum(x, y) ** 2)


def where_sq(c: Data[4], x: Param[4], y: Param[4]):
    return sum(where(c > 0, x * x, y * y * y))


def max_first(x: Param[3]):
    return max(x)


def max_rows(x: Param[2, 4]):
    return max(x, axis=1)


def where_elements(c: Data[4], x: Param[4], y: Param[4]):
    return where(c > 0, x, y)


def relu_elements(x: Param[5]):
    return relu(x)


def abs_elements(x: Param[5]):
    return abs(x)
'''

KINK = [-1.0, 0.0, 2.0, -0.0, 0.5]
TIES = [[1, 3, 3, 2], [5, 5, 5, 5]]
C = [1, -1, 0, 2]
V5 = [1, 2, 3, 4, 5]
V24 = [[1, 2, 3, 4], [5, 6, 7, 8]]

# entry point, inputs, direction (u for the tangent, v for H v), expected tangent,
# expected H v (None: not a scalar output)
KINK_CASES = [
    # d2/dx2 relu(x)^2 = 2 relu'(x)^2 + 2 relu(x) relu''(x) = 2 [x > 0]
    ("relu_sq", {"x": KINK}, {"x": V5}, 2 * (2 * 3 + 0.5 * 5), {"x": [0, 0, 6, 0, 10]}),
    # d2/dx2 x |x| = 2 abs'(x) + x abs''(x) = 2 sign(x), sign(0) = 0
    ("x_abs", {"x": KINK}, {"x": V5}, 2 * (1 * 1 + 0 + 2 * 3 + 0 + 0.5 * 5),
     {"x": [-2, 0, 6, 0, 10]}),
    # the first of the tied maxima carries the derivative and the curvature
    ("max_sq", {"x": [1, 3, 3]}, {"x": [1, 2, 3]}, 2 * 3 * 2, {"x": [0, 4, 0]}),
    ("max_rows_sq", {"x": TIES}, {"x": V24}, 2 * 3 * 2 + 2 * 5 * 5,
     {"x": [[0, 4, 0, 0], [10, 0, 0, 0]]}),
    # maximum(x, y) at x == y is x's
    ("maximum_sq", {"x": [1, 2, 3, 4], "y": [1, 0, 3, 5]}, {"x": [1, 2, 3, 4], "y": [5, 6, 7, 8]},
     2 * (1 * 1 + 2 * 2 + 3 * 3 + 5 * 8), {"x": [2, 4, 6, 0], "y": [0, 0, 0, 16]}),
    # where routes by the condition, also the second derivative
    ("where_sq", {"c": C, "x": [1, 2, 3, 4], "y": [1, 2, 3, 4]},
     {"x": [1, 2, 3, 4], "y": [5, 6, 7, 8]}, 2 * 1 * 1 + 2 * 4 * 4 + 3 * 4 * 6 + 3 * 9 * 7,
     {"x": [2, 0, 0, 8], "y": [0, 72, 126, 0]}),
    ("max_first", {"x": [1, 3, 3]}, {"x": [1, 2, 3]}, 2.0, {"x": [0, 0, 0]}),
    ("max_rows", {"x": TIES}, {"x": V24}, [2, 5], None),
    ("where_elements", {"c": C, "x": [3, 3, 3, 3], "y": [3, 3, 3, 3]},
     {"x": [1, 2, 3, 4], "y": [5, 6, 7, 8]}, [1, 6, 7, 4], None),
    ("relu_elements", {"x": KINK}, {"x": V5}, [0, 0, 3, 0, 5], None),     # relu'(0) = 0
    ("abs_elements", {"x": KINK}, {"x": V5}, [-1, 0, 3, 0, 5], None),     # abs'(0) = 0
]


@pytest.fixture(scope="module")
def kinks(request, tmp_path_factory):
    return build(build_folder(request, tmp_path_factory), "modes_kinks", KINKS)


@pytest.mark.parametrize("fname, inputs, u, tangent, hv", KINK_CASES,
                         ids=[c[0] for c in KINK_CASES])
def test_kink_convention(fname, inputs, u, tangent, hv, kinks):
    m, program = kinks.module, kinks.programs[fname].program
    values = {k: np.array(v, dtype=float) for k, v in inputs.items()}
    u = {k: np.array(d, dtype=float) for k, d in u.items()}
    _, got = getattr(m, f"{fname}_jvp")(**values, tangents=u)
    _, (ref,) = numpy_ref.jvp(program, values, u)
    np.testing.assert_array_equal(got, np.array(tangent, dtype=float), err_msg=f"{fname}_jvp")
    np.testing.assert_array_equal(ref, np.array(tangent, dtype=float), err_msg=f"{fname} ref")
    if hv is None:
        return
    got_hv = getattr(m, f"{fname}_hvp")(**values, vector=u)
    ref_hv = numpy_ref.hvp(program, values, u)
    for n, want in hv.items():
        want = np.array(want, dtype=float)
        np.testing.assert_array_equal(getattr(got_hv, n), want, err_msg=f"{fname}_hvp.{n}")
        np.testing.assert_array_equal(ref_hv[n], want, err_msg=f"{fname}: numpy ref H v, {n}")


# -- float32 ---------------------------------------------------------------------------------
def test_float32_stays_float32(models, kinks):
    m = models.module
    values = model_inputs(m, "wide")
    single = {k: np.asarray(v, dtype=np.float32) for k, v in values.items()}
    u = direction(m, "wide", values, seed=8)            # float64 tangents: cast to the inputs'
    value, tangent = m.wide_jvp(**single, tangents=u)
    assert value.dtype == np.float32 and tangent.dtype == np.float32
    _, tangent64 = m.wide_jvp(**values, tangents=u)
    assert_close_rel(tangent, tangent64, 1e-5, what="wide_jvp float32")
    assert m.wide_jacobian(**single).x.dtype == np.float32

    values = model_inputs(m, "tall")
    single = {k: np.asarray(v, dtype=np.float32) for k, v in values.items()}
    v = direction(m, "tall", values, seed=9)
    hv, hv64 = m.tall_hvp(**single, vector=v), m.tall_hvp(**values, vector=v)
    for n in ("W", "b"):
        assert getattr(hv, n).dtype == np.float32, f"tall_hvp.{n}"
        assert_close_rel(getattr(hv, n), getattr(hv64, n), 1e-5, atol=1e-6, what=f"tall_hvp.{n}")
    assert m.tall_hessian(**single).dtype == np.float32

    x = np.array(KINK, dtype=np.float32)
    hv = kinks.module.relu_sq_hvp(x, vector={"x": np.array(V5, dtype=np.float32)})
    assert hv.x.dtype == np.float32
    np.testing.assert_array_equal(hv.x, np.array([0, 0, 6, 0, 10], dtype=np.float32))


# -- bad tangents and vectors ----------------------------------------------------------------
BAD = [
    ({"W": np.zeros((5, 4))}, r"\['W'\] has shape \(5, 4\), expected \(4, 5\)"),
    ({"W": np.zeros(20)}, r"\['W'\] has shape \(20,\)"),
    ({"b": np.zeros((4, 1))}, r"\['b'\] has shape \(4, 1\)"),
    ({"Q": np.zeros(4)}, r"'Q'"),
    ({"x": np.zeros(5)}, r"'x'.*not a differentiated argument"),   # Data, compiled without --wrt
    ({"W": np.zeros((4, 5), dtype=bool)}, r"\['W'\] must be a float array"),
]


@pytest.mark.parametrize("keyword", ["tangents", "vector"])
@pytest.mark.parametrize("given, message", BAD, ids=["transposed", "flat", "column",
                                                           "unknown", "data", "bool"])
def test_bad_tangents_are_value_errors(keyword, given, message, models):
    m = models.module
    values = model_inputs(m, "tall")
    call = m.tall_jvp if keyword == "tangents" else m.tall_hvp
    with pytest.raises(ValueError, match=message) as info:
        call(**values, **{keyword: given})
    text = str(info.value)
    assert text.startswith("tall"), text
    assert keyword in text, f"the message should name `{keyword}`: {text}"


@pytest.mark.parametrize("keyword", ["tangents", "vector"])
def test_tangents_must_be_a_dict(keyword, models):
    m = models.module
    values = model_inputs(m, "tall")
    call = m.tall_jvp if keyword == "tangents" else m.tall_hvp
    with pytest.raises(ValueError, match=f"{keyword} must be a dict"):
        call(**values, **{keyword: [np.zeros((4, 5)), np.zeros(4)]})


def test_scalar_param_tangent_shape(models):
    m = models.module
    values = model_inputs(m, "wide")
    with pytest.raises(ValueError, match=r"tangents\['s'\] has shape \(1,\), expected \(\)"):
        m.wide_jvp(**values, tangents={"s": np.ones(1)})
    # a plain number is the tangent of a scalar parameter
    _, t = m.wide_jvp(**values, tangents={"s": 1.0})
    assert_close_rel(t, m.wide(**values) / values["s"], 1e-12, what="d wide / d s")
