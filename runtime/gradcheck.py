"""Gradient checks of generated modules against central finite differences (float64).

A scalar entry point is checked through `f_value_and_grad`. An entry point with a
non-scalar output (or several outputs) is checked through `f_vjp` with a fixed random
cotangent u: the scalar <u, f(...)> is a random projection whose gradient is exactly
`f_vjp(..., cotangent=u)`, and a wrong Jacobian entry shows up in it with probability 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass
class GradCheckRow:
    """One differentiated argument: the largest error relative to the gradient's scale."""

    name: str
    shape: tuple
    rel_error: float
    checked: int
    first: float = float("nan")   # the analytic gradient's first element (for tables)


@dataclass
class Objective:
    """The scalar function a check differentiates, its value and analytic gradients."""

    fn: Callable            # keyword arguments -> float
    value: float
    grads: object           # the entry point's f_Grads named tuple
    via: str                # 'grad' (scalar output) or 'vjp' (random projection)
    cotangent: object = None


def _size(entry, sizes):
    return entry if isinstance(entry, int) else sizes[entry]


def random_inputs(module, fname: str, sizes=None, seed=0) -> dict:
    """Random float64 arguments for an entry point, shaped by its SIGNATURES entry.

    Symbolic sizes default to 3 (override with `sizes={"N": 8}`); Index arguments get
    valid indices; scalar hyper-parameters take their defaults.
    """
    rng = np.random.default_rng(seed)
    sizes = dict(sizes or {})
    spec = module.SIGNATURES[fname]["args"]
    for arg in spec.values():
        for s in arg["shape"]:
            if isinstance(s, str):
                sizes.setdefault(s, 3)
    values = {}
    for name, arg in spec.items():
        shape = tuple(_size(s, sizes) for s in arg["shape"])
        if arg["role"] == "index":
            bound = _size(arg.get("bound", 2), sizes)
            values[name] = rng.integers(0, bound, size=shape)
        elif arg["role"] in ("param", "data"):
            values[name] = rng.standard_normal(shape) if shape else float(rng.standard_normal())
        else:
            values[name] = arg.get("default", 0.5 if arg["role"] == "float" else 2)
    return values


def numeric_gradient(fn, values: dict, name: str, eps=1e-6, max_points=None, seed=0):
    """Central differences of a scalar function w.r.t. one argument: (indices, estimates)."""
    base = np.array(values[name], dtype=np.float64)
    flat_size = max(base.size, 1)
    points = np.arange(flat_size)
    if max_points and flat_size > max_points:
        points = np.sort(np.random.default_rng(seed).choice(flat_size, max_points, False))
    estimates = np.empty(len(points))
    for k, p in enumerate(points):
        args = dict(values)
        plus, minus = base.copy().reshape(-1), base.copy().reshape(-1)
        step = eps * max(1.0, abs(plus[p]))
        plus[p] += step
        minus[p] -= step
        args[name] = plus.reshape(base.shape)
        f_plus = float(fn(**args))
        args[name] = minus.reshape(base.shape)
        f_minus = float(fn(**args))
        estimates[k] = (f_plus - f_minus) / (2 * step)
    return points, estimates


def random_cotangent(output, seed=0):
    """A standard-normal cotangent shaped like `output` (a tuple for several outputs)."""
    rng = np.random.default_rng(seed + 7919)  # not the stream the inputs were drawn from
    if isinstance(output, tuple):
        return tuple(rng.standard_normal(np.shape(o)) for o in output)
    return rng.standard_normal(np.shape(output))


def _project(cotangent, output) -> float:
    """<u, f>: the sum of elementwise products over every output."""
    if isinstance(output, tuple):
        return float(sum(_project(u, o) for u, o in zip(cotangent, output)))
    return float(np.sum(np.asarray(cotangent) * np.asarray(output, dtype=np.float64)))


def objective(module, fname: str, values: dict, seed=0, suffix="") -> Objective:
    """`fname` itself when its output is a scalar, else <u, fname(...)> for a random u.

    suffix="_cuda" checks the GPU functions (f_cuda, f_value_and_grad_cuda, f_vjp_cuda).
    """
    fn = getattr(module, fname + suffix)
    if hasattr(module, f"{fname}_value_and_grad{suffix}"):
        value, grads = getattr(module, f"{fname}_value_and_grad{suffix}")(**values)
        return Objective(fn, float(value), grads, "grad")
    u = random_cotangent(fn(**values), seed)
    grads = getattr(module, f"{fname}_vjp{suffix}")(**values, cotangent=u)

    def projected(**args):
        return _project(u, fn(**args))
    return Objective(projected, projected(**values), grads, "vjp", u)


def check_gradients(module, fname: str, values: dict, eps=1e-6, max_points=64, seed=0,
                    target: Objective | None = None):
    """Compare analytic gradients with central differences for every differentiated argument.

    `target` is the `objective(...)` to check (computed here when not given). The error
    is relative to the larger of the two gradients' magnitudes, with a floor of
    1e-4 * max(1, |f|): below that, differences are rounding noise of the differences
    (a gradient that is exactly zero, such as a bias before batch norm, is then checked
    absolutely).
    """
    target = target or objective(module, fname, values, seed)
    floor = 1e-4 * max(1.0, abs(target.value))
    rows = []
    for name in module.SIGNATURES[fname]["wrt"]:
        analytic = np.asarray(getattr(target.grads, name), dtype=np.float64).reshape(-1)
        points, numeric = numeric_gradient(target.fn, values, name, eps, max_points, seed)
        picked = analytic[points] if analytic.size else analytic
        scale = max(np.max(np.abs(numeric), initial=0.0), np.max(np.abs(picked), initial=0.0),
                    floor)
        err = float(np.max(np.abs(picked - numeric), initial=0.0) / scale)
        first = float(analytic[0]) if analytic.size else 0.0
        rows.append(GradCheckRow(name, np.shape(values[name]), err, len(points), first))
    return rows
