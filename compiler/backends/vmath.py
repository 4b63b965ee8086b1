"""Vectorisable exp, expm1, log, log1p and tanh for the CPU kernels.

Numba's pip build has no SVML: `math.exp` in a loop stays a scalar libm call and the
loop never vectorises. These are the same functions written as SLEEF, Cephes and XLA
write them: branch-free range reduction (Cody-Waite), a polynomial, and the scaling by
2**k built from exponent bits, with conditional expressions that LLVM turns into
selects. Inlined into a kernel's loop, the loop vectorises. Correct over the whole
float range: subnormals, +-0, +-inf and NaN give what NumPy gives; at most 2 ulp from
the exact value (tests/compiler/test_vmath.py checks against mpmath). Each has a float64
and a float32 version; a call of `vexp` compiles as the one for its argument's type (a
Numba overload, typed once per call's type). exp and tanh have float32 kernels of their
own (Cephes' expf and tanhf: float32 lanes, twice as many per vector); the others compute
a float32 argument in float64 and round (within an ulp).

The functions below are the source the generated module gets (`source(names)`), and
are importable for tests (`compiled(name)`).
"""
from __future__ import annotations

import functools
import inspect
import math
import re

import numpy as np

# inlined into each call site in Numba's IR: compiled on their own (inline="never"),
# LLVM left the larger ones (vexpm1, vtanh_f64) as scalar calls and the loop unvectorised;
# inlining costs a generated module's first compile about 1.1-1.2x (Numba caches it)
DECORATOR = '@njit(cache=True, inline="always")'
# the math-module functions the CPU kernels print as these
REPLACES = {"math.exp": "vexp", "math.expm1": "vexpm1", "math.log": "vlog",
            "math.log1p": "vlog1p", "math.tanh": "vtanh"}


# Each function is flat (at most one call): every call is inlined, and a kernel's
# compile time grows with what is inlined. A public name (vexp) is a stub that a Numba
# overload compiles as its float64 or float32 version, by the argument's type.


def vexp_f64(x):
    """exp(x) = 2**k * exp(r): k = round(x / ln 2), r = x - k ln 2 in two parts (Cody-Waite,
    k * ln2_hi exact), exp(r) - 1 - r by a polynomial, 2**k from exponent bits in two
    halves (neither over- nor underflows, so subnormal results come out right)."""
    # clamped where the result is inf or 0 anyway; NaN fails both tests and passes through
    y = 709.8 if x > 709.8 else x
    y = -745.2 if y < -745.2 else y
    kf = (y * 1.4426950408889634 + 6755399441055744.0) - 6755399441055744.0
    r = (y - kf * 0.6931471803691238) - kf * 1.9082149292705877e-10
    # Taylor to r**13: the remainder is below 5e-18 relative for |r| <= ln(2)/2
    p = ((((((((((1.0 / 6227020800.0 * r + 1.0 / 479001600.0) * r + 1.0 / 39916800.0) * r
                + 1.0 / 3628800.0) * r + 1.0 / 362880.0) * r + 1.0 / 40320.0) * r
             + 1.0 / 5040.0) * r + 1.0 / 720.0) * r + 1.0 / 120.0) * r + 1.0 / 24.0) * r
         + 1.0 / 6.0) * r + 0.5
    k = np.int64(kf)
    half = k >> 1
    e = 1.0 + (r + r * r * p)
    return (e * np.int64((half + 1023) << 52).view(np.float64)) * \
        np.int64((k - half + 1023) << 52).view(np.float64)


def vexpm1_f64(x):
    """exp(x) - 1, accurate near 0: no reduction for |x| < 0.5 (so nothing cancels), else
    2**k * expm1(r) + (2**k - 1); past k = 60 that is exp(x) - 1."""
    y = 709.8 if x > 709.8 else x
    y = -40.0 if y < -40.0 else y          # expm1(-40) rounds to -1
    kf = (y * 1.4426950408889634 + 6755399441055744.0) - 6755399441055744.0
    kf = 0.0 if abs(y) < 0.5 else kf
    r = (y - kf * 0.6931471803691238) - kf * 1.9082149292705877e-10
    # Taylor to r**15: below 1e-18 relative for |r| <= 0.5
    p = ((((((((((((1.0 / 1307674368000.0 * r + 1.0 / 87178291200.0) * r
                   + 1.0 / 6227020800.0) * r + 1.0 / 479001600.0) * r + 1.0 / 39916800.0) * r
                + 1.0 / 3628800.0) * r + 1.0 / 362880.0) * r + 1.0 / 40320.0) * r
             + 1.0 / 5040.0) * r + 1.0 / 720.0) * r + 1.0 / 120.0) * r + 1.0 / 24.0) * r
         + 1.0 / 6.0) * r + 0.5
    em = r + r * r * p
    k = np.int64(kf)
    half = k >> 1
    big = (1.0 + em) * np.int64((half + 1023) << 52).view(np.float64) * \
        np.int64((k - half + 1023) << 52).view(np.float64) - 1.0
    t = np.int64(((0 if k > 60 else k) + 1023) << 52).view(np.float64)
    y = big if k > 60 else t * em + (t - 1.0)
    return x if x == 0.0 else y            # keeps expm1(-0.0) = -0.0


def _log_plus(x, c):
    """log(x) + c: x = 2**k * m with m in [sqrt(2)/2, sqrt(2)) from the bits (subnormals
    scaled by 2**54 first), log(m) by fdlibm's e_log polynomial in s = f / (2 + f),
    f = m - 1; log(0) = -inf, log(inf) = inf, NaN below 0."""
    sub = np.int64(x < 2.2250738585072014e-308)
    bits = np.float64(x * np.float64(1 + sub * 18014398509481983)).view(np.int64) + \
        (0x3ff0000000000000 - 0x3fe6a09e667f3bcd)
    k = np.float64((bits >> 52) - 1023 - 54 * sub)
    f = np.int64((bits & 0x000fffffffffffff) + 0x3fe6a09e667f3bcd).view(np.float64) - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01
                                              + w * 1.531383769920937332e-01))
    t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01 + w * (
        1.818357216161805012e-01 + w * 1.479819860511658591e-01)))
    lo = s * (hfsq + t2 + t1) + (k * 1.90821492927058770002e-10 + c)
    y = k * 6.93147180369123816490e-01 - ((hfsq - lo) - f)
    y = -math.inf if x == 0.0 else y
    y = x if x == math.inf else y
    return y if x >= 0.0 else math.nan


def vlog_f64(x):
    """log(x); -inf at 0, NaN below 0 (see _log_plus)."""
    return _log_plus(x, 0.0)


def vlog1p_f64(x):
    """log(1 + x), accurate near 0: log(u) for u = 1 + x rounded, plus the rounding's
    first-order correction c = (x - (u - 1)) / u."""
    u = 1.0 + x
    c = (1.0 - (u - x) if u >= 3.0 else x - (u - 1.0)) / u
    c = 0.0 if u > 1e17 else c
    y = _log_plus(u, c)
    return x if abs(x) < 1e-300 else y     # keeps -0.0 and subnormals


def vtanh_f64(x):
    """tanh as Cephes computes it, both branches evaluated and one selected (no branch, so
    the loop vectorises): for |x| >= 0.625, 1 - 2 / (exp(2|x|) + 1), which cannot cancel
    there (the result is above 0.55); below, x + x z P(z) / Q(z), z = x*x, Cephes'
    rational approximation. With the sign of x. The branches share one division (the
    numerators and denominators are selected first: a division costs as much as the
    rest of the function, bench/vmath.py times it)."""
    a = abs(x)
    a = 22.0 if a > 22.0 else a            # tanh(22) rounds to 1; exp(44) stays finite
    big = a >= 0.625
    z = a * a
    p = (-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z \
        - 1.61468768441708447952e3
    q = ((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z \
        + 4.84406305325125486048e3
    # lead + num / den: 1 - 2 / (exp(2a) + 1) or a + a z p / q, rounded as those are
    num = -2.0 if big else a * z * p
    den = vexp_f64(2.0 * a) + 1.0 if big else q
    lead = 1.0 if big else a
    return math.copysign(lead + num / den, x)


def vexp_f32(x):
    """exp(x) in float32, as Cephes' expf: k = round(x / ln 2), r = x - k ln 2 in two parts,
    exp(r) - 1 - r by a degree-5 polynomial, 2**k from exponent bits in two halves."""
    y = np.float32(88.8) if x > np.float32(88.8) else x       # exp(88.8) is inf in float32
    y = np.float32(-104.0) if y < np.float32(-104.0) else y   # exp(-104) rounds to 0
    kf = (y * np.float32(1.44269504) + np.float32(12582912.0)) - np.float32(12582912.0)
    r = (y - kf * np.float32(0.693359375)) - kf * np.float32(-2.12194440e-4)
    p = ((((np.float32(1.9875691500e-4) * r + np.float32(1.3981999507e-3)) * r
           + np.float32(8.3334519073e-3)) * r + np.float32(4.1665795894e-2)) * r
         + np.float32(1.6666665459e-1)) * r + np.float32(5.0000001201e-1)
    k = np.int32(kf)
    half = k >> 1
    e = np.float32(1.0) + (r + r * r * p)
    return (e * np.int32((half + 127) << 23).view(np.float32)) * \
        np.int32((k - half + 127) << 23).view(np.float32)


def vtanh_f32(x):
    """tanh(x) in float32, as Cephes' tanhf: 1 - 2 / (exp(2|x|) + 1) for |x| >= 0.625,
    else x + x z P(z), z = x*x; both evaluated and one selected. With the sign of x."""
    a = abs(x)
    a = np.float32(22.0) if a > np.float32(22.0) else a
    big = np.float32(1.0) - np.float32(2.0) / (vexp_f32(a + a) + np.float32(1.0))
    z = a * a
    p = (((np.float32(-5.70498872745e-3) * z + np.float32(2.06390887954e-2)) * z
          - np.float32(5.37397155531e-2)) * z + np.float32(1.33314422036e-1)) * z \
        - np.float32(3.33332819422e-1)
    small = a + a * z * p
    return math.copysign(big if a >= np.float32(0.625) else small, x)


def vexpm1_f32(x):
    """expm1(x) of a float32, computed in float64 and rounded."""
    return np.float32(vexpm1_f64(np.float64(x)))


def vlog_f32(x):
    """log(x) of a float32, computed in float64 and rounded."""
    return np.float32(vlog_f64(np.float64(x)))


def vlog1p_f32(x):
    """log1p(x) of a float32, computed in float64 and rounded."""
    return np.float32(vlog1p_f64(np.float64(x)))


# emitted as source only (the compiler itself does not import Numba)
_BY_PRECISION = '''def _by_precision(stub, f64, f32):
    """Numba compiles a call of `stub` as `f32` for a float32 argument, else as `f64`.
    Inlined, their selects set off a pedantic check of Numba's SSA pass (a warning about
    a variable's scope, not an error: tests/compiler/test_vmath.py checks the results), so
    that warning is silenced for these functions' variables."""
    warnings.filterwarnings("ignore", rf"variable '{f64.__name__}_|variable '{f32.__name__}_",
                            NumbaIRAssumptionWarning)
    overload(stub, inline="always")(
        lambda x: f32.py_func if str(x) == "float32" else f64.py_func)
'''


# the functions the kernels call: name -> what it computes
PUBLIC_MEANING = {"vexp": "exp(x)", "vexpm1": "expm1(x)", "vlog": "log(x)",
                  "vlog1p": "log1p(x)", "vtanh": "tanh(x)"}
PUBLIC = tuple(PUBLIC_MEANING)
NATIVE_FLOAT32 = ("vexp", "vtanh")    # the others' float32 versions run in float64 lanes
_ORDER = ("vexp_f64", "vexp_f32", "vexpm1_f64", "vexpm1_f32", "_log_plus", "vlog_f64",
          "vlog_f32", "vlog1p_f64", "vlog1p_f32", "vtanh_f64", "vtanh_f32")
NAMES = frozenset(_ORDER) | frozenset(PUBLIC) | {"_by_precision", "overload", "warnings",
                                                     "NumbaIRAssumptionWarning"}


@functools.lru_cache(maxsize=None)
def _calls(name: str) -> frozenset:
    text = inspect.getsource(globals()[name])
    return frozenset(n for n in _ORDER if n != name and re.search(rf"\b{n}\(", text))


def _closure(names) -> set:
    todo, seen = [f"{n}_{p}" for n in names for p in ("f64", "f32")], set()
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo += _calls(n)
    return seen


def used_in(text: str) -> set:
    """The public functions a block of emitted source calls."""
    return {n for n in PUBLIC if re.search(rf"\b{n}\(", text)}


def _dispatch_source(name: str) -> str:
    return (f"def {name}(x):\n"
            f'    """{PUBLIC_MEANING[name]} in the precision of x: compiled as {name}_f32 for '
            f'float32, else\n    as {name}_f64 (called from Python: {name}_f64)."""\n'
            f"    return {name}_f64(x)\n\n\n"
            f"_by_precision({name}, {name}_f64, {name}_f32)\n")


def source(names) -> str:
    """The definitions of the public `names` and what they call, in dependency order, and
    the overloads that pick a version by precision."""
    need = _closure(names)
    impls = [DECORATOR + "\n" + inspect.getsource(globals()[n]).rstrip() + "\n"
             for n in _ORDER if n in need]
    return "\n\n".join(impls + [_BY_PRECISION]
                       + [_dispatch_source(n) for n in PUBLIC if n in names])


def vectorised(text: str) -> str:
    """`text` with its math-module calls to these functions replaced by them."""
    for old, new in REPLACES.items():
        text = re.sub(rf"\b{re.escape(old)}\(", new + "(", text)
    return text


@functools.lru_cache(maxsize=None)
def compiled(name: str):
    """The function `name` compiled as a generated module compiles it (for tests)."""
    import warnings

    from numba import njit
    from numba.core.errors import NumbaIRAssumptionWarning
    from numba.extending import overload
    namespace = {"np": np, "math": math, "njit": njit, "overload": overload,
                 "warnings": warnings, "NumbaIRAssumptionWarning": NumbaIRAssumptionWarning}
    exec(compile(source([name]).replace("cache=True", "cache=False"), __file__, "exec"),
         namespace)
    return namespace[name]


__all__ = ["PUBLIC", "NATIVE_FLOAT32", "NAMES", "REPLACES", "source", "used_in", "vectorised",
           "compiled"]
