"""The adc model language as plain NumPy: a model file imports these and runs eagerly."""
from __future__ import annotations

import math
import operator

import numpy as np

from .compiler import prims as _prims   # NumPy only: an eager run imports no SymPy
from .compiler import window_options as _wo

__all__ = [
    # annotations and sizes
    "Param", "Data", "Index", "dim", "Dim", "TensorType",
    # constants and index vectors
    "pi", "e", "inf", "arange",
    # elementwise: every public row of compiler/prims.py, and
    "clip", "where", "power",
    # reductions and normalisers
    "sum", "mean", "max", "min", "logsumexp", "var", "std", "prod", "norm", "cumsum",
    "cumprod", "softmax", "log_softmax",
    # losses
    "cross_entropy", "binary_cross_entropy_with_logits", "mse", "multiclass_hinge",
    # linear algebra and shape
    "matmul", "dot", "outer", "transpose", "einsum", "reshape", "concatenate", "stack",
    "array", "asarray",
    # diagonals, triangles, shape helpers and stacking
    "diagonal", "trace", "diag", "tril", "triu", "ravel", "squeeze", "expand_dims",
    "atleast_1d", "atleast_2d", "atleast_3d", "broadcast_to",
    "vstack", "hstack", "dstack", "column_stack", "repeat", "tile", "split", "array_split",
    "hsplit", "vsplit", "dsplit", "tensordot", "kron", "sort",
    # fresh arrays, to write into with y[...] = v
    "zeros", "ones", "full", "zeros_like", "ones_like", "full_like", "index_add",
    # layers
    "batch_norm", "layer_norm", "dropout", "conv2d", "max_pool2d", "avg_pool2d",
]
__all__ += [row.name for row in _prims.PUBLIC]


# -- sizes and annotations ------------------------------------------------------------
class Dim:
    """A symbolic size such as dim("N"); only meaningful inside annotations."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        if not isinstance(name, str) or not name:
            raise TypeError(f"dim() takes a size name such as dim('N'), got {name!r}")
        self.name = name

    def __repr__(self):
        return f"dim({self.name!r})"

    def __eq__(self, other):
        return isinstance(other, Dim) and other.name == self.name

    def __hash__(self):
        return hash(("dim", self.name))

    # The compiler accepts module-level size arithmetic (M = 2 * N), so the eager run
    # must not crash on it; the result is only a label.
    def _combine(self, op, other, reverse=False):
        if not isinstance(other, (Dim, int)) or isinstance(other, bool):
            return NotImplemented
        left, right = (_size_text(other), _size_text(self)) if reverse else \
            (_size_text(self), _size_text(other))
        return Dim(f"({left} {op} {right})")

    def __add__(self, other): return self._combine("+", other)
    def __radd__(self, other): return self._combine("+", other, True)
    def __sub__(self, other): return self._combine("-", other)
    def __rsub__(self, other): return self._combine("-", other, True)
    def __mul__(self, other): return self._combine("*", other)
    def __rmul__(self, other): return self._combine("*", other, True)
    def __floordiv__(self, other): return self._combine("//", other)
    def __rfloordiv__(self, other): return self._combine("//", other, True)


def _size_text(size) -> str:
    return size.name if isinstance(size, Dim) else str(size)


def dim(name: str) -> Dim:
    """A named symbolic size, bound from the argument arrays at call time."""
    return Dim(name)


def _size(entry):
    """An annotation size: an int (NumPy ints too) or a Dim."""
    if isinstance(entry, Dim):
        return entry
    if not isinstance(entry, bool):
        try:
            return operator.index(entry)
        except TypeError:
            pass
    raise TypeError(f"a size must be an int or dim('NAME'), got {entry!r}")


class TensorType:
    """What `Param[...]`, `Data[...]`, `Index[...]` evaluate to: a role and a shape."""

    __slots__ = ("kind", "shape")

    def __init__(self, kind: str, shape: tuple):
        self.kind = kind
        self.shape = shape

    def __repr__(self):
        inner = ", ".join(repr(s) for s in self.shape) if self.shape else "()"
        return f"{self.kind}[{inner}]"

    def __eq__(self, other):
        return isinstance(other, TensorType) and \
            (self.kind, self.shape) == (other.kind, other.shape)

    def __hash__(self):
        return hash((self.kind, self.shape))


class _Role:
    """Base of the subscriptable annotation markers; never instantiated."""

    def __new__(cls, *args, **kwargs):
        raise TypeError(f"{cls.__name__} is an annotation; write {cls.__name__}[d0, d1, ...]")

    def __class_getitem__(cls, key):
        # Param[N, D] passes a tuple, Param[N] a single size, Param[()] the empty tuple.
        shape = key if isinstance(key, tuple) else (key,)
        return TensorType(cls.__name__, tuple(_size(s) for s in shape))


class Param(_Role):
    """A trainable float tensor: `Param[D, H]`; `Param[()]` is a scalar."""


class Data(_Role):
    """A float input, not differentiated by default: `Data[N, D]`."""


class Index(_Role):
    """An integer input (labels, gather indices): `Index[N]`."""


# -- constants ------------------------------------------------------------------------
pi = math.pi
e = math.e
inf = math.inf


def arange(n):
    """The index vector 0, 1, ..., n-1. `n` may be a size such as dim("N"): its value is
    read from the arguments of the entry point being run (as the compiled module binds
    it from the argument shapes)."""
    return np.arange(_size_value(n) if isinstance(n, Dim) else n)


def _size_value(d: Dim) -> int:
    """The value of a symbolic size in the entry point that is running: the first
    annotated argument whose shape names it gives it (like the compiled module)."""
    import sys
    frame = sys._getframe(2)
    while frame is not None:
        fn = next((f for f in frame.f_globals.values()
                   if getattr(f, "__code__", None) is frame.f_code), None)
        annotations = getattr(fn, "__annotations__", {}) if fn else {}
        for name, ann in annotations.items():
            if isinstance(ann, TensorType) and name in frame.f_locals:
                for axis, size in enumerate(ann.shape):
                    if size == d:
                        return int(np.shape(frame.f_locals[name])[axis])
        frame = frame.f_back
    raise TypeError(f"arange({d!r}): no running entry point has an argument with the size "
                    f"{d.name} in its annotation; use arange(x.shape[0])")


# -- elementwise: the NumPy references of compiler/prims.py, one row each -------------
def _export(row):
    fn = row.numpy
    if getattr(fn, "__module__", "").endswith("prims"):
        fn.__doc__ = fn.__doc__ or row.doc
    return fn


for _row in _prims.PUBLIC:
    if _row.name != "gelu":
        globals()[_row.name] = _export(_row)


def gelu(x, approximate=False):
    """x * Phi(x) (the exact erf form), or the tanh form with approximate=True."""
    return _prims.np_gelu_tanh(x) if approximate else _prims.np_gelu(x)


def clip(x, lo, hi):
    return np.clip(x, lo, hi)


def where(cond, a, b):
    return np.where(cond, a, b)[()]


def power(x, p):
    """x ** p, the function spelling of the `**` operator."""
    return np.power(x, p)


# -- reductions -----------------------------------------------------------------------
def sum(x, axis=None, keepdims=False):
    return np.sum(x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    return np.mean(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False):
    return np.max(x, axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims=False):
    return np.min(x, axis=axis, keepdims=keepdims)


def var(x, axis=None, keepdims=False, ddof=0):
    """Population variance by default (ddof=0), as batch_norm and layer_norm use it."""
    return np.var(x, axis=axis, keepdims=keepdims, ddof=ddof)


def std(x, axis=None, keepdims=False, ddof=0):
    return np.std(x, axis=axis, keepdims=keepdims, ddof=ddof)


def prod(x, axis=None, keepdims=False):
    return np.prod(x, axis=axis, keepdims=keepdims)


def norm(x, ord=None, axis=None, keepdims=False):
    """np.linalg.norm, but the 2-norm, the Frobenius norm and the vector p-norms scaled by
    max |x| as the compiled code is (NumPy's powers overflow for entries near 1e300)."""
    x = np.asarray(x)
    vector = np.ndim(x) == 1 or isinstance(axis, int)
    p = 2 if ord is None or (not vector and ord == "fro") else ord
    scaled_form = (vector or ord in (None, "fro")) and isinstance(p, (int, float)) \
        and p not in (1, 0) and math.isfinite(p) and p >= 1
    if not scaled_form or ord is not None and axis is None and x.ndim > 2:
        return np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)
    m = np.max(np.abs(x), axis=axis, keepdims=True)
    scaled = np.abs(x) / np.where(m > 0, m, 1)
    out = m * np.sum(scaled ** p, axis=axis, keepdims=True) ** (1 / p)
    return out if keepdims else np.squeeze(out, axis=axis)[()]


def cumsum(x, axis=None):
    return np.cumsum(x, axis=axis)


def cumprod(x, axis=None):
    return np.cumprod(x, axis=axis)


def _shifted_log_sum_exp(x, axis):
    """(m, l) with logsumexp(x) = m + l over `axis`, both keeping the reduced axes.

    m is the max, so no exp overflows. l = log1p(sum over non-max entries of exp(x - m)
    + (number of max entries - 1)): the 1 contributed by the max is never added and
    then subtracted, so a tiny tail such as exp(-30) keeps all its digits in
    log_softmax and cross_entropy (Blanchard, Higham & Higham, 2021).
    """
    x = np.asarray(x)
    m = np.max(x, axis=axis, keepdims=True)
    # An infinite max would give inf - inf = nan; shifting by 0 there gives +-inf.
    m = np.where(np.isfinite(m), m, 0)
    is_max = x == m
    tail = np.sum(np.where(is_max, 0, np.exp(x - m)), axis=axis, keepdims=True)
    ties = np.sum(is_max, axis=axis, keepdims=True) - 1
    with np.errstate(divide="ignore"):  # an all -inf slice: log1p(-1) = -inf is right
        return m, np.log1p(tail + ties.astype(tail.dtype))


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over `axis`, without overflow."""
    m, l = _shifted_log_sum_exp(x, axis)
    out = m + l
    return out if keepdims else np.squeeze(out, axis=axis)[()]


def softmax(x, axis=-1):
    x = np.asarray(x)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)   # shift by the max: no overflow (by 0 if infinite)
    z = np.exp(x - m)
    return z / np.sum(z, axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    x = np.asarray(x)
    m, l = _shifted_log_sum_exp(x, axis)
    return (x - m) - l  # not x - logsumexp(x): that cancels away a tiny l


# -- losses ---------------------------------------------------------------------------
def _rows(labels):
    """Integer labels as an index array, with the row indices to pair them with."""
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must be integers, got dtype {labels.dtype}")
    return np.arange(labels.shape[0]), labels


def cross_entropy(logits, labels):
    """Mean over rows of -log_softmax(logits)[i, labels[i]]."""
    rows, labels = _rows(labels)
    return -np.mean(log_softmax(logits, axis=-1)[rows, labels])


def binary_cross_entropy_with_logits(z, y):
    """Mean of softplus(z) - y*z = -y*log(sigmoid(z)) - (1-y)*log(1-sigmoid(z)).

    Written as (1 - y)*z + log1p(exp(-z)) for z > 0 and -y*z + log1p(exp(z)) otherwise:
    two terms >= 0 for y in [0, 1], so nothing cancels. (max(z, 0) - y*z would subtract
    two numbers near 1000 for z = 1000, y = 0.9999, leaving the rounding error of y*z.)
    """
    z = np.asarray(z)
    y = np.asarray(y)
    linear = np.where(z > 0, (1 - y) * z, -y * z)
    return np.mean(linear + np.log1p(np.exp(-np.abs(z))))


def mse(pred, target):
    return np.mean(np.square(np.subtract(pred, target)))


def multiclass_hinge(scores, labels, margin=1.0):
    """CS231n SVM loss: mean over rows of sum_{j != y_i} max(0, s_j - s_{y_i} + margin)."""
    scores = np.asarray(scores)
    rows, labels = _rows(labels)
    correct = scores[rows, labels][:, None]
    margins = np.maximum(0, scores - correct + margin)
    is_label = np.arange(scores.shape[1])[None, :] == labels[:, None]
    return np.mean(np.sum(np.where(is_label, 0, margins), axis=1))


# -- linear algebra and shape ---------------------------------------------------------
def matmul(x, y):
    return np.matmul(x, y)


def dot(x, y):
    return np.dot(x, y)


def outer(x, y):
    return np.outer(x, y)


def transpose(x, axes=None):
    return np.transpose(x, axes)


def einsum(spec, *xs):
    return np.einsum(spec, *xs)


def reshape(x, shape):
    return np.reshape(x, shape)


def array(x):
    """A new array from a (nested) list of numbers and equally-shaped arrays."""
    return np.array(x)


def asarray(x):
    """x itself when it is an array, else a new one (as array)."""
    return np.asarray(x)


def concatenate(xs, axis=0):
    return np.concatenate(xs, axis=axis)


def stack(xs, axis=0):
    return np.stack(xs, axis=axis)


# -- diagonals, triangles, shape helpers and stacking: NumPy's own ----------------------
def diagonal(x, offset=0, axis1=0, axis2=1):
    return np.diagonal(x, offset, axis1, axis2)


def trace(x, offset=0, axis1=0, axis2=1):
    return np.trace(x, offset, axis1, axis2)


def diag(v, k=0):
    return np.diag(v, k)


def tril(x, k=0):
    return np.tril(x, k)


def triu(x, k=0):
    return np.triu(x, k)


def ravel(x):
    return np.ravel(x)


def squeeze(x, axis=None):
    return np.squeeze(x, axis)


def expand_dims(x, axis):
    return np.expand_dims(x, axis)


def atleast_1d(x):
    return np.atleast_1d(x)


def atleast_2d(x):
    return np.atleast_2d(x)


def atleast_3d(x):
    return np.atleast_3d(x)


def broadcast_to(x, shape):
    return np.broadcast_to(x, shape)


def vstack(tup):
    return np.vstack(tup)


def hstack(tup):
    return np.hstack(tup)


def dstack(tup):
    return np.dstack(tup)


def column_stack(tup):
    return np.column_stack(tup)


def repeat(x, repeats, axis=None):
    return np.repeat(x, repeats, axis)


def tile(x, reps):
    return np.tile(x, reps)


def split(x, indices_or_sections, axis=0):
    return tuple(np.split(x, indices_or_sections, axis))


def array_split(x, indices_or_sections, axis=0):
    return tuple(np.array_split(x, indices_or_sections, axis))


def hsplit(x, indices_or_sections):
    return tuple(np.hsplit(x, indices_or_sections))


def vsplit(x, indices_or_sections):
    return tuple(np.vsplit(x, indices_or_sections))


def dsplit(x, indices_or_sections):
    return tuple(np.dsplit(x, indices_or_sections))


def tensordot(x, y, axes=2):
    return np.tensordot(x, y, axes)


def kron(x, y):
    return np.kron(x, y)


def sort(x, axis=-1):
    """np.sort (stable: equal elements keep their order)."""
    return np.sort(x, axis=axis, kind="stable")


# -- fresh arrays (float64, as NumPy's default) ---------------------------------------
def zeros(shape):
    return np.zeros(shape)


def ones(shape):
    return np.ones(shape)


def full(shape, fill_value):
    return np.full(shape, fill_value, dtype=np.float64)


def zeros_like(a):
    return np.zeros_like(a)


def ones_like(a):
    return np.ones_like(a)


def full_like(a, fill_value):
    return np.full_like(a, fill_value)


def index_add(x, index, v):
    """A copy of x with v added at x[index], repeated indices adding up: NumPy's
    np.add.at on a copy (JAX's x.at[index].add(v), PyTorch's index_add along axis 0)."""
    out = np.array(x, dtype=np.float64)
    np.add.at(out, index, v)
    return out


# -- layers ---------------------------------------------------------------------------
def _normalise(x, gamma, beta, eps, axes, channel_shape):
    mu = np.mean(x, axis=axes, keepdims=True)
    variance = np.var(x, axis=axes, keepdims=True)  # biased, as in training-mode BatchNorm
    xhat = (x - mu) / np.sqrt(variance + eps)
    return xhat * np.reshape(gamma, channel_shape) + np.reshape(beta, channel_shape)


def batch_norm(x, gamma, beta, eps=1e-5):
    """Batch statistics over every axis but axis 1 (the channels) of (N, C[, H, W])."""
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm expects (N, C) or (N, C, H, W) input, got {x.shape}")
    axes = (0,) + tuple(range(2, x.ndim))
    channel_shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    return _normalise(x, gamma, beta, eps, axes, channel_shape)


def layer_norm(x, gamma, beta, eps=1e-5):
    """Statistics over the last axis; gamma and beta have the last axis' length."""
    x = np.asarray(x)
    return _normalise(x, gamma, beta, eps, -1, (x.shape[-1],))


def dropout(x, mask, p):
    """Inverted dropout: kept units are scaled by 1/(1-p) so the expectation is unchanged."""
    return np.multiply(x, mask) / (1 - p)


def _window(x, p, q, out_hw, stride):
    """x[..., sh*i + p, sw*j + q] for all output positions (i, j)."""
    (oh, ow), (sh, sw) = out_hw, stride
    return x[:, :, p:p + sh * (oh - 1) + 1:sh, q:q + sw * (ow - 1) + 1:sw]


def _windows(x, kernel, stride, dilation, pads, fill, what):
    """The padded input and the number of windows along H and W."""
    (top, bottom), (left, right) = pads
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=fill)
    out_hw = tuple(_wo.window_count(n, k, s, d, what) for n, k, s, d
                   in zip(xp.shape[2:], kernel, stride, dilation))
    return xp, out_hw


def _options(fn, *args):
    try:
        return fn(*args)
    except _wo.OptionError as exc:     # the eager run raises as NumPy would: a ValueError
        raise ValueError(exc.message) from None


def conv2d(x, w, stride=1, padding=0, dilation=1, groups=1):
    """PyTorch's conv2d without bias: out[n, f, i, j] = sum over c, p, q of
    xpad[n, g C' + c, sh i + dh p, sw j + dw q] w[f, c, p, q], g the group of f."""
    x, w = np.asarray(x), np.asarray(w)
    if x.ndim != 4 or w.ndim != 4 or x.shape[1] != w.shape[1] * groups \
            or w.shape[0] % groups:
        raise ValueError(f"conv2d expects x (N, C, H, W) and w (F, C / groups, KH, KW) "
                         f"with groups={groups} dividing C and F, got {x.shape} and {w.shape}")
    kernel = w.shape[2:]
    stride, dilation, pads = _options(_wo.conv_options, stride, padding, dilation, kernel)
    xp, out_hw = _options(_windows, x, kernel, stride, dilation, pads, 0.0, "conv2d")
    out = np.zeros((x.shape[0], w.shape[0]) + out_hw, dtype=np.result_type(x, w))
    cg, fg = w.shape[1], w.shape[0] // groups
    # One kernel tap and one group at a time: a strided slice of the input times w's tap.
    for g in range(groups):
        xs, ws = xp[:, g * cg:(g + 1) * cg], w[g * fg:(g + 1) * fg]
        for p in range(kernel[0]):
            for q in range(kernel[1]):
                tap = _window(xs, p * dilation[0], q * dilation[1], out_hw, stride)
                out[:, g * fg:(g + 1) * fg] += np.einsum("nchw,fc->nfhw", tap, ws[:, :, p, q])
    return out


def _pool(x, k, stride, padding, dilation, combine, fill, fname):
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"pooling expects x of shape (N, C, H, W), got {x.shape}")
    kernel, stride, dilation, pads = _options(_wo.pool_options, k, stride, padding,
                                              dilation, fname)
    xp, out_hw = _options(_windows, x, kernel, stride, dilation, pads, fill, fname)
    out = None
    for p in range(kernel[0]):
        for q in range(kernel[1]):
            tap = _window(xp, p * dilation[0], q * dilation[1], out_hw, stride)
            out = tap.copy() if out is None else combine(out, tap)  # never a view of x
    return out, kernel


def max_pool2d(x, k, stride=None, padding=0, dilation=1):
    """Max over windows of H and W (k and stride an int or (h, w); stride defaults to k);
    padding is -inf, at most half the kernel, as in PyTorch."""
    return _pool(x, k, stride, padding, dilation, np.maximum, -np.inf, "max_pool2d")[0]


def avg_pool2d(x, k, stride=None, padding=0):
    """Mean over windows of H and W (k and stride an int or (h, w); stride defaults to k);
    padded zeros count in the mean (PyTorch's default count_include_pad=True)."""
    pooled, (kh, kw) = _pool(x, k, stride, padding, 1, np.add, 0.0, "avg_pool2d")
    return pooled / (kh * kw)
