"""Convolution and pooling over H and W of NCHW tensors, with PyTorch's options.

A window is index arithmetic, never elements: output (i, j) reads the padded input at
(stride_h * i + dilation_h * p, stride_w * j + dilation_w * q) for kernel taps (p, q).
Padding is a buffer the input is written into (zeros for convolution and average
pooling, -inf for max pooling, as PyTorch pads). Groups are one reduction statement per
group, each writing its own block of output channels.
"""
from __future__ import annotations

import sympy as sp

from .errors import Located
from .library import _const_int, _float_operand
from . import window_options as opts
from .values import Value, elementwise, same_size, size, to_expr


# -- the options (window_options reads them for the eager run too) -------------------
def _options(fn, *args):
    try:
        return fn(*args)
    except opts.OptionError as exc:
        raise Located(exc.message, exc.hint) from None


def _window_out(n, k, stride, dilation, what):
    """floor((n - dilation (k - 1) - 1) / stride) + 1 windows along an axis of length n."""
    n = size(n)
    if n.is_Integer:
        return sp.Integer(_options(opts.window_count, int(n), k, stride, dilation, what))
    return sp.floor((n - dilation * (k - 1) - 1) / stride) + 1


def _kernel_size(w: Value):
    kh, kw = w.shape[2], w.shape[3]
    if not (kh.is_Integer and kw.is_Integer):
        raise Located("conv2d: kernel sizes must be compile-time ints")
    return int(kh), int(kw)


# -- padding ------------------------------------------------------------------------------
def _pad(b, x: Value, pads, fill=0) -> Value:
    """x written into the inside of a buffer whose border holds `fill`."""
    (top, bottom), (left, right) = pads
    if not (top or bottom or left or right):
        return x if b.is_single_access(x) else b.materialize(x, "operand")
    n, c, h, w = x.shape
    shape = (n, c, h + top + bottom, w + left + right)
    out = b.add_tensor("padded", shape, zero_init=True)
    if fill:
        _fill_border(b, out, shape, pads, fill)
    loops = b.loop_symbols(x.shape)
    idx = tuple(s for s, _ in loops)
    target = idx[:2] + (idx[2] + top, idx[3] + left)
    b.emit(target=out.name, target_index=target, loops=loops, body=to_expr(x.build(idx)))
    return b.view(out)


def _fill_border(b, out, shape, pads, fill):
    """Four disjoint boxes: the rows above and below, then the columns beside x."""
    (top, bottom), (left, right) = pads
    n, c, hp, wp = shape
    inner = hp - top - bottom
    boxes = [(0, top, 0, wp, top), (hp - bottom, bottom, 0, wp, bottom),
             (top, inner, 0, left, left), (top, inner, wp - right, right, right)]
    for row, rows, col, cols, present in boxes:
        if not present:
            continue
        loops = b.loop_symbols((n, c, rows, cols))
        bi, ci, i, j = (s for s, _ in loops)
        b.emit(target=out.name, target_index=(bi, ci, i + row, j + col), loops=loops,
               body=sp.sympify(fill))


# -- convolution ----------------------------------------------------------------------------
def _groups(x: Value, w: Value, groups):
    groups = _const_int(groups, "groups")
    c, f, cg = size(x.shape[1]), size(w.shape[0]), size(w.shape[1])
    if groups < 1:
        raise Located(f"groups must be at least 1, got {groups}")
    if groups == 1:
        if not same_size(c, cg):
            raise Located(f"conv2d: x has {c} channels but w expects {cg}")
        return 1, c, f
    if not (c.is_Integer and f.is_Integer):
        raise Located("conv2d with groups needs compile-time channel counts, got "
                      f"{c} input and {f} output channels")
    if int(c) % groups or int(f) % groups:
        raise Located(f"conv2d: groups={groups} must divide the {c} input and {f} output "
                      "channels")
    if int(cg) * groups != int(c):
        raise Located(f"conv2d: with groups={groups}, w must have {int(c) // groups} input "
                      f"channels (C / groups), got {cg}")
    return groups, cg, sp.Integer(int(f) // groups)


def conv2d(b, x, w, stride=1, padding=0, dilation=1, groups=1):
    """out[n, f, i, j] = sum_{c, p, q} xpad[n, g C' + c, sh i + dh p, sw j + dw q] w[f, c, p, q]
    with g = f // (F / groups) the group of output channel f (PyTorch's conv2d, no bias)."""
    x, w = _float_operand(x, "conv2d"), _float_operand(w, "conv2d")
    if x.rank != 4 or w.rank != 4:
        raise Located("conv2d expects x of shape (N, C, H, W) and w of shape "
                      "(F, C / groups, KH, KW)")
    kernel = _kernel_size(w)
    stride, dilation, pads = _options(opts.conv_options, stride, padding, dilation, kernel)
    groups, cg, fg = _groups(x, w, groups)
    xp = _pad(b, x, pads)
    n, _, hp, wp = xp.shape
    oh = _window_out(hp, kernel[0], stride[0], dilation[0], "conv2d")
    ow = _window_out(wp, kernel[1], stride[1], dilation[1], "conv2d")
    out = b.add_tensor("conv", (n, w.shape[0], oh, ow), zero_init=groups > 1)
    (sh, sw), (dh, dw) = stride, dilation
    for g in range(groups):
        loops = b.loop_symbols((n, fg, oh, ow))
        rloops = b.loop_symbols((cg, kernel[0], kernel[1]), reduce=True)
        (bi, fi, yi, xi), (ci, p, q) = (s for s, _ in loops), (s for s, _ in rloops)
        f = fi + g * fg
        body = xp.build((bi, ci + g * cg, sh * yi + dh * p, sw * xi + dw * q)) \
            * w.build((f, ci, p, q))
        b.emit(target=out.name, target_index=(bi, f, yi, xi), loops=loops, body=body,
               reduce="sum", rloops=rloops)
    return b.view(out)


# -- pooling --------------------------------------------------------------------------------
def _pool(b, x, k, stride, padding, dilation, op, fname):
    x = _float_operand(x, fname)
    if x.rank != 4:
        raise Located(f"{fname} expects x of shape (N, C, H, W)")
    kernel, stride, dilation, pads = _options(opts.pool_options, k, stride, padding,
                                              dilation, fname)
    xp = _pad(b, x, pads, -sp.oo if op == "max" else 0)
    n, c, h, w = xp.shape
    oh = _window_out(h, kernel[0], stride[0], dilation[0], fname)
    ow = _window_out(w, kernel[1], stride[1], dilation[1], fname)
    (sh, sw), (dh, dw) = stride, dilation

    def build(idx):
        bi, ci, yi, xi, p, q = idx
        return xp.build((bi, ci, sh * yi + dh * p, sw * xi + dw * q))
    window = Value((n, c, oh, ow, sp.Integer(kernel[0]), sp.Integer(kernel[1])), "float",
                   build)
    return b.reduce(window, [4, 5], op, False, "pool"), kernel


def max_pool2d(b, x, k, stride=None, padding=0, dilation=1):
    """Max over windows of H and W; the padding is -inf (it never wins), as in PyTorch."""
    return _pool(b, x, k, stride, padding, dilation, "max", "max_pool2d")[0]


def avg_pool2d(b, x, k, stride=None, padding=0):
    """Mean over windows of H and W; padded zeros count (PyTorch's count_include_pad)."""
    pooled, (kh, kw) = _pool(b, x, k, stride, padding, 1, "sum", "avg_pool2d")
    return elementwise(lambda s: s / (kh * kw), pooled)


WINDOW_FUNCTIONS = {"conv2d": conv2d, "max_pool2d": max_pool2d, "avg_pool2d": avg_pool2d}
