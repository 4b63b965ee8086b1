"""NumPy's diagonals, triangles, shape helpers and stacking, as lazy values and statements.

Like the rest of the library, none of these looks at single elements: a diagonal is a
value whose index i reads x[i, i + k], a triangle a condition on the loop indices, a
stack a concatenate of reshaped views.
"""
from __future__ import annotations

import sympy as sp

from .errors import Located
from .library import _axes, _const_int, _flat, _float_operand, _seq, concatenate, drop_axes
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


SHAPE_FUNCTIONS = {
    "diagonal": diagonal, "trace": trace, "diag": diag, "tril": tril, "triu": triu,
    "ravel": ravel, "squeeze": squeeze, "expand_dims": expand_dims_,
    "atleast_1d": atleast_1d, "atleast_2d": atleast_2d, "atleast_3d": atleast_3d,
    "broadcast_to": broadcast_to,
    "vstack": vstack, "hstack": hstack, "dstack": dstack, "column_stack": column_stack,
}
