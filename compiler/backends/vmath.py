"""Vectorisable exp, expm1, log, log1p and tanh for the CPU kernels.

Numba's pip build has no SVML: `math.exp` in a loop stays a scalar libm call and the
loop never vectorises. These are the same functions written as SLEEF, Cephes and XLA
write them: branch-free range reduction (Cody-Waite), a polynomial, and the scaling by
2**k built from exponent bits, with conditional expressions that LLVM turns into
selects. Inlined into a kernel's loop, the loop vectorises. Correct over the whole
float range: subnormals, +-0, +-inf and NaN give what NumPy gives; at most 2 ulp from
the exact value (tests/compiler/test_vmath.py checks against mpmath). A float32 argument
is computed in float64 (the constants are float64 literals): rounded to float32, the
result is within an ulp of the exact value.

The functions below are the source the generated module gets (`source(names)`), and
are importable for tests (`compiled(name)`).
"""
from __future__ import annotations

import functools
import inspect
import math
import re

import numpy as np

DECORATOR = '@njit(cache=True, inline="always")'
# the math-module functions the CPU kernels print as these
REPLACES = {"math.exp": "vexp", "math.expm1": "vexpm1", "math.log": "vlog",
            "math.log1p": "vlog1p", "math.tanh": "vtanh"}


# Each function is flat (at most one call): Numba inlines a function's IR at every call
# site, and a kernel's compile time grows with the inlined calls. There is one version,
# in float64: float32 versions of their own (tried: Cephes' expf, fdlibm's e_logf, within
# 1.3 ulp), chosen by argument type (isinstance or numba's overload), made every call
# site 3-4x as slow to compile; float32 arguments run in float64 lanes instead.


def vexp(x):
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


def vexpm1(x):
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


def vlog(x):
    """log(x); -inf at 0, NaN below 0 (see _log_plus)."""
    return _log_plus(x, 0.0)


def vlog1p(x):
    """log(1 + x), accurate near 0: log(u) for u = 1 + x rounded, plus the rounding's
    first-order correction c = (x - (u - 1)) / u."""
    u = 1.0 + x
    c = (1.0 - (u - x) if u >= 3.0 else x - (u - 1.0)) / u
    c = 0.0 if u > 1e17 else c
    y = _log_plus(u, c)
    return x if abs(x) < 1e-300 else y     # keeps -0.0 and subnormals


def vtanh(x):
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
    den = vexp(2.0 * a) + 1.0 if big else q
    lead = 1.0 if big else a
    return math.copysign(lead + num / den, x)


PUBLIC = ("vexp", "vexpm1", "vlog", "vlog1p", "vtanh")
_ORDER = ("vexp", "vexpm1", "_log_plus", "vlog", "vlog1p", "vtanh")
NAMES = frozenset(_ORDER)


@functools.lru_cache(maxsize=None)
def _calls(name: str) -> frozenset:
    text = inspect.getsource(globals()[name])
    return frozenset(n for n in _ORDER if n != name and re.search(rf"\b{n}\(", text))


def _closure(names) -> set:
    todo, seen = list(names), set()
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo += _calls(n)
    return seen


def used_in(text: str) -> set:
    """The public functions a block of emitted source calls."""
    return {n for n in PUBLIC if re.search(rf"\b{n}\(", text)}


def source(names) -> str:
    """The definitions of the public `names` and what they call, in dependency order."""
    need = _closure(names)
    return "\n\n".join(DECORATOR + "\n" + inspect.getsource(globals()[n]).rstrip() + "\n"
                       for n in _ORDER if n in need)


def vectorised(text: str) -> str:
    """`text` with its math-module calls to these functions replaced by them."""
    for old, new in REPLACES.items():
        text = re.sub(rf"\b{re.escape(old)}\(", new + "(", text)
    return text


@functools.lru_cache(maxsize=None)
def compiled(name: str):
    """The function `name` compiled as a generated module compiles it (for tests)."""
    from numba import njit
    namespace = {"np": np, "math": math, "njit": njit}
    exec(compile(source([name]).replace("cache=True", "cache=False"), __file__, "exec"),
         namespace)
    return namespace[name]


__all__ = ["PUBLIC", "NAMES", "REPLACES", "source", "used_in", "vectorised",
           "compiled"]
