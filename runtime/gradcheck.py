"""Gradient checks of generated modules against central finite differences (float64)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class GradCheckRow:
    """One differentiated argument: the largest error relative to the gradient's scale."""

    name: str
    shape: tuple
    rel_error: float
    checked: int


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


def check_gradients(module, fname: str, values: dict, eps=1e-6, max_points=64):
    """Compare `fname_grad` with central differences for every differentiated argument.

    The error is relative to the larger of the two gradients' magnitudes, with a floor of
    1e-4 * max(1, |f|): below that, differences are rounding noise of the differences
    (a gradient that is exactly zero, such as a bias before batch norm, is then checked
    absolutely).
    """
    fn = getattr(module, fname)
    value, grads = getattr(module, f"{fname}_value_and_grad")(**values)
    floor = 1e-4 * max(1.0, abs(float(value)))
    rows = []
    for name in module.SIGNATURES[fname]["wrt"]:
        analytic = np.asarray(getattr(grads, name), dtype=np.float64).reshape(-1)
        points, numeric = numeric_gradient(fn, values, name, eps, max_points)
        picked = analytic[points] if analytic.size else analytic
        scale = max(np.max(np.abs(numeric), initial=0.0), np.max(np.abs(picked), initial=0.0),
                    floor)
        err = float(np.max(np.abs(picked - numeric), initial=0.0) / scale)
        rows.append(GradCheckRow(name, np.shape(values[name]), err, len(points)))
    return rows
