"""NumPy's diagonals, triangles, shape helpers and stacking, as lazy values and statements.

Like the rest of the library, none of these looks at single elements: a diagonal is a
value whose index i reads x[i, i + k], a triangle a condition on the loop indices, a
stack a concatenate of reshaped views.
"""
from __future__ import annotations

import sympy as sp

from .errors import Located
from . import ops
from .library import (_LETTERS, _axes, _const_int, _flat, _float_operand, _scalar, _seq,
                      concatenate, contract, drop_axes)
from .values import Value, as_value, broadcast_index, expand_dims, same_size, size, to_expr


def _one_axis(axis, rank, name):
    return _axes(_const_int(axis, name), rank, name)[0]


def _shape_text(v: Value) -> str:
    return str(tuple(v.shape))


# -- diagonals and triangles -----------------------------------------------------------
def _diagonal_length(n, m, k, fname):
    """len(x[i, i + k]) in an (n, m) matrix: known at compile time, or an error."""
    n, m = size(n), size(m)
    if n.is_Integer and m.is_Integer:
        length = min(int(n), int(m) - k) if k >= 0 else min(int(n) + k, int(m))
        if length <= 0:
            raise Located(f"{fname}: offset {k} is out of range for a ({n}, {m}) matrix, "
                          "which has no such diagonal",
                          f"use an offset with {-int(n)} < k < {int(m)}")
        return sp.Integer(length)
    if k == 0 and same_size(n, m):
        return n
    raise Located(f"{fname}: the diagonal of a ({n}, {m}) matrix with offset {k} has a "
                  "length known only at run time",
                  "use offset 0 on a square matrix, or compile-time sizes")


def _diagonal(x: Value, k, axis1, axis2, fname) -> Value:
    """NumPy's diagonal: the other axes first, then the diagonal as the last axis."""
    if x.rank < 2:
        raise Located(f"{fname} needs a matrix (rank 2 or more), got shape {_shape_text(x)}",
                      "diag(v) builds a diagonal matrix from a vector")
    a1, a2 = _one_axis(axis1, x.rank, "axis1"), _one_axis(axis2, x.rank, "axis2")
    if a1 == a2:
        raise Located(f"{fname}: axis1 and axis2 are the same axis ({a1})",
                      "name two different axes")
    k = _const_int(k, "the offset")
    length = _diagonal_length(x.shape[a1], x.shape[a2], k, fname)
    rest = [d for d in range(x.rank) if d not in (a1, a2)]

    def build(idx):
        src = [None] * x.rank
        for d, i in zip(rest, idx[:-1]):
            src[d] = i
        i = idx[-1]
        src[a1], src[a2] = (i, i + k) if k >= 0 else (i - k, i)
        return x.build(tuple(src))
    return Value(tuple(x.shape[d] for d in rest) + (length,), x.kind, build)


def diagonal(b, x, offset=0, axis1=0, axis2=1):
    return _diagonal(as_value(x), offset, axis1, axis2, "diagonal")


def trace(b, x, offset=0, axis1=0, axis2=1):
    d = _diagonal(_float_operand(x, "trace"), offset, axis1, axis2, "trace")
    return b.reduce(d, [d.rank - 1], "sum", False, "trace")


def diag(b, v, k=0):
    """A matrix's k-th diagonal (a vector), or the matrix with a vector on it."""
    v = _float_operand(v, "diag")
    k = _const_int(k, "k")
    if v.rank == 2:
        return _diagonal(v, k, 0, 1, "diag")
    if v.rank != 1:
        raise Located(f"diag expects a vector or a matrix, got shape {_shape_text(v)}",
                      "for other ranks use diagonal(x, offset, axis1, axis2)")
    n = size(v.shape[0]) + abs(k)
    out = b.add_tensor("diag", (n, n), v.kind, zero_init=True)
    loops = b.loop_symbols(v.shape)
    i = loops[0][0]
    target = (i, i + k) if k >= 0 else (i - k, i)
    b.emit(target=out.name, target_index=target, loops=loops, body=to_expr(v.build((i,))))
    return b.view(out)


def _triangle(x, k, keep, fname) -> Value:
    x = _float_operand(x, fname)
    k = _const_int(k, "k")
    if x.rank < 2:
        raise Located(f"{fname} needs a matrix (or a stack of them), got shape "
                      f"{_shape_text(x)}", "diag(v) builds a matrix from a vector")

    def build(idx):
        return sp.Piecewise((x.build(idx), keep(idx[-1] - idx[-2], k)), (sp.Integer(0), True))
    return Value(x.shape, x.kind, build)


def tril(b, x, k=0):
    """x[..., i, j] where j - i <= k, else 0."""
    return _triangle(x, k, sp.Le, "tril")


def triu(b, x, k=0):
    """x[..., i, j] where j - i >= k, else 0."""
    return _triangle(x, k, sp.Ge, "triu")


# -- shape helpers -----------------------------------------------------------------------
def ravel(b, x):
    return _flat(b, as_value(x))


def squeeze(b, x, axis=None):
    x = as_value(x)
    if axis is None:        # the axes of size 1 at compile time (a dim is never dropped)
        return drop_axes(x, [d for d, n in enumerate(x.shape) if size(n) == 1])
    axes = _axes(axis, x.rank)
    for d in axes:
        if size(x.shape[d]) != 1:
            raise Located(f"squeeze: axis {d} of shape {_shape_text(x)} has size "
                          f"{x.shape[d]}, not 1", "squeeze removes only axes of size 1")
    return drop_axes(x, axes)


def expand_dims_(b, x, axis):
    x = as_value(x)
    items = axis if isinstance(axis, tuple) else (axis,)
    axes = _axes(axis, x.rank + len(items))
    if len(axes) != len(items):
        raise Located(f"expand_dims: axis {axis} names an axis twice")
    return expand_dims(x, axes)


def _at_least(x: Value, rank, where) -> Value:
    """x with size-1 axes inserted at `where[x.rank]` (NumPy's atleast_nd)."""
    return expand_dims(x, where[x.rank]) if x.rank < rank else x


def atleast_1d(b, x):
    return _at_least(as_value(x), 1, {0: [0]})


def atleast_2d(b, x):
    return _at_least(as_value(x), 2, {0: [0, 1], 1: [0]})


def atleast_3d(b, x):
    """(n,) -> (1, n, 1) and (m, n) -> (m, n, 1), as in NumPy."""
    return _at_least(as_value(x), 3, {0: [0, 1, 2], 1: [0, 2], 2: [2]})


def _size(s, fname):
    if isinstance(s, bool) or not (isinstance(s, int) or isinstance(s, sp.Expr)
                                   and s.is_integer):
        raise Located(f"{fname}: sizes must be compile-time ints or sizes, got "
                      f"{'a tensor' if isinstance(s, Value) else repr(s)}",
                      "use int constants, dims or x.shape[i]")
    if isinstance(s, int) and s < 1:
        raise Located(f"{fname}: size {s} is not allowed", "sizes are >= 1")
    return size(s)


def broadcast_to(b, x, shape):
    x = as_value(x)
    target = tuple(_size(s, "broadcast_to") for s in
                   (shape if isinstance(shape, tuple) else (shape,)))
    fits = len(target) >= x.rank and all(
        size(n) == 1 or same_size(n, t) for n, t in zip(reversed(x.shape), reversed(target)))
    if not fits:
        raise Located(f"broadcast_to: shape {_shape_text(x)} does not broadcast to {target}",
                      "each axis, counted from the right, must equal the target's or be 1")
    return Value(target, x.kind, lambda idx: x.build(broadcast_index(x.shape, target, idx)))


# -- sorting -----------------------------------------------------------------------------
def sort(b, x, axis=-1):
    """np.sort without a data-dependent loop: each element's rank along the axis (how
    many are smaller, plus the equal ones before it: a stable sort), then sorted[k] is
    the element of rank k. O(n^2) comparisons per row, exact; the gradient of sorted[k]
    goes to the element placed there, so tied elements each get their own slot's."""
    x = _float_operand(x, "sort")
    if axis is None:
        x, axis = _flat(b, x), 0
    if x.rank == 0:
        raise Located("sort of a scalar: there is no axis to sort along",
                      "sort a tensor (a scalar is its own sort)")
    d = _one_axis(axis, x.rank, "axis")
    x = b.materialize(x, "unsorted")
    n, last = x.shape[d], x.rank

    def moved(idx, pos):
        return idx[:d] + (pos,) + idx[d + 1:]

    def smaller_or_tied_before(idx):
        i, j = idx[d], idx[last]
        here, other = x.build(idx[:last]), x.build(moved(idx[:last], j))
        first = sp.Or(other < here, sp.And(sp.Eq(other, here), j < i))
        return sp.Piecewise((sp.Integer(1), first), (sp.Integer(0), True))
    ranks = b.reduce(Value(tuple(x.shape) + (n,), "float", smaller_or_tied_before), [last],
                     "sum", hint="rank", no_grad=True)

    def placed(idx):
        k, i = idx[d], idx[last]
        source = moved(idx[:last], i)
        return sp.Piecewise((x.build(source), sp.Eq(ranks.build(source), k)),
                            (sp.Integer(0), True))
    return b.reduce(Value(tuple(x.shape) + (n,), "float", placed), [last], "sum",
                    hint="ordered")


# -- fresh arrays: what item assignment writes into ------------------------------------
def _filled(shape, fill, fname) -> Value:
    target = tuple(_size(s, fname) for s in (shape if isinstance(shape, tuple) else (shape,)))
    return Value(target, "float", lambda idx: fill)


def zeros(b, shape):
    return _filled(shape, sp.Integer(0), "zeros")


def ones(b, shape):
    return _filled(shape, sp.Integer(1), "ones")


def full(b, shape, fill_value):
    return _filled(shape, _scalar(fill_value, "fill_value"), "full")


def _shape_of_float(a, fname) -> tuple:
    a = as_value(a)
    if a.kind != "float":
        raise Located(f"{fname} of an integer or boolean tensor has its dtype in NumPy "
                      "(writing floats into it would truncate them)",
                      f"use {fname.replace('_like', '')}(a.shape) for a float array")
    return tuple(a.shape)


def zeros_like(b, a):
    return _filled(_shape_of_float(a, "zeros_like"), sp.Integer(0), "zeros_like")


def ones_like(b, a):
    return _filled(_shape_of_float(a, "ones_like"), sp.Integer(1), "ones_like")


def full_like(b, a, fill_value):
    return _filled(_shape_of_float(a, "full_like"), _scalar(fill_value, "fill_value"),
                   "full_like")


# -- stacking ------------------------------------------------------------------------------
def _stacked(b, xs, fname, lift, axis):
    xs = [lift(as_value(v)) for v in _seq(xs, fname)]
    return concatenate(b, xs, axis(xs[0]) if callable(axis) else axis)


def vstack(b, tup):
    return _stacked(b, tup, "vstack", lambda v: atleast_2d(b, v), 0)


def hstack(b, tup):
    """Vectors are joined end to end, everything else along axis 1."""
    return _stacked(b, tup, "hstack", lambda v: atleast_1d(b, v),
                    lambda first: 0 if first.rank == 1 else 1)


def dstack(b, tup):
    return _stacked(b, tup, "dstack", lambda v: atleast_3d(b, v), 2)


def column_stack(b, tup):
    """Vectors become columns (n, 1); matrices are joined along axis 1."""
    def column(v):
        return expand_dims(v, [1]) if v.rank == 1 else atleast_2d(b, v)
    return _stacked(b, tup, "column_stack", column, 1)


# -- repeating and splitting --------------------------------------------------------------
def repeat(b, x, repeats, axis=None):
    """Each element `repeats` times in a row along `axis` (of the flattened x without)."""
    x = as_value(x)
    r = _const_int(repeats, "repeats")
    if r < 1:
        raise Located(f"repeat: repeats={r} is not allowed", "repeat each element 1 or more "
                      "times")
    if axis is None:
        x, axis = _flat(b, x), 0
    d = _one_axis(axis, x.rank, "axis")
    shape = list(x.shape)
    shape[d] = size(shape[d]) * r

    def build(idx):
        return x.build(idx[:d] + (ops.idiv(idx[d], r),) + idx[d + 1:])
    return Value(tuple(shape), x.kind, build)


def tile(b, x, reps):
    """x repeated reps[d] times along each axis d (both right-aligned, as in NumPy)."""
    x = as_value(x)
    reps = tuple(_const_int(r, "reps") for r in (reps if isinstance(reps, tuple) else (reps,)))
    if any(r < 1 for r in reps):
        raise Located(f"tile: reps={reps} must be 1 or more on every axis")
    rank = max(x.rank, len(reps))
    x = expand_dims(x, list(range(rank - x.rank)))
    reps = (1,) * (rank - len(reps)) + reps
    shape = tuple(size(n) * r for n, r in zip(x.shape, reps))

    def build(idx):
        return x.build(tuple(i if r == 1 else sp.Mod(i, n)
                             for i, n, r in zip(idx, x.shape, reps)))
    return Value(shape, x.kind, build)


def _ints(v):
    """A literal list of ints ([2, 5]) as a tuple; anything else unchanged."""
    return v.constant if isinstance(v, Value) and v.constant is not None else v


def _split_bounds(n, sections, even, fname):
    """The (start, stop) of each part of an axis of n elements."""
    sections = _ints(sections)
    if isinstance(sections, tuple):       # NumPy: negative from the end, clamped to n
        cuts = [_const_int(c, "a split index") for c in sections]
        edges = [0] + [min(max(c + n if c < 0 else c, 0), n) for c in cuts] + [n]
        return [(a, max(a, z)) for a, z in zip(edges, edges[1:])]
    k = _const_int(sections, "sections")
    if k < 1:
        raise Located(f"{fname}: {k} sections is not allowed", "split into 1 or more parts")
    if even and n % k:
        raise Located(f"{fname}: an axis of {n} elements does not split into {k} equal "
                      "parts", "use array_split for unequal parts, or a tuple of indices")
    sizes = [n // k + (1 if p < n % k else 0) for p in range(k)]
    starts = [sum(sizes[:p]) for p in range(k)]
    return [(a, a + m) for a, m in zip(starts, sizes)]


def _split(x, sections, axis, even, fname):
    x = as_value(x)
    d = _one_axis(axis, x.rank, "axis")
    n = size(x.shape[d])
    if not n.is_Integer:
        raise Located(f"{fname}: the axis to split has size {n}, known only at run time",
                      "split an axis of compile-time size")
    parts = []
    for start, stop in _split_bounds(int(n), sections, even, fname):
        if stop == start:
            raise Located(f"{fname}: part [{start}:{stop}] would be empty",
                          "give indices that leave every part non-empty")
        shape = x.shape[:d] + (sp.Integer(stop - start),) + x.shape[d + 1:]
        parts.append(Value(shape, x.kind, lambda idx, a=start: x.build(
            idx[:d] + (idx[d] + a,) + idx[d + 1:])))
    return tuple(parts)


def split(b, x, indices_or_sections, axis=0):
    return _split(x, indices_or_sections, axis, True, "split")


def array_split(b, x, indices_or_sections, axis=0):
    return _split(x, indices_or_sections, axis, False, "array_split")


def hsplit(b, x, indices_or_sections):
    x = as_value(x)
    return _split(x, indices_or_sections, 0 if x.rank == 1 else 1, True, "hsplit")


def vsplit(b, x, indices_or_sections):
    x = as_value(x)
    if x.rank < 2:
        raise Located(f"vsplit needs a tensor of rank 2 or more, got shape {_shape_text(x)}")
    return _split(x, indices_or_sections, 0, True, "vsplit")


def dsplit(b, x, indices_or_sections):
    x = as_value(x)
    if x.rank < 3:
        raise Located(f"dsplit needs a tensor of rank 3 or more, got shape {_shape_text(x)}")
    return _split(x, indices_or_sections, 2, True, "dsplit")


# -- products of tensors ------------------------------------------------------------------
def tensordot(b, x, y, axes=2):
    """The last `axes` axes of x with the first of y, or the axes of the pair given."""
    x, y = _float_operand(x, "tensordot"), _float_operand(y, "tensordot")
    axes = _ints(axes)
    if isinstance(axes, tuple) and len(axes) == 2:
        xa, ya = (_ints(a) if isinstance(_ints(a), tuple) else (a,) for a in axes)
    else:
        k = _const_int(axes, "axes")
        if not 0 <= k <= min(x.rank, y.rank):
            raise Located(f"tensordot: axes={k} is more than the ranks {x.rank} and {y.rank}")
        xa, ya = tuple(range(x.rank - k, x.rank)), tuple(range(k))
    xa = [_one_axis(a, x.rank, "axes") for a in xa]
    ya = [_one_axis(a, y.rank, "axes") for a in ya]
    if len(xa) != len(ya) or len(set(xa)) != len(xa) or len(set(ya)) != len(ya):
        raise Located(f"tensordot: axes {axes} must pair distinct axes of x with as many of y")
    if x.rank + y.rank > len(_LETTERS):
        raise Located(f"tensordot of ranks {x.rank} and {y.rank} has too many axes")
    xt = list(_LETTERS[:x.rank])
    yt = list(_LETTERS[x.rank:x.rank + y.rank])
    for p, q in zip(xa, ya):
        yt[q] = xt[p]
    out = [c for d, c in enumerate(xt) if d not in xa] + \
        [c for d, c in enumerate(yt) if d not in ya]
    return contract(b, ["".join(xt), "".join(yt)], [x, y], "".join(out))


def kron(b, x, y):
    """out[i] = x[i // n] * y[i % n] on every axis (the ranks right-aligned)."""
    x, y = _float_operand(x, "kron"), _float_operand(y, "kron")
    rank = max(x.rank, y.rank)
    x = expand_dims(x, list(range(rank - x.rank)))
    y = expand_dims(y, list(range(rank - y.rank)))
    shape = tuple(size(p) * size(q) for p, q in zip(x.shape, y.shape))

    def build(idx):
        return x.build(tuple(ops.idiv(i, n) for i, n in zip(idx, y.shape))) * \
            y.build(tuple(sp.Mod(i, n) for i, n in zip(idx, y.shape)))
    return Value(shape, "float", build)


SHAPE_FUNCTIONS = {
    "diagonal": diagonal, "trace": trace, "diag": diag, "tril": tril, "triu": triu,
    "ravel": ravel, "squeeze": squeeze, "expand_dims": expand_dims_,
    "atleast_1d": atleast_1d, "atleast_2d": atleast_2d, "atleast_3d": atleast_3d,
    "broadcast_to": broadcast_to,
    "vstack": vstack, "hstack": hstack, "dstack": dstack, "column_stack": column_stack,
    "repeat": repeat, "tile": tile, "split": split, "array_split": array_split,
    "hsplit": hsplit, "vsplit": vsplit, "dsplit": dsplit, "tensordot": tensordot,
    "kron": kron,
    "zeros": zeros, "ones": ones, "full": full, "zeros_like": zeros_like,
    "ones_like": ones_like, "full_like": full_like, "sort": sort,
}
