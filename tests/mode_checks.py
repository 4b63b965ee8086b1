"""Checks of forward mode (f_jvp) and Hessian-vector products (f_hvp) shared by
tests/test_modes.py (the samples) and tests/compiler/test_function_modes.py (the
language functions).

- f_jvp's tangent == central differences of the *eager* NumPy run along a random
  direction u (float64), and == the NumPy reference backend's jvp;
- the dot-product test <w, J u> = <J^T w, u> (f_jvp against f_vjp, random u and w);
- f_hvp == central differences of the compiled gradient along v, and == the NumPy
  reference backend's hvp;
- the symmetry of the Hessian, <u, H v> = <v, H u>.

A dot product is compared relative to the sum of the magnitudes of its terms: that is
the size of the rounding error of the sum, whatever cancels.
"""
from __future__ import annotations

import numpy as np

from adc.compiler.backends import numpy_ref
from adc.runtime import gradcheck

from conftest import assert_close_rel

FD_RTOL = 1e-6      # central differences in float64
REF_RTOL = 1e-10    # two implementations of the same derivative program
DOT_RTOL = 1e-10    # identities that hold exactly in real arithmetic
EPS = 1e-6          # finite-difference step (inputs are O(1))


def as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def wrt(module, fname):
    return list(module.SIGNATURES[fname]["wrt"])


def direction(module, fname, values, seed) -> dict:
    """A standard-normal array per differentiated argument, shaped like its value."""
    rng = np.random.default_rng(seed + 104729)
    return {n: rng.standard_normal(np.shape(values[n])) for n in wrt(module, fname)}


def moved(values, u, h):
    """values + h * u (only the arguments named in u)."""
    out = dict(values)
    for n, d in u.items():
        out[n] = np.asarray(values[n], dtype=np.float64) + h * d
    return out


def inner(a, b):
    """(sum of a_i * b_i, sum of |a_i * b_i|) over dicts or tuples of arrays."""
    pairs = zip(a.values(), b.values()) if isinstance(a, dict) else zip(a, b)
    terms = [np.asarray(x, dtype=np.float64) * np.asarray(y, dtype=np.float64)
             for x, y in pairs]
    return sum(float(np.sum(t)) for t in terms), sum(float(np.sum(np.abs(t))) for t in terms)


def assert_same_inner(lhs, rhs, rtol, what):
    (a, sa), (b, sb) = lhs, rhs
    scale = max(sa, sb)
    assert abs(a - b) <= rtol * scale, \
        f"{what}: {a!r} vs {b!r}, difference {abs(a - b):.3e} > {rtol:g} * {scale:.3e}"


def grads_dict(grads, names):
    return {n: np.asarray(getattr(grads, n), dtype=np.float64) for n in names}


def check_jvp(module, eager, program, fname, values, seed=0):
    """f_jvp: value == eager, tangent == central differences of the eager run and ==
    numpy_ref.jvp; then the dot-product test against f_vjp. Returns the tangent."""
    u = direction(module, fname, values, seed)
    value, tangent = getattr(module, f"{fname}_jvp")(**values, tangents=u)
    expected = as_tuple(getattr(eager, fname)(**values))
    for k, (got, want) in enumerate(zip(as_tuple(value), expected)):
        assert_close_rel(got, want, REF_RTOL, what=f"{fname}_jvp value #{k} vs eager")

    plus = as_tuple(getattr(eager, fname)(**moved(values, u, EPS)))
    minus = as_tuple(getattr(eager, fname)(**moved(values, u, -EPS)))
    tangents = as_tuple(tangent)
    assert len(tangents) == len(plus), f"{fname}_jvp: {len(tangents)} tangents"
    for k, (t, p, m) in enumerate(zip(tangents, plus, minus)):
        fd = (np.asarray(p, dtype=np.float64) - np.asarray(m, dtype=np.float64)) / (2 * EPS)
        assert np.shape(t) == np.shape(fd), f"{fname}_jvp tangent #{k}: shape {np.shape(t)}"
        assert np.any(fd != 0), f"{fname}: the direction does not change output #{k}"
        assert_close_rel(t, fd, FD_RTOL, what=f"{fname}_jvp tangent #{k} vs FD of the eager run")

    _, ref = numpy_ref.jvp(program, values, u)
    for k, (t, r) in enumerate(zip(tangents, ref)):
        assert_close_rel(t, r, REF_RTOL, atol=1e-13 * max(1.0, float(np.max(np.abs(r)))),
                         what=f"{fname}_jvp tangent #{k} vs numpy reference")

    # <w, J u> == <J^T w, u>
    w = gradcheck.random_cotangent(value, seed)
    cotangent = w if isinstance(value, tuple) else np.asarray(w)
    grads = getattr(module, f"{fname}_vjp")(**values, cotangent=cotangent)
    assert_same_inner(inner(as_tuple(w), tangents), inner(grads_dict(grads, u), u),
                      DOT_RTOL, f"{fname}: <w, J u> vs <J^T w, u>")
    return tangent


def check_hvp(module, program, fname, values, seed=0):
    """f_hvp == central differences of the compiled gradient along v and == numpy_ref.hvp;
    <u, H v> == <v, H u>."""
    names = wrt(module, fname)
    hvp = getattr(module, f"{fname}_hvp")
    grad = getattr(module, f"{fname}_grad")
    v = direction(module, fname, values, seed)
    hv = grads_dict(hvp(**values, vector=v), names)

    g_plus = grads_dict(grad(**moved(values, v, EPS)), names)
    g_minus = grads_dict(grad(**moved(values, v, -EPS)), names)
    fd = {n: (g_plus[n] - g_minus[n]) / (2 * EPS) for n in names}
    scale = max(float(np.max(np.abs(f))) for f in fd.values())
    assert scale > 0, f"{fname}: the Hessian is zero along v"
    ref = numpy_ref.hvp(program, values, v)
    for n in names:
        assert hv[n].shape == np.shape(values[n]), f"{fname}_hvp: shape of {n}"
        # a block far smaller than the rest is compared with the whole vector's scale
        assert_close_rel(hv[n], fd[n], FD_RTOL, atol=FD_RTOL * 1e-3 * scale,
                         what=f"{fname}_hvp.{n} vs FD of the compiled gradient")
        assert_close_rel(hv[n], ref[n], REF_RTOL, atol=1e-13 * scale,
                         what=f"{fname}_hvp.{n} vs numpy reference")

    u = direction(module, fname, values, seed + 1)
    hu = grads_dict(hvp(**values, vector=u), names)
    assert_same_inner(inner(u, hv), inner(v, hu), DOT_RTOL, f"{fname}: <u, H v> vs <v, H u>")
    return hv


def parameter_count(module, fname, values):
    return sum(int(np.size(values[n])) for n in wrt(module, fname))
