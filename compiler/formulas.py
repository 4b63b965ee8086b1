"""Formulas that teach: the derivatives of an entry point as the course writes them.

`adc inspect --show formulas` prints the forward pass as the user wrote it, then the
gradient of every value the user named and of every parameter, last value first (the
order backpropagation visits them):

    dot = w0 * x0 + w1 * x1 + w2
    f = 1 / (1 + exp(-dot))
    df/ddot = f*(1 - f)
    df/dw0 = f*x0*(1 - f)

How: one reverse sweep over the program before inlining (so the user's names survive),
with each primitive in its course form (`ops.T`: sigmoid' = s*(1 - s), tanh' = 1 - t**2,
relu' = [z > 0]) and a library function's own rule in its display form
((softmax(z) - onehot(y))[i, j]). The seed is 1 for a scalar output. The gradients of
the compiler's temporaries are composed into their users; a named value's gradient is
composed in too while the result stays short, and is referred to by name otherwise.
Tensor gradients are in index notation, `sum_i(...)` summing over i.

This is a view, not a pass: the emitted code computes the same derivatives in their
stable forms (sigmoid(z)*sigmoid(-z) rather than s*(1 - s), which cancels at large z).
"""
from __future__ import annotations

import re

import sympy as sp
from sympy.printing.str import StrPrinter

from . import ops, rewrite
from .ir import access, accesses, tensor_name
from .vjp import active_tensors, argmax_decode, local_derivative

SHORT = 100          # a named value's gradient longer than this is referred to by name
INDEX_NAMES = "ijklmnrstuvpq"


def formulas(c) -> str:
    """The course's view of `c` (a driver.Compiled): forward lines, then gradients."""
    prog = rewrite.rewrite(c.lowered) if c.program.rewrites else c.lowered
    sweep = _Sweep(prog)
    return "\n".join(sweep.forward_lines() + sweep.gradient_lines())


# -- conditionals as opaque display functions (SymPy never folds them into sums) -----------
class Iverson(sp.Function):
    """[cond]: 1 where cond holds, else 0."""

    nargs = 1


class Cases(sp.Function):
    """(e1 if c1 else e2 ...): a Piecewise kept as written."""


def bracketed(expr):
    """Piecewise conditionals as Iverson brackets and Cases."""
    def as_display(pw):
        pairs = list(pw.args)
        if len(pairs) == 2 and pairs[1].cond == sp.true:
            (a, cond), (b, _) = pairs
            if a == 1 and b == 0:
                return Iverson(cond)
            if b == 0:
                return Iverson(cond) * a
        return Cases(*[x for e, c in pairs for x in (e, c)])
    return expr.replace(lambda e: isinstance(e, sp.Piecewise), as_display)


# -- the printer ---------------------------------------------------------------------------
class CoursePrinter(StrPrinter):
    """`[z > 0]` for 0/1 conditionals, `sum_i(...)`, `a == b`, scalars without `[0]`."""

    printmethod = "_course_str"     # not Indexed's own _sympystr

    def __init__(self, scalars=()):
        super().__init__({"order": "none"})     # _print_Add and _print_Mul order terms
        self.scalars = set(scalars)

    def _print_Add(self, expr):
        """Positive terms first: `sigmoid(z) - y`, `softmax - onehot`."""
        terms = sorted(expr.args, key=sp.default_sort_key)
        terms = [t for t in terms if not t.could_extract_minus_sign()] + \
            [t for t in terms if t.could_extract_minus_sign()]
        return super()._print_Add(sp.Add(*terms, evaluate=False))

    def _print_Mul(self, expr):
        """Numbers, then values, then sums and powers: `x0*f*(1 - f)`."""
        def rank(f):
            if f.is_Number:
                return 0
            return 2 if isinstance(f, (sp.Add, sp.Pow, sp.Sum, Cases)) else 1
        factors = sorted(expr.args, key=lambda f: (rank(f), sp.default_sort_key(f)))
        return super()._print_Mul(sp.Mul(*factors, evaluate=False))

    def _print_IndexedBase(self, expr):
        return str(expr.label)


    def _print_Indexed(self, expr):
        if tensor_name(expr) in self.scalars and tuple(expr.indices) == (0,):
            return tensor_name(expr)
        return f"{expr.base}[{', '.join(self._print(i) for i in expr.indices)}]"

    def _print_Sum(self, expr):
        names = ",".join(str(s) for s, *_ in expr.limits)
        return f"sum_{names}({self._print(expr.function)})"

    def _print_Iverson(self, expr):
        return f"[{self._print(expr.args[0])}]"

    def _print_Cases(self, expr):
        a = expr.args
        parts = [f"{self._print(a[k])} if {self._print(a[k + 1])}"
                 for k in range(0, len(a) - 2, 2)]
        return "(" + " else ".join(parts + [self._print(a[-2])]) + ")"

    def _print_Equality(self, expr):
        return f"{self._print(expr.lhs)} == {self._print(expr.rhs)}"

    def _print_Unequality(self, expr):
        return f"{self._print(expr.lhs)} != {self._print(expr.rhs)}"

    def _print_And(self, expr):
        return " and ".join(self._print(a) for a in expr.args)

    def _print_Or(self, expr):
        return " or ".join(self._print(a) for a in expr.args)


# -- the sweep -----------------------------------------------------------------------------
def _matmul_text(st) -> str:
    """`X @ W` (`.T` where needed) when `st` is a matrix or matrix-vector product."""
    factors = sp.Mul.make_args(st.body)
    if st.reduce != "sum" or len(st.rloops) != 1 or len(factors) != 2 or \
            not all(isinstance(f, sp.Indexed) for f in factors):
        return ""
    (r, _), idx = st.rloops[0], tuple(st.target_index)
    left = [f for f in factors if idx and idx[0] in f.indices]
    if not left:
        return ""
    a = left[0]
    b = factors[1] if a is factors[0] else factors[0]
    want_a = [(idx[0], r)], [(r, idx[0])]
    rest = idx[1:]
    if tuple(a.indices) == (idx[0], r):
        ta = ""
    elif tuple(a.indices) == (r, idx[0]):
        ta = ".T"
    else:
        return ""
    if tuple(b.indices) == (r, *rest):
        tb = ""
    elif len(rest) == 1 and tuple(b.indices) == (rest[0], r):
        tb = ".T"
    else:
        return ""
    del want_a
    return f"{a.base}{ta} @ {b.base}{tb}"


def _index_names(expr) -> set:
    """Names of the integer symbols in `expr`, bound ones included."""
    return {str(x) for x in expr.atoms(sp.Symbol) if x.is_integer}


def _name_bound(expr):
    """Summation Dummies named i, j, k, ...: each distinct from every other name in sight,
    outer sums first."""
    taken = {str(s) for s in expr.atoms(sp.Symbol) if not isinstance(s, sp.Dummy)}
    names = {}
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Sum):
            for var, *_ in node.limits:
                if isinstance(var, sp.Dummy) and var not in names:
                    names[var] = _free_name(taken)
                    taken.add(str(names[var]))
    return expr.xreplace(names) if names else expr


def _free_name(taken) -> sp.Symbol:
    """The first index name i, j, k, ... not in `taken`."""
    for name in INDEX_NAMES:
        if name not in taken:
            return sp.Symbol(name, integer=True)
    k = 1
    while f"i{k}" in taken:
        k += 1
    return sp.Symbol(f"i{k}", integer=True)


def assigned_names(text: str) -> list:
    """The names a source line assigns (`z = ...`, `a, b = ...`, `h += ...`)."""
    m = re.match(r"\s*([A-Za-z_][\w\s,()]*?)\s*(?:[-+*/@]|//|\*\*)?=(?!=)", text or "")
    return re.findall(r"[A-Za-z_]\w*", m.group(1)) if m else []


class _Sweep:
    """Reverse mode on `prog` in the course's forms, gradients composed per tensor."""

    def __init__(self, prog):
        self.prog = prog
        self.tensors = prog.tensors
        out = prog.outputs[0]
        self.seeded = len(prog.outputs) == 1 and self.tensors[out].rank == 0
        self.named = self._named_values()
        self.grad = {}          # tensor -> IndexedBase of its gradient (how it prints)
        self.terms = {}         # tensor -> [(target index, loops, body)]
        self.closed = {}        # tensor -> (canonical index, expression) or None (scatter)
        self.order = []         # named values whose gradient is shown, in sweep order
        self.swept = []         # every tensor whose gradient is complete, in sweep order
        self._run()

    # names ---------------------------------------------------------------------------
    def _named_values(self) -> dict:
        """tensor -> the user's name for it (outputs: the function's name)."""
        out = {}
        for st in self.prog.stmts:
            if st.composite and not st.custom:
                continue
            if st.origin and st.target in assigned_names(st.origin.text):
                out[st.target] = st.target
        self.values = set(out)          # the named values (not arguments, not outputs)
        for a in self.prog.args:
            out[a.ident] = a.name
        if self.seeded:
            out[self.prog.outputs[0]] = self.prog.name
        return out

    def label(self, name: str) -> str:
        f = self.prog.name
        shown = self.named.get(name, name)
        return f"d{f}/d{shown}" if self.seeded else f"d_{shown}"

    def _grad_of(self, name: str):
        if name not in self.grad:
            self.grad[name] = sp.IndexedBase(self.label(name))
            self.terms[name] = []
        return self.grad[name]

    # the sweep -------------------------------------------------------------------------
    def _run(self):
        prog = self.prog
        active = active_tensors(prog)
        for out in prog.outputs:
            self._grad_of(out)
            t = self.tensors[out]
            idx = tuple(sp.Symbol(INDEX_NAMES[d], integer=True) for d in range(t.rank))
            seed = sp.Integer(1) if self.seeded else \
                sp.IndexedBase(f"c_{self.named.get(out, out)}")[idx or (0,)]
            self.terms[out].append((idx or (sp.Integer(0),), (), seed))
        for st in reversed(prog.stmts):
            if st.target not in self.grad:
                continue
            self._close(st.target)
            if st.custom:
                self._custom(st, active)
            elif not (st.composite or st.no_grad):
                self._contributions(st, active)
        for a in prog.args:
            if a.name in prog.wrt and a.ident in self.grad:
                self._close(a.ident)

    def _close(self, name: str):
        if name in self.closed:
            return
        self.closed[name] = self._compose(name)
        self.swept.append(name)
        if name in self.values and name not in self.prog.outputs:
            self.order.append(name)

    def _contributions(self, st, active):
        d_out = self._grad_of(st.target)[tuple(st.target_index)]
        decode = argmax_decode(self.tensors, st) if st.reduce in ("max", "min") else {}
        loops = st.loops if decode else st.all_loops
        course = st.with_(body=ops.course_form(st.body))
        for acc in accesses(course.body):
            name = tensor_name(acc)
            if name not in active:
                continue
            local = self._prefer_input(course, local_derivative(course, acc, self.tensors))
            local = bracketed(local)
            if local == 0:
                continue
            target = tuple(sp.sympify(i).xreplace(decode) for i in acc.indices)
            if self.tensors[name].rank == 0:
                target = (sp.Integer(0),)
            self._grad_of(name)
            self.terms[name].append((target, loops, (d_out * local).xreplace(decode)))

    def _prefer_input(self, st, local):
        """relu'(z) as [z > 0] when z is one value, else as [h > 0] of its output h."""
        body = st.body
        if isinstance(body, ops.T.relu) and not isinstance(body.args[0], sp.Indexed):
            out = access(self.tensors[st.target], st.target_index)
            return local.xreplace({sp.StrictGreaterThan(body.args[0], 0):
                                   sp.StrictGreaterThan(out, 0)})
        return local

    def _custom(self, st, active):
        rule = dict(st.custom)
        if rule["input"] not in active:
            return
        d_out = self._grad_of(st.target)[tuple(st.target_index)]
        self._grad_of(rule["input"])
        self.terms[rule["input"]].append((rule["index"], rule["loops"],
                                          d_out * bracketed(rule["shown"])))

    # composing -------------------------------------------------------------------------
    def _compose(self, name: str):
        """(canonical index, gradient) with the gradients it reads composed in; None when
        a term scatters (an index that is not one loop symbol per axis)."""
        terms = self.terms[name]
        shape = self.tensors[name].shape
        rank = len(shape)
        if rank == 0:
            canon = (sp.Integer(0),)
        else:       # one loop symbol per axis, or 0 on an axis of extent 1, alike in all
            canon = tuple(sp.Symbol(INDEX_NAMES[d], integer=True) if terms[0][0][d] != 0
                          else sp.Integer(0) for d in range(rank))
            for target, _, _ in terms:
                syms = [t for t in target if t != 0]
                if len(target) != rank or len(set(syms)) != len(syms) or any(
                        not isinstance(t, sp.Symbol) if c != 0 else
                        (t != 0 or sp.sympify(shape[d]) != 1)
                        for d, (t, c) in enumerate(zip(target, canon))):
                    return None
        total = sp.Integer(0)
        for target, loops, body in terms:
            body = self._substitute(body)
            rename = {t: c for t, c in zip(target, canon) if t != 0} if rank else {}
            summed = [(s, e) for s, e in loops if s not in rename]
            # summation indices are Dummies until printed: no substitution can capture them
            bound = {s: sp.Dummy(str(s), integer=True) for s, _ in summed}
            body = body.xreplace({**bound, **rename})
            total += self._sum(body, [(bound[s], e) for s, e in summed])
        return canon, total

    @staticmethod
    def _sum(body, limits):
        """sum over `limits` of body, factors that do not depend on them outside."""
        if not limits:
            return body
        syms = {s for s, _ in limits}
        inner, outer = [], []
        for f in sp.Mul.make_args(body):
            (inner if f.free_symbols & syms else outer).append(f)
        bounds = [(s, 0, e - 1) for s, e in limits]
        return sp.Mul(*outer) * sp.Sum(sp.Mul(*inner), *bounds)

    def _substitute(self, body):
        """Gradients read in `body`, composed in (named ones only while short)."""
        subs = {}
        by_label = {str(g): n for n, g in self.grad.items()}
        for acc in body.atoms(sp.Indexed):
            name = by_label.get(tensor_name(acc))
            closed = self.closed.get(name) if name else None
            if closed is None:
                continue
            canon, expr = closed
            value = expr if self.tensors[name].rank == 0 else \
                expr.xreplace({c: i for c, i in zip(canon, acc.indices) if c != 0})
            if name in self.values and name not in self.prog.outputs and \
                    len(self.text(value)) > SHORT:
                continue
            subs[acc] = value
        return body.xreplace(subs) if subs else body

    # the compiler's forward temporaries, shown by what they compute --------------------
    def _definitions(self) -> dict:
        """Unnamed temporaries written once over their own index -> their statement."""
        writers = {}
        for st in self.prog.stmts:
            writers.setdefault(st.target, []).append(st)
        out = {}
        for name, sts in writers.items():
            st = sts[0]
            if len(sts) == 1 and name not in self.named and not st.composite and \
                    not st.accumulate and st.reduce in ("none", "sum") and \
                    tuple(st.target_index) == tuple(s for s, _ in st.loops):
                out[name] = st
        return out

    def _expand_forward(self, expr, depth=3):
        """Accesses of the compiler's temporaries replaced by what they compute (`X @ W`
        for a matrix product), where that stays short."""
        defs = self._definitions()
        for _ in range(depth):
            subs = {}
            for acc in expr.atoms(sp.Indexed):
                st = defs.get(tensor_name(acc))
                if st is None or len(acc.indices) != len(st.target_index):
                    continue
                value = self._definition(st, acc)
                if value is not None and len(self.text(value, expand=False)) <= 48:
                    subs[acc] = value
            if not subs:
                break
            expr = expr.xreplace(subs)
        return expr

    def _definition(self, st, acc):
        product = _matmul_text(st)
        if product:
            return sp.IndexedBase(f"({product})")[acc.indices]
        mapping = {t: i for t, i in zip(st.target_index, acc.indices) if t != 0}
        if st.reduce == "none":
            return st.body.xreplace(mapping)
        bound = {s: sp.Dummy(str(s), integer=True) for s, _ in st.rloops}
        body = st.body.xreplace({**mapping, **bound})
        return sp.Sum(body, *[(bound[s], 0, e - 1) for s, e in st.rloops])

    # printing --------------------------------------------------------------------------
    def text(self, expr, expand=True) -> str:
        if expand:
            expr = self._expand_forward(expr)
        scalars = [self.named.get(n, n) for n, t in self.tensors.items() if t.rank == 0]
        scalars += [str(g) for n, g in self.grad.items() if self.tensors[n].rank == 0]
        expr = _name_bound(sp.factor_terms(self._named_forms(expr)))
        whole = {f: sp.Integer(int(f)) for f in expr.atoms(sp.Float)
                 if float(f).is_integer() and abs(float(f)) < 1e15}
        return CoursePrinter(scalars).doprint(expr.xreplace(whole) if whole else expr)

    def _named_forms(self, expr):
        """Arguments under their names, a scalar output under the function's name."""
        subs = {}
        for acc in expr.atoms(sp.Indexed):
            name = tensor_name(acc)
            if name in self.named and self.named[name] != name:
                subs[acc] = sp.IndexedBase(self.named[name])[acc.indices]
        return expr.xreplace(subs) if subs else expr

    def forward_lines(self) -> list:
        """The lines of the forward pass as the user wrote them (`return` as `f = ...`)."""
        lines, seen = [], set()
        for st in self.prog.stmts:
            o = st.origin
            if o is None or o.line in seen:
                continue
            seen.add(o.line)
            text = o.text.strip()
            if text.startswith("return "):
                head = self.prog.name if self.seeded else "return"
                text = f"{head} = {text[7:]}" if self.seeded else text
            lines.append(text)
        return lines

    def _references(self, name: str) -> set:
        """The gradients the lines of `name` read (not composed into them)."""
        by_label = {str(g): n for n, g in self.grad.items()}
        closed = self.closed[name]
        exprs = [self._substitute(b) for _, _, b in self.terms[name]] if closed is None \
            else [closed[1]]
        return {by_label[tensor_name(a)] for e in exprs for a in e.atoms(sp.Indexed)
                if tensor_name(a) in by_label and by_label[tensor_name(a)] != name}

    def gradient_lines(self) -> list:
        lines = []
        wrt = [a.ident for a in self.prog.args if a.name in self.prog.wrt]
        shown, queue = set(), self.order + [n for n in wrt if n in self.closed]
        while queue:        # and every gradient a shown line refers to
            name = queue.pop(0)
            if name not in shown and name not in self.prog.outputs:
                shown.add(name)
                queue.extend(self._references(name))
        for name in self.swept:
            if name in shown:
                lines.extend(self._lines_of(name))
        for a in self.prog.args:
            if a.name in self.prog.wrt and a.ident not in self.closed:
                lines.append(f"{self.label(a.ident)} = 0")
        if not self.seeded:
            seeds = ", ".join(f"c_{self.named.get(o, o)}" for o in self.prog.outputs)
            lines.insert(0, f"# the gradient of sum(c * output) for a cotangent {seeds}")
        return lines

    def _lines_of(self, name: str) -> list:
        g = self.grad[name]
        closed = self.closed[name]
        if closed is None:      # a scatter: one `+=` line per term
            out = []
            for target, loops, body in self.terms[name]:
                lhs = self.text(g[target])
                over = ", ".join(f"{s}<{self.text(e)}" for s, e in loops)
                out.append(f"{lhs} += {self.text(self._substitute(body))}"
                           + (f"    for {over}" if over else ""))
            return out
        canon, expr = closed
        lhs = self.text(g[canon])
        return [f"{lhs} = {self.text(expr)}"]


__all__ = ["formulas", "CoursePrinter", "assigned_names"]
