"""`y[key] = v` as a new version of y: the IR has no mutation.

NumPy writes v into y's buffer. Here the assignment makes a new tensor, written as
disjoint boxes like a concatenate: the selected region from v, every other element
copied from the old y. A region is one arithmetic progression per axis (an int is a
progression of one, a slice with any step another), so its complement along an axis
is a few progressions too: the head before it, the gaps between strided elements, the
tail after it. The boxes never overlap, and every access is a box of the old y or of v,
so the bounds checker sees plain loops. Only basic indexing (ints, slices, `...`) can
be assigned; the front end checks that no other name sees y's buffer.
"""
from __future__ import annotations

import sympy as sp

from .errors import Located
from .indexing import _constant_index, _int_index, _normalise, _slice
from .values import (Builder, ListLiteral, Value, as_value, broadcast_index, broadcast_shapes, same_size,
                     size, to_expr)


def _progression(item, n):
    """(start, step, length, kept) of the positions an index item selects on an axis;
    a negative step is read from its low end (the same set of positions)."""
    if isinstance(item, slice):
        start, step, length = _slice(item, n)
        if step < 0:
            return start + step * (length - 1), -step, length, True, True
        return start, step, length, True, False
    if isinstance(item, (int, sp.Expr)) and not isinstance(item, bool):
        return _int_index(item, n), 1, sp.Integer(1), False, False
    if isinstance(item, Value):
        raise Located("assignment through an index array is not supported",
                      "assign with ints and slices (y[2] = ..., y[:, 1:3] = ...)")
    raise Located(f"cannot assign to the index {item!r}",
                  "assign with ints, slices and ... (None adds no axis to write)")


def _complement(start, step, length, n) -> list:
    """The progressions (start, step, length) of an axis' positions outside one."""
    last = start + step * (length - 1)
    pieces = [(sp.Integer(0), 1, start)]
    pieces += [(start + r, step, length - 1) for r in range(1, step)]
    pieces.append((last + 1, 1, size(n) - last - 1))
    return [p for p in pieces if not (sp.sympify(p[2]).is_number and p[2] <= 0)]


def _emit_box(b: Builder, out, axes, body_of):
    """One statement over the box whose axis d runs start_d + step_d * i_d (an axis of
    one position gets no loop: y[0, 1:] = ... writes row 0)."""
    looped = [d for d, (_, _, length) in enumerate(axes) if sp.sympify(length) != 1]
    loops = b.loop_symbols([axes[d][2] for d in looped])
    local = [sp.Integer(0)] * len(axes)
    for d, (s, _) in zip(looped, loops):
        local[d] = s
    target = tuple(start + step * i for (start, step, _), i in zip(axes, local))
    b.emit(target=out.name, target_index=target, loops=loops,
           body=to_expr(body_of(tuple(local), target)))


def _fitted(v: Value, shape) -> Value:
    """v as NumPy writes it into a selection of `shape`: broadcast, with leading axes of
    size 1 dropped (y[0] = row of shape (1, n) is allowed)."""
    extra = v.rank - len(shape)
    if extra > 0 and all(size(n) == 1 for n in v.shape[:extra]):
        inner = v
        v = Value(tuple(v.shape[extra:]), v.kind,
                  lambda idx: inner.build((sp.Integer(0),) * extra + tuple(idx)))
    fits = v.rank <= len(shape) and all(
        size(n) == 1 or same_size(n, m) for n, m in zip(v.shape[::-1], shape[::-1]))
    if not fits:
        raise Located(f"cannot assign a value of shape {tuple(v.shape)} to a selection of "
                      f"shape {tuple(shape)}", "the value must broadcast to the selection's "
                      "shape")
    return v


def assign_item(b: Builder, y: Value, key, v: Value, hint: str) -> Value:
    """The value of y after `y[key] = v`."""
    items = _normalise(key, y.rank)
    if any(it is None for it in items):
        raise Located("None in an assignment's index adds no axis to write into",
                      "leave out the None")
    region = [_progression(it, n) for it, n in zip(items, y.shape)]
    kept = tuple(length for _, _, length, keep, _ in region if keep)
    v = _fitted(v, kept)
    out = b.add_tensor(hint, y.shape, zero_init=True)
    copy = (lambda local, target: y.build(target))

    def from_v(local, target):
        at = [(length - 1 - i if reversed_ else i) for (_, _, length, keep, reversed_), i
              in zip(region, local) if keep]
        return v.build(broadcast_index(v.shape, kept, tuple(at)))
    _emit_box(b, out, [(s, st, n) for s, st, n, _, _ in region], from_v)
    # The rest of y: for each axis d, the boxes inside the region on the axes before d,
    # outside it on d, and whole on the axes after (the boxes are disjoint).
    for d in range(y.rank):
        for piece in _complement(*region[d][:3], y.shape[d]):
            axes = [r[:3] for r in region[:d]] + [piece] + \
                [(sp.Integer(0), 1, size(n)) for n in y.shape[d + 1:]]
            _emit_box(b, out, axes, copy)
    return b.view(out)



# -- scatter-add: x.at[index].add(v) as a function, np.add.at(y, index, v) as a statement --
def _list_index(values, n) -> Value:
    if not values or any(isinstance(i, bool) or not isinstance(i, int) for i in values):
        raise Located("a list used as an index must hold int constants",
                      "e.g. [0, 2, 2]; pass computed indices as an Index[...] argument")
    return _constant_index(tuple(values), n)


def _scatter_indices(b: Builder, x: Value, index) -> tuple:
    """The leading-axis index arrays of `index` (one, or a tuple of them and ints), their
    broadcast shape; each array's bounds go to the input check."""
    items = index if isinstance(index, tuple) and not isinstance(index, ListLiteral) \
        else (index,)                           # a list is one index array, as in NumPy
    if len(items) > x.rank:
        raise Located(f"index_add: {len(items)} index arrays for a tensor of rank {x.rank}")
    arrays = []
    for k, it in enumerate(items):
        n = x.shape[k]
        if isinstance(it, ListLiteral):
            it = _list_index(it, n)
        if isinstance(it, Value):
            if it.kind != "int":
                raise Located("index_add: indices must be integer tensors (Index[...], "
                              "arange or a list of ints)")
            if it.constant is not None:
                it = _constant_index(it.constant, n)
            elif it.tensor:
                b.index_bounds.append((it.tensor, n))
            arrays.append(it)
        elif isinstance(it, (int, sp.Expr)) and not isinstance(it, bool):
            fixed = _int_index(it, n)
            arrays.append(Value((), "int", lambda idx, f=fixed: f))
        else:
            raise Located(f"index_add: unsupported index {it!r}",
                          "index the leading axes with integer tensors or ints")
    return arrays, broadcast_shapes(*(a.shape for a in arrays))


def index_add(b: Builder, x, index, v) -> Value:
    """A copy of x with v added at x[index], repeated indices adding up (NumPy's
    np.add.at, JAX's x.at[index].add(v)): the copy and the scatter accumulate into one
    zeroed buffer, as a gradient does."""
    x, v = as_value(x), as_value(v)
    if x.kind != "float" or v.kind == "bool":
        raise Located("index_add adds numbers into a float tensor")
    arrays, gather = _scatter_indices(b, x, index)
    rest = tuple(x.shape[len(arrays):])
    v = _fitted(v, tuple(gather) + rest)
    out = b.add_tensor("scattered", x.shape, zero_init=True)
    loops = b.loop_symbols(x.shape)
    whole = tuple(s for s, _ in loops)
    b.emit(target=out.name, target_index=whole, loops=loops, body=to_expr(x.build(whole)),
           accumulate=True)
    loops = b.loop_symbols(tuple(gather) + rest)
    local = tuple(s for s, _ in loops)
    g_idx, r_idx = local[:len(gather)], local[len(gather):]
    target = tuple(to_expr(a.build(broadcast_index(a.shape, gather, g_idx)))
                   for a in arrays) + r_idx
    b.emit(target=out.name, target_index=target, loops=loops,
           body=to_expr(v.build(broadcast_index(v.shape, tuple(gather) + rest, local))),
           accumulate=True)
    return b.view(out)
