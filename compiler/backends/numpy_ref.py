"""NumPy reference backend: interprets the IR statement by statement (slow and obvious).

Each statement is evaluated on broadcast index grids over all of its loops, then stored
(`=`), reduced over its reduction axes, or scatter-added (`np.add.at`). The tests use it
as a second opinion on the Numba backend; it shares only the IR with it.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from .. import ops
from ..ir import Program, scan_runs, step_body, tensor_name


def _sizes(prog: Program, values) -> dict:
    sizes = {}
    for a in prog.args:
        for d, s in enumerate(a.shape):
            if isinstance(s, sp.Symbol):
                sizes[s] = np.shape(values[a.name])[d]
    return sizes


def _int(expr, sizes) -> int:
    return int(sp.sympify(expr).xreplace(sizes))


class _Evaluator:
    """Evaluates a scalar body on index grids."""

    def __init__(self, env, scalars, zeros=None):
        self.env = env
        self.scalars = scalars
        self.zeros = zeros

    def __call__(self, e):
        if isinstance(e, sp.Indexed):
            arr = self.env.get(tensor_name(e))
            if arr is None:    # read before any write (a step reads a zero row)
                arr = self.env[tensor_name(e)] = self.zeros(tensor_name(e))
            idx = tuple(np.asarray(self(i)).astype(np.int64) for i in e.indices)
            return arr[idx]
        if isinstance(e, sp.Symbol):
            return self.scalars[e]
        if e.is_Integer:
            return int(e)
        if e.is_Number or e in (sp.pi, sp.E):
            return float(e)
        if e is sp.true or e is sp.false:
            return bool(e)
        args = [self(a) for a in e.args] if not isinstance(e, sp.Piecewise) else None
        if isinstance(e, sp.Add):
            return _fold(np.add, args)
        if isinstance(e, sp.Mul):
            return _fold(np.multiply, args)
        if isinstance(e, sp.Pow):
            base, exp = args
            return np.power(np.asarray(base, dtype=float), exp)
        if isinstance(e, sp.Piecewise):
            return self.piecewise(e)
        if isinstance(e, sp.Mod):
            return np.mod(*args)
        if isinstance(e, sp.floor):
            num, den = sp.fraction(sp.together(e.args[0]))
            if den != 1 and num.is_integer and den.is_integer:
                # exactly, as the kernels do: floor(2*t/3 - 7/3) is (2*t - 7) // 3
                return np.floor_divide(np.asarray(self(num)).astype(np.int64),
                                       np.asarray(self(den)).astype(np.int64))
            return np.floor(args[0]).astype(np.int64)
        if isinstance(e, sp.Rel):
            op = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal,
                  ">": np.greater, ">=": np.greater_equal}[e.rel_op]
            return op(*args)
        if isinstance(e, sp.And):
            return _fold(np.logical_and, args)
        if isinstance(e, sp.Or):
            return _fold(np.logical_or, args)
        name = type(e).__name__
        if name in ops.NUMPY_FUNCS:
            with np.errstate(all="ignore"):
                return ops.NUMPY_FUNCS[name](*args)
        raise NotImplementedError(f"numpy reference backend: no rule for {name}")

    def piecewise(self, e):
        result = None
        for value, cond in reversed(e.args):
            v = np.asarray(self(value), dtype=float)
            if cond is sp.true:
                result = v
            else:
                result = np.where(self(cond), v, 0.0 if result is None else result)
        return result


def _fold(fn, args):
    out = args[0]
    for a in args[1:]:
        out = fn(out, a)
    return out


def run_statements(stmts, tensors, env, sizes, scalars):
    """Execute statements in order, allocating targets in `env` as they are first written;
    a run of scan statements step by step, in its direction."""
    for key, run in scan_runs(stmts):
        if key is None:
            _run_plain(run, tensors, env, sizes, scalars)
            continue
        step, count, direction, _, _ = key
        body = [step_body(st) for st in run]
        order = range(_int(count, sizes))
        for t in (order if direction > 0 else reversed(order)):
            _run_plain(body, tensors, env, sizes, {**scalars, step: t})
    return env


def _run_plain(stmts, tensors, env, sizes, scalars):
    for st in stmts:
        loops = st.all_loops
        rank = len(loops)
        grid = dict(scalars)
        for k, (sym, ext) in enumerate(loops):
            shape = [1] * rank
            shape[k] = _int(ext, sizes)
            grid[sym] = np.arange(shape[k]).reshape(shape)
        full = tuple(_int(ext, sizes) for _, ext in loops)
        ev = _Evaluator(env, grid, lambda name: _zeros(tensors[name], sizes))
        with np.errstate(all="ignore"):
            body = np.broadcast_to(np.asarray(ev(st.body), dtype=float), full)
        if st.target not in env:
            env[st.target] = _zeros(tensors[st.target], sizes)
        target = env[st.target]
        nfree = len(st.loops)
        red = tuple(range(nfree, rank))
        tidx = tuple(np.broadcast_to(np.asarray(ev(i)).astype(np.int64), full)
                     for i in st.target_index)
        if not st.accumulate:   # the target depends on the free loops only
            tidx = tuple(i[(Ellipsis,) + (0,) * len(red)] for i in tidx)
        if st.accumulate:
            np.add.at(target, tidx, body)
            continue
        if not red:
            value = body
        elif st.reduce in ("sum", "none"):
            value = body.sum(axis=red)
        else:
            flat = body.reshape(full[:nfree] + (-1,))
            pick = np.argmax if st.reduce == "max" else np.argmin
            arg = pick(flat, axis=-1)
            value = np.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]
            if st.argmax:
                if st.argmax not in env:
                    env[st.argmax] = np.zeros(target.shape, dtype=np.int64)
                env[st.argmax][tidx] = arg
        target[tidx] = value


def _zeros(t, sizes):
    shape = tuple(_int(s, sizes) for s in t.shape) or (1,)
    return np.zeros(shape, dtype=np.int64 if t.kind == "int" else float)


def _scalars(prog, values):
    return {a.symbol(): values[a.name] for a in prog.args if not a.is_tensor}


def _inputs(prog, values):
    env = {}
    for a in prog.args:
        if a.is_tensor:
            arr = np.asarray(values[a.name], dtype=np.int64 if a.role == "index" else float)
            env[a.ident] = arr.reshape(1) if arr.ndim == 0 else arr.copy()
    return env


def run(prog: Program, values: dict) -> list:
    """The outputs of any program for argument values given by `Arg.name` (float64)."""
    sizes = _sizes(prog, values)
    scalars = {**_scalars(prog, values), **sizes}
    env = run_statements(prog.stmts, prog.tensors, _inputs(prog, values), sizes, scalars)
    return [_shaped(env[o], prog.tensors[o]) for o in prog.outputs]


def environment(prog: Program, values: dict) -> dict:
    """Every tensor of any program after running it (name -> array), e.g. for the
    computational graph with its numbers."""
    sizes = _sizes(prog, values)
    scalars = {**_scalars(prog, values), **sizes}
    return run_statements(prog.stmts, prog.tensors, _inputs(prog, values), sizes, scalars)


def forward(prog: Program, values: dict) -> list:
    """The outputs of `prog`."""
    return run(prog, values)


def _extra(transformed: Program, role: str, arrays) -> dict:
    names = [a.name for a in transformed.args if a.role == role]
    return dict(zip(names, arrays))


def vjp(prog: Program, values: dict, cotangents) -> dict:
    """Gradients of sum(cotangent * output) for every differentiated argument."""
    from ..vjp import vjp as transform
    v = transform(prog)
    out = run(v, {**values, **_extra(v, "cotangent", cotangents)})
    return dict(zip(prog.wrt, out[len(prog.outputs):]))


def jvp(prog: Program, values: dict, tangents: dict) -> tuple:
    """(outputs, their tangents) along `tangents` (name -> array; missing ones are zero)."""
    from ..jvp import jvp as transform
    j = transform(prog)
    full = [tangents.get(n, np.zeros(np.shape(values[n]))) for n in prog.wrt]
    out = run(j, {**values, **_extra(j, "tangent", full)})
    k = len(prog.outputs)
    return out[:k], out[k:]


def hvp(prog: Program, values: dict, vector: dict) -> dict:
    """H·v of a scalar program for every differentiated argument."""
    from ..jvp import jvp as forward_mode
    from ..vjp import vjp as reverse_mode
    h = forward_mode(reverse_mode(prog))
    full = [vector.get(n, np.zeros(np.shape(values[n]))) for n in prog.wrt]
    extra = {**_extra(h, "cotangent", [1.0]), **_extra(h, "tangent", full)}
    out = run(h, {**values, **extra})
    return dict(zip(prog.wrt, out[-len(prog.wrt):])) if prog.wrt else {}


def _shaped(arr, tensor):
    return arr.reshape(()) if tensor.rank == 0 else arr
