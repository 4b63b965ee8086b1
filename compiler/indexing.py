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
    """(start, step, length) of a slice with compile-time bounds on an axis of size n."""
    for part in (sl.start, sl.stop, sl.step):
        if part is not None and not isinstance(part, (int, sp.Expr)):
            raise Located("slice bounds must be compile-time ints or sizes",
                          "use int constants, dims or x.shape[i] (e.g. x[:, 2:5]); for "
                          "run-time positions gather with an Index[...] tensor")
    step = 1 if sl.step is None else sl.step
    if not isinstance(step, int) or step <= 0:
        raise Located("slice steps must be positive int constants",
                      "e.g. x[::2]; reverse order is not supported")
    n = size(n)
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
    """x[index] as a lazy view; gathers record their bounds for the input check."""
    items = _normalise(index, x.rank)
    arrays = [k for k, it in enumerate(items) if isinstance(it, Value)]
    for k in arrays:
        if items[k].kind != "int":
            raise Located("only integer tensors (Index[...] or arange) can index a tensor",
                          "declare the indices as Index[...]")
    gather_shape = broadcast_shapes(*(items[k].shape for k in arrays)) if arrays else ()
    adjacent = arrays == list(range(arrays[0], arrays[-1] + 1)) if arrays else True
    gather_at = None
    out_shape, plan = [], []      # plan: per output axis, what it feeds
    axis = 0
    for k, it in enumerate(items):
        if it is None:
            plan.append(("new", None))
            out_shape.append(sp.Integer(1))
            continue
        n = x.shape[axis]
        if isinstance(it, Value):
            if it.tensor:
                b.index_bounds.append((it.tensor, n))
            if gather_at is None:
                gather_at = len(out_shape) if adjacent else 0
                plan.append(("gather", None))
                out_shape.append(None)
        elif isinstance(it, slice):
            start, step, length = _slice(it, n)
            plan.append(("slice", (axis, start, step)))
            out_shape.append(length)
        elif isinstance(it, (int, sp.Expr)) and not isinstance(it, bool):
            plan.append(("fixed", (axis, _int_index(it, n))))
        else:
            raise Located(f"unsupported index {it!r}",
                          "index with ints, slices, None, ... or integer tensors "
                          "(Index[...] arguments or arange)")
        axis += 1
    if gather_at is not None and not adjacent:
        g = next(p for p, (kind, _) in enumerate(plan) if kind == "gather")
        plan.insert(0, plan.pop(g))
        out_shape.insert(0, out_shape.pop(g))
    # Expand the gather placeholder into the broadcast index shape.
    final_shape = []
    for (kind, info), n in zip(plan, out_shape):
        final_shape.extend(gather_shape if kind == "gather" else [n])
    array_axes = [k for k, it in enumerate(items) if it is not None]

    def build(idx):
        src = [None] * x.rank
        pos = 0
        for kind, info in plan:
            if kind == "new":
                pos += 1
            elif kind == "slice":
                ax, start, step = info
                src[ax] = start + step * idx[pos]
                pos += 1
            elif kind == "fixed":
                ax, v = info
                src[ax] = v
            else:
                g_idx = tuple(idx[pos:pos + len(gather_shape)])
                pos += len(gather_shape)
                for k in arrays:
                    ax = array_axes.index(k)
                    v = items[k]
                    src[ax] = v.build(broadcast_index(v.shape, gather_shape, g_idx))
        return x.build(tuple(src))
    return Value(tuple(final_shape), x.kind, build)
