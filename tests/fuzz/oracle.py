"""Differential checks of a compiled model against the eager NumPy run of the same file.

`check(source, entry, inputs_spec, workdir)` writes the model, imports it eagerly (the
oracle), compiles it with `adc.compile`, calls the generated module on the same inputs
and raises `Failure` (with a `kind` used to group failures into bug classes) when:

- compiling raises anything (a CompileError for a well-typed program is a failure too);
- a generated function raises at call time, or returns a different shape or dtype;
- a value differs from the eager run (relative 1e-9 of the output's scale);
- a gradient (`f_value_and_grad`, `f_grad`) or a VJP (`f_vjp` with a random cotangent)
  differs from central differences of the *eager* run (relative 1e-5);
- a call writes into its inputs or its cotangent, or two identical calls differ.

Finite differences are taken at two step sizes; where they disagree with each other the
point is near a kink, and the check is repeated at freshly drawn inputs instead of
reporting a failure.
"""
from __future__ import annotations

import copy
import importlib.util
import os
import pickle
import signal
import sys
import time
import traceback
from dataclasses import dataclass

import numpy as np

import adc
from adc.compiler.errors import CompileError

VALUE_RTOL = 1e-9
GRAD_RTOL = 1e-5
MAX_FD_POINTS = 24


class Failure(Exception):
    """A disagreement with the oracle, or a crash; `kind` names the bug class."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"[{kind}] {detail}")
        self.kind = kind
        self.detail = detail


class InvalidProgram(Exception):
    """The eager run itself fails or is not finite: the program is not a valid test."""


@dataclass
class ArgSpec:
    """How to draw one argument: role, concrete shape, value domain, index bound."""

    name: str
    role: str                # Param, Data, Index, float, int
    shape: tuple = ()        # ints
    domain: str = "normal"   # normal, positive, prob, mask
    bound: int = 0
    value: object = None     # float / int: the value passed (None: use the default)


def specs_of_program(program) -> list:
    """ArgSpecs from a progen.Program."""
    out = []
    for a in program.args:
        shape = tuple(d.value for d in a.shape)
        value = a.value if a.role in ("float", "int") else None
        out.append(ArgSpec(a.name, a.role, shape, a.domain, a.bound, value))
    return out


def draw_inputs(specs, seed: int) -> dict:
    """Random float64 arrays (Python floats for shape ()) in each argument's domain."""
    rng = np.random.default_rng(seed)
    values = {}
    for s in specs:
        if s.role == "Index":
            values[s.name] = rng.integers(0, max(s.bound, 1), size=s.shape)
        elif s.role in ("float", "int"):
            if s.value is not None:
                values[s.name] = s.value
        else:
            if s.domain == "positive":
                v = rng.uniform(0.5, 2.0, s.shape)
            elif s.domain == "prob":
                v = rng.uniform(0.05, 0.95, s.shape)
            elif s.domain == "mask":
                v = (rng.random(s.shape) < 0.7).astype(np.float64)
            else:
                v = rng.standard_normal(s.shape)
            values[s.name] = np.float64(v) if s.shape == () else v
    return values


# -- running the two sides ------------------------------------------------------------------
def import_file(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def call(fn, values: dict, **extra):
    """fn(**values) on deep copies, so that neither side can change the inputs."""
    return fn(**copy.deepcopy(values), **extra)


def outputs_list(out) -> list:
    return list(out) if isinstance(out, tuple) else [out]


def last_frame(exc: BaseException) -> str:
    """`Type: message` and the innermost frame inside adc (file:function)."""
    frames = traceback.extract_tb(exc.__traceback__)
    inner = [f for f in frames if "/compiler/" in f.filename or "/adc/" in f.filename
             or "_adc.py" in f.filename]
    where = inner[-1] if inner else (frames[-1] if frames else None)
    loc = f" at {os.path.basename(where.filename)}:{where.name}" if where else ""
    lines = [l for l in str(exc).strip().split("\n") if l.strip()]
    msg = lines[0] if lines else ""
    if msg.startswith("Failed in") and len(lines) > 1:     # Numba: the reason comes next
        msg = lines[1].strip()
    msg = msg[:200]
    return f"{type(exc).__name__}: {msg}{loc}"


def eager_run(eager_fn, values):
    """The oracle's outputs (as float64 arrays); InvalidProgram when it fails."""
    try:
        with np.errstate(all="ignore"):
            out = call(eager_fn, values)
    except Exception as exc:
        raise InvalidProgram(f"eager run raised {last_frame(exc)}") from exc
    outs = [np.asarray(o, dtype=np.float64) for o in outputs_list(out)]
    if not all(np.all(np.isfinite(o)) for o in outs):
        raise InvalidProgram("eager run is not finite")
    return out, outs


def compile_model(path: str, out_path: str, wrt=()):
    """adc.compile, every failure turned into a Failure of its own kind."""
    try:
        return adc.compile(path, out_path, wrt=wrt)
    except CompileError as exc:
        kind = "compile-internal" if "adc cannot lower" in exc.message or not exc.line \
            else "compile-reject"
        raise Failure(kind, exc.format().split("\n")[0]) from exc
    except RecursionError as exc:
        raise Failure("compile-crash", last_frame(exc)) from exc
    except Exception as exc:
        raise Failure("compile-crash", last_frame(exc)) from exc


def compiled_call(fn, values, what, **extra):
    try:
        with np.errstate(all="ignore"):
            return call(fn, values, **extra)
    except Exception as exc:
        raise Failure("call-error", f"{what}: {last_frame(exc)}") from exc


# -- comparisons ----------------------------------------------------------------------------
def compare_values(got, expected_outs, what="value"):
    got_outs = outputs_list(got)
    if len(got_outs) != len(expected_outs):
        raise Failure("value-structure", f"{what}: {len(got_outs)} outputs, eager has "
                      f"{len(expected_outs)}")
    for k, (g, e) in enumerate(zip(got_outs, expected_outs)):
        g = np.asarray(g)
        if g.shape != e.shape:
            raise Failure("value-shape", f"{what}[{k}]: shape {g.shape}, eager {e.shape}")
        if g.dtype != np.float64 and not (g.dtype.kind in "iu" and np.all(e == g)):
            # (a model returning the constant 1 gives an int, eagerly as well)
            raise Failure("value-dtype", f"{what}[{k}]: dtype {g.dtype} for float64 inputs")
        err = float(np.max(np.abs(g - e), initial=0.0))
        scale = max(1.0, float(np.max(np.abs(e), initial=0.0)))
        if not err <= VALUE_RTOL * scale:
            raise Failure("value", f"{what}[{k}]: |compiled - eager| = {err:.3e} "
                          f"(scale {scale:.3e}); compiled {np.ravel(g)[:4]}, "
                          f"eager {np.ravel(e)[:4]}")


def projection(eager_fn, cotangent):
    """The scalar <u, f(...)> of the eager function (u: one cotangent per output)."""
    us = outputs_list(cotangent)

    def fn(**values):
        with np.errstate(all="ignore"):
            out = outputs_list(eager_fn(**values))
        return float(sum(np.sum(np.asarray(u) * np.asarray(o, dtype=np.float64))
                         for u, o in zip(us, out)))
    return fn


def central_difference(fn, values, name, points, eps):
    base = np.array(values[name], dtype=np.float64)
    flat = base.reshape(-1)
    est = np.empty(len(points))
    for k, p in enumerate(points):
        step = eps * max(1.0, abs(flat[p]))
        vals = []
        for sign in (1, -1):
            moved = flat.copy()
            moved[p] += sign * step
            args = copy.deepcopy(values)
            args[name] = np.float64(moved[0]) if base.shape == () else moved.reshape(base.shape)
            vals.append(fn(**args))
        est[k] = (vals[0] - vals[1]) / (2 * step)
    return est


class NearKink(Exception):
    """Finite differences at two step sizes disagree: try other inputs."""


def compare_gradient(fn, values, name, analytic, f_value, what, seed):
    """analytic (an array of the parameter's shape) against central differences of fn."""
    base = np.asarray(values[name], dtype=np.float64)
    analytic = np.asarray(analytic)
    if analytic.shape != base.shape:
        raise Failure("grad-shape", f"{what} d/d{name}: shape {analytic.shape}, parameter "
                      f"{base.shape}")
    if analytic.dtype != np.float64:
        raise Failure("grad-dtype", f"{what} d/d{name}: dtype {analytic.dtype}")
    flat = analytic.reshape(-1)
    size = max(base.size, 1)
    points = np.arange(size)
    if size > MAX_FD_POINTS:
        points = np.sort(np.random.default_rng(seed).choice(size, MAX_FD_POINTS, False))
    picked = flat[points] if flat.size else np.zeros(len(points))
    if not np.all(np.isfinite(picked)):
        raise Failure("grad-nonfinite", f"{what} d/d{name}: {picked[:6]}")
    numeric = central_difference(fn, values, name, points, 1e-6)
    floor = 1e-4 * max(1.0, abs(f_value))

    def error(est):
        scale = max(np.max(np.abs(est), initial=0.0), np.max(np.abs(picked), initial=0.0),
                    floor)
        return float(np.max(np.abs(picked - est), initial=0.0) / scale)
    err = error(numeric)
    if err <= GRAD_RTOL:
        return
    coarse = central_difference(fn, values, name, points, 1e-5)
    scale = max(np.max(np.abs(numeric)), np.max(np.abs(coarse)), floor)
    if np.max(np.abs(coarse - numeric)) / scale > GRAD_RTOL / 2 or \
            not np.all(np.isfinite(numeric)):
        raise NearKink(name)
    worst = int(np.argmax(np.abs(picked - numeric)))
    raise Failure("grad" if what != "vjp" else "vjp",
                  f"{what} d/d{name}: relative error {err:.2e}; at flat index "
                  f"{points[worst]} adc {picked[worst]:.6g}, FD of eager {numeric[worst]:.6g}")


def check_float32(module, eager_fn, entry, values):
    """float32 inputs give float32 outputs and gradients, close to the eager run at the
    same (rounded) inputs."""
    def f32(v):
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            return v.astype(np.float32)
        return np.float32(v) if isinstance(v, np.floating) else v
    low = {k: f32(v) for k, v in values.items()}
    wide = {k: (v.astype(np.float64) if isinstance(v, np.ndarray) and v.dtype.kind == "f"
                else np.float64(v) if isinstance(v, np.floating) else v) for k, v in low.items()}
    _, expected = eager_run(eager_fn, wide)
    got = compiled_call(getattr(module, entry), low, f"{entry} (float32)")
    for k, (g, e) in enumerate(zip(outputs_list(got), expected)):
        g = np.asarray(g)
        if g.dtype != np.float32:
            raise Failure("float32-dtype", f"{entry}[{k}]: dtype {g.dtype} for float32 inputs")
        err = float(np.max(np.abs(g.astype(np.float64) - e), initial=0.0))
        scale = max(1.0, float(np.max(np.abs(e), initial=0.0)))
        if not err <= 2e-3 * scale:
            raise Failure("float32-value", f"{entry}[{k}]: |float32 - eager| = {err:.3e} "
                          f"(scale {scale:.3e})")
    if hasattr(module, f"{entry}_grad"):
        grads = compiled_call(getattr(module, f"{entry}_grad"), low, f"{entry}_grad (float32)")
        for name in module.SIGNATURES[entry]["wrt"]:
            dt = np.asarray(getattr(grads, name)).dtype
            if dt != np.float32:
                raise Failure("float32-dtype", f"{entry}_grad d/d{name}: dtype {dt}")


def compare_signature(fn, eager_fn, entry):
    """`f` has the signature of the source: names, order, kinds (keyword-only) and defaults."""
    import inspect
    try:
        got, want = inspect.signature(fn), inspect.signature(eager_fn)
    except (TypeError, ValueError):
        return
    def shape(sig):
        return [(p.name, p.kind, p.default) for p in sig.parameters.values()]
    if shape(got) != shape(want):
        raise Failure("signature", f"{entry}{got} but the model says {entry}{want}")


def positional_call(fn, values):
    """fn called with its positional-or-keyword arguments by position (None: not needed)."""
    import inspect
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    pos = []
    for p in params:            # a prefix: a missing argument (its default) ends it
        if p.kind != p.POSITIONAL_OR_KEYWORD or p.name not in values:
            break
        pos.append(p.name)
    if not pos:
        return None
    kw = {k: v for k, v in values.items() if k not in pos}
    return lambda: fn(*copy.deepcopy([values[n] for n in pos]), **copy.deepcopy(kw))


def check_fast_path(module, entry, values):
    """Each entry point's `_f_ready` takes ready arguments as they are: on what `_prepare`
    converts the call's values to it must give the same arrays, sizes and dtype, and on
    anything else either None or that same result (never arguments `_prepare` rejects)."""
    ready = getattr(module, f"_{entry}_ready", None)
    if ready is None:       # renamed by a clash with a user's name: nothing to find it by
        return
    spec = module.SIGNATURES[entry]["args"]
    given = tuple(values[n] if n in values else a["default"] for n, a in spec.items())
    want = module._prepare(entry, given)
    fast = ready(given)
    if fast is not None and not _same_args(fast, want):
        raise Failure("fast-path", f"_{entry}_ready accepts the call's arguments but "
                      "differs from _prepare")
    as_converted = tuple(a.reshape(()) if isinstance(a, np.ndarray) and not spec[n]["shape"]
                         else a for n, a in zip(spec, want[0]))
    fast = ready(as_converted)
    if fast is None or not _same_args(fast, want):
        raise Failure("fast-path", f"_{entry}_ready does not take what _prepare "
                      "converted as it is")


def _same_args(a, b) -> bool:
    return a[1:] == b[1:] and len(a[0]) == len(b[0]) and all(
        type(x) is type(y) and (np.array_equal(x, y, equal_nan=True) and x.dtype == y.dtype
                                and x.shape == y.shape if isinstance(x, np.ndarray) else x == y)
        for x, y in zip(a[0], b[0]))


def same_inputs(before: dict, after: dict, what: str):
    for name, v in before.items():
        if isinstance(v, np.ndarray) and not np.array_equal(v, after[name]):
            raise Failure("mutates-input", f"{what} wrote into argument '{name}'")


# -- running compiled code in a child process -------------------------------------------------
CALL_TIME_LIMIT = 300


def in_child(fn, timeout=CALL_TIME_LIMIT):
    """fn() in a forked child: a segfault or a hang of compiled code becomes a Failure
    ("crash", "hang") instead of killing the fuzzer. Failure, NearKink and
    InvalidProgram raised by fn are raised again here; fn's return value is dropped."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                    # the child
        os.close(r)
        import faulthandler
        faulthandler.disable()     # a crash is reported by the parent, without a dump
        try:
            fn()
            msg = ("ok",)
        except Failure as exc:
            msg = ("failure", exc.kind, exc.detail[:4000])
        except NearKink as exc:
            msg = ("kink", str(exc))
        except InvalidProgram as exc:
            msg = ("invalid", str(exc)[:4000])
        except BaseException as exc:               # a bug in the harness
            msg = ("error", last_frame(exc))
        with os.fdopen(w, "wb") as out:
            out.write(pickle.dumps(msg))
        os._exit(0)
    os.close(w)
    deadline = time.time() + timeout
    chunks = []
    os.set_blocking(r, False)
    status = None
    while status is None:
        try:
            chunk = os.read(r, 65536)
            if chunk:
                chunks.append(chunk)
        except BlockingIOError:
            pass
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
        elif time.time() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(r)
            raise Failure("hang", f"compiled code ran for more than {timeout}s")
        else:
            time.sleep(0.005)
    os.set_blocking(r, True)
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    if os.WIFSIGNALED(status):
        raise Failure("crash", f"the process running the compiled module died of signal "
                      f"{signal.Signals(os.WTERMSIG(status)).name}")
    msg = pickle.loads(b"".join(chunks)) if chunks else ("error", "no result from child")
    if msg[0] == "failure":
        raise Failure(msg[1], msg[2])
    if msg[0] == "kink":
        raise NearKink(msg[1])
    if msg[0] == "invalid":
        raise InvalidProgram(msg[1])
    if msg[0] == "error":
        raise RuntimeError(f"harness error in the child: {msg[1]}")


# -- the whole check ------------------------------------------------------------------------
def check_module(module, eager_fn, entry, specs, values, seed, scalar=None):
    """All comparisons of one compiled entry point at one input point."""
    _, expected = eager_run(eager_fn, values)
    fn = getattr(module, entry)
    got = compiled_call(fn, values, entry)
    compare_values(got, expected, entry)
    compare_signature(fn, eager_fn, entry)
    positional = positional_call(fn, values)
    if positional is not None:
        compare_values(compiled_call(positional, {}, f"{entry} (positional)"), expected,
                       f"{entry} (positional arguments)")
    # the call must not write into the caller's arrays
    args = copy.deepcopy(values)
    try:
        with np.errstate(all="ignore"):
            fn(**args)
    except Exception as exc:
        raise Failure("call-error", f"{entry} (second call): {last_frame(exc)}") from exc
    same_inputs(values, args, entry)
    check_fast_path(module, entry, values)
    wrt = module.SIGNATURES[entry]["wrt"]
    scalar = scalar if scalar is not None else (len(expected) == 1 and expected[0].shape == ())
    if scalar and hasattr(module, f"{entry}_value_and_grad"):
        value, grads = compiled_call(getattr(module, f"{entry}_value_and_grad"), values,
                                     f"{entry}_value_and_grad")
        compare_values(value, expected, f"{entry}_value_and_grad")
        again = compiled_call(getattr(module, f"{entry}_grad"), values, f"{entry}_grad")
        for name in wrt:
            a, b = np.asarray(getattr(grads, name)), np.asarray(getattr(again, name))
            if a.shape != b.shape or not np.allclose(a, b, rtol=1e-12, atol=1e-300,
                                                     equal_nan=True):
                raise Failure("grad-unstable", f"{entry}_grad d/d{name} differs from "
                              f"{entry}_value_and_grad's (uninitialised memory?)")
        if hasattr(module, f"{entry}_vjp"):      # the same kernels, seeded with u
            u = 1.0 + (seed % 5) * 0.25
            scaled = compiled_call(getattr(module, f"{entry}_vjp"), values, f"{entry}_vjp",
                                   cotangent=u)
            for name in wrt:
                a, b = u * np.asarray(getattr(grads, name)), np.asarray(getattr(scaled, name))
                noise = 1e-11 * max(1.0, abs(float(expected[0])))   # rounding, not a bug
                if a.shape != b.shape or not np.allclose(a, b, rtol=1e-10, atol=noise,
                                                         equal_nan=True):
                    raise Failure("vjp-scalar", f"{entry}_vjp(cotangent={u}) d/d{name} is "
                                  f"not {u} * {entry}_grad")
        target, f_value, what = eager_fn, float(expected[0]), "grad"
    else:
        if not hasattr(module, f"{entry}_vjp"):
            raise Failure("missing-function", f"{entry}_vjp is not generated")
        rng = np.random.default_rng(seed + 7919)
        cot = [rng.standard_normal(o.shape) for o in expected]
        cotangent = tuple(cot) if len(cot) > 1 else cot[0]
        if len(cot) == 1 and expected[0].shape == ():
            cotangent = float(cot[0])
        held = copy.deepcopy(cotangent)
        try:
            with np.errstate(all="ignore"):
                grads = getattr(module, f"{entry}_vjp")(**copy.deepcopy(values),
                                                         cotangent=cotangent)
        except Exception as exc:
            raise Failure("call-error", f"{entry}_vjp: {last_frame(exc)}") from exc
        for u, h in zip(outputs_list(cotangent), outputs_list(held)):
            if not np.array_equal(np.asarray(u), np.asarray(h)):
                raise Failure("mutates-cotangent", f"{entry}_vjp wrote into its cotangent")
        target = projection(eager_fn, held)
        f_value, what = target(**values), "vjp"
    for name in wrt:
        compare_gradient(target, values, name, getattr(grads, name), f_value, what, seed)


def on_threads(module):
    """Every later call of the module on its threaded kernels, on two threads (called in
    a forked child: GNU OpenMP cannot fork once its threads have run)."""
    import numba
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    module.THREADS_FROM = 0


THREADS_AGREE = 1e-12   # normwise relative (float64): a few ulps through a small program


def check_threads(module, entry, values):
    """The threaded kernels' value and gradients agree with the serial kernels' to a few
    ulps (the variants are compiled apart: LLVM may fuse a multiply-add in one only), and
    a second threaded call gives the same bits."""
    run = getattr(module, f"{entry}_value_and_grad", None)
    if run is None:
        return
    saved = module.THREADS_FROM
    try:
        module.THREADS_FROM = 1 << 62
        value, grads = compiled_call(run, values, f"{entry}_value_and_grad (serial)")
        module.THREADS_FROM = 0
        again, other = compiled_call(run, values, f"{entry}_value_and_grad (threads)")
        third, repeat = compiled_call(run, values, f"{entry}_value_and_grad (threads)")
    finally:
        module.THREADS_FROM = saved
    for name, a, b, c in [("value", value, again, third)] + [
            (k, getattr(grads, k), getattr(other, k), getattr(repeat, k))
            for k in grads._fields]:
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        scale = np.max(np.abs(a[np.isfinite(a)]), initial=0.0)
        same_nans = np.array_equal(np.isnan(a), np.isnan(b))
        finite = np.isfinite(a) & np.isfinite(b)
        if not same_nans or np.max(np.abs(a - b)[finite], initial=0.0) > THREADS_AGREE * scale \
                or not np.array_equal(np.isinf(a) * np.sign(a), np.isinf(b) * np.sign(b)):
            raise Failure("threads-differ", f"{entry}_value_and_grad: {name} on threads "
                          "differs from the serial kernel's beyond rounding")
        if not np.array_equal(b, np.asarray(c, np.float64), equal_nan=True):
            raise Failure("threads-differ", f"{entry}_value_and_grad: {name} differs "
                          "between two threaded calls")


def check_source(source: str, entry: str, specs, workdir: str, tag: str, seed: int = 0,
                 tries: int = 3, wrt=(), float32=False, threads=False):
    """Compile `source`, then run `check_module` at up to `tries` input points."""
    path = os.path.join(workdir, f"{tag}.py")
    with open(path, "w") as f:
        f.write(source)
    eager = import_file(path, f"eager_{tag}")
    if not hasattr(eager, entry):
        raise InvalidProgram(f"no function {entry}")
    values = draw_inputs(specs, seed)
    eager_run(getattr(eager, entry), values)          # invalid programs are not tests
    module = compile_model(path, os.path.join(workdir, f"{tag}_adc.py"), wrt)
    for attempt in range(tries):
        values = draw_inputs(specs, seed + 1000 * attempt)
        def run():
            if threads:
                on_threads(module)
                check_threads(module, entry, values)
            check_module(module, getattr(eager, entry), entry, specs, values, seed + attempt)
            if float32:
                check_float32(module, getattr(eager, entry), entry, values)
        try:
            in_child(run)
            return module
        except NearKink:
            continue
        except InvalidProgram:
            if attempt == 0:
                raise
            continue
    return module


def check_program(program, workdir: str, tag: str | None = None, threads=False):
    """check_source for a progen.Program (`threads`: on the threaded kernels)."""
    tag = tag or f"gen_{program.seed}"
    module = check_source(program.source, program.entry, specs_of_program(program),
                          workdir, tag, program.seed, wrt=program.wrt,
                          float32=program.float32 and not threads, threads=threads)
    for entry, args, _ in program.others:      # more entry points of the same module
        eager = sys.modules[f"eager_{tag}"]
        specs = specs_of_program(type("P", (), {"args": args})())
        values = draw_inputs(specs, program.seed)
        eager_run(getattr(eager, entry), values)
        try:
            in_child(lambda: check_module(module, getattr(eager, entry), entry, specs, values,
                                          program.seed))
        except NearKink:
            pass
    return module
