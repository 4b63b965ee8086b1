"""Loops that stay loops: a `for t in range(K)` lowered once, as a scan over K steps.

The body is lowered one time with the loop variable a symbol `t` (0 <= t < K). Every
tensor the body creates gets a leading axis of K (its value at each step is kept, which
is what reverse mode reads), every statement of the body gets `t` as its first free
loop and a `Scan` mark, and each name the loop carries from one step to the next (`h`
in `h = tanh(h @ W + x[t])`) lives in a stacked tensor `h_steps` of K + 1 rows:
`h_steps[0]` is the value before the loop, step t reads `h_steps[t]` and writes
`h_steps[t + 1]`. After the loop, `h` is `h_steps[K]` and a name the body assigns
afresh each step is its value at the last step.

Compile time is then independent of K. Reverse mode needs no special rule: the
adjoint of a scan statement is a scan statement again, run downwards (see vjp).

A loop is unrolled instead (with the same results) when the scan cannot express it:
shapes that change from step to step, the loop variable in a slice bound or a shape,
an index that leaves the array at some step, a carried Python int (a float is carried
as a rank-0 tensor), the loop variable reassigned, a `return` inside the loop, library
functions with their own reverse rule, a loop inside the body (the outer loop unrolls,
the inner one may be kept; a helper's loop inside a step unrolls), names sharing an
array at the end of a step, or any error (the unrolled lowering then reports it).
"""
from __future__ import annotations

import ast
from dataclasses import replace

import sympy as sp

from .ir import Origin, Scan, Stmt, Tensor, access, tensor_name
from .values import Value, as_value, same_size

# Loops of fewer steps unroll: one step is a straight line anyway.
SCAN_MIN_STEPS = 2


class NotScannable(Exception):
    """The loop must unroll (why, for tests and debugging)."""


def try_scan(lowerer, node: ast.For, env: dict, steps: range) -> bool:
    """Lower the loop as a scan; False (and nothing changed) when it must unroll."""
    b = lowerer.b
    if len(steps) < SCAN_MIN_STEPS or not b.scan_loops:
        return False
    if any(isinstance(n, (ast.Return, ast.For)) or _stores_an_item(n) for stmt in node.body
           for n in ast.walk(stmt)):
        return False        # y[i] = ... writes a new version of y at each step: unroll
    if node.target.id in _names(node.body, ast.Store):
        return False        # `t = t + 1` in the body: after the loop t is not the last step
    saved = _snapshot(lowerer, env)
    b.scan_loops = False           # loops inside the body unroll
    try:
        _lower_scan(lowerer, node, env, steps)
        b.scanned_steps += len(steps)
        return True
    except Exception:              # anything: the unrolled lowering decides, and reports
        _restore(lowerer, env, saved)
        return False
    finally:
        b.scan_loops = True


def _stores_an_item(n) -> bool:
    return isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store)


def _snapshot(lowerer, env):
    return lowerer.b.snapshot(), lowerer.views.snapshot(), dict(env)


def _restore(lowerer, env, saved):
    builder, views, old_env = saved
    lowerer.b.restore(builder)
    lowerer.views.restore(views)
    env.clear()
    env.update(old_env)


def _names(body, ctx_type) -> set:
    return {n.id for stmt in body for n in ast.walk(stmt)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ctx_type)}


def _lower_scan(lowerer, node: ast.For, env: dict, steps: range):
    b = lowerer.b
    count = len(steps)
    var = node.target.id
    # integer and nonnegative: a symbol of its own, never one of the statements' loops
    step = sp.Symbol(var, integer=True, nonnegative=True)
    origin = Origin(node.lineno, lowerer.ctx.lines[node.lineno - 1].strip())
    b.scans += 1
    scan = Scan(+1, origin, b.scans)
    assigned = sorted(_names(node.body, ast.Store) - {var})
    loaded = _names(node.body, ast.Load) | {     # `x += ...` reads x too
        n.target.id for stmt in node.body for n in ast.walk(stmt)
        if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name)}
    carries, saved_env = {}, dict(env)
    b.origin = origin
    for name in assigned:
        before = env.get(name)
        if name not in loaded or before is None:
            continue
        if _is_float_number(before):   # `penalty = 0.0` then `penalty += sum(W * W)`
            before = replace(as_value(before), number=True)
        if not isinstance(before, Value) or before.kind != "float":
            raise NotScannable(f"'{name}' carries a {type(before).__name__} across steps")
        stacked = b.add_tensor(f"{name}_steps", (count + 1,) + tuple(before.shape))
        loops = b.loop_symbols(before.shape)
        idx = tuple(s for s, _ in loops)
        b.emit(target=stacked.name, target_index=(sp.Integer(0),) + idx, loops=loops,
               body=sp.sympify(before.build(idx)))
        carries[name] = (stacked, before)
        env[name] = _row(stacked, step, before)
        if isinstance(env_before := saved_env.get(name), Value):
            # `h += ...` in the body writes the array `h` had before the loop
            lowerer.views.note_view(env[name], env_before)
    first_stmt, first_tensor = len(b.stmts), set(b.tensors)
    env[var] = steps.start + steps.step * step
    for stmt in node.body:
        lowerer.statement(stmt, env)
    b.origin = origin
    if any(isinstance(n, ast.AugAssign) for stmt in node.body for n in ast.walk(stmt)):
        _check_unshared(lowerer, assigned, env)
    created = {n: b.tensors[n] for n in b.tensors if n not in first_tensor}
    body = b.stmts[first_stmt:]
    del b.stmts[first_stmt:]
    _stack_tensors(b, created, step, count)
    remap = _remapper(created, step)
    for st in body:
        b.stmts.append(_as_step(st, created, remap, step, count, scan))
    for name, (stacked, before) in carries.items():
        after = env[name]
        _check_same_shape(name, before, after)
        loops = b.loop_symbols(after.shape)
        idx = tuple(s for s, _ in loops)
        b.stmts.append(Stmt(
            target=stacked.name, target_index=(step + 1,) + idx,
            loops=((step, sp.Integer(count)),) + loops,
            body=remap(sp.sympify(after.build(idx))), origin=origin, scan=scan))
    _check_indices(b, b.stmts[first_stmt:], step, count)
    after_loop = _Aliases(lowerer.views, saved_env)
    for name in assigned:
        after = env[name]
        if name in carries:
            stacked, before = carries[name]
            env[name] = after_loop.bind(b, name, after,
                                        _row(stacked, sp.Integer(count), before))
        elif isinstance(after, Value):
            if after.kind == "bool" or any(step in sp.sympify(s).free_symbols
                                           for s in after.shape):
                raise NotScannable(f"'{name}' is not a tensor of one shape")
            env[name] = after_loop.bind(b, name, after, _last(after, remap, step, count))
        elif isinstance(after, sp.Basic):
            env[name] = after.xreplace({step: count - 1})
        elif isinstance(after, tuple):
            raise NotScannable(f"'{name}' is a tuple")
    env[var] = steps[-1]


def _check_unshared(lowerer, names, env):
    """At the end of a step no name the body assigned shares its array with another
    name: in NumPy the next step (or a `+=` after the loop) would write through both,
    and one step lowered once cannot see that; the unrolled loop decides."""
    for name in names:
        value = env.get(name)
        if isinstance(value, Value) and value.kind != "bool" and \
                lowerer.views.sharing(value, lowerer.envs, name):
            raise NotScannable(f"'{name}' shares its array with another name")


class _Aliases:
    """The names a loop assigned, after it, sharing arrays as in NumPy (so that a later
    `x += ...` is refused where NumPy would write through another name too):

    - a name whose last value reads an array from before the loop (`xt = X[:, t]`, a
      carry swapped with another) is a view of that array;
    - names bound to one value at the end of the step are one stored tensor (a copy of
      its last row, which inlining folds into a single reader); other values made in
      the body are a stored tensor each."""

    def __init__(self, views, before_loop: dict):
        self.views = views
        self.old_roots = {views.root(v) for v in before_loop.values() if isinstance(v, Value)}
        self.stored = {}                 # id(value at the end of the step) -> tensor
        self.roots = {}                  # root of such a value -> that id

    def bind(self, b, name, end: Value, after: Value) -> Value:
        root = self.views.root(end)
        if root in self.old_roots:
            return self.views.note_view(after, end)
        if id(end) not in self.stored:
            if self.roots.setdefault(root, id(end)) != id(end):
                raise NotScannable(f"'{name}' is a view of another name's array")
            copy = b.materialize(after, name, force=True)
            self.stored[id(end)] = replace(copy, number=after.number)
        return self.stored[id(end)]


def _is_float_number(x) -> bool:
    """A Python float, or a real (not integer) expression of float arguments: carried as
    a rank-0 tensor. Ints stay Python ints (they may be indices): such a loop unrolls."""
    if isinstance(x, float):
        return True
    return isinstance(x, sp.Expr) and not isinstance(x, bool) and x.is_integer is not True \
        and not x.has(sp.Indexed) and all(s.is_real for s in x.free_symbols)


def _row(stacked: Tensor, at, like: Value) -> Value:
    """Row `at` of a stacked carry, as a value of the carried shape."""
    return Value(tuple(like.shape), like.kind,
                 lambda idx: stacked.base[(at,) + tuple(idx)], number=like.number)


def _last(after: Value, remap, step, count) -> Value:
    """A name assigned afresh in every step, after the loop: its last step's value."""
    last = {step: sp.Integer(count - 1)}
    return Value(tuple(after.shape), after.kind,
                 lambda idx: remap(sp.sympify(after.build(idx))).xreplace(last),
                 number=after.number)


def _check_same_shape(name, before: Value, after):
    if not isinstance(after, Value) or after.kind != "float" or after.rank != before.rank \
            or not all(same_size(a, c) for a, c in zip(after.shape, before.shape)):
        raise NotScannable(f"'{name}' changes shape from step to step")


def _stack_tensors(b, created: dict, step, count):
    """Each tensor the body created gets a leading axis of `count` rows."""
    for name, t in created.items():
        if any(step in sp.sympify(s).free_symbols for s in t.shape):
            raise NotScannable(f"the shape of '{name}' depends on the loop variable")
        b.tensors[name] = Tensor(t.name, (sp.Integer(count),) + tuple(t.shape), t.kind,
                                 t.role, t.zero_init)


def _remapper(created: dict, step):
    """expr -> expr with every access of a body tensor at row `step` of its stack."""
    names = set(created)

    def is_body_access(e):
        return isinstance(e, sp.Indexed) and tensor_name(e) in names

    def at_step(e):
        t = created[tensor_name(e)]
        rest = tuple(e.indices) if t.rank else ()
        return e.base[(step,) + rest]

    def remap(expr):
        expr = sp.sympify(expr)
        if not expr.has(sp.Indexed):
            return expr
        return expr.replace(is_body_access, at_step)
    return remap


def _as_step(st, created, remap, step, count, scan):
    if st.target not in created or (st.argmax and st.argmax not in created):
        raise NotScannable("the body writes a tensor made before the loop")
    if st.composite or st.custom:
        raise NotScannable("a library function with its own reverse rule")
    if st.scan:
        raise NotScannable("a scan inside the body (prod, cumsum, cumprod)")
    for _, ext in st.all_loops:
        if step in sp.sympify(ext).free_symbols:
            raise NotScannable("a loop extent depends on the loop variable")
    rest = tuple(remap(i) for i in st.target_index) if created[st.target].rank else ()
    return st.with_(target_index=(step,) + rest, loops=((step, sp.Integer(count)),) + st.loops,
                    body=remap(st.body), scan=scan)


def _check_indices(b, stmts, step, count):
    """Every index that moves with the step stays inside its axis at every step (the
    unrolled loop checks each step's index at compile time; the scan checks both ends
    of an affine index, and refuses anything else)."""
    for st in stmts:
        found = list(st.body.atoms(sp.Indexed))
        for ix in st.target_index:
            found += list(sp.sympify(ix).atoms(sp.Indexed))
        found.append(access(b.tensors[st.target], st.target_index))
        for acc in found:
            shape = b.tensors[tensor_name(acc)].shape
            for pos, e in enumerate(acc.indices):
                e = sp.sympify(e)
                if step not in e.free_symbols:
                    continue
                _check_moving_index(e, shape[pos], step, count)


def _check_moving_index(e, size, step, count):
    if e.free_symbols != {step} or e.has(sp.Indexed):
        raise NotScannable(f"the index {e} mixes the loop variable with other values")
    poly = sp.Poly(e, step)
    if poly.degree() > 1 or not all(c.is_Integer for c in poly.all_coeffs()):
        raise NotScannable(f"the index {e} is not affine in the loop variable")
    size = sp.sympify(size)
    for at in (0, count - 1):
        v = sp.sympify(e.xreplace({step: at}))
        if not (v.is_Integer and size.is_Integer and 0 <= int(v) < int(size)):
            raise NotScannable(f"the index {e} leaves its axis at step {at}")
