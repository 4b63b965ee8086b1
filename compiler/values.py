"""Lazy tensor values and the builder that turns them into IR statements.

Within one source statement, elementwise operations compose lazily: a `Value` is a shape
plus a function from output loop indices to a scalar SymPy body. A value becomes a stored
tensor (an IR statement) when it is assigned to a name, returned, reduced, or used as an
operand whose elements would otherwise be recomputed (a contraction's operand).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import sympy as sp

from .errors import Located
from .ir import Origin, Stmt, Tensor, access
from .names import Namer, loop_symbols

def size(x) -> sp.Expr:
    """A size (int, SymPy expression) as a SymPy expression."""
    return sp.sympify(x)


def same_size(a, b) -> bool:
    return sp.expand(size(a) - size(b)) == 0


def to_expr(x) -> sp.Expr:
    """A Python number or SymPy expression as a SymPy scalar."""
    if isinstance(x, bool):
        return sp.true if x else sp.false
    if isinstance(x, int):
        if not -2 ** 63 <= x < 2 ** 63:
            raise Located(f"the integer {x if abs(x) < 10 ** 30 else '(%d digits)' % len(str(abs(x)))}"
                          " does not fit in 64 bits, which adc computes with",
                          "use a float constant, e.g. 1e30")
        return sp.Integer(x)
    if isinstance(x, float):
        return sp.Float(x)
    return sp.sympify(x)



class ListLiteral(tuple):
    """A list written in the model (`[0, 2, 2]`): a tuple to every function, except where
    NumPy reads a list differently from a tuple (as an index, a list is an index array)."""


@dataclass
class Value:
    """A tensor expression: `shape`, element `kind` and `build(index) -> scalar body`."""

    shape: tuple
    kind: str                       # 'float' | 'int' | 'bool'
    build: Callable
    tensor: str | None = None       # the stored tensor this value reads, if plain
    constant: tuple | None = None   # the ints of a literal index list ([0, 2, -1])
    number: bool = False            # a Python int/float in the eager run (a scalar argument
    #                                 and arithmetic of such): it has no [...], .T, .shape

    @property
    def rank(self) -> int:
        return len(self.shape)


def scalar(expr, kind="float") -> Value:
    """A rank-0 value from a SymPy expression or number."""
    e = to_expr(expr)
    return Value((), kind, lambda idx: e)


def as_value(x) -> Value:
    """Lift numbers and size expressions to rank-0 values."""
    if isinstance(x, Value):
        return x
    if isinstance(x, bool) or isinstance(x, sp.Rel) or \
            (isinstance(x, sp.logic.boolalg.Boolean) and not isinstance(x, sp.Expr)):
        return scalar(x, "bool")
    if isinstance(x, int) or (isinstance(x, sp.Expr) and x.is_integer):
        return scalar(x, "int")
    if isinstance(x, (float, sp.Expr)):
        return scalar(x, "float")
    if isinstance(x, tuple):
        raise Located("expected a tensor or a number, got "
                      f"{'list' if isinstance(x, ListLiteral) else 'tuple'}",
                      "make an array of it first: np.array([...]) or stack([...])")
    raise Located(f"expected a tensor or a number, got {type(x).__name__}")


def broadcast_shapes(*shapes) -> tuple:
    """NumPy broadcasting of shapes whose sizes may be symbolic."""
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for d in range(rank):
        sizes = [s[len(s) - rank + d] for s in shapes if len(s) - rank + d >= 0]
        dim = sp.Integer(1)
        for n in sizes:
            n = size(n)
            if n == 1:
                continue
            if dim == 1:
                dim = n
            elif not same_size(dim, n):
                shown = " and ".join(str(tuple(s)) for s in shapes)
                raise Located(f"shapes {shown} do not broadcast (axis {d}: {dim} vs {n})",
                              "make the sizes equal, or 1 on the axis to broadcast")
        out.append(dim)
    return tuple(out)


def broadcast_index(shape, out_shape, idx) -> tuple:
    """The operand index that NumPy broadcasting reads for output index `idx`."""
    off = len(out_shape) - len(shape)
    return tuple(sp.Integer(0) if (size(n) == 1 and size(out_shape[off + d]) != 1)
                 else idx[off + d] for d, n in enumerate(shape))


def elementwise(fn, *values, kind="float") -> Value:
    """Apply a scalar function to broadcast values, lazily."""
    vals = [as_value(v) for v in values]
    shape = broadcast_shapes(*(v.shape for v in vals))

    def build(idx):
        return fn(*(v.build(broadcast_index(v.shape, shape, idx)) for v in vals))
    return Value(shape, kind, build)


class Builder:
    """Collects tensors and statements while the frontend lowers one entry point."""

    def __init__(self, reserved=()):
        self.tensors: dict[str, Tensor] = {}
        self.stmts: list[Stmt] = []
        self.origin: Origin | None = None
        self.index_bounds: list = []
        self._avoid = set(reserved)    # loop indices skip the file's own names
        self._names = Namer()
        self.scan_loops = True         # lower loops as scans where they can be (loops.py)
        self.scans = 0                 # loops lowered as scans so far
        self.scanned_steps = 0         # and their steps in all

    # -- names and loops -------------------------------------------------
    def snapshot(self):
        """What lowering adds to, to undo a loop's attempt at a scan (`restore`)."""
        return (len(self.stmts), dict(self.tensors), len(self.index_bounds), self.origin,
                copy.deepcopy(self._names))

    def restore(self, state):
        n_stmts, tensors, n_bounds, self.origin, self._names = state
        del self.stmts[n_stmts:]
        self.tensors.clear()       # in place: the alias tracker holds this dict
        self.tensors.update(tensors)
        del self.index_bounds[n_bounds:]

    def fresh_name(self, hint: str) -> str:
        """A tensor name based on `hint`, unique among this entry point's tensors."""
        return self._names.fresh(hint)

    def loop_symbols(self, extents, reduce=False) -> tuple:
        syms = loop_symbols(len(extents), reduced=reduce, avoid=self._avoid)
        return tuple((s, size(ext)) for s, ext in zip(syms, extents))

    # -- tensors -----------------------------------------------------------
    def add_tensor(self, name, shape, kind="float", role="temp", zero_init=False) -> Tensor:
        t = Tensor(self.fresh_name(name), tuple(size(s) for s in shape), kind, role, zero_init)
        self.tensors[t.name] = t
        return t

    def view(self, tensor: Tensor) -> Value:
        kind = "int" if tensor.kind == "int" else "float"
        return Value(tensor.shape, kind, lambda idx: access(tensor, idx), tensor.name)

    def emit(self, **fields) -> None:
        self.stmts.append(Stmt(origin=self.origin, **fields))

    def materialize(self, value: Value, hint: str, force=False) -> Value:
        """Store a value in a new tensor (unless it already is one)."""
        value = as_value(value)
        if value.tensor and not force:
            return value
        if value.kind == "bool":
            raise Located("a comparison can only be used as the condition of where(cond, a, b)")
        t = self.add_tensor(hint, value.shape, "int" if value.kind == "int" else "float")
        loops = self.loop_symbols(value.shape)
        idx = tuple(s for s, _ in loops)
        self.emit(target=t.name, target_index=idx if t.rank else (sp.Integer(0),),
                  loops=loops, body=to_expr(value.build(idx)))
        return self.view(t)

    def is_single_access(self, value: Value) -> bool:
        loops = self.loop_symbols(value.shape)
        body = value.build(tuple(s for s, _ in loops))
        return isinstance(body, sp.Indexed)

    def reduce(self, value: Value, axes, op="sum", keepdims=False, hint="sum",
               no_grad=False, with_arg=False):
        """`op` over `axes` of a value: one statement, with an argmax buffer for max/min.

        With `with_arg`, returns (result, flat index of the first extremal element).
        """
        value = as_value(value)
        axes = sorted(set(axes))
        kept = [d for d in range(value.rank) if d not in axes]
        loops = self.loop_symbols([value.shape[d] for d in kept])
        rloops = self.loop_symbols([value.shape[d] for d in axes], reduce=True)
        full = [None] * value.rank
        for d, (s, _) in zip(kept, loops):
            full[d] = s
        for d, (s, _) in zip(axes, rloops):
            full[d] = s
        out = self.add_tensor(hint, [value.shape[d] for d in kept])
        argmax = None
        if op in ("max", "min") and not no_grad and rloops:
            argmax = self.add_tensor(f"{out.name}_arg", out.shape, "int", "argmax").name
        idx = tuple(s for s, _ in loops)
        self.emit(target=out.name, target_index=idx if idx else (sp.Integer(0),), loops=loops,
                  body=to_expr(value.build(tuple(full))), reduce=op if rloops else "none",
                  rloops=rloops, argmax=argmax, no_grad=no_grad)
        result = self.view(out)
        arg = self.view(self.tensors[argmax]) if argmax else None
        if keepdims:
            result = expand_dims(result, axes)
            arg = expand_dims(arg, axes) if arg else None
        return (result, arg) if with_arg else result


def expand_dims(value: Value, axes) -> Value:
    """Insert size-1 axes at the given positions of the result."""
    rank = value.rank + len(axes)
    shape, src = [], []
    for d in range(rank):
        if d in axes:
            shape.append(sp.Integer(1))
        else:
            src.append(d)
            shape.append(value.shape[len(src) - 1])
    return Value(tuple(shape), value.kind,
                 lambda idx: value.build(tuple(idx[d] for d in src)), None)
