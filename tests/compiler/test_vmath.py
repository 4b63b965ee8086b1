"""The vectorisable exp/expm1/log/log1p/tanh of the CPU kernels (compiler/backends/vmath.py):
at most 2 ulp from mpmath over the whole float range, NumPy's results at the special
values, and a loop that calls them really vectorises."""
import re

import mpmath
import numpy as np
import pytest
from numba import njit

from adc.compiler import driver
from adc.compiler.backends import vmath
from conftest import check_against_eager

REFERENCE = {"vexp": mpmath.exp, "vexpm1": mpmath.expm1, "vlog": mpmath.log,
             "vlog1p": mpmath.log1p, "vtanh": mpmath.tanh}
NUMPY = {"vexp": np.exp, "vexpm1": np.expm1, "vlog": np.log, "vlog1p": np.log1p,
         "vtanh": np.tanh}


@pytest.fixture(scope="module", autouse=True)
def precision():
    with mpmath.workprec(160):
        yield


def _loop(name):
    f = vmath.compiled(name)

    # the flags of a generated kernel: the helpers are inlined into such loops
    @njit(error_model="numpy", fastmath={"contract"})
    def loop(x, out):
        for i in range(x.shape[0]):
            out[i] = f(x[i])
    return loop


LOOPS = {}


def run(name, x, dtype=np.float64):
    if name not in LOOPS:
        LOOPS[name] = _loop(name)
    x = np.asarray(x, dtype)
    out = np.empty_like(x)
    LOOPS[name](x, out)
    return out


def _magnitudes(rng, n, lo, hi):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), n))


def inputs(name, rng, n=1500):
    """Points over the whole domain: every binade, both signs where defined, and dense
    where the reductions switch (k = 0 around |x| < 0.5, the tails, the domain edges)."""
    tiny, huge = 1e-310, 1.7e308
    both = np.concatenate([_magnitudes(rng, n, tiny, huge), -_magnitudes(rng, n, tiny, huge)])
    near = {
        "vexp": [rng.uniform(-746, 710, n), rng.uniform(-1, 1, n)],
        "vexpm1": [rng.uniform(-45, 710, n), rng.uniform(-0.7, 0.7, n)],
        "vlog": [rng.uniform(0.5, 2.0, n), _magnitudes(rng, n, 5e-324, 2.2e-308)],
        "vlog1p": [rng.uniform(-1, 3, n), -1 + _magnitudes(rng, n, 1e-17, 1.0),
                   rng.uniform(-1e-8, 1e-8, n)],
        "vtanh": [rng.uniform(-23, 23, n), rng.uniform(-1, 1, n)],
    }[name]
    return np.concatenate([both] + near)


def ulps(name, x, y, dtype):
    """|y - f(x)| in units of the last place of f(x) rounded to `dtype`."""
    worst = 0.0
    for xi, yi in zip(x.tolist(), y.tolist()):
        exact = REFERENCE[name](mpmath.mpf(xi)) if not (name in ("vlog", "vlog1p") and (
            xi < (0 if name == "vlog" else -1))) else mpmath.nan
        if mpmath.isnan(exact):
            assert np.isnan(yi), (name, xi, yi)
            continue
        with np.errstate(over="ignore"):
            rounded = dtype(float(exact)) if abs(exact) < 1.8e308 else \
                dtype(np.sign(exact) * np.inf)
        if np.isinf(rounded) or rounded == 0:
            assert yi == rounded or abs(yi) <= np.finfo(dtype).smallest_subnormal, \
                (name, xi, yi, rounded)
            continue
        unit = float(np.spacing(np.abs(rounded)))
        worst = max(worst, float(abs(mpmath.mpf(yi) - exact)) / unit)
    return worst


@pytest.mark.parametrize("name", vmath.PUBLIC)
def test_float64_within_two_ulp_of_mpmath(name):
    x = inputs(name, np.random.default_rng(sum(map(ord, name))))
    assert ulps(name, x, run(name, x), np.float64) <= 2.0


@pytest.mark.parametrize("name", vmath.PUBLIC)
def test_float32_within_two_ulp_of_mpmath(name):
    # float32 kernels of their own within 2 ulp; the others, computed in float64 and
    # rounded, within 1
    rng = np.random.default_rng(7 + len(name))
    with np.errstate(over="ignore"):
        x = inputs(name, rng, 600).astype(np.float32)
    x = x[np.isfinite(x)]
    y = run(name, x, np.float32)
    assert y.dtype == np.float32
    limit = 2.0 if name in vmath.NATIVE_FLOAT32 else 1.0
    assert ulps(name, x.astype(np.float64), y.astype(np.float64), np.float32) <= limit


SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1e-310, -1e-310,
                    2.2250738585072014e-308, 1.0, -1.0, -2.0, 0.5, -0.5, 1e-300, 709.78,
                    709.79, -745.1, -745.2, 20.0, 22.0, 23.0, -38.0, -40.0, 1.7e308])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", vmath.PUBLIC)
def test_special_values_as_numpy(name, dtype):
    with np.errstate(over="ignore"):
        x = SPECIAL.astype(dtype)
    got = run(name, x, dtype)
    with np.errstate(all="ignore"):
        want = NUMPY[name](x)
    for xi, g, w in zip(x, got, want):
        if np.isnan(w) or np.isinf(w) or w == 0 or xi == 0:
            assert (np.isnan(g) and np.isnan(w)) or (g == w and np.signbit(g) == np.signbit(w)), \
                (name, xi, g, w)
        else:
            assert abs(float(g) - float(w)) <= 2 * np.spacing(abs(w)), (name, xi, g, w)


# float32 data: in float32 lanes (ps) where the function has a float32 kernel of its
# own, else converted, computed in float64 lanes (pd), converted back
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", vmath.PUBLIC)
def test_a_loop_calling_it_vectorises(name, dtype):
    suffix = "ps" if dtype == np.float32 and name in vmath.NATIVE_FLOAT32 else "pd"
    run(name, np.ones(3, dtype), dtype)
    sig = [s for s in LOOPS[name].signatures if str(s[0].dtype) == np.dtype(dtype).name][0]
    asm = LOOPS[name].inspect_asm(sig)
    packed = re.findall(rf"\bv(?:fmadd|fmsub|fnmadd|mul|add|sub)\w*{suffix}\s+[^\n]*%[yz]mm", asm)
    assert len(packed) >= 10, f"{name}: no packed {suffix} arithmetic in the loop"
    assert not re.search(r"call\w*\s+\w*(exp|log|tanh)", asm), name


MODEL = """from adc.lang import *
N = dim("N")
def f(x: Param[N]):
    return sum(exp(x) + log1p(x * x) + tanh(x) + sigmoid(x) + log(2 + x * x) + expm1(x))
"""


def test_cpu_kernels_call_the_vectorisable_functions():
    cpu, _ = driver.compile_source("model.py", MODEL, target="cpu")
    for name in vmath.PUBLIC:
        assert f"def {name}(" in cpu
    assert not re.search(r"math\.(exp|expm1|log|log1p|tanh)\(", cpu)
    # the GPU code keeps CUDA's own functions
    both, _ = driver.compile_source("model.py", MODEL, target="all")
    gpu = both[both.index("# ---- f on the GPU ----"):]
    assert "math.exp(" in both and not re.search(r"\bv(exp|tanh)\(", gpu)


SUM_OF_TANH = """from adc.lang import *
N = dim("N")
def f(x: Param[N, 5], w: Param[5]):
    return sum(logsumexp(tanh(x) * w, axis=1))
"""


def test_a_sum_of_vectorisable_terms_is_a_row_then_its_sum(tmp_path):
    # the terms go into a scratch row (a loop that vectorises), then are summed in order
    text, _ = driver.compile_source("sums.py", SUM_OF_TANH)
    assert re.search(r"terms\d\[(chunk, )?r\] = ", text) and \
        re.search(r"acc \+= terms\d\[(chunk, )?r\]", text)
    module = check_against_eager(tmp_path, SUM_OF_TANH, sizes={"N": 7})
    x = np.random.default_rng(3).standard_normal((7, 5))
    w = np.linspace(-1, 1, 5)
    z = np.tanh(x) * w
    want = (np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1)).sum()
    assert module.f(x, w) == pytest.approx(want, rel=1e-13)
