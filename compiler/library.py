"""The model language's functions, lowered to lazy values and IR statements.

Every function takes the builder, then its arguments already evaluated (values, Python
numbers, tuples), exactly as the NumPy reference in `adc.lang` takes them.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.codegen.cfunctions import log1p

from . import ops, prims
from .errors import Located
from .ir import Scan, access, tensor_name
from .values import (Builder, Value, as_value, broadcast_shapes, elementwise, expand_dims,
                     same_size, scalar, size, to_expr)


# -- argument helpers ------------------------------------------------------------
def _axes(axis, rank, name="axis"):
    if axis is None:
        return list(range(rank))
    items = axis if isinstance(axis, tuple) else (axis,)
    out = []
    for a in items:
        if not isinstance(a, int) or isinstance(a, bool):
            raise Located(f"{name} must be a compile-time int or tuple of ints")
        if rank == 0:
            raise Located(f"{name}={a} on a scalar: a scalar has no axes",
                          "leave out axis= (or reduce a tensor)")
        if not -rank <= a < max(rank, 1):
            raise Located(f"{name}={a} is out of range for a tensor of rank {rank}")
        out.append(a % rank if rank else 0)
    return sorted(set(out))


def _const_int(x, what):
    if isinstance(x, bool) or not isinstance(x, int):
        raise Located(f"{what} must be a compile-time int, got {x!r}")
    return x


def _scalar(x, what) -> sp.Expr:
    """A number, a size, or a run-time `float`/`int` argument as a scalar SymPy body."""
    if isinstance(x, Value):
        if x.rank != 0 or x.kind == "bool":
            raise Located(f"{what} must be a number or a float argument, not a tensor of "
                          f"shape {tuple(x.shape)}", f"pass a scalar for {what}")
        return to_expr(x.build(()))
    if isinstance(x, bool) or not isinstance(x, (int, float, sp.Expr)):
        raise Located(f"{what} must be a number or a float argument, got {x!r}")
    return to_expr(x)


def _float_operand(v, fname):
    v = as_value(v)
    if v.kind == "bool":
        raise Located(f"{fname}: a comparison is not a number; use where(cond, a, b)")
    return v


def _count(shape, axes):
    n = sp.Integer(1)
    for d in axes:
        n *= size(shape[d])
    return n


# -- elementwise: one lowering per row of prims.PRIMS --------------------------------
def _prim_lowering(row):
    """The language function of one primitive row: operands, then its scalar params."""
    import inspect
    build = ops.BUILD[row.name]
    names = ["x", "y"][:row.operands] if row.operands <= 2 else \
        [f"x{k}" for k in range(row.operands)]
    params = [inspect.Parameter("b", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
    params += [inspect.Parameter(k, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=d)
               for k, d in row.params]
    signature = inspect.Signature(params)

    def lower(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        b, *values = bound.arguments.values()
        operands = [_float_operand(v, row.name) for v in values[:row.operands]]
        extra = [as_value(_scalar(v, k)) for (k, _), v in zip(row.params, values[row.operands:])]
        return elementwise(build, *operands, *extra)
    lower.__signature__ = signature
    lower.__name__ = row.name
    lower.__doc__ = row.doc
    return lower


def gelu(b, x, approximate=False):
    """gelu(x): the exact erf form; approximate=True: the tanh form."""
    if not isinstance(approximate, bool):
        raise Located("gelu(approximate=...) must be True or False, decided at compile time")
    name = "gelu_tanh" if approximate else "gelu"
    return elementwise(ops.BUILD[name], _float_operand(x, "gelu"))


def clip(b, x, lo, hi):
    """NumPy's clip; a bound of None leaves that side open (x.clip(min=0.0) is common)."""
    x = _float_operand(x, "clip")
    if lo is None and hi is None:
        raise Located("clip needs at least one bound (both are None)",
                      "give lo or hi, or leave out the clip")
    if lo is None:
        return elementwise(ops.minimum, x, hi)
    if hi is None:
        return elementwise(ops.maximum, x, lo)
    return elementwise(lambda v, l, h: ops.minimum(ops.maximum(v, l), h), x, lo, hi)


def where(builder, cond, a, b):
    """The keywords are adc.lang.where's (cond, a, b), so the builder is not `b` here."""
    cond = as_value(cond)
    if cond.kind != "bool":
        cond = elementwise(lambda c: sp.Ne(c, 0), cond, kind="bool")
    return elementwise(lambda c, u, v: sp.Piecewise((u, c), (v, True)), cond, a, b)


def power(b, x, p):
    return elementwise(ops.pow_, _float_operand(x, "power"), _float_operand(p, "power"))


# -- reductions ------------------------------------------------------------------
def sum_(b, x, axis=None, keepdims=False):
    x = _float_operand(x, "sum")
    return b.reduce(x, _axes(axis, x.rank), "sum", keepdims, "total")


def mean(b, x, axis=None, keepdims=False):
    x = _float_operand(x, "mean")
    axes = _axes(axis, x.rank)
    total = b.reduce(x, axes, "sum", keepdims, "total")
    n = _count(x.shape, axes)
    return elementwise(lambda s: s / n, total)


def _not_elementwise(fname, axis):
    """max(x, 0.0) is a reduction over axis 0.0 in NumPy, not an elementwise maximum."""
    if axis is not None and not isinstance(axis, (int, tuple)) or isinstance(axis, bool):
        other = "maximum" if fname == "max" else "minimum"
        raise Located(f"{fname}(x, {axis if not isinstance(axis, Value) else 'y'}): the second "
                      f"argument of {fname} is the axis to reduce over",
                      f"for the elementwise {other} of two values use {other}(x, y)")


def max_(b, x, axis=None, keepdims=False):
    _not_elementwise("max", axis)
    x = _float_operand(x, "max")
    return b.reduce(x, _axes(axis, x.rank), "max", keepdims, "maxval")


def min_(b, x, axis=None, keepdims=False):
    _not_elementwise("min", axis)
    x = _float_operand(x, "min")
    return b.reduce(x, _axes(axis, x.rank), "min", keepdims, "minval")


class _Shifted:
    """The log-sum-exp family over `axes`, shifted by the max (keepdims values).

    `shift` is the max m where it is finite, else 0 (as the eager adc.lang does, so that
    rows with +-inf or NaN give what NumPy gives); `z` = x - shift; `log_norm` = log of
    sum(exp(z)); `denominator` = sum(exp(z)).
    """

    def __init__(self, shift, z, log_norm, denominator, arg=None, rest=None, finite=None):
        self.shift, self.z, self.log_norm, self.denominator = shift, z, log_norm, denominator
        self.arg, self.rest, self.finite = arg, rest, finite


def _shifted_rest(b, x, axes) -> _Shifted:
    """m = max over axes, z = x - m, rest = sum of exp(z) but the first max.

    Leaving the max element's exp(0) = 1 out of the sum lets every consumer use
    log1p(rest): log-sum-exp = m + log1p(rest) keeps full relative accuracy even when
    the loss is tiny (logits [30, 0]), where m + log(1 + rest) loses digits.

    z is 0 at the first max by construction (not x - m, which is also 0 there): the max
    element then reaches the result only through m, so its gradient is minus the sum of
    the other elements' gradients (every consumer is shift-invariant), which is small
    exactly when the true gradient is. With z = x - m there, the paths through z and m
    would meet as -1 + (1 - e^-40), the cross-entropy gradient of logits [40, 0] at
    label 0, which rounds to 0 instead of -e^-40.

    A row whose max is not finite (+-inf, NaN) is shifted by 0 and summed whole, with
    log instead of log1p: its results are those of NumPy (inf, -inf or NaN).
    """
    m, arg = b.reduce(x, axes, "max", True, "shift", with_arg=True)
    strides = {}
    stride = sp.Integer(1)
    for d in reversed(axes):
        strides[d] = stride
        stride = stride * size(x.shape[d])

    def finite(idx):
        return ops.isfinite(m.build(idx_at(idx, axes)))

    def shift(idx):
        return sp.Piecewise((m.build(idx_at(idx, axes)), finite(idx)), (sp.Integer(0), True))

    def is_first_max(idx):
        flat = sum((idx[d] * strides[d] for d in axes), sp.Integer(0))
        return sp.And(sp.Eq(flat, arg.build(idx_at(idx, axes))), finite(idx))

    def shifted(idx):
        return sp.Piecewise((sp.Integer(0), is_first_max(idx)),
                            (x.build(idx) - shift(idx), True))
    z = b.materialize(Value(x.shape, "float", shifted), "shifted")

    def others(idx):
        return sp.Piecewise((sp.Integer(0), is_first_max(idx)), (sp.exp(z.build(idx)), True))
    rest = b.reduce(Value(x.shape, "float", others), axes, "sum", True, "rest")
    shape = rest.shape

    def log_norm(idx):
        r = rest.build(idx)
        return sp.Piecewise((log1p(r), finite(idx)), (sp.log(r), True))

    def denominator(idx):
        r = rest.build(idx)
        return sp.Piecewise((1 + r, finite(idx)), (r, True))
    return _Shifted(Value(shape, "float", shift), z, Value(shape, "float", log_norm),
                    Value(shape, "float", denominator), arg, rest, finite)


def idx_at(idx, axes):
    """An index with the reduced axes set to 0 (to read a keepdims result)."""
    return tuple(sp.Integer(0) if d in axes else i for d, i in enumerate(idx))


def logsumexp(b, x, axis=None, keepdims=False):
    x = _float_operand(x, "logsumexp")
    axes = _axes(axis, x.rank)
    sh = _shifted_rest(b, x, axes)
    out = elementwise(lambda u, v: u + v, sh.shift, sh.log_norm)
    return out if keepdims else drop_axes(out, axes)


def drop_axes(v: Value, axes) -> Value:
    """v without the (size-1) axes `axes`."""
    keep = [d for d in range(v.rank) if d not in axes]

    def build(idx):
        full = [sp.Integer(0)] * v.rank
        for d, i in zip(keep, idx):
            full[d] = i
        return v.build(tuple(full))
    return Value(tuple(v.shape[d] for d in keep), v.kind, build)


def var(b, x, axis=None, keepdims=False, ddof=0):
    """sum((x - mean)**2) / (n - ddof): population variance by default, as NumPy."""
    x = _float_operand(x, "var")
    axes = _axes(axis, x.rank)
    mu = mean(b, x, axes_tuple(axes), keepdims=True)
    centred = b.materialize(elementwise(lambda u, v: u - v, x, mu), "centred")
    squares = elementwise(lambda u: u ** 2, centred)
    if ddof == 0:
        return mean(b, squares, axes_tuple(axes), keepdims)
    total = b.reduce(squares, axes, "sum", keepdims, "total")
    n = _degrees_of_freedom(_count(x.shape, axes), ddof)
    return elementwise(lambda t: t / n, total)


def _degrees_of_freedom(n, ddof):
    """n - ddof, checked where n is known; NumPy's max(n - ddof, 0) where it is not."""
    ddof = _const_int(ddof, "ddof")
    if ddof < 0:
        raise Located(f"ddof={ddof} is negative", "ddof is 0 (population) or 1 (sample)")
    if n.is_Integer and ddof >= n:
        raise Located(f"ddof={ddof} leaves no degrees of freedom for {n} values "
                      f"(the sum of squares would be divided by {n} - {ddof})",
                      f"use ddof < {n}, or reduce over more values")
    return n - ddof if n.is_Integer else sp.Max(n - ddof, 0)


def std(b, x, axis=None, keepdims=False, ddof=0):
    """sqrt(var); where the variance is 0 (all values equal) the derivative is taken as
    0, not sqrt'(0) = inf times a zero (NaN)."""
    v = var(b, x, axis, keepdims, ddof)
    return elementwise(lambda u: sp.Piecewise((sp.sqrt(u), u > 0), (sp.Integer(0), True)), v)


def norm(b, x, ord=None, axis=None, keepdims=False):
    """NumPy's norm for the orders with a gradient: of vectors 2 (the default) and 1, of
    matrices 'fro' (the default) and 1 (the largest column sum of |x|). Its convention at
    0 is _two_norm's."""
    x = _float_operand(x, "norm")
    if axis is None and ord is None:          # NumPy: the 2-norm of x.ravel()
        return _two_norm(b, x, list(range(x.rank)), keepdims)
    if axis is None and x.rank not in (1, 2):
        raise Located(f"norm(x, ord={ord!r}) of a tensor of rank {x.rank} needs axis=",
                      "give axis= (an int for a vector norm, a pair for a matrix norm)")
    pair = axis if isinstance(axis, tuple) else tuple(range(x.rank)) if axis is None \
        else (axis,)
    axes = [_axes(_const_int(a, "axis"), x.rank)[0] for a in pair]
    if len(set(axes)) != len(axes) or len(axes) > 2:
        raise Located(f"norm: axis={axis} must name one axis (a vector norm) or two "
                      "different axes (a matrix norm)")
    magnitude = elementwise(ops.BUILD["abs"], x)
    if len(axes) == 1 and ord in (None, 2) or len(axes) == 2 and ord in (None, "fro"):
        return _two_norm(b, x, axes, keepdims)
    if len(axes) == 1:
        return _vector_norm(b, x, magnitude, ord, axes, keepdims)
    if ord in (1, -1, sp.oo, -sp.oo):      # the largest (smallest) column or row sum
        summed, across = (axes[0], axes[1]) if ord in (1, -1) else (axes[1], axes[0])
        sums = b.reduce(magnitude, [summed], "sum", True, "sums")
        out = b.reduce(sums, [across], "max" if ord in (1, sp.oo) else "min", True, "norm")
        return out if keepdims else drop_axes(out, sorted(axes))
    raise Located(f"norm: the matrix order ord={_order_text(ord)} is not supported",
                  "use ord=None ('fro'), 1, -1, inf or -inf; ord=2, -2 and 'nuc' would "
                  "need an SVD")


def _order_text(ord):
    return {sp.oo: "inf", -sp.oo: "-inf"}.get(ord, repr(ord))


def _vector_norm(b, x, magnitude, ord, axes, keepdims):
    """The vector orders but 2: 1, inf (max |x|), -inf (min |x|), 0 (the count of
    nonzeros, gradient 0) and p >= 1 (scaled by max |x| as the 2-norm is)."""
    if ord == 1:
        return b.reduce(magnitude, axes, "sum", keepdims, "norm")
    if ord in (sp.oo, -sp.oo):
        return b.reduce(magnitude, axes, "max" if ord == sp.oo else "min", keepdims, "norm")
    if ord == 0:
        nonzero = elementwise(lambda u: sp.Piecewise((sp.Integer(1), sp.Ne(u, 0)),
                                                     (sp.Integer(0), True)), x)
        return b.reduce(nonzero, axes, "sum", keepdims, "count", no_grad=True)
    if isinstance(ord, (int, float)) and not isinstance(ord, bool) and ord >= 1:
        return _p_norm(b, x, magnitude, sp.sympify(ord), axes, keepdims)
    raise Located(f"norm: the vector order ord={_order_text(ord)} is not supported",
                  "use ord=None (2), 1, inf, -inf, 0 or a power p >= 1 (below 1 the "
                  "gradient is infinite at every zero)")


def _p_norm(b, x, magnitude, p, axes, keepdims):
    """m * sum((|x| / m)**p)**(1/p) with m = max |x|: _two_norm's scaling and its
    convention at x = 0 (value and gradient 0)."""
    m = b.reduce(magnitude, axes, "max", True, "scale", no_grad=True)
    scale = elementwise(lambda u: sp.Piecewise((u, u > 0), (sp.Integer(1), True)), m)
    ratio = _kept(b, elementwise(lambda u, s: u / s, magnitude, scale), "ratio")
    total = b.reduce(elementwise(lambda u: u ** p, ratio), axes, "sum", True, "powers")
    out = elementwise(lambda u, t: u * (t + sp.Piecewise((1, sp.Eq(u, 0)), (0, True)))
                      ** (1 / p), m, total)
    return out if keepdims else drop_axes(out, axes)


def _two_norm(b, x, axes, keepdims):
    """m * sqrt(sum((x / m)**2)) with m = max |x| over the axes, which never overflows.

    m is a shift without a gradient (the value does not depend on it), so the gradient is
    x / norm. At x = 0 (m = 0) the sum is taken as 1: the value is 0 and every derivative
    is 0 there (the convention of abs'(0) = 0), never 0/0.
    """
    m = b.reduce(elementwise(ops.BUILD["abs"], x), axes, "max", True, "scale", no_grad=True)
    scale = elementwise(lambda u: sp.Piecewise((u, u > 0), (sp.Integer(1), True)), m)
    ratio = _kept(b, elementwise(lambda u, s: u / s, x, scale), "ratio")
    total = b.reduce(elementwise(lambda u: u ** 2, ratio), axes, "sum", True, "squares")
    out = elementwise(lambda u, t: u * sp.sqrt(t + sp.Piecewise((1, sp.Eq(u, 0)), (0, True))),
                      m, total)
    return out if keepdims else drop_axes(out, axes)


def _kept(b, value: Value, hint) -> Value:
    """`value` stored in a buffer that is never inlined into its reader (inline.py skips
    zero-initialised buffers): inlined, SymPy would turn (x / s)**2 into x**2 / s**2,
    which overflows where x / s does not."""
    t = b.add_tensor(hint, value.shape, zero_init=True)
    loops = b.loop_symbols(value.shape)
    idx = tuple(s for s, _ in loops)
    b.emit(target=t.name, target_index=idx if idx else (sp.Integer(0),), loops=loops,
           body=to_expr(value.build(idx)))
    return b.view(t)


def _running(b, x, axis, op, hint):
    """A scan along `axis`: steps[t + 1] = op(steps[t], x[.., t, ..]), steps[0] the
    identity of op. Reverse mode runs it downwards, multiplying by x[t] where NumPy's
    prod / x would divide: the gradient of a product is exact with zeros in it."""
    n = x.shape[axis]
    kept = [d for d in range(x.rank) if d != axis]
    steps = b.add_tensor(f"{hint}_steps", (size(n) + 1,) + tuple(x.shape[d] for d in kept))
    loops = b.loop_symbols([x.shape[d] for d in kept])
    idx = tuple(s for s, _ in loops)
    b.emit(target=steps.name, target_index=(sp.Integer(0),) + idx, loops=loops,
           body=sp.Integer(1 if op == "prod" else 0))
    loops = b.loop_symbols([n] + [x.shape[d] for d in kept])
    step, idx = loops[0][0], tuple(s for s, _ in loops[1:])
    full = list(idx)
    full.insert(axis, step)
    previous = access(steps, (step,) + idx)
    item = to_expr(x.build(tuple(full)))
    b.scans += 1
    b.emit(target=steps.name, target_index=(step + 1,) + idx, loops=loops,
           body=previous * item if op == "prod" else previous + item,
           scan=Scan(+1, b.origin, b.scans))
    return steps


def prod(b, x, axis=None, keepdims=False):
    x = _float_operand(x, "prod")
    axes = _axes(axis, x.rank)
    for d in reversed(axes):            # one axis at a time, the last first
        steps = _running(b, x, d, "prod", "prod")
        n = size(x.shape[d])
        x = Value(steps.shape[1:], "float", lambda idx, s=steps, n=n: access(s, (n,) + idx))
        x = expand_dims(x, [d])
    return x if keepdims else drop_axes(x, axes)


def _cumulative(b, x, axis, op, fname):
    x = _float_operand(x, fname)
    if axis is None:
        x, axis = _flat(b, x), 0
    d = _axes(_const_int(axis, "axis"), x.rank)[0]
    steps = _running(b, x, d, op, fname)

    def build(idx):
        return access(steps, (idx[d] + 1,) + idx[:d] + idx[d + 1:])
    return Value(x.shape, "float", build)


def cumsum(b, x, axis=None):
    return _cumulative(b, x, axis, "sum", "cumsum")


def cumprod(b, x, axis=None):
    return _cumulative(b, x, axis, "prod", "cumprod")


def axes_tuple(axes):
    return tuple(axes)


def softmax(b, x, axis=-1):
    x = _float_operand(x, "softmax")
    sh = _shifted_rest(b, x, _axes(axis, x.rank))
    return elementwise(lambda u, w: sp.exp(u) / w, sh.z, sh.denominator)


def log_softmax(b, x, axis=-1):
    x = _float_operand(x, "log_softmax")
    sh = _shifted_rest(b, x, _axes(axis, x.rank))
    return elementwise(lambda u, w: u - w, sh.z, sh.log_norm)


# -- losses ----------------------------------------------------------------------
def _labels(b, logits, labels, fname):
    logits = _float_operand(logits, fname)
    labels = as_value(labels)
    if logits.rank != 2:
        raise Located(f"{fname} expects logits of shape (N, C), got rank {logits.rank}")
    if labels.kind != "int" or labels.rank != 1:
        raise Located(f"{fname} expects integer labels of shape (N,)",
                      "declare the labels as Index[N]")
    if not same_size(logits.shape[0], labels.shape[0]):
        n = labels.shape[0]
        raise Located(f"{fname}: the labels have {n} entr{'y' if n == 1 else 'ies'} but the "
                      f"logits have {logits.shape[0]} rows", "give one label per row: logits of "
                      "shape (N, C) need labels Index[N]")
    if labels.tensor:
        b.index_bounds.append((labels.tensor, logits.shape[1]))
    return logits, labels


def cross_entropy(b, logits, labels):
    """mean_i (logsumexp(logits[i]) - logits[i, y_i]), with its own reverse-mode rule:

        d logits[i, j] = d_total * (softmax(logits)[i, j] - onehot(y)[i, j])

    one loop nest, computed without cancellation (at the label that is also the row's
    max, softmax - 1 is -rest / (1 + rest); elsewhere softmax - 1 <= -1/2)."""
    logits, labels = _labels(b, logits, labels, "cross_entropy")
    logits = b.materialize(logits, "logits")       # the rule writes its adjoint
    first = len(b.stmts)
    sh = _shifted_rest(b, logits, [1])
    n, c = logits.shape

    def build(idx):
        i = idx[0]
        return sh.log_norm.build((i, sp.Integer(0))) - sh.z.build((i, labels.build((i,))))
    value = mean(b, Value((n,), "float", build))
    total = b.stmts[-1]
    (i, _), (j, _) = b.loop_symbols((n, c))
    row = (i, sp.Integer(0))
    y = labels.build((i,))
    first_max = sp.And(sp.Eq(j, sh.arg.build(row)), sh.finite(row))
    p = sp.Piecewise((1 / (1 + sh.rest.build(row)), first_max),
                     (sp.exp(sh.z.build((i, j))) / sh.denominator.build(row), True))
    local = sp.Piecewise((-sh.rest.build(row) / (1 + sh.rest.build(row)),
                          sp.And(sp.Eq(j, y), first_max)),
                         (p - sp.Piecewise((1, sp.Eq(j, y)), (0, True)), True))
    labels_name = tensor_name(y) if isinstance(y, sp.Indexed) else "y"
    # how formulas show the rule: (softmax(z) - onehot(y))[i, j]
    shown = sp.IndexedBase(f"softmax({logits.tensor})")[i, j] - \
        sp.IndexedBase(f"onehot({labels_name})")[i, j]
    b.stmts[-1] = total.with_(custom=(("rule", "cross_entropy"), ("input", logits.tensor),
                                      ("index", (i, j)), ("loops", ((i, n), (j, c))),
                                      ("local", local), ("shown", shown)))
    for k in range(first, len(b.stmts)):      # one unit: the rule covers these statements
        b.stmts[k] = b.stmts[k].with_(composite=total.target)
    return value


def binary_cross_entropy_with_logits(b, z, y):
    return mean(b, elementwise(ops.bce_with_logits,
                               _float_operand(z, "binary_cross_entropy_with_logits"), y))


def mse(b, pred, target):
    return mean(b, elementwise(lambda u, v: (u - v) ** 2, pred, target))


def multiclass_hinge(b, scores, labels, margin=1.0):
    scores, labels = _labels(b, scores, labels, "multiclass_hinge")
    delta = _scalar(margin, "margin")

    def build(idx):
        i, j = idx
        yi = labels.build((i,))
        hinge = ops.relu(scores.build((i, j)) - scores.build((i, yi)) + delta)
        return sp.Piecewise((sp.Integer(0), sp.Eq(j, yi)), (hinge, True))
    margins = Value(scores.shape, "float", build)
    per_row = b.reduce(margins, [1], "sum", False, "hinge")
    return mean(b, per_row)


# -- contractions ----------------------------------------------------------------
def einsum(b, spec, *operands):
    if not isinstance(spec, str) or "->" not in spec and not spec:
        raise Located("einsum needs a subscripts string such as 'ij,jk->ik'")
    spec = spec.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise Located(f"einsum spec has {len(terms)} operands but {len(operands)} were given")
    values = [as_value(o) for o in operands]
    if "..." in spec:
        terms, rhs = _expand_ellipsis(terms, rhs, values, bool(arrow))
    elif not arrow:
        counts = {c: lhs.count(c) for c in lhs if c != ","}
        rhs = "".join(sorted(c for c, k in counts.items() if k == 1))
    return contract(b, terms, values, rhs)


def _expand_ellipsis(terms, rhs, values, explicit):
    """'...' as letters of their own, right-aligned across the operands (NumPy)."""
    spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in "".join(terms) + rhs]
    widths = []
    for term, v in zip(terms, values):
        if term.count("...") > 1:
            raise Located("einsum: '...' may appear once per operand")
        named = len(term.replace("...", ""))
        widths.append(v.rank - named if "..." in term else 0)
        if widths[-1] < 0:
            raise Located(f"einsum: operand of shape {tuple(v.shape)} has fewer axes than "
                          f"'{term}' names")
    width = max(widths, default=0)
    letters = spare[:width]
    out = [t.replace("...", "".join(letters[width - w:])) for t, w in zip(terms, widths)]
    if explicit:
        rhs = rhs.replace("...", "".join(letters))
    else:
        joined = "".join(t.replace("...", "") for t in terms)
        rhs = "".join(letters) + "".join(sorted(c for c in set(joined) if joined.count(c) == 1))
    return out, rhs


def contract(b: Builder, terms, operands, out_letters, hint="mm") -> Value:
    """out[out_letters] = sum over the other letters of the product of the operands."""
    extents = {}
    for term, op in zip(terms, operands):
        if len(term) != op.rank:
            raise Located(f"operand of shape {tuple(op.shape)} does not match subscripts '{term}'")
        for c, n in zip(term, op.shape):
            if c in extents and not same_size(extents[c], n):
                raise Located(f"size mismatch for index '{c}': {extents[c]} vs {n}",
                              "the contracted axes must have the same length")
            extents.setdefault(c, n)
    operands = [o if b.is_single_access(o) else b.materialize(o, "operand") for o in operands]
    red_letters = [c for c in extents if c not in out_letters]
    loops = b.loop_symbols([extents[c] for c in out_letters])
    rloops = b.loop_symbols([extents[c] for c in red_letters], reduce=True)
    sym = {c: s for c, (s, _) in zip(out_letters, loops)}
    sym.update({c: s for c, (s, _) in zip(red_letters, rloops)})
    body = sp.Integer(1)
    for term, op in zip(terms, operands):
        body = body * op.build(tuple(sym[c] for c in term))
    out = b.add_tensor(hint, [extents[c] for c in out_letters])
    idx = tuple(s for s, _ in loops)
    b.emit(target=out.name, target_index=idx if idx else (sp.Integer(0),), loops=loops,
           body=body, reduce="sum" if rloops else "none", rloops=rloops)
    return b.view(out)


_LETTERS = "abcdefghijklmnopqrstuvwxy"   # z: the contracted axis of dot


def matmul(b, x, y):
    x, y = _float_operand(x, "@"), _float_operand(y, "@")
    if x.rank == 0 or y.rank == 0:
        raise Located("@ needs operands of rank 1 or more", "use * for scalars")
    if x.rank == 1 and y.rank == 1:
        return contract(b, ["k", "k"], [x, y], "", "dot")
    if x.rank == 1:
        bt = _LETTERS[: y.rank - 2]
        return contract(b, ["k", bt + "kj"], [x, y], bt + "j")
    if y.rank == 1:
        bt = _LETTERS[: x.rank - 2]
        return contract(b, [bt + "ik", "k"], [x, y], bt + "i")
    batch = broadcast_shapes(x.shape[:-2], y.shape[:-2])   # NumPy: the batch axes broadcast
    letters = _LETTERS[: len(batch)]
    (xv, xt), (yv, yt) = _batch_operand(x, batch, letters), _batch_operand(y, batch, letters)
    return contract(b, [xt + "ik", yt + "kj"], [xv, yv], letters + "ij")


def _batch_operand(v: Value, batch, letters):
    """(v without its broadcast size-1 batch axes, the batch letters of what is left)."""
    own = v.shape[:-2]
    offset = len(batch) - len(own)
    dropped = [d for d, n in enumerate(own) if size(n) == 1 and size(batch[offset + d]) != 1]
    term = "".join(letters[offset + d] for d in range(len(own)) if d not in dropped)
    return (drop_axes(v, dropped) if dropped else v), term


def dot(b, x, y):
    """NumPy's dot: the last axis of x with the second-to-last of y (the only one if y
    is 1-D); unlike @, the other axes of both are kept, not broadcast:
    (2, 2, 3) . (2, 3, 4) is (2, 2, 2, 4)."""
    x, y = _float_operand(x, "dot"), _float_operand(y, "dot")
    if x.rank == 0 or y.rank == 0:
        return elementwise(lambda u, v: u * v, x, y)
    if x.rank + y.rank - 2 > len(_LETTERS) - 1:
        raise Located(f"dot of ranks {x.rank} and {y.rank} has too many axes")
    xs = _LETTERS[: x.rank - 1]
    if y.rank == 1:
        return contract(b, [xs + "z", "z"], [x, y], xs)
    ys = _LETTERS[x.rank - 1: x.rank + y.rank - 2]
    yt = ys[:-1] + "z" + ys[-1]
    return contract(b, [xs + "z", yt], [x, y], xs + ys)


def outer(b, x, y):
    """NumPy's outer: the inputs are flattened first (a scalar is one element)."""
    x, y = (_flat(b, _float_operand(v, "outer")) for v in (x, y))
    return Value((x.shape[0], y.shape[0]), "float",
                 lambda idx: x.build((idx[0],)) * y.build((idx[1],)))


def _flat(b, v: Value) -> Value:
    if v.rank == 1:
        return v
    return reshape(b, v, (-1,)) if v.rank else expand_dims(v, [0])


# -- shape ------------------------------------------------------------------------
def transpose(b, x, axes=None):
    x = as_value(x)
    perm = list(reversed(range(x.rank))) if axes is None else list(axes)
    if sorted(perm) != list(range(x.rank)):
        raise Located(f"axes {axes} is not a permutation of the {x.rank} axes")

    def build(idx):
        src = [None] * x.rank
        for out_d, in_d in enumerate(perm):
            src[in_d] = idx[out_d]
        return x.build(tuple(src))
    return Value(tuple(x.shape[d] for d in perm), x.kind, build, None)


def reshape(b, x, shape):
    x = as_value(x)
    shape = list(shape) if isinstance(shape, (tuple, list)) else [shape]
    total = _count(x.shape, range(x.rank))
    if sum(1 for s in shape if isinstance(s, int) and s == -1) > 1:
        raise Located("reshape: only one size may be -1")
    for s in shape:
        if isinstance(s, bool) or not (isinstance(s, int) or isinstance(s, sp.Expr)
                                       and s.is_integer):
            raise Located(f"reshape: sizes must be compile-time ints or sizes, got "
                          f"{'a tensor' if isinstance(s, Value) else repr(s)}",
                          "use int constants, dims or x.shape[i], and -1 for one inferred size")
        if isinstance(s, int) and s < -1 or s == 0:
            raise Located(f"reshape: size {s} is not allowed", "sizes are >= 1, or -1 once")
    known = sp.Integer(1)
    for s in shape:
        if not (isinstance(s, int) and s == -1):
            known *= size(s)
    inferred = sp.simplify(total / known)
    if any(isinstance(s, int) and s == -1 for s in shape) and not inferred.is_integer:
        raise Located(f"cannot reshape a tensor of shape {tuple(x.shape)} (size {total}) into "
                      f"{tuple(shape)}: {total} is not a multiple of {known}",
                      "the known sizes must divide the tensor's size")
    shape = [inferred if (isinstance(s, int) and s == -1) else size(s) for s in shape]
    if sp.simplify(_count(shape, range(len(shape))) - total) != 0:
        raise Located(f"cannot reshape a tensor of shape {tuple(x.shape)} into {tuple(shape)}")
    prefix = 0
    while (prefix < min(len(shape), x.rank) - 1 and same_size(shape[prefix], x.shape[prefix])):
        prefix += 1

    def build(idx):
        flat = sp.Integer(0)
        for d in range(prefix, len(shape)):
            flat = flat * shape[d] + idx[d]
        src = list(idx[:prefix])
        rest = x.shape[prefix:]
        for d in range(len(rest)):
            stride = _count(rest, range(d + 1, len(rest)))
            part = ops.idiv(flat, stride)
            src.append(part if d == 0 else sp.Mod(part, rest[d]))
        return x.build(tuple(src))
    return Value(tuple(shape), x.kind, build)


def concatenate(b, xs, axis=0):
    xs = [as_value(v) for v in _seq(xs, "concatenate")]
    rank = xs[0].rank
    axis = _axes(axis, rank)[0]
    for v in xs[1:]:
        if v.rank != rank or any(not same_size(p, q) for d, (p, q)
                                 in enumerate(zip(v.shape, xs[0].shape)) if d != axis):
            raise Located("concatenate: shapes "
                          f"{[tuple(v.shape) for v in xs]} differ off the joined axis")
    total = sum((size(v.shape[axis]) for v in xs), sp.Integer(0))
    shape = list(xs[0].shape)
    shape[axis] = total
    out = b.add_tensor("cat", shape, zero_init=True)
    offset = sp.Integer(0)
    for v in xs:
        loops = b.loop_symbols(v.shape)
        idx = tuple(s for s, _ in loops)
        target = tuple(s + offset if d == axis else s for d, s in enumerate(idx))
        b.emit(target=out.name, target_index=target, loops=loops, body=to_expr(v.build(idx)))
        offset += size(v.shape[axis])
    return b.view(out)


def stack(b, xs, axis=0):
    xs = [as_value(v) for v in _seq(xs, "stack")]
    shape = list(xs[0].shape)
    for v in xs[1:]:       # NumPy does not broadcast here: each must be the first's shape
        if v.rank != len(shape) or not all(same_size(p, q) for p, q in zip(v.shape, shape)):
            raise Located(f"stack: all tensors must have one shape, got "
                          f"{[tuple(v.shape) for v in xs]}", "make the shapes equal")
    axis = _axes(axis, len(shape) + 1)[0]
    out_shape = shape[:axis] + [sp.Integer(len(xs))] + shape[axis:]
    out = b.add_tensor("stack", out_shape, zero_init=True)
    for k, v in enumerate(xs):
        loops = b.loop_symbols(v.shape)
        idx = tuple(s for s, _ in loops)
        target = idx[:axis] + (sp.Integer(k),) + idx[axis:]
        b.emit(target=out.name, target_index=target, loops=loops, body=to_expr(v.build(idx)))
    return b.view(out)


def array(b, x):
    """np.array: a (nested) list of numbers and equally-shaped tensors, stacked on new
    leading axes (one statement per element); of one tensor, a copy of it."""
    if not isinstance(x, (tuple, list)):
        v = _array_element(x)
        return elementwise(lambda u: u, v, kind=v.kind)
    if all(isinstance(e, int) and not isinstance(e, bool) for e in x) and x:
        # a list of ints stays an index vector, as NumPy's int array: x[array([0, -1])]
        from .frontend import constant_vector
        return Value((sp.Integer(len(x)),), "int",
                     lambda idx: constant_vector(list(x), idx[0]), constant=tuple(x))
    leaves, shape = _array_leaves(x, ())
    out = b.add_tensor("array", shape, zero_init=True)
    for where, v in leaves:
        loops = b.loop_symbols(v.shape)
        idx = tuple(s for s, _ in loops)
        b.emit(target=out.name, target_index=tuple(sp.Integer(k) for k in where) + idx,
               loops=loops, body=to_expr(v.build(idx)))
    return b.view(out)


def _array_leaves(x, where):
    """([(position, value)] of a nested list's elements, the array's shape)."""
    if not isinstance(x, (tuple, list)):
        v = _array_element(x)
        return [(where, v)], tuple(v.shape)
    if not x:
        raise Located("array of an empty list", "an array needs at least one element")
    parts = [_array_leaves(e, where + (k,)) for k, e in enumerate(x)]
    first = parts[0][1]
    for k, (_, shape) in enumerate(parts):
        if len(shape) != len(first) or not all(same_size(p, q) for p, q in zip(shape, first)):
            raise Located(f"array: the element at {list(where + (k,))} has shape {shape}, the "
                          f"first {first}: NumPy cannot build an array from a ragged list or "
                          "from elements of different shapes",
                          "make every element the same shape, and every row a list of the "
                          "same length")
    return [leaf for leaves, _ in parts for leaf in leaves], (sp.Integer(len(x)),) + first


def _array_element(e) -> Value:
    if isinstance(e, bool) or not isinstance(e, (Value, int, float, sp.Expr)):
        raise Located(f"array: an element is {'a bool' if isinstance(e, bool) else repr(e)}, "
                      "not a number or a tensor", "build arrays from numbers and tensors")
    return _float_operand(e, "array")


def r_(b, items):
    """np.r_[a, b, ...]: concatenate along axis 0, a number as a 1-element vector."""
    values = [_index_trick_item(b, v) for v in items]
    return _joined(b, [expand_dims(v, [0]) if v.rank == 0 else v for v in values], 0, "np.r_")


def c_(b, items):
    """np.c_[a, b, ...]: vectors as columns (numbers as 1x1), joined on the last axis."""
    values = [_index_trick_item(b, v) for v in items]
    values = [expand_dims(v, [0, 1]) if v.rank == 0 else expand_dims(v, [1]) if v.rank == 1
              else v for v in values]
    return _joined(b, values, -1, "np.c_")


def _joined(b, values, axis, name):
    try:
        return concatenate(b, values, axis=axis)
    except Located as exc:
        raise Located(name + exc.message.removeprefix("concatenate"),
                      "give every tensor the same shape off the joined axis (np.r_: the "
                      "first; np.c_: the last, with vectors as columns)") from None


def _index_trick_item(b, v) -> Value:
    if isinstance(v, (slice, str)):
        raise Located("np.r_ / np.c_ take tensors, numbers and lists here, not slices or "
                      "strings", "use arange(n) for a range, concatenate(..., axis=k) for "
                      "another axis")
    return array(b, v) if isinstance(v, (tuple, list)) else _array_element(v)


def _seq(xs, fname):
    if not isinstance(xs, (tuple, list)) or not xs:
        raise Located(f"{fname} expects a non-empty tuple or list of tensors")
    return xs


def arange(b, n):
    if isinstance(n, bool) or not (isinstance(n, int) or isinstance(n, sp.Expr)
                                   and n.is_integer):
        raise Located("arange(n) needs a size: an int constant, a dim or x.shape[i]")
    if isinstance(n, int) and n < 0:
        n = 0      # NumPy: arange of a negative count is empty
    return Value((size(n),), "int", lambda idx: idx[0])


# -- layers -----------------------------------------------------------------------
def _normalise(b, x, gamma, beta, eps, axes, channel_axis, fname):
    x = _float_operand(x, fname)
    mu = mean(b, x, tuple(axes), keepdims=True)
    centred = b.materialize(elementwise(lambda u, v: u - v, x, mu), "centred")
    variance = mean(b, elementwise(lambda u: u ** 2, centred), tuple(axes), keepdims=True)
    inv_std = b.materialize(elementwise(lambda v: 1 / sp.sqrt(v + _scalar(eps, "eps")), variance),
                            "inv_std")
    gamma, beta = as_value(gamma), as_value(beta)
    for name, p in (("gamma", gamma), ("beta", beta)):
        if p.rank != 1 or not same_size(p.shape[0], x.shape[channel_axis]):
            raise Located(f"{fname}: {name} must have shape ({x.shape[channel_axis]},), "
                          f"got {tuple(p.shape)}")

    def build(idx):
        c = (idx[channel_axis],)
        red = tuple(sp.Integer(0) if d in axes else i for d, i in enumerate(idx))
        return centred.build(idx) * inv_std.build(red) * gamma.build(c) + beta.build(c)
    return Value(x.shape, "float", build)


def batch_norm(b, x, gamma, beta, eps=1e-5):
    x = as_value(x)
    if x.rank < 2:
        raise Located("batch_norm expects (N, C) or (N, C, H, W) input")
    axes = [d for d in range(x.rank) if d != 1]
    return _normalise(b, x, gamma, beta, eps, axes, 1, "batch_norm")


def layer_norm(b, x, gamma, beta, eps=1e-5):
    x = as_value(x)
    return _normalise(b, x, gamma, beta, eps, [x.rank - 1], x.rank - 1, "layer_norm")


def dropout(b, x, mask, p):
    return elementwise(lambda u, m, q: u * m / (1 - q), x, mask, p)


# -- the table the frontend resolves names through ----------------------------------
FUNCTIONS = {row.name: _prim_lowering(row) for row in prims.PUBLIC}
FUNCTIONS.update({
    "gelu": gelu, "clip": clip, "where": where, "power": power,
    "sum": sum_, "mean": mean, "max": max_, "min": min_, "logsumexp": logsumexp, "var": var,
    "std": std, "norm": norm, "prod": prod, "cumsum": cumsum, "cumprod": cumprod,
    "softmax": softmax, "log_softmax": log_softmax,
    "cross_entropy": cross_entropy,
    "binary_cross_entropy_with_logits": binary_cross_entropy_with_logits,
    "mse": mse, "multiclass_hinge": multiclass_hinge,
    "einsum": einsum, "matmul": matmul, "dot": dot, "outer": outer, "transpose": transpose,
    "reshape": reshape, "concatenate": concatenate, "stack": stack, "arange": arange,
    "array": array, "asarray": array,
    "batch_norm": batch_norm, "layer_norm": layer_norm, "dropout": dropout,
})

# shapes.py builds on the functions above (imported last: it imports this module)
from .shapes import SHAPE_FUNCTIONS  # noqa: E402
FUNCTIONS.update(SHAPE_FUNCTIONS)
from .windows import WINDOW_FUNCTIONS  # noqa: E402
FUNCTIONS.update(WINDOW_FUNCTIONS)
from .assignment import index_add  # noqa: E402
FUNCTIONS["index_add"] = index_add

CONSTANTS = {"pi": sp.pi, "e": sp.E, "inf": sp.oo}
LINALG_NAMES = ("norm",)      # np.linalg.X spellings


@dataclass(frozen=True)
class Method:
    """`x.name(...)` as NumPy spells it: the language function it calls with x first.

    Everything else passes through, so the method has the function's semantics and
    gradient. A method for a new function is one entry of METHODS below.
    """

    function: str
    positional: int = 1     # NumPy's own positional arguments that map in order (x.sum's
    #                         second one is dtype, not keepdims: pass it by keyword)
    packs: bool = False     # NumPy's varargs form: x.reshape(2, 3) is reshape(x, (2, 3))
    keywords: tuple = ()    # (NumPy's keyword, the function's): x.clip(max=1.0)
    fixed: tuple = ()       # arguments right after x the method always passes (flatten: -1)
    defaults: tuple = ()    # (argument, value) where NumPy's method has a default and the
    #                         function none: x.clip(max=1.0) is clip(x, None, 1.0)
    view: bool = True       # NumPy returns a view where the function does (flatten copies)


METHODS = {
    "sum": Method("sum"), "mean": Method("mean"), "max": Method("max"), "min": Method("min"),
    "var": Method("var"), "dot": Method("dot"),
    "reshape": Method("reshape", packs=True), "transpose": Method("transpose", packs=True),
    "clip": Method("clip", positional=2, keywords=(("min", "lo"), ("max", "hi")),
                   defaults=(("lo", None), ("hi", None))),
    "flatten": Method("reshape", positional=0, fixed=(-1,), view=False),
    "copy": Method("array", positional=0),
    "ravel": Method("ravel", positional=0), "squeeze": Method("squeeze"),
    "prod": Method("prod"), "std": Method("std"), "cumsum": Method("cumsum"),
    "cumprod": Method("cumprod"), "trace": Method("trace", positional=3),
    "diagonal": Method("diagonal", positional=3),
}
# The attributes of a tensor that are not methods (the frontend computes them).
ATTRIBUTES = ("T", "shape", "ndim", "size")

# NumPy / math spellings that differ from the language names.
ALIASES = {"amax": "max", "amin": "min", "pow": "power", "concat": "concatenate",
           **prims.SPELLINGS}

