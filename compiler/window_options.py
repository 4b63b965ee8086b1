"""The options of conv2d and the pools, read the way PyTorch reads them.

NumPy only (no SymPy): the compiler (compiler/windows.py) and the eager reference
(adc.lang) both read stride, padding and dilation here, so they cannot disagree.
"""
from __future__ import annotations


class OptionError(ValueError):
    def __init__(self, message, hint=""):
        super().__init__(message)
        self.message, self.hint = message, hint


def whole(x, what) -> int:
    if isinstance(x, bool) or not isinstance(x, int):
        raise OptionError(f"{what} must be a compile-time int, got {x!r}")
    return x


def pair(v, what, least=1) -> tuple:
    """(h, w) from an int (both axes) or a pair of ints."""
    items = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if len(items) != 2:
        raise OptionError(f"{what} takes an int or a pair of ints (H, W), got {v!r}")
    out = tuple(whole(x, what) for x in items)
    if min(out) < least:
        raise OptionError(f"{what} must be at least {least}, got {v!r}")
    return out


def padding(pad, kernel, dilation, stride) -> tuple:
    """((top, bottom), (left, right)) from an int, (ph, pw), ((t, b), (l, r)), "valid" or
    "same" (PyTorch's: the extra pad of an even kernel goes to the bottom and right)."""
    if isinstance(pad, str):
        if pad == "valid":
            return (0, 0), (0, 0)
        if pad != "same":
            raise OptionError(f"padding={pad!r}: the strings are 'valid' and 'same'")
        if tuple(stride) != (1, 1):
            raise OptionError("padding='same' needs stride 1 (as in PyTorch)",
                              "give the padding as numbers for a strided convolution")
        totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
        return tuple((t // 2, t - t // 2) for t in totals)
    if isinstance(pad, (tuple, list)) and len(pad) == 2 \
            and all(isinstance(p, (tuple, list)) for p in pad):
        return tuple(pair(p, "padding", least=0) for p in pad)
    return tuple((p, p) for p in pair(pad, "padding", least=0))


def pool_padding(pad, kernel, fname) -> tuple:
    """Pools pad both sides alike, at most half the kernel (every window holds an element)."""
    pads = pair(pad, "padding", least=0)
    if any(2 * p > k for p, k in zip(pads, kernel)):
        raise OptionError(f"{fname}: padding {pad!r} is more than half the kernel {kernel}",
                          "PyTorch's limit: every window must hold an element of x")
    return tuple((p, p) for p in pads)


def conv_options(stride, pad, dilation, kernel) -> tuple:
    """conv2d's (stride, dilation, ((top, bottom), (left, right)))."""
    stride, dilation = pair(stride, "stride"), pair(dilation, "dilation")
    return stride, dilation, padding(pad, kernel, dilation, stride)


def pool_options(k, stride, pad, dilation, fname) -> tuple:
    """A pool's (kernel, stride, dilation, pads); the stride defaults to the kernel."""
    kernel = pair(k, "k")
    stride = kernel if stride is None else pair(stride, "stride")
    return kernel, stride, pair(dilation, "dilation"), pool_padding(pad, kernel, fname)


def window_count(n: int, k: int, stride: int, dilation: int, what: str) -> int:
    """How many windows fit along an axis of length n (the padded length)."""
    reach = dilation * (k - 1) + 1
    if n < reach:
        raise OptionError(f"{what}: a window reaching {reach} does not fit in an axis of "
                          f"length {n}", "use a smaller kernel or dilation, or pad")
    return (n - reach) // stride + 1
