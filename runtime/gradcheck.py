"""Checks of generated modules: values against the eager NumPy run, gradients against
central finite differences (float64).

A scalar entry point is checked through `f_value_and_grad`. An entry point with a
non-scalar output (or several outputs) is checked through `f_vjp` with a fixed random
cotangent u: the scalar <u, f(...)> is a random projection whose gradient is exactly
`f_vjp(..., cotangent=u)`, and a wrong Jacobian entry shows up in it with probability 1.

The independent oracle is the model file itself, run eagerly (`load_eager`): adc.lang
gives every language name a NumPy implementation. `compare_values` sets the compiled
output against it, and `check_gradients(..., reference=eager_objective(...))` takes the
finite differences of the eager run instead of the compiled function's.
"""
from __future__ import annotations

import ast
import sys
import types
from dataclasses import dataclass
from typing import Callable

import numpy as np

# Below this magnitude a value difference is compared absolutely (rounding noise of a
# value that cancels to zero is not a relative error of 100%).
VALUE_FLOOR = 1e-8


@dataclass
class GradCheckRow:
    """One differentiated argument: the largest error relative to the gradient's scale."""

    name: str
    shape: tuple
    rel_error: float
    checked: int
    first: float = float("nan")   # the analytic gradient's first element (for tables)
    nonfinite: str = ""   # "", "analytic", "finite differences" or "both": what is nan/inf


@dataclass
class ValueRow:
    """One output of an entry point: the compiled value against the eager NumPy run."""

    label: str              # "value", or "value #k" for the k-th of several outputs
    shape: tuple            # the eager output's shape
    compiled: float         # the compiled output (its first element for an array)
    eager: float            # the eager output (its first element for an array)
    rel_error: float        # max |compiled - eager| / max(|eager|, |compiled|, VALUE_FLOOR)
    note: str = ""          # why the outputs cannot be compared (shapes, counts)


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


def random_inputs(module, fname: str, sizes=None, seed=0, ranges=None) -> dict:
    """Random float64 arguments for an entry point, shaped by its SIGNATURES entry.

    Symbolic sizes default to 3 (override with `sizes={"N": 8}`); Index arguments get
    valid indices; scalar hyper-parameters take their defaults. Param and Data arguments
    are standard normal, or uniform in [lo, hi] with `ranges={None: (lo, hi)}` (every
    one) or `ranges={"x": (lo, hi)}` (that one; it wins over the `None` entry).
    """
    rng = np.random.default_rng(seed)
    ranges = dict(ranges or {})
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
            span = ranges.get(name, ranges.get(None))
            draw = rng.standard_normal(shape) if span is None else rng.uniform(*span, shape)
            values[name] = draw if shape else float(draw)
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
                    target: Objective | None = None, reference: Callable | None = None):
    """Compare analytic gradients with central differences for every differentiated argument.

    `target` is the `objective(...)` to check (computed here when not given). The
    differences are those of `reference` (keyword arguments -> float; e.g.
    `eager_objective(...)`, the independent oracle) or, without one, of `target.fn`,
    the compiled function itself. The error is relative to the larger of the two
    gradients' magnitudes, with a floor of 1e-4 * max(1, |f|): below that, differences
    are rounding noise of the differences (a gradient that is exactly zero, such as a
    bias before batch norm, is then checked absolutely). A nan or inf on either side is
    a nan error (never within a tolerance), and the row says which side.
    """
    target = target or objective(module, fname, values, seed)
    fn = reference or target.fn
    floor = 1e-4 * max(1.0, abs(target.value)) if np.isfinite(target.value) else 1e-4
    rows = []
    for name in module.SIGNATURES[fname]["wrt"]:
        analytic = np.asarray(getattr(target.grads, name), dtype=np.float64).reshape(-1)
        with np.errstate(all="ignore"):
            points, numeric = numeric_gradient(fn, values, name, eps, max_points, seed)
        picked = analytic[points] if analytic.size else analytic
        bad = [side for side, x in (("analytic", picked), ("finite differences", numeric))
               if not np.all(np.isfinite(x))]
        if bad:
            err = float("nan")
        else:
            scale = max(np.max(np.abs(numeric), initial=0.0),
                        np.max(np.abs(picked), initial=0.0), floor)
            err = float(np.max(np.abs(picked - numeric), initial=0.0) / scale)
        first = float(analytic[0]) if analytic.size else 0.0
        rows.append(GradCheckRow(name, np.shape(values[name]), err, len(points), first,
                                 "both" if len(bad) == 2 else "".join(bad)))
    return rows


# ---- the eager oracle -------------------------------------------------------------------
class EagerError(Exception):
    """Importing the model file, or calling one of its functions, eagerly raised."""


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def load_eager(path: str, source: str | None = None) -> types.ModuleType:
    """Run a model file as plain Python, with adc.lang's NumPy implementations.

    This executes the file's top-level code: its imports, constants and function
    definitions, which is all the compiler accepts at the top level. Top-level `if`
    blocks (`if __name__ == "__main__":`, which the compiler skips) are left out, so the
    eager program is the program that was compiled. No bytecode is written beside the
    file, and the module is not left in `sys.modules`. Raises EagerError when running the
    file raises.
    """
    if source is None:
        with open(path, encoding="utf-8") as f:
            source = f.read()
    name = "_adc_eager_" + "".join(c if c.isalnum() else "_" for c in path)
    module = types.ModuleType(name)
    module.__file__ = path
    previous = sys.modules.get(name)
    sys.modules[name] = module
    try:
        tree = ast.parse(source, filename=path)
        tree.body = [node for node in tree.body if not isinstance(node, ast.If)]
        with np.errstate(all="ignore"):
            exec(compile(tree, path, "exec"), module.__dict__)
    except Exception as exc:
        raise EagerError(f"importing the model file raised {_describe(exc)}") from exc
    finally:
        if previous is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = previous
    return module


def eager_call(fn, values: dict):
    """`fn(**values)` with NumPy's floating-point warnings off (nan/inf are checked).

    Raises EagerError, naming the exception, when the call raises.
    """
    try:
        with np.errstate(all="ignore"):
            return fn(**values)
    except Exception as exc:
        raise EagerError(f"the eager NumPy run of {getattr(fn, '__name__', fn)} raised "
                         f"{_describe(exc)}") from exc


def eager_objective(fn, target: Objective) -> Callable:
    """The eager counterpart of a compiled objective: `fn` itself, or <u, fn> with the
    objective's own cotangent u. Its finite differences are the independent reference."""
    if target.via == "grad":
        return lambda **args: float(np.asarray(eager_call(fn, args), dtype=np.float64))
    return lambda **args: _project(target.cotangent, eager_call(fn, args))


def _parts(output) -> list:
    return list(output) if isinstance(output, tuple) else [output]


def nonfinite(output) -> bool:
    """Whether any element of an output (or of any of several outputs) is nan or inf."""
    return any(not np.all(np.isfinite(np.asarray(p, dtype=np.float64))) for p in _parts(output))


def value_error(compiled, eager) -> float:
    """max |compiled - eager| / max(max |eager|, max |compiled|, VALUE_FLOOR); inf when the
    compiled value is nan or inf and the eager one is not."""
    c = np.asarray(compiled, dtype=np.float64)
    e = np.asarray(eager, dtype=np.float64)
    if not np.all(np.isfinite(c)):
        return float("nan") if not np.all(np.isfinite(e)) else float("inf")
    scale = max(float(np.max(np.abs(e), initial=0.0)), float(np.max(np.abs(c), initial=0.0)),
                VALUE_FLOOR)
    return float(np.max(np.abs(c - e), initial=0.0)) / scale


def _first(x) -> float:
    flat = np.asarray(x, dtype=np.float64).reshape(-1)
    return float(flat[0]) if flat.size else float("nan")


def compare_values(compiled, eager) -> list[ValueRow]:
    """One row per output: the compiled output against the eager one, element by element."""
    c_parts, e_parts = _parts(compiled), _parts(eager)
    if len(c_parts) != len(e_parts):
        return [ValueRow("value", (), float("nan"), float("nan"), float("inf"),
                         f"the compiled function returns {len(c_parts)} value(s), the eager "
                         f"run {len(e_parts)}")]
    rows = []
    for k, (c, e) in enumerate(zip(c_parts, e_parts)):
        label = "value" if len(c_parts) == 1 else f"value #{k + 1}"
        c_shape, e_shape = np.shape(c), np.shape(e)
        if c_shape != e_shape:
            rows.append(ValueRow(label, e_shape, _first(c), _first(e), float("inf"),
                                 f"compiled shape {c_shape}, eager shape {e_shape}"))
            continue
        rows.append(ValueRow(label, e_shape, _first(c), _first(e), value_error(c, e)))
    return rows
