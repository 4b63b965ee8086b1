"""NumPy indexing as lazy views: ints, slices, None, `...` and integer-array gathers."""
from __future__ import annotations

import sympy as sp

from .errors import Located
from .values import Builder, Value, broadcast_index, broadcast_shapes, size


def _normalise(items, rank):
    items = list(items) if isinstance(items, tuple) else [items]
    n_real = sum(1 for it in items if it is not None and it is not Ellipsis)
    if sum(1 for it in items if it is Ellipsis) > 1:
        raise Located("an index can only have one '...'",
                      "keep one ... and spell out the other axes with :")
    if n_real > rank:
        raise Located(f"too many indices ({n_real}) for a tensor of rank {rank}",
                      f"give at most {rank} indices (use None to add an axis)")
    if Ellipsis in items:  # `...` stands for every axis the other items leave out
        pos = items.index(Ellipsis)
        items[pos:pos + 1] = [slice(None)] * (rank - n_real)
        return items
    return items + [slice(None)] * (rank - n_real)


def _int_index(v, n):
    v = sp.sympify(v)
    if v.is_Integer and int(v) < 0:
        v = size(n) + v
    if v.is_Integer and size(n).is_Integer and not 0 <= int(v) < int(size(n)):
        raise Located(f"index {v} is out of range for an axis of size {n}",
                      f"use an index from 0 to {int(size(n)) - 1}, or a negative one "
                      "counting from the end")
    return v


def _slice(sl: slice, n):
    """(start, step, length) of a slice with compile-time bounds on an axis of size n.

    Python's own rules (`slice.indices`) when the size is known; with a symbolic size, the
    bounds are read the same way (negative counts from the end, None is the whole axis).
    """
    for part in (sl.start, sl.stop, sl.step):
        if part is not None and not isinstance(part, (int, sp.Expr)):
            raise Located("slice bounds must be compile-time ints or sizes",
                          "use int constants, dims or x.shape[i] (e.g. x[:, 2:5]); for "
                          "run-time positions gather with an Index[...] tensor")
    step = 1 if sl.step is None else sl.step
    if not isinstance(step, int) or isinstance(step, bool) or step == 0:
        raise Located("slice steps must be non-zero int constants", "e.g. x[::2] or x[::-1]")
    n = size(n)
    if n.is_Integer and all(p is None or sp.sympify(p).is_Integer for p in (sl.start, sl.stop)):
        start, stop, step = slice(None if sl.start is None else int(sl.start),
                                  None if sl.stop is None else int(sl.stop),
                                  step).indices(int(n))
        return sp.Integer(start), step, sp.Integer(len(range(start, stop, step)))
    if step < 0:
        start = n - 1 if sl.start is None else _clamp(sl.start, n, n - 1)
        stop = sp.Integer(-1) if sl.stop is None else _clamp(sl.stop, n, -1)
        length = sp.ceiling((start - stop) / -step)
        return start, step, sp.sympify(sp.Max(length, 0) if length.is_number else length)
    start = _clamp(sl.start, n, 0)
    stop = _clamp(sl.stop, n, n)
    length = sp.Max(sp.ceiling((stop - start) / step), 0) if (stop - start).is_number \
        else sp.ceiling((stop - start) / step)
    return start, step, sp.sympify(length)


def _clamp(v, n, default):
    if v is None:
        return sp.sympify(default)
    v = sp.sympify(v)
    if v.is_Integer and int(v) < 0:
        v = n + v
    if v.is_Integer and n.is_Integer:
        v = sp.Integer(min(max(int(v), 0), int(n)))
    return v


def subscript(b: Builder, x: Value, index) -> Value:
    """x[index] as a lazy view, with NumPy's rules; gathers record their bounds for the
    input check.

    With an integer-array index present, plain ints are advanced indices too: all of them
    broadcast together, and their axes go where the first one stands when they are
    adjacent in the index, else first (NumPy's rule; None breaks adjacency).
    """
    items = _normalise(index, x.rank)
    has_array = any(isinstance(it, Value) for it in items)
    for it in items:
        if isinstance(it, Value) and it.kind != "int":
            raise Located("only integer tensors (Index[...] or arange) can index a tensor",
                          "declare the indices as Index[...]")
    axis_of, axis = {}, 0
    for k, it in enumerate(items):
        if it is not None:
            axis_of[k] = axis
            axis += 1
    advanced = [k for k, it in enumerate(items) if isinstance(it, Value) or
                (has_array and _is_int(it))]
    arrays = [k for k in advanced if isinstance(items[k], Value)]
    gather_shape = broadcast_shapes(*(items[k].shape for k in arrays)) if arrays else ()
    adjacent = advanced == list(range(advanced[0], advanced[-1] + 1)) if advanced else True
    # per output axis: ("new",), ("slice", axis, start, step) or ("gather",)
    plan, shape, src_fixed = [], [], {}
    for k, it in enumerate(items):
        if it is None:
            plan.append(("new",))
            shape.append(sp.Integer(1))
        elif k in advanced:
            n = x.shape[axis_of[k]]
            if isinstance(it, Value):
                if it.tensor:
                    b.index_bounds.append((it.tensor, n))
                if it.constant is not None:     # a literal list: negatives count from the end
                    items[k] = _constant_index(it.constant, n)
            else:
                src_fixed[axis_of[k]] = _int_index(it, n)
            if k == advanced[0]:
                plan.append(("gather",))
                shape.append(None)
        elif isinstance(it, slice):
            start, step, length = _slice(it, x.shape[axis_of[k]])
            plan.append(("slice", axis_of[k], start, step))
            shape.append(length)
        elif _is_int(it):
            src_fixed[axis_of[k]] = _int_index(it, x.shape[axis_of[k]])
        else:
            raise Located(f"unsupported index {it!r}",
                          "index with ints, slices, None, ... or integer tensors "
                          "(Index[...] arguments or arange)")
    if advanced and not adjacent:
        g = plan.index(("gather",))
        plan.insert(0, plan.pop(g))
        shape.insert(0, shape.pop(g))
    final_shape = []
    for step, n in zip(plan, shape):
        final_shape.extend(gather_shape if step[0] == "gather" else [n])

    def build(idx):
        src = dict(src_fixed)
        pos = 0
        for step in plan:
            if step[0] == "new":
                pos += 1
            elif step[0] == "slice":
                _, ax, start, stride = step
                src[ax] = start + stride * idx[pos]
                pos += 1
            else:
                g_idx = tuple(idx[pos:pos + len(gather_shape)])
                pos += len(gather_shape)
                for k in arrays:
                    v = items[k]
                    src[axis_of[k]] = v.build(broadcast_index(v.shape, gather_shape, g_idx))
        return x.build(tuple(src[d] for d in range(x.rank)))
    return Value(tuple(final_shape), x.kind, build)


def _constant_index(values, n) -> Value:
    from .frontend import constant_vector
    fixed = [_int_index(v, n) for v in values]
    return Value((sp.Integer(len(fixed)),), "int", lambda idx: constant_vector(fixed, idx[0]),
                 constant=tuple(fixed))


def _is_int(it) -> bool:
    return isinstance(it, (int, sp.Expr)) and not isinstance(it, bool)
