"""Random well-typed adc model programs, as source text with the facts needed to run them.

`generate(seed)` returns a `Program`: the model's source, its entry point's name, and
for every argument its role, concrete shape and value domain (so the harness can draw
inputs the program is defined and smooth on). The generator tracks each expression's
shape (sizes as `Dim`s: a symbolic `dim("N")`, a module-level constant or a literal)
and two value facts, `bounded` (|v| stays small: safe to exp) and `positive` (>= ~0.05:
safe to log, sqrt, divide by, raise to a float power), so every program it writes runs
eagerly without NaN or overflow.

What it writes (each construct is one small method below):
- arguments: Param / Data / Index tensors of rank 0-3, runtime `float`/`int`
  hyper-parameters (with or without defaults, sometimes keyword-only), identifiers drawn
  from names the compiler itself generates (`d_x`, `tmp0`, `acc`, `mm`, `value`, ...);
- leaves: whole arguments, prefix / suffix / middle / strided / negative slices, integer
  indices, `.T`, gathers `x[idx]` and `x[arange(N), y]`, mixed `x[0, :, idx]`;
- elementwise functions in their domains, binary operators with broadcasting,
  `where`, `maximum`, `clip`, `**`;
- `@` (1-D, 2-D, batched) with sliced or transposed operands, `dot`, `outer`, `einsum`;
- reductions with `axis=` (int, negative, tuple) and `keepdims=`, softmax, log_softmax,
  layer_norm / batch_norm, concatenate, stack, reshape, losses;
- statements: assignments (also rebinding arguments), augmented assignments, tuple
  unpacking, `for i in range(K)` loops (accumulators and a recurrence), un-annotated
  helper functions (inlined by the compiler), scalar, tensor and tuple returns.

The expression makers live in progen_exprs.py (a mixin of `Gen`); this module holds the
arguments, names, statements and the program around them.

Kinks are kept away from FD: kinked functions (relu, abs, max, ...) only see
expressions of random inputs, never a difference of an expression with itself.
"""
from __future__ import annotations

import keyword
import random
from dataclasses import dataclass, field

import adc.lang
from adc.compiler.names import MODULE_FIXED
from progen_exprs import AVOID, Dim, Expr, Expressions, lit, paren, same, shape_text


# -- arguments ----------------------------------------------------------------------------
@dataclass
class Arg:
    """One argument of the entry point."""

    name: str
    role: str                 # Param, Data, Index, float, int
    shape: tuple = ()         # of Dim
    domain: str = "normal"    # normal, positive, prob, mask (float tensors)
    bound: int = 0            # Index: values in [0, bound)
    value: float = 0.0        # float / int: the value the harness passes
    default: object = None    # float / int: the default in the source (None: no default)
    kwonly: bool = False

    def annotation(self) -> str:
        if self.role in ("float", "int"):
            text = self.role
            return text + (f" = {self.default!r}" if self.default is not None else "")
        return f"{self.role}{shape_text(self.shape)}"


@dataclass
class Program:
    """A generated model: its source and what the harness needs to call it."""

    source: str
    entry: str
    args: list                # of Arg, in signature order
    sizes: dict               # symbolic size name -> value
    outputs: int              # 1, or the length of a returned tuple
    scalar: bool              # a single scalar output (f_grad applies)
    features: set = field(default_factory=set)
    seed: int = 0
    wrt: tuple = ()           # Data arguments also differentiated (adc compile --wrt)
    float32: bool = False     # also call the module on float32 inputs
    others: list = field(default_factory=list)   # more entry points: (entry, args, scalar)


# Names the compiler hands out itself, or that the generated module uses: a user may
# choose any of them. (Names of adc.lang functions, Python keywords and the builtins a
# model file needs are never used.)
TRICKY = ["d_x", "d_W", "d_b", "d_h", "tmp0", "tmp1", "t0", "acc", "mm", "value", "arg",
          "args", "i", "j", "k", "r", "p", "q", "out", "total", "shift", "dtype", "sizes",
          "grads", "cotangent", "tangents", "vector", "res", "result", "loss", "hinge",
          "lse", "m", "n", "s", "z", "h", "u", "w", "a", "b", "c", "x", "y", "W", "X", "buf",
          "njit", "prange", "namedtuple", "Grads", "f_Grads", "SIGNATURES", "np", "math",
          "x_1", "_x", "dX", "gW", "adj_x", "xbar", "x_bar", "self", "fname", "values",
          "spec", "kernel", "out0", "mm0", "acc0", "d_d_x", "v_x", "row", "col", "idx",
          "seed", "N_", "i0", "j0", "tmp", "exp_x", "dtotal", "d_out", "d_value", "inp"]
# Ordinary names, for the programs that test everything but name collisions.
PLAIN = ["W1", "W2", "b1", "b2", "Xb", "logits", "hidden", "feat", "emb", "gamma0",
         "beta0", "wq", "wk", "xs", "ys", "zz", "hh", "aa", "bb", "cc", "uu", "vv", "ww",
         "pp", "qq", "xx", "yy", "act", "pre", "post", "lin", "enc", "dec", "gate", "mix"]
RESERVED = set(keyword.kwlist) | set(adc.lang.__all__) | {
    "range", "len", "float", "int", "print", "adc", "abs_", "True", "False", "None",
    "N", "M", "B", "T", "D", "H", "C", "K", "F", "G", "L"}
# Argument names adc refuses with a located error (test_regressions.py checks that):
# the keywords of f_vjp / f_jvp / f_hvp, and gradient fields starting with '_'.
REFUSED_ARGS = {"cotangent", "tangents", "vector", "_x"}
# Entry point names that are the generated module's own globals (also refused), and
# names starting with "_" (those are helpers, not entry points).
REFUSED_ENTRIES = set(MODULE_FIXED) | {n for n in TRICKY if n.startswith("_")}
ENTRY_NAMES = ["f", "loss", "model", "forward", "objective", "value", "net", "fn", "run",
               "predict", "energy", "score"]
SIZE_NAMES = ["N", "M", "B", "T"]
CONST_NAMES = ["D", "H", "C", "K", "F", "G", "L"]


class Gen(Expressions):
    """One program's generator state: sizes, arguments, helpers, scope and statements."""

    MAX_DEPTH = 3

    def __init__(self, seed: int):
        self.seed = seed
        self.rng = random.Random(seed)
        # the structural wrappers draw from their own stream: without them a seed's
        # program is the one it always was
        self.side = random.Random(seed * 7919 + 1)
        # a third of the programs draw names the compiler itself uses (d_x, acc, value...)
        self.tricky = self.rng.random() < 0.3 and "tricky" not in AVOID
        self.used_names: set = set()
        self.args: list = []
        self.helpers: list = []          # source blocks
        self.helper_names: dict = {}     # template -> name (one helper per template)
        self.lines: list = []            # body lines (already indented)
        self.scope: list = []            # (name, Expr) visible in the body
        self.features: set = set()
        self.uses_np = False             # spells some functions np.xxx / math.xxx
        self.loop_var = None             # (name, K) inside a for-loop body
        self.computed: set = set()       # locals bound to a fresh array (not a view)
        self._dims()

    # -- small helpers ------------------------------------------------------------------
    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, seq):
        return self.rng.choice(list(seq))

    def fresh(self, prefer=None, avoid=()) -> str:
        """A new identifier: usually a tricky one, sometimes random letters."""
        for _ in range(200):
            if prefer and self.tricky and self.chance(0.5):
                name = prefer
                prefer = None
            elif self.chance(0.75):
                name = self.pick(TRICKY if self.tricky else PLAIN)
            else:
                name = self.pick("abcdefghuvwxyz") + "".join(
                    self.pick("abcdefghijklmnopqrstuvwxyz0123456789_")
                    for _ in range(self.rng.randint(0 if self.tricky else 2, 5)))
            if name in self.used_names or name in RESERVED or name in avoid \
                    or name in ("np", "math") and self.uses_np:
                continue
            self.used_names.add(name)
            return name
        raise RuntimeError("ran out of names")

    # -- sizes --------------------------------------------------------------------------
    def _dims(self):
        """0-2 symbolic sizes and 0-3 module-level int constants."""
        self.size_decls = []
        self.sym = []
        for name in self.rng.sample(SIZE_NAMES, self.rng.randint(0, 2)):
            d = Dim(name, name, self.rng.randint(3, 5), True)
            self.sym.append(d)
            self.size_decls.append(f'{name} = dim("{name}")')
        self.consts = []
        for name in self.rng.sample(CONST_NAMES, self.rng.randint(0, 3)):
            n = self.rng.randint(2, 5)
            self.consts.append(Dim(name, str(n), n))
            self.size_decls.append(f"{name} = {n}")

    def dim(self, allow_sym=True) -> Dim:
        """A size from the pool: symbolic, a named constant or a literal 2-5."""
        r = self.rng.random()
        if allow_sym and self.sym and r < 0.35:
            d = self.pick(self.sym)
            if self.chance(0.08):
                self.features.add("dim-minus-1")
                return Dim(f"{d.text} - 1", f"{d.key}-1", d.value - 1, True)
            return d
        if self.consts and r < 0.65:
            return self.pick(self.consts)
        return lit(self.rng.randint(2, 5))

    def scope_shape(self, lo=0, hi=3) -> tuple:
        """Often the shape of something in scope (so that names get reused), else new."""
        fits = [e.shape for _, e in self.scope if lo <= len(e.shape) <= hi]
        if fits and self.chance(0.5):
            return self.pick(fits)
        return self.shape(lo, hi)

    def shape(self, lo=0, hi=3, allow_sym=True) -> tuple:
        return tuple(self.dim(allow_sym) for _ in range(self.rng.randint(lo, hi)))

    # -- arguments ----------------------------------------------------------------------
    def new_arg(self, shape, role=None, domain=None, name=None) -> Arg:
        """A new tensor argument (a Dim of the form N - 1 is annotated as N)."""
        shape = tuple(self.base_dim(d) for d in shape)
        role = role or ("Param" if self.chance(0.75) else "Data")
        domain = domain or ("positive" if self.chance(0.2) else "normal")
        arg = Arg(name or self.fresh(avoid=REFUSED_ARGS), role, shape, domain)
        self.args.append(arg)
        self.scope.append((arg.name, self.arg_expr(arg)))
        return arg

    def base_dim(self, d: Dim) -> Dim:
        if d.key.endswith("-1"):
            return next(s for s in self.sym if s.key == d.key[:-2])
        return d

    @staticmethod
    def arg_expr(arg: Arg) -> Expr:
        return Expr(arg.name, arg.shape, bounded=arg.domain in ("prob", "mask"),
                    positive=arg.domain == "positive", atom=True)

    def index_arg(self, shape, bound: int) -> Arg:
        """An Index argument (reused when one of this shape and bound exists)."""
        for a in self.args:
            if a.role == "Index" and same(a.shape, shape) and a.bound == bound:
                return a
        arg = Arg(self.fresh(self.pick(["idx", "y", "labels", "ix"]), REFUSED_ARGS), "Index",
                  shape, bound=bound)
        self.args.append(arg)
        return arg

    def hyper(self, kind: str, lo: float, hi: float, prefer=None) -> str:
        """A runtime float hyper-parameter argument; returns its name."""
        value = round(self.rng.uniform(lo, hi), 3)
        default = None
        if self.chance(0.6):
            default = round(self.rng.uniform(lo, hi), 3) if self.chance(0.5) else value
        arg = Arg(self.fresh(prefer, REFUSED_ARGS), kind, (), value=value, default=default,
                  kwonly=self.chance(0.15))
        if kind == "int":
            arg.value = int(round(value))
            arg.default = None if default is None else int(round(default))
        self.args.append(arg)
        self.features.add(f"hyper-{kind}")
        if kind == "float":       # usable as a scalar leaf too (and rebound: s = s * 2)
            self.scope.append((arg.name, Expr(arg.name, (), abs(hi) <= 4 and abs(lo) <= 4,
                                              lo > 0.05, atom=True)))
        return arg.name

    def number(self, lo, hi, prefer=None, layer=False) -> str:
        """A keyword value: a literal, or (often) a runtime float argument."""
        if self.chance(0.6) and not (layer and "hyperkw" in AVOID):
            return self.hyper("float", lo, hi, prefer)
        return repr(round(self.rng.uniform(lo, hi), 3))

    # -- statements ---------------------------------------------------------------------
    def assign(self):
        """name = expr (a new name, or rebinding one of the same shape, argument or not)."""
        shape = self.scope_shape()
        e = self.expr(shape)
        same_shape = [n for n, v in self.scope if same(v.shape, shape)]
        if same_shape and self.chance(0.15):
            name = self.pick(same_shape)
            self.features.add("rebind")
        else:
            name = self.fresh(self.pick(["d_" + n for n, _ in self.scope[:3]] or ["h"]))
        self.lines.append(f"    {name} = {e.text}")
        self.bind(name, Expr(name, shape, e.bounded, e.positive, atom=True))
        if e.atom:
            self.note_views(e.text)      # name = other[...] may be a view of other
            self.computed.discard(name)
        else:
            self.computed.add(name)

    def bind(self, name, e):
        self.scope = [(n, v) for n, v in self.scope if n != name] + [(name, e)]
        self.note_views(e.text if not e.text == name else "")

    def note_views(self, text: str):
        """Names that `text` may alias (a name or a slice of one) are no longer safe for
        an in-place `name op= ...`: NumPy would write through the view."""
        import re
        for word in re.findall(r"[A-Za-z_][A-Za-z_0-9]*", text):
            self.computed.discard(word)

    def augassign(self):
        """name op= expr on an existing local or argument."""
        arg_names = {a.name for a in self.args}
        locals_ = [(n, e) for n, e in self.scope if n not in arg_names and n in self.computed]
        if not locals_:
            return self.assign()
        name, e = self.pick(locals_)
        op = self.pick(["+=", "-=", "*="])
        rhs = self.expr(self.operand_shape(e.shape), 1)
        self.lines.append(f"    {name} {op} {rhs.text}")
        self.bind(name, Expr(name, e.shape, atom=True))
        self.features.add("augassign")

    def item_assign(self):
        """A fresh array (zeros_like, ones_like, full_like, array, a product) written by
        1-2 item assignments `y[key] op= v`: ints (negative too) and slices with any step
        on sizes known at compile time, `:` on symbolic ones; v is the selection's shape
        or broadcasts to it."""
        side = self.side
        shape = self.scope_shape(1, 3)
        base = self.expr(shape, 1)
        name = self.fresh("y")
        maker = side.choice(["zeros_like({})", "ones_like({})", "full_like({}, 0.5)",
                             "array({})", "{} * 1.0"])
        self.lines.append(f"    {name} = {maker.format(base.text)}")
        bounded = base.bounded or maker[0] in "zof"
        for _ in range(side.randint(1, 2)):
            items, selected = self._assignment_key(shape)
            cut = side.randint(0, len(selected))
            v = self.expr(tuple(selected[cut:]) if side.random() < 0.4 else tuple(selected), 1)
            op = side.choice(["=", "=", "+=", "-=", "*="])
            self.lines.append(f"    {name}[{', '.join(items)}] {op} {v.text}")
            bounded = bounded and v.bounded
        self.bind(name, Expr(name, shape, bounded, atom=True))
        self.computed.add(name)
        self.features.add("item-assign")

    def _assignment_key(self, shape):
        """(index items, the selection's shape) for a random basic index into `shape`."""
        side = self.side
        items, selected = [], []
        for d in shape[:side.randint(1, len(shape))]:
            r = side.random()
            if d.symbolic or r < 0.15:
                items.append(":")
                selected.append(d)
            elif r < 0.45:
                items.append(str(side.randint(-d.value, d.value - 1)))
                self.features.add("item-assign-int")
            else:
                start, stop = side.randint(-d.value, d.value - 1), side.randint(-d.value, d.value)
                step = side.choice([1, 1, 2, -1, -2, 3])
                length = len(range(d.value)[start:stop:step])
                if length == 0:
                    items.append(":")
                    selected.append(d)
                    continue
                items.append(f"{start}:{stop}" + (f":{step}" if step != 1 else ""))
                selected.append(lit(length))
                self.features.add("item-assign-step" if step != 1 else "item-assign-slice")
        selected += list(shape[len(items):])
        return items, selected

    def unpack(self):
        """a, b = e1, e2 -- or a, b = helper(e) with a helper returning a tuple"""
        if self.chance(0.3):
            shape = self.scope_shape(0, 3)
            name = self.helper("pair", lambda n: (
                f"def {n}(u, scale=1.0):\n    return tanh(u) * scale, sigmoid(u)\n"))
            e = self.expr(shape, 1)
            n1, n2 = self.fresh(), self.fresh()
            extra = self.pick(["", ", 2.0", f", scale={self.number(0.5, 2.0, 'scale')}"])
            self.lines.append(f"    {n1}, {n2} = {name}({e.text}{extra})")
            self.bind(n1, Expr(n1, shape, atom=True))
            self.bind(n2, Expr(n2, shape, True, atom=True))
            self.computed |= {n1, n2}
            self.features.add("helper-tuple")
            return
        s1, s2 = self.shape(0, 2), self.shape(0, 2)
        e1, e2 = self.expr(s1, 1), self.expr(s2, 1)
        n1, n2 = self.fresh(), self.fresh()
        self.lines.append(f"    {n1}, {n2} = {e1.text}, {e2.text}")
        self.note_views(e1.text + " " + e2.text)
        self.bind(n1, Expr(n1, s1, e1.bounded, e1.positive, atom=True))
        self.bind(n2, Expr(n2, s2, e2.bounded, e2.positive, atom=True))
        self.features.add("unpack")

    def loop(self):
        """for i in range(K): an accumulator (with x[i]) or a tanh recurrence."""
        K = self.rng.randint(2, 4)
        var = self.fresh(self.pick(["i", "t", "k", "step"]))
        start = self.pick(["", "", "0, ", "1, "])
        count = len(range(int(start[:-2]) if start else 0, K))
        # drawn from a stream of its own: the programs that do not take this form stay
        # what they were before it existed (the regression seeds keep their programs)
        if random.Random(f"{self.seed}:{len(self.lines)}").random() < 0.2:
            self.carries(K, var)
            return
        if self.chance(0.4):
            # recurrence: h = tanh(h @ W + X[t])
            H = self.dim(allow_sym=False)
            W = self.pick_or_new((H, H))
            X = self.arg_expr(self.new_arg((lit(K + self.rng.randint(0, 1)), H)))
            h = self.fresh("h")
            self.lines.append(f"    {h} = {self.fn('tanh')}({X.text}[0])")
            self.lines.append(f"    for {var} in range({start}{K}):")
            self.lines.append(f"        {h} = {self.fn('tanh')}({h} @ {W.text} + {X.text}[{var}])")
            self.bind(h, Expr(h, (H,), True, False, atom=True))
            self.features.add("loop-recurrence")
            return
        shape = self.shape(0, 2)
        acc = self.fresh(self.pick(["acc", "total", "s"]))
        init = self.expr(shape, 1)
        if init.atom:     # never `acc += ...` on a view of an argument (NumPy aliasing)
            init = Expr(f"{paren(init)} * 1.0", shape)
        self.lines.append(f"    {acc} = {init.text}")
        self.lines.append(f"    for {var} in range({start}{K}):")
        self.loop_var = (var, K)
        saved = list(self.scope)
        body = self.expr(shape, 1)
        if self.chance(0.5):
            line = f"        {acc} = {acc} + {paren(body)}"
        else:
            line = f"        {acc} += {body.text}"
        # arguments created inside the body stay visible after it
        self.scope = saved + [(n, v) for n, v in self.scope if (n, v) not in saved
                              and any(a.name == n for a in self.args)]
        self.loop_var = None
        self.lines.append(line)
        self.bind(acc, Expr(acc, shape, atom=True))
        self.features.add("loop")
        _ = count

    def carries(self, K, var):
        """A loop written for the scan (compiler/loops.py): two carries assigned together,
        a downward or strided range, the loop variable in arithmetic and in an index,
        a step temporary read after the loop."""
        H = self.dim(allow_sym=False)
        X = self.arg_expr(self.new_arg((lit(K), H)))
        a, c, z = self.fresh("a"), self.fresh("c"), self.fresh("z")
        steps = self.pick([f"range({K} - 1, -1, -1)", f"range(0, {K}, 2)", f"range({K})",
                           f"range(1, {K})"])
        self.lines.append(f"    {a}, {c} = {X.text}[0] * 1.0, {self.fn('tanh')}({X.text}[{K - 1}])")
        self.lines.append(f"    for {var} in {steps}:")
        self.lines.append(f"        {z} = {self.fn('sin')}({a}) * {X.text}[{var}] + {c} * {var}")
        self.lines.append(f"        {a}, {c} = {c} * 0.5 + {z} * 0.25, {self.fn('tanh')}({a} - {z})")
        for name in (a, c, z):
            self.bind(name, Expr(name, (H,), name != z, False, atom=True))
        self.features.add("loop-carries")

    def if_block(self):
        """if on a compile-time condition (a size or a constant), both branches assigning."""
        shape = self.scope_shape()
        d = self.pick(self.consts) if self.consts else lit(3)
        cond = self.pick([f"{d.text} > 2", f"{d.text} == {d.value}", f"{d.text} % 2 == 1",
                          "True", f"{d.text} < 2 or {d.text} > 4"])
        name = self.fresh("h")
        a, b = self.expr(shape, 1), self.expr(shape, 1)
        self.lines += [f"    if {cond}:", f"        {name} = {a.text}", "    else:",
                       f"        {name} = {b.text}"]
        self.bind(name, Expr(name, shape, atom=True))
        self.features.add("if")

    def conv_block(self):
        """conv2d (PyTorch's options: per-axis kernels, strides and dilation, int, pair,
        asymmetric or "same" padding, groups), relu, max/avg pooling (with padding and
        dilation), optional batch_norm, then a mean over the image axes: a (batch,
        filters) local."""
        n = self.pick(self.sym) if self.sym and self.chance(0.5) else lit(2)
        groups = 2 if self.chance(0.2) else 1
        c, f = lit(groups * self.rng.randint(1, 2)), lit(groups * self.rng.randint(1, 2))
        kernel = (self.rng.randint(1, 3), self.rng.randint(1, 3))
        size = (self.rng.randint(kernel[0] + 2, 7), self.rng.randint(kernel[1] + 2, 7))
        x = self.new_arg((n, c, lit(size[0]), lit(size[1])), role="Data")
        w = self.new_arg((f, lit(c.value // groups), lit(kernel[0]), lit(kernel[1])),
                         role="Param")
        opts, out = self.conv_options(kernel, size)
        if groups > 1:
            opts += f", groups={groups}"
            self.features.add("conv2d-groups")
        h = self.fresh("h")
        self.lines.append(f"    {h} = conv2d({x.name}, {w.name}{opts})")
        if min(out) >= 2 and self.chance(0.6):
            pool = self.pick(["max_pool2d", "avg_pool2d"])
            k2 = (2, self.pick([1, 2])) if self.chance(0.3) else 2
            pool_opts = self.pick(["", "", ", 1", f", stride={self.rng.randint(1, 2)}",
                                   ", (1, 2)"])
            if k2 in (2, (2, 2)) and self.chance(0.3):      # at most half the kernel
                pool_opts = (pool_opts or ", None") + ", padding=1"
                self.features.add("pool-padding")
            elif pool == "max_pool2d" and min(out) >= 3 and self.chance(0.2):
                pool_opts = (pool_opts or ", None") + ", dilation=(1, 2)" \
                    if out[1] >= 3 else pool_opts
            self.lines.append(f"    {h} = {pool}(relu({h}), {k2}{pool_opts})")
            self.features.add(pool)
        elif self.chance(0.4) and n.value >= 2:
            g, b = self.new_arg((f,), "Param"), self.new_arg((f,), "Param")
            self.lines.append(f"    {h} = batch_norm({h}, {g.name}, {b.name})")
            self.features.add("batch_norm-4d")
        pooled = self.fresh("pooled")
        self.lines.append(f"    {pooled} = {self.pick(['mean', 'sum'])}({h}, axis=(2, 3))")
        self.bind(pooled, Expr(pooled, (n, f), atom=True))
        self.features.add("conv2d")

    def conv_options(self, kernel, size):
        """The keyword text of a random stride/padding/dilation and the output (H, W)."""
        stride = (self.rng.randint(1, 2), self.rng.randint(1, 2))
        dilation = (1, self.rng.randint(1, 2)) if self.chance(0.25) else (1, 1)
        if size[1] < dilation[1] * (kernel[1] - 1) + 1:
            dilation = (1, 1)
        style = self.pick(["none", "int", "pair", "pairs", "same"])
        if style == "same":
            stride = (1, 1)
            totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
            pads = [(t // 2, t - t // 2) for t in totals]
            text = ", padding='same'"
        else:
            p = [self.rng.randint(0, 1) for _ in range(4)]
            pads, text = {
                "none": ([(0, 0), (0, 0)], ""),
                "int": ([(p[0], p[0])] * 2, f", padding={p[0]}"),
                "pair": ([(p[0], p[0]), (p[1], p[1])], f", padding=({p[0]}, {p[1]})"),
                "pairs": ([(p[0], p[1]), (p[2], p[3])],
                          f", padding=(({p[0]}, {p[1]}), ({p[2]}, {p[3]}))"),
            }[style]
        self.features.add(f"conv2d-padding-{style}")
        if stride != (1, 1):
            text += f", stride={stride if stride[0] != stride[1] else stride[0]}"
        if dilation != (1, 1):
            text += f", dilation={dilation}"
            self.features.add("conv2d-dilation")
        out = tuple((n + lo + hi - d * (k - 1) - 1) // st + 1 for n, (lo, hi), d, k, st
                    in zip(size, pads, dilation, kernel, stride))
        return text, out

    # -- the return -------------------------------------------------------------------
    def scalar_result(self) -> Expr:
        """A scalar: a reduction of something in scope, a loss, or a sum of both."""
        r = self.rng.random()
        if r < 0.2:
            return self.loss()
        e = self.expr(self.scope_shape(0, 3))
        if not e.shape:
            return e
        op = self.pick(["sum", "mean", "logsumexp", "max", "min", "var", "sum"])
        self.features.add(f"reduce-{op}")
        return Expr(f"{self.fn(op) if op != 'logsumexp' else op}({e.text})", ())

    def loss(self) -> Expr:
        """cross_entropy / multiclass_hinge (Index labels), mse, bce (targets in [0, 1])."""
        kind = self.pick(["cross_entropy", "multiclass_hinge", "mse", "bce"])
        self.features.add(kind)
        rows = self.pick(self.sym) if self.sym and self.chance(0.7) else \
            self.dim(allow_sym=False)
        if kind in ("cross_entropy", "multiclass_hinge"):
            C = self.dim(allow_sym=False)
            logits = self.expr((rows, C))
            y = self.index_arg((rows,), C.value)
            if kind == "multiclass_hinge":
                extra = self.pick(["", f", margin={self.number(0.5, 2.0, 'margin', True)}",
                                   f", {self.number(0.5, 2.0, 'margin', True)}"])
                return Expr(f"multiclass_hinge({logits.text}, {y.name}{extra})", ())
            return Expr(f"cross_entropy({logits.text}, {y.name})", ())
        shape = tuple(self.base_dim(d) for d in self.shape(1, 2))
        pred = self.expr(shape)
        if kind == "mse":
            target = self.pick_or_new(shape)
            return Expr(f"mse({pred.text}, {target.text})", ())
        t = self.new_arg(shape, role="Data", domain="prob")
        return Expr(f"binary_cross_entropy_with_logits({pred.text}, {t.name})", ())

    def result(self):
        """The return statement: a scalar (mostly), a tensor, or a tuple."""
        r = self.rng.random()
        if r < 0.7:
            e = self.scalar_result()
            if self.chance(0.25):
                # an L2 penalty with a runtime float weight
                params = [a for a in self.args if a.role == "Param" and a.shape]
                if params:
                    p = self.pick(params)
                    lam = self.hyper("float", 0.01, 1.0, "lam")
                    e = Expr(f"{e.text} + {lam} * {self.fn('sum')}({p.name} * {p.name})", ())
            return [e]
        if r < 0.85:
            return [self.expr(self.shape(1, 2))]
        self.features.add("tuple-output")
        parts = [self.scalar_result() if self.chance(0.5) else self.expr(self.shape(1, 2))
                 for _ in range(self.rng.randint(2, 3))]
        if self.chance(0.3):
            # outputs sharing work: return h, sum(h)
            name, e = self.pick(self.scope) if self.scope else (None, None)
            if name:
                parts = [Expr(name, e.shape, atom=True),
                         Expr(f"{self.fn('sum')}({self.fn('tanh')}({name}))", ())]
                self.features.add("tuple-shared")
        return parts

    # -- the whole program --------------------------------------------------------------
    def program(self) -> Program:
        """The whole model: one entry point, sometimes a second one sharing the helpers."""
        self.functions = []
        first = self.function()
        others = []
        if self.chance(0.12):
            self.args, self.lines, self.scope, self.computed = [], [], [], set()
            others.append(self.function())
            self.features.add("two-entry-points")
        entry, args, outs = first
        data = [a.name for a in args if a.role == "Data" and a.domain == "normal"]
        wrt = (self.pick(data),) if data and self.chance(0.12) and not others else ()
        float32 = self.chance(0.15)
        for flag, on in (("wrt-data", wrt), ("float32", float32)):
            if on:
                self.features.add(flag)
        return Program(self.source(), entry, args, {d.text: d.value for d in self.sym},
                       len(outs), len(outs) == 1 and not outs[0].shape, self.features,
                       self.seed, wrt, float32,
                       [(e, a, len(o) == 1 and not o[0].shape) for e, a, o in others])

    def function(self):
        """One entry point: arguments, 0-6 statements, a return; (name, args, outputs)."""
        for _ in range(self.rng.randint(1, 3)):
            shape = self.shape(0, 3)
            self.new_arg(shape)
        for _ in range(self.rng.randint(0, 6)):
            if self.side.random() < 0.07:   # its own stream: other programs stay the same
                self.item_assign()
                continue
            r = self.rng.random()
            if r < 0.55:
                self.assign()
            elif r < 0.65:
                self.augassign()
            elif r < 0.73:
                self.unpack()
            elif r < 0.85:
                self.loop()
            elif r < 0.92:
                self.if_block()
            else:
                self.conv_block()
        outs = self.result()
        if self.tricky:
            entry = self.fresh(self.pick(ENTRY_NAMES), REFUSED_ENTRIES)
        else:
            entry = self.pick([n for n in ENTRY_NAMES if n not in self.used_names] or ["f"])
        self.used_names.add(entry)
        ret = ", ".join(o.text for o in outs)
        self.lines.append(f"    return {ret}")
        if self.chance(0.1):
            self.lines.insert(0, '    """An entry point (its docstring is not code)."""')
        self.functions.append((entry, self.ordered_args(), list(self.lines)))
        return entry, self.args, outs

    def ordered_args(self) -> list:
        """Tensors (and floats without defaults) first, defaults after, keyword-only last."""
        plain = [a for a in self.args if a.default is None and not a.kwonly]
        dflt = [a for a in self.args if a.default is not None and not a.kwonly]
        kwonly = [a for a in self.args if a.kwonly]
        self.args = plain + dflt + kwonly
        return self.args

    def source(self) -> str:
        head = ['"""A generated model (tests/fuzz/progen.py, seed %d)."""' % self.seed]
        if self.uses_np:
            head.append("import numpy as np")
        head.append("from adc.lang import *" if self.chance(0.7) else
                    "from adc.lang import " + ", ".join(sorted(self.imported_names())))
        text = "\n".join(head) + "\n\n" + "\n".join(self.size_decls) + "\n\n\n"
        for h in self.helpers:
            text += h + "\n\n"
        for k, (entry, args, lines) in enumerate(self.functions):
            sig = []
            for a in args:
                if a.kwonly and "*" not in sig:
                    sig.append("*")
                sig.append(f"{a.name}: {a.annotation()}")
            text += ("\n\n" if k else "") + f"def {entry}({', '.join(sig)}):\n" + \
                "\n".join(lines) + "\n"
        if self.chance(0.05):
            text += '\n\nif __name__ == "__main__":\n    pass\n'
            self.features.add("main-guard")
        return text

    def imported_names(self) -> set:
        """The adc.lang names the source uses (for an explicit import list)."""
        import re
        lines = [line for _, _, ls in self.functions for line in ls]
        anns = [a.annotation() for _, args, _ in self.functions for a in args]
        words = set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", "\n".join(
            lines + self.helpers + self.size_decls + anns)))
        return {w for w in words if w in adc.lang.__all__} | {"Param"}


def generate(seed: int) -> Program:
    """The program for `seed` (deterministic)."""
    return Gen(seed).program()


if __name__ == "__main__":
    import sys
    for s in map(int, sys.argv[1:] or ["0"]):
        p = generate(s)
        print(p.source)
        print("#", sorted(p.features))
