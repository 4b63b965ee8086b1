"""The expression half of progen: typed expressions of a requested shape.

`Expressions` is a mixin of `progen.Gen`: each method returns an `Expr` (source text,
shape, value facts) of exactly the shape asked for, creating arguments (`new_arg`,
`index_arg`, `hyper`) and helper functions as it needs them. Leaves are names, slices,
transposes and gathers of them; inner nodes are the language's elementwise functions,
operators with broadcasting, reductions, normalisers, matmul / dot / einsum, shape
functions and calls of helpers.
"""
from __future__ import annotations

import os
from dataclasses import dataclass


# -- sizes and shapes ---------------------------------------------------------------------
@dataclass(frozen=True)
class Dim:
    """One axis size: how it is spelled in the source, what it equals, its value at run time."""

    text: str          # "N", "D", "4", "N - 1"
    key: str           # equal keys are the same size to the compiler: "N", "4", "N-1"
    value: int         # the size the harness binds
    symbolic: bool = False


def lit(n: int) -> Dim:
    return Dim(str(n), str(n), n)


ONE = lit(1)


def shape_text(shape) -> str:
    return "[" + ", ".join(d.text for d in shape) + "]" if shape else "[()]"


def same(a, b) -> bool:
    return len(a) == len(b) and all(x.key == y.key for x, y in zip(a, b))


def broadcasts_to(small, big) -> bool:
    """NumPy broadcasting of `small` against `big` gives `big`."""
    if len(small) > len(big):
        return False
    for s, b in zip(reversed(small), reversed(big)):
        if s.key != b.key and s.key != "1":
            return False
    return True


@dataclass
class Expr:
    """Source text of an expression with its shape and value facts."""

    text: str
    shape: tuple
    bounded: bool = False   # |value| <= ~4
    positive: bool = False  # value >= ~0.05
    atom: bool = False      # a name or a literal: needs no parentheses


def paren(e: Expr) -> str:
    return e.text if e.atom else f"({e.text})"




FLOATS = ["0.5", "1.5", "2.0", "0.3", "-0.7", "1.3", "0.25", "3.0", "-1.2", "0.1"]


# Constructs a run can leave out (ADC_FUZZ_AVOID=tricky,mixed,hyperkw), so that a bug
# already known and reported does not hide the others behind it:
#   tricky   names the compiler uses itself (d_x, acc, value, cotangent, np, ...)
#   mixed    mixed integer / slice / gather indexing x[0, :, idx]
#   hyperkw  runtime floats in batch_norm / layer_norm eps= and multiclass_hinge margin=
#   slice0   slices that start at 0 but do not cover the axis (x[:3], x[::2], x[:-1])
AVOID = {w.strip() for w in os.environ.get("ADC_FUZZ_AVOID", "").split(",") if w.strip()}
# Constructs adc rejects on purpose today (with a located error), written only on request
# (ADC_FUZZ_WANT=reversed): reversed  x[::-1]
WANT = {w.strip() for w in os.environ.get("ADC_FUZZ_WANT", "").split(",") if w.strip()}


class Expressions:
    """Expression makers (a mixin of progen.Gen, which holds the state they use)."""

    # -- leaves -------------------------------------------------------------------------
    def leaf(self, shape) -> Expr:
        """A name, a slice / index / transpose / gather of one, or a new argument."""
        r = self.rng.random()
        if not shape and r < 0.15:
            return Expr(self.pick(FLOATS), (), True, False, atom=True)
        direct = [e for _, e in self.scope if same(e.shape, shape)]
        if direct and r < 0.45:
            return self.pick(direct)
        if r < 0.75:
            for _ in range(4):
                name, e = self.pick(self.scope) if self.scope else (None, None)
                got = e and self.slice_of(e, shape)
                if got:
                    return got
        if r < 0.82 and len(shape) == 2 and self.scope:
            flipped = (shape[1], shape[0])
            for name, e in self.scope:
                if same(e.shape, flipped):
                    self.features.add("transpose-leaf")
                    return Expr(f"{paren(e)}.T", shape, e.bounded, e.positive, atom=True)
        if r < 0.88 and shape:
            got = self.gather(shape)
            if got:
                return got
        return self.fresh_leaf(shape)

    def fresh_leaf(self, shape) -> Expr:
        """A new argument: of the shape, or larger so that a slice of it has the shape
        (always for an N - 1 axis, which no annotation can spell)."""
        minus = any(d.key.endswith("-1") for d in shape)
        if minus or self.chance(0.45) and any(not d.symbolic for d in shape):
            big = tuple(self.base_dim(d) if d.symbolic else
                        lit(d.value + self.rng.randint(0, 3)) for d in shape)
            drop = None
            if self.chance(0.2):
                big = (lit(self.rng.randint(2, 3)),) + big      # an extra axis to index
                drop = 0
            arg = self.new_arg(big)
            got = self.slice_of(self.arg_expr(arg), shape, drop)
            if got:
                return got
            if not minus:
                return self.arg_expr(self.new_arg(shape))
            return self.slice_of(self.arg_expr(self.new_arg(
                tuple(self.base_dim(d) for d in shape))), shape, None) or \
                self.fail_leaf(shape)
        return self.arg_expr(self.new_arg(shape))

    def fail_leaf(self, shape):
        raise RuntimeError(f"cannot make a leaf of shape {shape}")

    def slice_of(self, e: Expr, shape, drop="any"):
        """`e[...]` with exactly `shape` (prefix, suffix, strided, int index), or None."""
        extra = len(e.shape) - len(shape)
        if extra < 0 or extra > 1 or not e.text.isidentifier():
            return None
        if drop == "any":
            drop = self.rng.randrange(len(e.shape)) if extra else None
        elif drop is None and extra:
            return None
        items, ti = [], 0
        for ax, d in enumerate(e.shape):
            if ax == drop:
                if d.symbolic and not self.loop_var:
                    return None
                if self.loop_var and self.loop_var[1] <= d.value and self.chance(0.7):
                    items.append(self.loop_var[0])
                    self.features.add("loop-index")
                else:
                    k = self.rng.randrange(d.value) if not d.symbolic else 0
                    items.append(str(k - d.value) if self.chance(0.2) else str(k))
                continue
            t = shape[ti]
            ti += 1
            item = self.slice_axis(d, t, f"{e.text}.shape[{ax}]")
            if item is None:
                return None
            items.append(item)
        if all(i == ":" for i in items):
            return e if same(e.shape, shape) else None
        while items and items[-1] == ":" and self.chance(0.6):
            items.pop()
        self.features.add("slice")
        return Expr(f"{e.text}[{', '.join(items)}]", shape, e.bounded, e.positive, atom=True)

    def slice_axis(self, d: Dim, t: Dim, size_text: str):
        """A slice of an axis of size d whose length is t, or None. (A symbolic size is
        spelled x.shape[k] in a slice: the eager run cannot compute with dim("N").)"""
        if d.key == t.key:
            if d.symbolic or self.chance(0.6):
                return ":"
        if t.key == d.key + "-1":
            if "slice0" in AVOID:
                return self.pick(["1:", f"1:{size_text}"])
            return self.pick(["1:", ":-1", f":{size_text} - 1", f"1:{size_text}"])
        if d.symbolic or t.symbolic or t.value > d.value:
            return None
        n, m = d.value, t.value
        forms = [f":{m}", f"{n - m}:", f"-{m}:", f"{n - m}:{n}", f"0:{m}"]
        if m < n:
            a = self.rng.randint(0, n - m)
            forms += [f"{a}:{a + m}", f":{m - n}",
                      f"{a}:{a - n + m}" if a - n + m < 0 else f"{a}:"]
        for s in (2, 3):
            for a in range(0, n):
                if len(range(a, n, s)) == m:
                    forms.append(f"{a}::{s}" if a else f"::{s}")
        if m == n and self.chance(0.1) and "reversed" in WANT:
            forms = ["::-1"]      # rejected by adc today (a located error), so opt-in
            self.features.add("slice-reversed")
        forms = [f for f in forms if len(range(n)[self._py_slice(f)]) == m]
        if "slice0" in AVOID and m < n:
            forms = [f for f in forms if range(n)[self._py_slice(f)][0] != 0]
        if not forms:
            return None
        return self.pick(forms)

    @staticmethod
    def _py_slice(text: str) -> slice:
        parts = [int(p) if p.strip() else None for p in text.split(":")]
        return slice(*parts)

    def gather(self, shape):
        """x[idx] (rows picked by an Index argument) or x[arange(N), y] (one per row)."""
        if any(d.key.endswith("-1") for d in shape):
            return None
        if len(shape) == 1 and self.chance(0.4):
            c = self.dim(allow_sym=False)
            src = self.pick_or_new((shape[0], c))
            y = self.index_arg((shape[0],), c.value)
            self.features.add("gather-arange")
            n = f"{src.text}.shape[0]" if shape[0].symbolic or self.chance(0.3) and \
                src.text.isidentifier() else shape[0].text
            return Expr(f"{src.text}[arange({n}), {y.name}]", shape, src.bounded,
                        src.positive, atom=True)
        rows = self.dim(allow_sym=False)
        if self.chance(0.12) and len(shape) == 2 and "mixed" not in AVOID:
            # mixed integer / slice / gather indexing: NumPy puts the advanced axes
            # first, so x[0, :, idx] has shape idx.shape + (x.shape[1],)
            src = self.pick_or_new((lit(2), shape[1], rows))
            idx = self.index_arg((shape[0],), rows.value)
            self.features.add("gather-mixed")
            return Expr(f"{src.text}[{self.rng.randint(0, 1)}, :, {idx.name}]", shape,
                        src.bounded, src.positive, atom=True)
        if self.chance(0.15) and len(shape) == 2:
            # a gather on the second axis: x[:, idx]
            src = self.pick_or_new((shape[0], rows))
            idx = self.index_arg((shape[1],), rows.value)
            self.features.add("gather-axis1")
            return Expr(f"{src.text}[:, {idx.name}]", shape, src.bounded, src.positive,
                        atom=True)
        if self.chance(0.12) and len(shape) >= 2:
            # a 2-D index array: x[idx] with idx (a, b) has shape (a, b) + x.shape[1:]
            src = self.pick_or_new((rows,) + tuple(shape[2:]))
            idx = self.index_arg((shape[0], shape[1]), rows.value)
            self.features.add("gather-2d-index")
            return Expr(f"{src.text}[{idx.name}]", shape, src.bounded, src.positive,
                        atom=True)
        if self.chance(0.12) and len(shape) == 2 and not shape[1].symbolic:
            # a gather and a slice: x[idx, 1:]
            src = self.pick_or_new((rows, lit(shape[1].value + 1)))
            idx = self.index_arg((shape[0],), rows.value)
            self.features.add("gather-slice")
            return Expr(f"{src.text}[{idx.name}, 1:]", shape, src.bounded, src.positive,
                        atom=True)
        src = self.pick_or_new((rows,) + tuple(shape[1:]))
        idx = self.index_arg((shape[0],), rows.value)
        self.features.add("gather")
        form = self.pick(["[{}]", "[{}]", "[{}, ...]"]) if len(shape) > 1 else "[{}]"
        return Expr(f"{src.text}{form.format(idx.name)}", shape, src.bounded, src.positive,
                    atom=True)

    def pick_or_new(self, shape) -> Expr:
        """A visible name of exactly `shape`, or a new argument (or a slice of one)."""
        names = [e for _, e in self.scope if same(e.shape, shape) and e.text.isidentifier()]
        if names and self.chance(0.5):
            return self.pick(names)
        if any(d.key.endswith("-1") for d in shape):
            return self.fresh_leaf(shape)
        return self.arg_expr(self.new_arg(shape))

    # -- expressions --------------------------------------------------------------------
    def expr(self, shape, depth=0) -> Expr:
        """Any expression of `shape`."""
        if depth >= self.MAX_DEPTH or self.chance(0.18 + 0.2 * depth):
            return self.leaf(shape)
        makers = [(self.unary, 4), (self.binary, 5), (self.reduction, 2.5),
                  (self.helper_call, 1.2), (self.where_, 0.6), (self.normaliser, 0.8)]
        if 1 <= len(shape) <= 3:
            makers += [(self.matmul, 2.5), (self.softmax_, 0.8)]
        if len(shape) == 2:
            makers += [(self.outer_, 0.4)]
        if len(shape) in (2, 3):
            makers += [(self.transposed, 0.5)]
        if not shape:
            makers += [(self.dot_, 0.5)]
        if shape:
            makers += [(self.concat_, 0.5), (self.stack_, 0.4)]
        if shape and not shape[0].symbolic:
            makers += [(self.reshape_, 0.5)]
        if len(shape) in (1, 2):
            makers += [(self.einsum_, 0.4)]
        fn = self.rng.choices([m for m, _ in makers], [w for _, w in makers])[0]
        got = fn(shape, depth + 1)
        got = got if got is not None else self.leaf(shape)
        return self.structural(got) if got.shape and self.side.random() < 0.06 else got

    def structural(self, e: Expr) -> Expr:
        """e through a shape-preserving structural function (or a pair of them): squeeze of
        expand_dims, ravel, broadcast_to, atleast_1d, tril/triu, cumsum, vstack of its
        rows. Drawn from the side stream only."""
        shape, rank = e.shape, len(e.shape)
        kinds = ["squeeze", "cumsum", "atleast_1d"] + ["ravel"] * (rank == 1)
        kinds += ["broadcast_to"] * all(not d.symbolic for d in shape)
        kinds += ["triangle", "vstack"] * (rank == 2)
        kind = self.side.choice(kinds)
        self.features.add(kind)
        k = self.side.randrange(rank)
        if kind == "squeeze":
            return Expr(f"squeeze(expand_dims({e.text}, {k}), axis={k})", shape, e.bounded,
                        e.positive)
        if kind in ("ravel", "atleast_1d"):
            return Expr(f"{kind}({e.text})", shape, e.bounded, e.positive)
        if kind == "broadcast_to":
            target = "(" + ", ".join(d.text for d in shape) + ("," if rank == 1 else "") + ")"
            return Expr(f"broadcast_to({e.text}, {target})", shape, e.bounded, e.positive)
        if kind == "triangle":
            which, offset = self.side.choice(["tril", "triu"]), self.side.randint(-1, 1)
            return Expr(f"{which}({e.text}, {offset})", shape, e.bounded)
        if kind == "vstack":
            return Expr(f"vstack(({paren(e)}[0], {paren(e)}[1:]))", shape, e.bounded,
                        e.positive)
        return Expr(f"cumsum({e.text}, axis={k - rank if self.side.random() < 0.5 else k})",
                    shape, False, e.positive)

    def bounded(self, shape, depth) -> Expr:
        """An expression with |value| <= ~4 (safe inside exp)."""
        e = self.expr(shape, depth)
        if e.bounded:
            return e
        f = self.pick(["tanh", "sin", "cos", "sigmoid"])
        scale = self.pick(["", "0.5 * ", "2.0 * "])
        return Expr(f"{scale}{self.fn(f)}({e.text})", shape, bounded=True)

    def positive(self, shape, depth) -> Expr:
        """An expression >= ~0.05 (safe for log, sqrt, division, float powers)."""
        e = self.expr(shape, depth)
        if e.positive:
            return e
        r = self.rng.random()
        if r < 0.25:
            return Expr(f"{self.fn('exp')}({self.bounded_text(e)})", shape, False, True)
        if r < 0.45:
            return Expr(f"{self.fn('square')}({e.text}) + 0.5", shape, False, True)
        if r < 0.6:
            return Expr(f"{self.fn('softplus')}({e.text}) + 0.05", shape, False, True)
        if r < 0.75:
            return Expr(f"{paren(e)} * {paren(e)} + 0.3", shape, False, True)
        if r < 0.87:
            return Expr(f"1.5 + {self.fn('sin')}({e.text})", shape, True, True)
        return Expr(f"{self.fn('sigmoid')}({e.text}) + 0.1", shape, True, True)

    def bounded_text(self, e: Expr) -> str:
        return e.text if e.bounded else f"{self.fn('tanh')}({e.text})"

    def fn(self, name: str) -> str:
        """A language function's spelling: usually bare, sometimes np.name / math.name."""
        np_names = {"exp", "log", "log1p", "expm1", "sqrt", "square", "abs", "sin", "cos",
                    "tan", "tanh", "maximum", "minimum", "clip", "where", "sum", "mean",
                    "max", "min", "var", "dot", "outer", "transpose", "reshape",
                    "concatenate", "stack", "einsum", "arange"}
        if name in np_names and self.chance(0.08) and not self._np_taken():
            self.uses_np = True
            self.features.add("np-spelling")
            return f"np.{name}"
        return name

    # NumPy methods of the language's functions (compiler/library.py METHODS)
    METHODS = ("sum", "mean", "max", "min", "var", "transpose", "reshape", "dot", "clip")

    def call(self, spell: str, name: str, e: Expr, rest: str = "") -> str:
        """`spell(e, rest)`, or now and then NumPy's method `e.name(rest)`: only for a
        tensor e (a Python float, such as a hyper-parameter, has no methods)."""
        if e.shape and name in self.METHODS and self.chance(0.15):
            self.features.add("method")
            return f"{paren(e)}.{name}({rest})"
        return f"{spell}({e.text}{', ' + rest if rest else ''})"

    def _np_taken(self):
        return "np" in self.used_names

    def unary(self, shape, depth) -> Expr:
        """An elementwise function of one operand, in its domain."""
        kind = self.pick(["tanh", "sin", "cos", "sigmoid", "softplus", "square", "exp",
                          "log", "sqrt", "log1p", "expm1", "abs", "relu", "leaky_relu",
                          "elu", "tan", "neg", "clip", "pow_int", "pow_float", "pow_neg",
                          "scale", "softplus"])
        self.features.add(f"fn-{kind}")
        if kind in ("tanh", "sin", "cos", "sigmoid"):
            e = self.expr(shape, depth)
            return Expr(f"{self.fn(kind)}({e.text})", shape, bounded=True,
                        positive=False)
        if kind in ("softplus", "square", "abs", "relu"):
            e = self.expr(shape, depth)
            return Expr(f"{self.fn(kind)}({e.text})", shape,
                        bounded=e.bounded and kind != "square")
        if kind in ("exp", "expm1"):
            e = self.bounded(shape, depth)
            return Expr(f"{self.fn(kind)}({e.text})", shape)
        if kind in ("log", "sqrt", "log1p"):
            e = self.positive(shape, depth)
            return Expr(f"{self.fn(kind)}({e.text})", shape)
        if kind == "tan":
            e = self.bounded(shape, depth)
            return Expr(f"{self.fn('tan')}(0.3 * {paren(e)})", shape, True)
        if kind == "leaky_relu":
            e = self.expr(shape, depth)
            slope = self.number(0.01, 0.4, "slope")
            form = f"slope={slope}" if self.chance(0.7) else slope
            return Expr(f"leaky_relu({e.text}, {form})", shape, e.bounded)
        if kind == "elu":
            e = self.expr(shape, depth)
            alpha = self.number(0.5, 2.0, "alpha")
            form = f"alpha={alpha}" if self.chance(0.7) else alpha
            return Expr(f"elu({e.text}, {form})", shape, e.bounded)
        if kind == "neg":
            e = self.expr(shape, depth)
            return Expr(f"-{paren(e)}", shape, e.bounded, False)
        if kind == "clip":
            e = self.expr(shape, depth)
            lo = self.number(-1.0, -0.1, "lo")
            hi = self.number(0.2, 1.0, "hi")
            return Expr(self.call(self.fn("clip"), "clip", e, f"{lo}, {hi}"), shape, True)
        if kind == "pow_int":
            e = self.expr(shape, depth)
            n = self.pick([2, 3])
            return Expr(f"{paren(e)} ** {n}", shape, e.bounded and n == 2)
        if kind == "pow_float":
            e = self.positive(shape, depth)
            p = self.number(0.5, 2.5, "p") if self.chance(0.5) else \
                self.pick(["1.5", "0.5", "2.5", "-0.5", "-1.0"])
            if self.chance(0.2):
                self.features.add("power-fn")
                return Expr(f"power({e.text}, {p})", shape, False, False)
            return Expr(f"{paren(e)} ** {p}", shape, False, False)
        if kind == "pow_neg":
            e = self.positive(shape, depth)
            return Expr(f"{paren(e)} ** -2", shape, False, False)
        e = self.expr(shape, depth)
        r = self.rng.random()
        if r < 0.15 and shape:
            mask = self.new_arg(shape, role="Data", domain="mask")
            p = self.number(0.1, 0.5, "p")
            self.features.add("dropout")
            return Expr(f"dropout({e.text}, {mask.name}, {p})", shape)
        if r < 0.25:
            k = self.hyper("int", 1, 3, "k")
            return Expr(f"{paren(e)} * {k}", shape)
        if r < 0.4:
            h = self.hyper("float", 0.2, 1.5, "lam")
            form = self.pick([f"{h} * 2.0", f"1.0 / {h}", f"-{h}", f"{h} ** 2", f"({h} + 1)"])
            self.features.add("hyper-arith")
            return Expr(f"{form} * {paren(e)}", shape)
        if r < 0.5:
            c = self.pick(["pi", "e", "np.pi" if self.uses_np else "pi"])
            self.features.add("constant-pi-e")
            return Expr(f"{paren(e)} / {c}", shape, e.bounded)
        if r < 0.6 and shape and not shape[0].symbolic:
            # a mean written by hand with .shape
            self.features.add("shape-attr")
            if e.text.isidentifier():
                return Expr(f"{e.text} / {e.text}.shape[0]", shape, e.bounded)
        return Expr(f"{self.pick(FLOATS)} * {paren(e)}", shape, e.bounded)

    def operand_shape(self, shape):
        """A shape that broadcasts to `shape`: itself, a suffix, or with some axes 1."""
        r = self.rng.random()
        if r < 0.55 or not shape:
            return shape
        if r < 0.8:
            return shape[self.rng.randint(0, len(shape)):]
        return tuple(ONE if self.chance(0.4) else d for d in shape)

    def binary(self, shape, depth) -> Expr:
        """+ - * / maximum minimum x**y with broadcasting; never a difference of an
        expression with itself."""
        op = self.pick(["+", "-", "*", "*", "/", "maximum", "minimum", "pow"])
        self.features.add(f"op-{op}")
        sa, sb = shape, self.operand_shape(shape)
        if self.chance(0.5):
            sa, sb = sb, sa
        if op == "/":
            a, b = self.expr(sa, depth), self.positive(sb, depth)
            return Expr(f"{paren(a)} / {paren(b)}", shape)
        if op == "pow":
            a, b = self.positive(sa, depth), self.bounded(sb, depth)
            self.features.add("pow-tensor")
            return Expr(f"{paren(a)} ** {paren(b)}", shape)
        if self.chance(0.12) and op in ("+", "-", "*"):
            c = self.pick(["2", "3", "0.5", "1.5"] + ([self.hyper("float", 0.2, 2.0)]
                                                    if self.chance(0.3) else []))
            e = self.expr(shape, depth)
            self.features.add("scalar-left")
            return Expr(f"{c} {op} {paren(e)}", shape)
        if self.chance(0.05):
            e = self.bounded(shape, depth)
            self.features.add("scalar-base-pow")
            return Expr(f"{self.pick(['2', '1.5', '0.5'])} ** {paren(e)}", shape)
        a, b = self.expr(sa, depth), self.expr(sb, depth)
        if a.text == b.text:
            b = Expr(f"{self.pick(FLOATS)} * {paren(b)}", b.shape, b.bounded)
            if op in ("maximum", "minimum", "-"):
                b = Expr(f"{b.text} + 0.3", b.shape)
        if op in ("maximum", "minimum"):
            return Expr(f"{self.fn(op)}({a.text}, {b.text})", shape,
                        a.bounded and b.bounded)
        return Expr(f"{paren(a)} {op} {paren(b)}", shape,
                    a.bounded and b.bounded and op != "*" or False,
                    a.positive and b.positive and op in ("+", "*"))

    def where_(self, shape, depth) -> Expr:
        """where(cond, a, b) with a comparison of random expressions as the condition."""
        c1 = self.expr(self.operand_shape(shape), depth + 1)
        c2 = self.pick(["0.0", "0.2", "-0.3"])
        op = self.pick([">", "<", ">=", "<=", ">", "!="])
        a, b = self.expr(shape, depth), self.expr(self.operand_shape(shape), depth)
        self.features.add("where")
        return Expr(f"{self.fn('where')}({paren(c1)} {op} {c2}, {a.text}, {b.text})", shape,
                    a.bounded and b.bounded)

    def reduction(self, shape, depth) -> Expr:
        """sum/mean/max/min/logsumexp/var over new axes, or keepdims broadcast back."""
        op = self.pick(["sum", "mean", "max", "min", "logsumexp", "var"])
        self.features.add(f"reduce-{op}")
        spell = self.fn(op) if op != "logsumexp" else op
        r = self.rng.random()
        if r < 0.25:
            # a full reduction (a scalar) broadcast against an expression of the shape
            e = self.expr(self.shape(1, 2), depth)
            red = self.call(spell, op, e)
            if not shape:
                return Expr(red, (), e.bounded and op in ("mean", "max", "min"))
            other = self.expr(shape, depth)
            return Expr(f"{paren(other)} {self.pick(['*', '+', '-'])} {red}", shape)
        if r < 0.5 and shape:
            # keepdims=True broadcast back: x - max(x, axis=a, keepdims=True)
            e = self.expr(shape, depth)
            axes = sorted(self.rng.sample(range(len(shape)), self.rng.randint(1, len(shape))))
            axis = self.axis_text(axes, len(shape))
            red = self.call(spell, op, e, f"axis={axis}, keepdims=True")
            self.features.add("keepdims")
            comb = self.pick(["-", "+", "*"])
            first = e if self.chance(0.5) else self.expr(shape, depth)
            if first.text == e.text and comb == "-" and op in ("max", "min"):
                comb = "+"   # x - max(x) ties at 0 only where x is the max: smooth anyway
            return Expr(f"{paren(first)} {comb} {red}", shape)
        # reduce over 1-2 new axes inserted into the shape
        n_new = self.rng.randint(1, 2) if len(shape) < 3 else 1
        full = list(shape)
        positions = []
        for _ in range(n_new):
            pos = self.rng.randint(0, len(full))
            full.insert(pos, self.dim())
            positions = [p + (p >= pos) for p in positions] + [pos]
        e = self.expr(tuple(full), depth)
        axis = self.axis_text(sorted(positions), len(full))
        keep = ""
        if self.chance(0.3):
            keep = ", keepdims=False"
        return Expr(self.call(spell, op, e, f"axis={axis}{keep}"), shape,
                    e.bounded and op in ("mean", "max", "min"))

    def axis_text(self, axes, rank) -> str:
        """An int (maybe negative) or a tuple (any order) naming `axes`."""
        ax = [a - rank if self.chance(0.3) else a for a in axes]
        if len(ax) == 1 and self.chance(0.7):
            return str(ax[0])
        self.rng.shuffle(ax)
        if len(ax) == rank and self.chance(0.2):
            return "None"
        return "(" + ", ".join(map(str, ax)) + ("," if len(ax) == 1 else "") + ")"

    def softmax_(self, shape, depth) -> Expr:
        f = self.pick(["softmax", "log_softmax"])
        self.features.add(f)
        e = self.expr(shape, depth)
        axis = ""
        if self.chance(0.6):
            a = self.rng.randrange(len(shape))
            axis = f", axis={a - len(shape) if self.chance(0.4) else a}"
        return Expr(f"{f}({e.text}{axis})", shape, f == "softmax")

    def normaliser(self, shape, depth) -> Expr:
        """layer_norm / batch_norm with Param gamma, beta and a (runtime) eps."""
        if not shape or len(shape) > 2:
            return None
        kind = "layer_norm" if len(shape) == 1 or self.chance(0.5) else "batch_norm"
        if kind == "batch_norm" and shape[0].value < 3:
            kind = "layer_norm"
        c = shape[-1] if kind == "layer_norm" else shape[1]
        if kind == "layer_norm" and c.value < 2:
            return None
        self.features.add(kind)
        e = self.expr(shape, depth)
        g = self.pick_or_new((c,))
        b = self.pick_or_new((c,))
        eps = self.number(1e-4, 0.1, "eps", True)
        form = self.pick([f", eps={eps}", f", {eps}", ""])
        return Expr(f"{kind}({e.text}, {g.text}, {b.text}{form})", shape)

    def matmul(self, shape, depth) -> Expr:
        """a @ b for a result of rank 1-3 (vector, matrix, batched), operands often
        sliced or transposed; sometimes matmul(a, b) or dot(a, b)."""
        k = self.dim()
        rank = len(shape)
        if rank == 1:
            if self.chance(0.5):
                left, right = (k,), (k, shape[0])
            else:
                left, right = (shape[0], k), (k,)
        elif rank == 2:
            left, right = (shape[0], k), (k, shape[1])
        else:
            left, right = (shape[0], shape[1], k), (k, shape[2])
            if self.chance(0.5):
                right = (shape[0], k, shape[2])
            self.features.add("matmul-batched")
        a = self.matmul_operand(left, depth)
        b = self.matmul_operand(right, depth)
        self.features.add("matmul")
        if self.chance(0.1):
            return Expr(f"{self.fn('dot') if len(left) <= 2 and len(right) <= 2 else 'matmul'}"
                        f"({a.text}, {b.text})", shape)
        return Expr(f"{paren(a)} @ {paren(b)}", shape)

    def matmul_operand(self, shape, depth) -> Expr:
        """A matmul operand: often a leaf (so a slice), sometimes a transpose of one."""
        if len(shape) == 2 and self.chance(0.25):
            e = self.leaf((shape[1], shape[0]))
            self.features.add("matmul-transposed")
            return Expr(f"{paren(e)}.T", shape, e.bounded, e.positive, atom=True)
        if self.chance(0.5):
            return self.leaf(shape)
        return self.expr(shape, depth)

    def transposed(self, shape, depth) -> Expr:
        """e.T, transpose(e), or for rank 3 transpose(e, axes) / e.T (all axes reversed)."""
        if len(shape) == 3:
            perm = list(range(3))
            self.rng.shuffle(perm)
            src = [None] * 3
            for out_ax, in_ax in enumerate(perm):
                src[in_ax] = shape[out_ax]
            e = self.expr(tuple(src), depth)
            self.features.add("transpose-3d")
            if perm == [2, 1, 0] and self.chance(0.5):
                return Expr(f"{paren(e)}.T", shape, e.bounded, e.positive, atom=True)
            axes = str(tuple(perm)) if self.chance(0.5) else ", ".join(map(str, perm))
            text = self.call(self.fn("transpose"), "transpose", e, axes)
            if not text.startswith(f"{paren(e)}."):    # the function takes one tuple
                text = f"{self.fn('transpose')}({e.text}, {tuple(perm)})"
            return Expr(text, shape, e.bounded, e.positive)
        e = self.expr((shape[1], shape[0]), depth)
        self.features.add("transpose")
        if self.chance(0.5):
            return Expr(f"{paren(e)}.T", shape, e.bounded, e.positive, atom=True)
        return Expr(self.call(self.fn("transpose"), "transpose", e), shape, e.bounded,
                    e.positive)

    def outer_(self, shape, depth) -> Expr:
        a, b = self.expr((shape[0],), depth), self.expr((shape[1],), depth)
        self.features.add("outer")
        return Expr(f"{self.fn('outer')}({a.text}, {b.text})", shape)

    def dot_(self, shape, depth) -> Expr:
        k = (self.dim(),)
        a, b = self.expr(k, depth), self.matmul_operand(k, depth)
        self.features.add("dot")
        if self.chance(0.5):
            return Expr(f"{paren(a)} @ {paren(b)}", ())
        return Expr(self.call(self.fn("dot"), "dot", a, b.text), ())

    def einsum_(self, shape, depth) -> Expr:
        """einsum('ij,jk->ik'), ('ij,ij->i'), ('i,i->i'), ..."""
        k = self.dim()
        if len(shape) == 1:
            spec, sa, sb = self.pick([("ij,j->i", (shape[0], k), (k,)),
                                      ("ij,ij->i", (shape[0], k), (shape[0], k)),
                                      ("ji,j->i", (k, shape[0]), (k,))])
        else:
            spec, sa, sb = self.pick([("ij,jk->ik", (shape[0], k), (k, shape[1])),
                                      ("ik,jk->ij", (shape[0], k), (shape[1], k)),
                                      ("ij,ij->ij", shape, shape)])
        a, b = self.expr(sa, depth), self.expr(sb, depth)
        self.features.add("einsum")
        return Expr(f"{self.fn('einsum')}('{spec}', {a.text}, {b.text})", shape)

    def concat_(self, shape, depth) -> Expr:
        """concatenate([a, b], axis=k) along a constant axis of size >= 2."""
        axes = [k for k, d in enumerate(shape) if not d.symbolic and d.value >= 2]
        if not axes:
            return None
        k = self.pick(axes)
        n = shape[k].value
        n1 = self.rng.randint(1, n - 1)
        a = self.expr(shape[:k] + (lit(n1),) + shape[k + 1:], depth)
        b = self.expr(shape[:k] + (lit(n - n1),) + shape[k + 1:], depth)
        self.features.add("concatenate" if k == 0 else "concatenate-axis")
        axis = self.pick(["", ", axis=0", f", {-len(shape)}"]) if k == 0 else \
            self.pick([f", axis={k}", f", {k - len(shape)}", f", axis={k - len(shape)}"])
        return Expr(f"{self.fn('concatenate')}([{a.text}, {b.text}]{axis})", shape)

    def stack_(self, shape, depth) -> Expr:
        """stack([a, b(, c)], axis=k) for an axis of size 2 or 3."""
        axes = [k for k, d in enumerate(shape) if d.key in ("2", "3")]
        if not axes:
            return None
        k = self.pick(axes)
        rest = shape[:k] + shape[k + 1:]
        parts = [self.expr(rest, depth).text for _ in range(shape[k].value)]
        self.features.add("stack" if k == 0 else "stack-axis")
        axis = "" if k == 0 and self.chance(0.5) else \
            self.pick([f", axis={k}", f", axis={k - len(shape)}"])
        return Expr(f"{self.fn('stack')}([{', '.join(parts)}]{axis})", shape)

    def reshape_(self, shape, depth) -> Expr:
        """reshape of an expression with the same number of elements (maybe with -1)."""
        total = 1
        for d in shape:
            if d.symbolic:
                return None
            total *= d.value
        factors = [f for f in range(2, total) if total % f == 0]
        if not factors or self.chance(0.3):
            src = (lit(total),)
        else:
            f = self.pick(factors)
            src = (lit(f), lit(total // f))
        e = self.expr(src, depth)
        dims = [d.text for d in shape]
        if dims and self.chance(0.3):
            dims[self.rng.randrange(len(dims))] = "-1"
        target = "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")" if dims else "()"
        self.features.add("reshape")
        if dims and self.chance(0.5):               # NumPy's varargs form of the method
            target = ", ".join(dims)
            text = self.call(self.fn("reshape"), "reshape", e, target)
            if not text.startswith(f"{paren(e)}."):
                text = f"{self.fn('reshape')}({e.text}, ({target},))"
        else:
            text = self.call(self.fn("reshape"), "reshape", e, target)
        return Expr(text, shape, e.bounded, e.positive)

    # -- helper functions ---------------------------------------------------------------
    def helper_call(self, shape, depth) -> Expr:
        """A call of an un-annotated helper (defined once per template, reused)."""
        kind = self.pick(["elementwise", "elementwise", "dense", "sumsq", "scaled", "nested"])
        if kind == "dense" and len(shape) in (1, 2):
            name = self.helper("dense", lambda n: (
                f"def {n}(a, W, b):\n    return a @ W + b\n"))
            k = self.dim()
            a = self.matmul_operand(shape[:-1] + (k,), depth)
            W = self.pick_or_new((k, shape[-1]))
            b = self.pick_or_new((shape[-1],))
            return Expr(f"{name}({a.text}, {W.text}, {b.text})", shape)
        if kind == "sumsq" and not shape:
            name = self.helper("sumsq", lambda n: (
                f"def {n}(u):\n    {self.local()} = u * u\n    return sum({self._last})\n"))
            return Expr(f"{name}({self.expr(self.shape(1, 2), depth).text})", ())
        if kind == "scaled":
            name = self.helper("scaled", lambda n: (
                f"def {n}(u, s=0.5):\n    return s * tanh(u) + u\n"))
            e = self.expr(shape, depth)
            if self.chance(0.5):
                return Expr(f"{name}({e.text})", shape)
            s = self.number(0.1, 2.0, "s")
            return Expr(f"{name}({e.text}, s={s})", shape)
        if kind == "nested":
            inner = self.helper("inner", lambda n: (
                f"def {n}(u, v):\n    return sigmoid(u) * v\n"))
            name = self.helper("outer", lambda n: (
                f"def {n}(u, v):\n    {self.local()} = {inner}(u, v) + {inner}(v, u)\n"
                f"    return {self._last} * 0.5\n"))
            a = self.expr(shape, depth)
            b = self.expr(self.operand_shape(shape), depth)
            return Expr(f"{name}({a.text}, {b.text})", shape)
        name = self.helper("elementwise", lambda n: (
            f"def {n}(u, v):\n    {self.local()} = tanh(u) * v\n"
            f"    return {self._last} + sigmoid(v) - u * 0.5\n"))
        a = self.expr(shape, depth)
        b = self.expr(self.operand_shape(shape), depth)
        self.features.add("helper")
        return Expr(f"{name}({a.text}, {b.text})", shape)

    def helper(self, template: str, make) -> str:
        if template not in self.helper_names:
            name = "_" + self.fresh() if self.chance(0.5) else self.fresh()
            self.used_names.add(name)
            self.helper_names[template] = name
            self.helpers.append(make(name))
        self.features.add("helper")
        return self.helper_names[template]

    def local(self) -> str:
        """A helper-local name (may repeat a body name: it is another scope)."""
        self._last = self.pick(["t", "tmp0", "acc", "value", "d_u", "out", "mm", "u2"]
                               if self.tricky else ["hid", "u2", "uv"])
        return self._last
