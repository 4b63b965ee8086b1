"""Checks of generated modules: values against the eager NumPy run; gradients, JVPs and
Hessian-vector products against central finite differences of it (float64).

A scalar entry point is checked through `f_value_and_grad`. An entry point with a
non-scalar output (or several outputs) is checked through `f_vjp` with a fixed random
cotangent u: the scalar <u, f(...)> is a random projection whose gradient is exactly
`f_vjp(..., cotangent=u)`, and a wrong Jacobian entry shows up in it with probability 1.

The independent oracle is the model file itself, run eagerly (`load_eager`): adc.lang
gives every language name a NumPy implementation. `compare_values` sets the compiled
output against it, and `check_gradients(..., reference=eager_objective(...))` takes the
finite differences of the eager run instead of the compiled function's. `check_jvp`
sets `f_jvp` along a random direction u against (f(x + εu) - f(x - εu)) / 2ε of the
eager run, and `check_hvp` sets `f_hvp` with a random vector v against its second
differences, each on a ladder of steps (see JVP_STEPS).
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
# Gradient magnitudes below GRAD_FLOOR * max(1, |f|) are compared absolutely. A central
# difference with step 1e-6 carries ~2e-10 * |f| of rounding noise per ulp that f(x +- h)
# is off by, so at a tolerance of 1e-6 the floor must be near 1e-3 to allow a few ulps
# (1e-4 failed a bias before batch norm, whose gradient is exactly 0, at 2 ulps of noise).
GRAD_FLOOR = 1e-3


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


def signature(module, fname) -> dict:
    """The SIGNATURES row of an entry point, or the PREDICTIONS row of a derived f_predict."""
    table = module.SIGNATURES if fname in module.SIGNATURES else \
        getattr(module, "PREDICTIONS", {})
    return table[fname]


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
    spec = signature(module, fname)["args"]
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


def sample_points(size: int, max_points=None, seed=0) -> np.ndarray:
    """The flat indices a finite-difference check visits: all of them, or `max_points`
    of them drawn without replacement (sorted), the same for a given seed."""
    size = max(size, 1)
    if max_points and size > max_points:
        return np.sort(np.random.default_rng(seed).choice(size, max_points, False))
    return np.arange(size)


def numeric_gradient(fn, values: dict, name: str, eps=1e-6, max_points=None, seed=0):
    """Central differences of a scalar function w.r.t. one argument: (indices, estimates)."""
    base = np.array(values[name], dtype=np.float64)
    points = sample_points(base.size, max_points, seed)
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
    """A standard-normal cotangent shaped like `output` (a tuple for several outputs; the
    list an eager np.split returns counts as several)."""
    rng = np.random.default_rng(seed + 7919)  # not the stream the inputs were drawn from
    if isinstance(output, (tuple, list)):
        return tuple(rng.standard_normal(np.shape(o)) for o in output)
    return rng.standard_normal(np.shape(output))


def _project(cotangent, output) -> float:
    """<u, f>: the sum of elementwise products over every output."""
    if isinstance(output, (tuple, list)):
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
    gradients' magnitudes, with a floor of GRAD_FLOOR * max(1, |f|): below that, differences
    are rounding noise of the differences (a gradient that is exactly zero, such as a
    bias before batch norm, is then checked absolutely). A nan or inf on either side is
    a nan error (never within a tolerance), and the row says which side.
    """
    target = target or objective(module, fname, values, seed)
    fn = reference or target.fn
    floor = GRAD_FLOOR * max(1.0, abs(target.value)) if np.isfinite(target.value) else \
        GRAD_FLOOR
    rows = []
    for name in module.SIGNATURES[fname]["wrt"]:
        analytic = np.asarray(getattr(target.grads, name), dtype=np.float64).reshape(-1)
        with np.errstate(all="ignore"):
            points, numeric = numeric_gradient(fn, values, name, eps, max_points, seed)
        picked = analytic[points] if analytic.size else analytic
        err, bad = relative_error(picked, numeric, floor)
        first = float(analytic[0]) if analytic.size else 0.0
        rows.append(GradCheckRow(name, np.shape(values[name]), err, len(points), first, bad))
    return rows


def relative_error(analytic, numeric, floor) -> tuple[float, str]:
    """(max |analytic - numeric| / max(max |analytic|, max |numeric|, floor), what is not
    finite): the error is nan when either side has a nan or inf, and the text says which
    ("analytic", "finite differences" or "both"; "" when both are finite)."""
    bad = [side for side, x in (("analytic", analytic), ("finite differences", numeric))
           if not np.all(np.isfinite(x))]
    if bad:
        return float("nan"), "both" if len(bad) == 2 else bad[0]
    scale = max(np.max(np.abs(numeric), initial=0.0), np.max(np.abs(analytic), initial=0.0),
                floor)
    return float(np.max(np.abs(analytic - numeric), initial=0.0) / scale), ""


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


def _protected(values: dict, copy: bool) -> dict:
    """The arguments with each array replaced by a read-only view, or by a copy."""
    out = dict(values)
    for name, v in values.items():
        if isinstance(v, np.ndarray):
            out[name] = np.array(v) if copy else v.view()
            out[name].flags.writeable = copy
    return out


def eager_call(fn, values: dict):
    """`fn(**values)` with NumPy's floating-point warnings off (nan/inf are checked).

    Run eagerly, `w += 1` on an argument would change the caller's array (the compiled
    function never does) and so move the checked point: the arrays are passed read-only,
    and a call that writes into one is run again on copies.
    Raises EagerError, naming the exception, when the call raises.
    """
    try:
        with np.errstate(all="ignore"):
            try:
                return fn(**_protected(values, copy=False))
            except ValueError as exc:
                if "read-only" not in str(exc):
                    raise
                return fn(**_protected(values, copy=True))
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


# ---- forward mode and Hessian-vector products, against the eager run -------------------
# A difference quotient is exact only in the limit: its truncation error grows with the
# step and its rounding error shrinks with it (~1e-16 |f| / step for a first difference,
# / step² for the second differences of H·v), and which one wins depends on the model (a
# loss of 5000 at the point is mostly rounding, a deep net's curvature mostly truncation,
# and a ReLU kink breaks the larger steps). So the JVP and HVP checks take their
# differences on a ladder of steps, each sqrt(10) times the last, and keep the rung that
# agrees best with its neighbour (most_consistent); the analytic value plays no part.
JVP_STEPS = tuple(1e-7 * 10 ** (k / 2) for k in range(7))   # 1e-7 ... 1e-4
HVP_STEPS = tuple(1e-5 * 10 ** (k / 2) for k in range(7))   # 1e-5 ... 1e-2
# The default `adc check --hvp-tol`: on every sample, seeds 0-7, the worst H·v error of
# these differences is 2e-5 (mlp_mnist, whose loss is ~5000 at a random point: rounding),
# the next 5e-6; the JVP's is 5e-8, well within the gradients' 1e-6.
HVP_TOL = 1e-4
# Below 1e-3 * max(1, |f|) an H·v difference is compared absolutely (check_gradients has
# the first-order floor GRAD_FLOOR * max(1, |f|)): second differences are noisier.
HVP_FLOOR = 1e-3


@dataclass
class JvpRow:
    """One output of an entry point: f_jvp's tangent against the eager run's central
    difference along the same direction."""

    label: str              # "value", or "value #k" for the k-th of several outputs
    shape: tuple            # the eager output's shape
    rel_error: float        # the tangent's largest error (relative_error), nan if not finite
    first: float            # the compiled tangent's first element (for tables)
    primal_error: float = 0.0   # f_jvp's value against the eager output (value_error)
    nonfinite: str = ""     # as GradCheckRow.nonfinite
    note: str = ""          # why the outputs cannot be compared (shapes, counts)


def random_direction(module, fname: str, values: dict, seed=0, stream=0) -> dict:
    """A standard-normal array per differentiated argument, shaped like it: the tangent u
    of the JVP check (stream 0) or the vector v of the HVP check (stream 1). Neither is
    the stream of the inputs or of the cotangent."""
    rng = np.random.default_rng([seed, 104729 + stream])
    return {name: rng.standard_normal(np.shape(values[name]))
            for name in module.SIGNATURES[fname]["wrt"]}


def direction_step(values: dict, direction: dict, eps: float) -> float:
    """ε = eps * max(1, max |x|) / |u| over the arguments the direction moves (|u| the
    Euclidean norm of all of u): the step x -> x + εu has the same length however many
    parameters u moves, so its truncation error does not grow with the model."""
    big = max([1.0] + [float(np.max(np.abs(values[n]), initial=0.0)) for n in direction])
    length = float(np.sqrt(sum(np.sum(np.square(u)) for u in direction.values())))
    return eps * big / length if length else eps * big


def moved(values: dict, direction: dict, step: float) -> dict:
    """The arguments at x + step * u (those the direction does not name are kept)."""
    out = dict(values)
    for name, u in direction.items():
        out[name] = np.asarray(values[name], dtype=np.float64) + step * u
    return out


def most_consistent(estimates) -> np.ndarray:
    """Of difference quotients at increasing steps (rows), one of the neighbouring pair
    whose largest disagreement is the least (a nan disagreement counts as infinite): the
    smaller step, or the larger one when the disagreement fell more than 5x into this
    pair (the ladder is still climbing out of rounding noise there, which the larger step
    has less of; truncation errors and kinks only grow with the step)."""
    estimates = np.asarray(estimates, dtype=np.float64)
    if len(estimates) < 2:
        return estimates[0]
    with np.errstate(invalid="ignore"):
        gaps = np.max(np.abs(np.diff(estimates, axis=0)), axis=1, initial=0.0)
    gaps = np.where(np.isnan(gaps), np.inf, gaps)
    best = int(np.argmin(gaps))
    if best > 0 and gaps[best - 1] > 5 * gaps[best]:
        best += 1
    return estimates[best]


def _as64(x):
    return np.asarray(x, dtype=np.float64)


def directional_difference(fn, values: dict, direction: dict, steps=JVP_STEPS) -> list:
    """(f(x + εu) - f(x - εu)) / 2ε per output of `fn` (keyword arguments -> output or
    tuple), ε = direction_step(..., eps) for each eps of `steps`, most_consistent per output."""
    ladder = []
    for eps in steps:
        step = direction_step(values, direction, eps)
        with np.errstate(all="ignore"):
            plus = _parts(fn(**moved(values, direction, step)))
            minus = _parts(fn(**moved(values, direction, -step)))
            ladder.append([(_as64(p) - _as64(m)) / (2 * step) for p, m in zip(plus, minus)])
    return [most_consistent([rung[k].reshape(-1) for rung in ladder]).reshape(np.shape(part))
            for k, part in enumerate(ladder[0])]


def check_jvp(module, fname: str, values: dict, reference: Callable, seed=0, suffix="",
              steps=JVP_STEPS) -> list[JvpRow]:
    """f_jvp along a random direction u against directional_difference of the eager run
    (`reference`: keyword arguments -> the eager output, e.g. eager_call of the model
    function). One row per output, element by element, relative to the larger tangent
    with a floor of GRAD_FLOOR * max(1, max |f|) as in check_gradients; the row also compares
    f_jvp's value with the eager output. suffix="_cuda" checks f_jvp_cuda."""
    u = random_direction(module, fname, values, seed, 0)
    primal, tangent = getattr(module, f"{fname}_jvp{suffix}")(**values, tangents=u)
    primal, tangent = _parts(primal), _parts(tangent)
    with np.errstate(all="ignore"):
        expected = _parts(reference(**values))
    if not len(primal) == len(tangent) == len(expected):
        return [JvpRow("value", (), float("inf"), float("nan"), note=(
            f"{fname}_jvp{suffix} returns {len(primal)} value(s) and {len(tangent)} "
            f"tangent(s), the eager run {len(expected)}"))]
    numeric = directional_difference(reference, values, u, steps)
    rows = []
    for k, (c, t, e, n) in enumerate(zip(primal, tangent, expected, numeric)):
        label = "value" if len(expected) == 1 else f"value #{k + 1}"
        if np.shape(t) != np.shape(e) or np.shape(c) != np.shape(e):
            rows.append(JvpRow(label, np.shape(e), float("inf"), _first(t), note=(
                f"tangent shape {np.shape(t)}, eager shape {np.shape(e)}")))
            continue
        floor = GRAD_FLOOR * max(1.0, float(np.max(np.abs(_as64(e)), initial=0.0)))
        err, bad = relative_error(_as64(t), n, floor)
        rows.append(JvpRow(label, np.shape(e), err, _first(t), value_error(c, e), bad))
    return rows


def second_differences(fn, values: dict, direction: dict, name: str, eps: float, points):
    """(H v)_k for the flat coordinates k in `points` of one argument of a scalar fn:
    [f(x+εv+δe_k) - f(x+εv-δe_k) - f(x-εv+δe_k) + f(x-εv-δe_k)] / (4εδ), with
    ε = direction_step(..., eps) and δ = eps * max(1, |x_k|)."""
    step = direction_step(values, direction, eps)
    deltas = eps * np.maximum(1.0, np.abs(_as64(values[name]).reshape(-1)[points]))
    sums = np.zeros(len(points))
    for sign_v in (1, -1):
        args = moved(values, direction, sign_v * step)   # fresh arrays, changed in place
        flat = np.array(args[name], dtype=np.float64)
        args[name] = flat.reshape(np.shape(values[name]))
        flat = flat.reshape(-1)
        for k, (p, delta) in enumerate(zip(points, deltas)):
            centre = flat[p]
            for sign_k in (1, -1):
                flat[p] = centre + sign_k * delta
                sums[k] += sign_v * sign_k * float(fn(**args))
            flat[p] = centre
    return sums / (4 * step * deltas)


def check_hvp(module, fname: str, values: dict, reference: Callable, max_points=32, seed=0,
              suffix="", steps=HVP_STEPS) -> list[GradCheckRow]:
    """f_hvp with a random vector v against second_differences of the eager run
    (`reference`: keyword arguments -> float, e.g. eager_objective(...)) at each step of
    `steps`, most_consistent per argument; at most `max_points` coordinates of each
    differentiated argument, relative to the larger of the two with a floor of
    HVP_FLOOR * max(1, |f|). Scalar outputs only; suffix="_cuda" checks f_hvp_cuda."""
    v = random_direction(module, fname, values, seed, 1)
    hv = getattr(module, f"{fname}_hvp{suffix}")(**values, vector=v)
    with np.errstate(all="ignore"):
        value = float(reference(**values))
    floor = HVP_FLOOR * max(1.0, abs(value)) if np.isfinite(value) else HVP_FLOOR
    rows = []
    for name in module.SIGNATURES[fname]["wrt"]:
        analytic = _as64(getattr(hv, name)).reshape(-1)
        points = sample_points(analytic.size, max_points, seed)
        with np.errstate(all="ignore"):
            numeric = most_consistent([second_differences(reference, values, v, name, eps,
                                                          points) for eps in steps])
        picked = analytic[points] if analytic.size else analytic
        err, bad = relative_error(picked, numeric, floor)
        first = float(analytic[0]) if analytic.size else 0.0
        rows.append(GradCheckRow(name, np.shape(values[name]), err, len(points), first, bad))
    return rows
