"""Rewrite: `rewrite(program) -> Program`, the user's own formulas in their stable forms.

A student who writes the sigmoid as `1/(1 + exp(-z))`, a softmax as
`exp(z)/sum(exp(z))` or a log-sum-exp by hand gets inf or NaN at large |z| where the
exact value is finite. Each rule below recognises one such form and replaces it with the
named function that computes the same value stably. Rules see through elementwise
temporaries (`e = exp(-z); p = 1/(1 + e)`) and helper calls (already inlined), and the
two reductions (log-sum-exp, softmax) are matched across the statements that compute
them. Every application is recorded with its source line (`adc inspect --show
rewrites`); `adc compile --no-rewrite` turns the pass off.

The pass runs on the inlined program before differentiation, and its scalar rules run
again on the backward statements that reverse mode adds (`simplify_derivatives`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

from . import ops
from .ir import (Program, Stmt, access, accesses, is_plain_target, reads, scan_runs,
                 tensor_base, tensor_name)


@dataclass(frozen=True)
class Applied:
    """One application of a rule, for `adc inspect --show rewrites`."""

    rule: str
    line: int
    text: str            # the source line
    before: str
    after: str


# -- scalar rules: each a function expr -> expr or None, its formula the docstring --------
def _is_exp(e):
    return isinstance(e, sp.exp)


def _parts_one_plus(e):
    """u when e is 1 + u, else None."""
    if isinstance(e, sp.Add) and sp.Integer(1) in e.args:
        rest = [a for a in e.args if a != 1]
        return sp.Add(*rest)
    return None


def rule_sigmoid_ratio(e):
    """exp(z)/(1 + exp(z)) -> sigmoid(z)"""
    if not isinstance(e, sp.Mul):
        return None
    exps = [a for a in e.args if _is_exp(a)]
    for x in exps:
        for d in e.args:
            if isinstance(d, sp.Pow) and d.exp == -1 and _parts_one_plus(d.base) == x:
                others = [a for a in e.args if a is not x and a is not d]
                return sp.Mul(ops.sigmoid(x.args[0]), *others)
    return None


def rule_sigmoid(e):
    """1/(1 + exp(-z)) -> sigmoid(z)"""
    if isinstance(e, sp.Pow) and e.exp == -1:
        u = _parts_one_plus(e.base)
        if u is not None and _is_exp(u):
            return ops.sigmoid(-u.args[0])
    return None


def rule_one_minus_sigmoid(e):
    """1 - sigmoid(z) -> sigmoid(-z)"""
    u = _parts_one_plus(e)
    if u is not None and isinstance(u, sp.Mul) and len(u.args) == 2 and u.args[0] == -1 \
            and isinstance(u.args[1], ops.sigmoid):
        return ops.sigmoid(-u.args[1].args[0])
    return None


def rule_softplus(e):
    """log(1 + exp(z)) -> softplus(z)"""
    if isinstance(e, sp.log):
        u = _parts_one_plus(e.args[0])
        if u is not None and _is_exp(u):
            return ops.softplus(u.args[0])
    return None


def rule_log_sigmoid(e):
    """log(sigmoid(z)) -> log_sigmoid(z) = -softplus(-z)"""
    if isinstance(e, sp.log) and isinstance(e.args[0], ops.sigmoid):
        return ops.log_sigmoid(e.args[0].args[0])
    return None


def rule_tanh(e):
    """(exp(z) - exp(-z))/(exp(z) + exp(-z)) -> tanh(z)"""
    if not isinstance(e, sp.Mul):
        return None
    for d in e.args:
        if isinstance(d, sp.Pow) and d.exp == -1 and isinstance(d.base, sp.Add) \
                and len(d.base.args) == 2 and all(_is_exp(a) for a in d.base.args):
            a, b = d.base.args
            z = (a.args[0] - b.args[0]) / 2
            if sp.simplify(a.args[0] + b.args[0]) != 0:
                continue
            numerator = sp.Mul(*[x for x in e.args if x is not d])
            if sp.expand(numerator - (sp.exp(z) - sp.exp(-z))) == 0:
                return ops.tanh(z)
            if sp.expand(numerator + (sp.exp(z) - sp.exp(-z))) == 0:
                return -ops.tanh(z)
    return None


def rule_logaddexp(e):
    """log(exp(a) + exp(b)) -> logaddexp(a, b)"""
    if isinstance(e, sp.log) and isinstance(e.args[0], sp.Add) and len(e.args[0].args) == 2 \
            and all(_is_exp(a) for a in e.args[0].args):
        a, b = e.args[0].args
        return ops.logaddexp(a.args[0], b.args[0])
    return None


def rule_log_of_exp_product(e):
    """log(exp(a) * b) -> a + log(b)"""
    if isinstance(e, sp.log) and isinstance(e.args[0], sp.Mul):
        exps = [a for a in e.args[0].args if _is_exp(a)]
        if exps:
            rest = sp.Mul(*[a for a in e.args[0].args if a is not exps[0]])
            return exps[0].args[0] + sp.log(rest)
    return None


def rule_log_of_piecewise(e):
    """log(Piecewise((a, c), (b, True))) -> Piecewise((log(a), c), (log(b), True))"""
    if isinstance(e, sp.log) and isinstance(e.args[0], sp.Piecewise):
        return sp.Piecewise(*[(sp.log(v), c) for v, c in e.args[0].args])
    return None


def rule_log_of_reciprocal(e):
    """log(1/x) -> -log(x)"""
    if isinstance(e, sp.log) and isinstance(e.args[0], sp.Pow) and e.args[0].exp == -1:
        return -sp.log(e.args[0].base)
    return None


def rule_exp_times_sigmoid(e):
    """exp(z) * sigmoid(-z) -> sigmoid(z)"""
    if isinstance(e, sp.Mul):
        for x in e.args:
            if _is_exp(x) and ops.sigmoid(-x.args[0]) in e.args:
                rest = [a for a in e.args if a is not x and a != ops.sigmoid(-x.args[0])]
                return sp.Mul(ops.sigmoid(x.args[0]), *rest)
    return None


def rule_log1p(e):
    """log(1 + x) -> log1p(x)"""
    if isinstance(e, sp.log):
        u = _parts_one_plus(e.args[0])
        if u is not None and not _is_exp(u):
            return log1p(u)
    return None


def rule_expm1(e):
    """exp(x) - 1 -> expm1(x)"""
    if isinstance(e, sp.Add) and sp.Integer(-1) in e.args:
        exps = [a for a in e.args if _is_exp(a)]
        if exps:
            rest = [a for a in e.args if a != -1 and a is not exps[0]]
            return sp.Add(expm1(exps[0].args[0]), *rest)
    return None


# In the order they are tried on each subexpression, innermost first.
SCALAR_RULES = [rule_sigmoid_ratio, rule_exp_times_sigmoid, rule_sigmoid,
                rule_one_minus_sigmoid, rule_softplus, rule_log_sigmoid, rule_tanh,
                rule_logaddexp, rule_log_of_exp_product, rule_log_of_piecewise,
                rule_log_of_reciprocal, rule_log1p, rule_expm1]


# Rules whose pattern a rewrite of its operands would hide: tried before the operands.
OUTER_FIRST = [rule_sigmoid_ratio, rule_tanh]


def rewrite_scalar(expr, fired: list):
    """`expr` with every scalar rule applied bottom-up until nothing changes; the names
    of the rules that fired are appended to `fired`."""
    def apply(e, rules):
        for rule in rules:
            out = rule(e)
            if out is not None and out != e:
                fired.append(_rule_name(rule))
                return out
        return None

    if not _has_trigger(sp.sympify(expr)):
        return expr       # every rule needs one of these: nothing to rebuild
    def visit(e):
        if not e.args or isinstance(e, (sp.Indexed, sp.Symbol)):
            return e
        out = apply(e, OUTER_FIRST)   # exp(z)/(1 + exp(z)) before 1/(1 + exp(z)) inside it
        if out is not None:
            return visit(out)
        e = e.func(*[visit(a) for a in e.args]) if not isinstance(e, sp.Piecewise) else \
            sp.Piecewise(*[(visit(v), c) for v, c in e.args])
        out = apply(e, SCALAR_RULES)  # the rest once the operands are in their stable forms
        return visit(out) if out is not None else e
    for _ in range(8):
        new = visit(sp.sympify(expr))
        if new == expr:
            break
        expr = new
    return expr


def _has_trigger(expr) -> bool:
    """Whether some scalar rule could match inside `expr`: each one needs exp, log or
    sigmoid (the check is a traversal; the rules rebuild every node)."""
    return expr.has(sp.exp, sp.log, ops.sigmoid)


def _rule_name(rule) -> str:
    return rule.__name__.removeprefix("rule_")


# -- seeing through elementwise temporaries ------------------------------------------------
def _producers(prog: Program) -> dict:
    """Tensors written once, elementwise over their own index: name -> statement."""
    writers = {}
    for st in prog.stmts:
        writers.setdefault(st.target, []).append(st)
    out = {}
    for name, sts in writers.items():
        st = sts[0]
        t = prog.tensors[name]
        if len(sts) == 1 and st.reduce == "none" and not st.rloops and not st.accumulate \
                and is_plain_target(st) and t.role == "temp" and t.rank > 0:
            out[name] = st
    return out


def _trigger_reach(producers: dict):
    """reaches(body, depth): whether `_expanded(body, producers, depth)` can contain a
    rule's trigger (memoised per temporary, so each is looked at once)."""
    memo = {}

    def reaches(body, depth):
        if _has_trigger(body):
            return True
        if depth == 0:
            return False
        for acc in accesses(body):
            name = tensor_name(acc)
            if name in producers:
                key = (name, depth)
                if key not in memo:
                    memo[key] = reaches(producers[name].body, depth - 1)
                if memo[key]:
                    return True
        return False
    return reaches


def _expanded(body, producers, depth=3):
    """The body with accesses to elementwise temporaries replaced by what they compute."""
    if depth == 0:
        return body
    subs = {}
    for acc in accesses(body):
        st = producers.get(tensor_name(acc))
        if st is not None and len(acc.indices) == len(st.target_index):
            mapping = dict(zip(st.target_index, acc.indices))
            subs[acc] = _expanded(st.body.xreplace(mapping), producers, depth - 1)
    return body.xreplace(subs) if subs else body


def rewrite(prog: Program) -> Program:
    """The program with the stable forms of what the user wrote (see the module doc)."""
    applied = list(getattr(prog, "rewrites", []) or [])
    prog = _reductions(prog, applied)
    producers = _producers(prog)
    reaches = _trigger_reach(producers)
    stmts = []
    for st in prog.stmts:
        fired = []
        body = rewrite_scalar(st.body, fired)
        if not fired and reaches(st.body, 3):   # look through the temporaries it reads
            expanded = _expanded(st.body, producers)
            if expanded != st.body:
                candidate = rewrite_scalar(expanded, fired)
                body = candidate if fired else st.body
        if fired:
            applied.append(_record(st, fired, st.body, body))
            st = st.with_(body=body)
        stmts.append(st)
    prog = _dead_code(replace(prog, stmts=stmts, rewrites=applied))
    return _dead_code(_cross_entropy(prog))


def simplify_derivatives(prog: Program) -> Program:
    """The scalar rules on the statements reverse or forward mode added."""
    applied = list(prog.rewrites or [])
    stmts = []
    for st in prog.stmts:
        if st.phase != "forward":
            fired = []
            body = rewrite_scalar(st.body, fired)
            if fired:
                applied.append(_record(st, fired, st.body, body))
                st = st.with_(body=body)
        stmts.append(st)
    return replace(prog, stmts=stmts, rewrites=applied)


def _record(st: Stmt, fired, before, after) -> Applied:
    line, text = (st.origin.line, st.origin.text) if st.origin else (0, "")
    return Applied(", ".join(dict.fromkeys(fired)), line, text, str(before), str(after))


def _dead_code(prog: Program) -> Program:
    """Drop statements whose targets no output depends on any more."""
    live = set(prog.outputs)
    keep = []
    for key, run in reversed(scan_runs(prog.stmts)):
        kept = set()
        while True:    # a loop kept as a loop: an earlier statement reads a later one
            grew = False
            for pos in reversed(range(len(run))):
                st = run[pos]
                if pos not in kept and (st.target in live or (st.argmax and st.argmax in live)):
                    kept.add(pos)
                    live |= reads(st)
                    grew = True
            if key is None or not grew:
                break
        keep += [run[pos] for pos in sorted(kept, reverse=True)]
    keep.reverse()
    used = {st.target for st in keep} | {st.argmax for st in keep if st.argmax} | \
        {n for st in keep for n in reads(st)}
    tensors = {n: t for n, t in prog.tensors.items()
               if n in used or t.role not in ("temp", "argmax") or n in prog.outputs}
    return replace(prog, stmts=keep, tensors=tensors)


# -- the two reductions -----------------------------------------------------------------
def _sum_of_exp(st: Stmt):
    """The exponent u when st is `s[I] = sum_R exp(u)`, else None."""
    if st.reduce in ("sum", "none") and st.rloops and not st.accumulate and _is_exp(st.body):
        return st.body.args[0]
    return None


def _reductions(prog: Program, applied: list) -> Program:
    """log(sum(exp(z))) -> logsumexp(z); exp(z)/sum(exp(z), keepdims) -> softmax(z)."""
    from .library import logsumexp, softmax
    from .values import Builder, Value
    sums = {st.target: st for st in prog.stmts if _sum_of_exp(st) is not None
            and prog.tensors[st.target].role == "temp" and not st.scan}
    if not sums:
        return prog
    builder = Builder()
    builder.tensors = dict(prog.tensors)
    builder._names.taken |= set(prog.tensors)
    stmts = []
    for st in prog.stmts:
        new_body = st.body
        if st.scan:        # new statements inside a step would split its loop
            stmts.append(st)
            continue
        for acc in sorted(accesses(st.body), key=sp.default_sort_key):
            s = sums.get(tensor_name(acc))
            if s is None:
                continue
            builder.origin, builder.stmts = st.origin, []
            value, axes = _exponent_value(s, prog)
            lse = sp.log(acc)
            if new_body.has(lse):
                out = builder.materialize(logsumexp(builder, value, tuple(axes), True),
                                          f"logsumexp_{s.target}", force=True)
                new_body = new_body.xreplace({lse: out.build(_keep_index(acc, s))})
                stmts += builder.stmts
                applied.append(Applied("logsumexp", *(_origin(st)), f"log(sum(exp(...)))",
                                       f"logsumexp(...) -> {out.tensor}"))
                continue
            found = _softmax_ratio(new_body, acc, s, st)
            if found is not None:
                ratio, j = found
                out = builder.materialize(softmax(builder, value, axes[0]),
                                          f"softmax_{s.target}", force=True)
                p = access(builder.tensors[out.tensor], tuple(acc.indices) + (j,))
                new_body = _replace_factors(new_body, ratio, p)
                stmts += builder.stmts
                applied.append(Applied("softmax", *(_origin(st)), "exp(z)/sum(exp(z))",
                                       f"softmax(z) -> {out.tensor}"))
        stmts.append(st.with_(body=new_body) if new_body != st.body else st)
    return _dead_code(replace(prog, stmts=stmts, tensors=builder.tensors))


def _replace_factors(body, ratio, by):
    """`body` with the factors of the product `ratio` replaced by `by` wherever a product
    holds them all (SymPy flattens exp(v)/s * j into one product of three factors)."""
    need = sp.Mul.make_args(ratio)

    def swap(e):
        if isinstance(e, sp.Mul) and all(f in e.args for f in need):
            rest = list(e.args)
            for f in need:
                rest.remove(f)
            return sp.Mul(by, *rest)
        return None
    return body.replace(lambda e: swap(e) is not None, swap)


def _origin(st):
    return (st.origin.line, st.origin.text) if st.origin else (0, "")


def _exponent_value(s: Stmt, prog: Program):
    """The exponent of `s = sum_R exp(u)` as a value over (free loops, reduced loops)."""
    from .values import Value
    loops = s.loops + s.rloops
    syms = [sym for sym, _ in loops]
    u = s.body.args[0]

    def build(idx):
        return u.xreplace(dict(zip(syms, idx)))
    axes = list(range(len(s.loops), len(loops)))
    return Value(tuple(e for _, e in loops), "float", build), axes


def _keep_index(acc, s: Stmt):
    """The keepdims index of the reduction result read at `acc` (free loops, then 0s)."""
    kept = tuple(acc.indices) if s.loops else ()    # a rank-0 sum is read as s[0]
    return kept + (sp.Integer(0),) * len(s.rloops)


def _softmax_ratio(body, acc, s: Stmt, st: Stmt):
    """(exp(v) * s[...]**-1 inside `body`, the reader's loop index on the reduced axis),
    or None. v must be the sum's exponent with its reduced loop at one of the reader's
    loop indices: s[i] = sum_r exp(z[i, r]) read as exp(z[i, j]) / s[i]."""
    if len(s.rloops) != 1:
        return None
    (r, _), = s.rloops
    candidates = [sym for sym, _ in st.all_loops]
    for sub in sp.preorder_traversal(body):
        if not (isinstance(sub, sp.Mul) and sp.Pow(acc, -1) in sub.args):
            continue
        for x in (a for a in sub.args if _is_exp(a)):
            for j in candidates:
                mapping = dict(zip([sym for sym, _ in s.loops], acc.indices))
                mapping[r] = j
                if sp.simplify(s.body.args[0].xreplace(mapping) - x.args[0]) == 0:
                    return sp.Mul(x, sp.Pow(acc, -1)), j
    return None


# -- a hand-written softmax cross-entropy ------------------------------------------------
def _softmax_rows(prog: Program, producers: dict) -> dict:
    """The row-wise stable softmaxes of matrices (library._shifted_rest over axis 1):
    rest tensor -> shift statement, where `shift[i] = max_r u(i, r)` and (in its generic
    branch) `rest[i] = sum_r exp(u(i, r) - shift[i])`."""
    shifts = [st for st in prog.stmts if st.reduce == "max" and st.argmax
              and len(st.loops) == 1 and len(st.rloops) == 1]
    rows = {}
    for st in prog.stmts:
        if st.reduce != "sum" or len(st.loops) != 1 or len(st.rloops) != 1 or st.accumulate:
            continue
        (i, _), (r, _) = st.loops[0], st.rloops[0]
        for s in shifts:
            expected = sp.exp(_expanded(_logit(s, i, r), producers) - tensor_base(s.target)[i])
            if _same(_generic(_expanded(st.body, producers), s), expected):
                rows[st.target] = s
    return rows


def _logit(shift: Stmt, i, j):
    """u(i, j): the element of the matrix whose row max `shift` is."""
    return shift.body.xreplace({shift.loops[0][0]: i, shift.rloops[0][0]: j})


def _same(a, b) -> bool:
    return sp.expand(a - b, power_exp=False) == 0


def _generic(body, shift: Stmt):
    """`body` in the generic branch of the stable softmax: the row max finite and the
    element not the first max (the other branches agree with it wherever the value
    is finite: the first max's shifted value is x - max = 0 exactly)."""
    name, arg = shift.target, shift.argmax

    def finite_max(c):        # isfinite(shift[...]): only the library writes it
        return isinstance(c, ops.isfinite) and isinstance(c.args[0], sp.Indexed) \
            and str(c.args[0].base) == name

    def first_max(c):         # Eq(index, shift_arg[...]) & isfinite(shift[...])
        return isinstance(c, sp.And) and any(finite_max(a) for a in c.args) and any(
            isinstance(a, sp.Eq) and any(isinstance(b, sp.Indexed) and tensor_name(b) == arg
                                         for b in a.args) for a in c.args)

    def pick(e):
        (v0, c0), *rest = e.args
        if first_max(c0) and len(e.args) == 2:
            return rest[-1][0]                       # the element is not the first max
        if finite_max(c0) and len(e.args) == 2:
            return v0                                # the row max is finite
        return e
    return sp.expand(body.replace(lambda e: isinstance(e, sp.Piecewise), pick), power_exp=False)


def _cross_entropy(prog: Program) -> Program:
    """sum_i (logsumexp(z[i]) - z[i, y[i]]) -> N * cross_entropy(z, y)

    The forms users write: `-mean(log_softmax(z, axis=1)[arange(N), y])`,
    `-mean(log(softmax(z, axis=1)[arange(N), y]))`, `mean(logsumexp(z, axis=1) -
    z[arange(N), y])` and their `log(sum(exp(z)))` spellings. The library's
    cross_entropy has its own reverse-mode rule, d z = (softmax(z) - onehot(y))/N in one
    loop nest."""
    from .library import cross_entropy
    from .values import Builder, Value
    producers = _producers(prog)
    rows = _softmax_rows(prog, producers)
    if not rows:
        return prog
    found, stmts = {}, []
    for st in prog.stmts:
        match = None if st.loops or len(st.rloops) != 1 or st.reduce != "sum" \
            or st.accumulate or st.composite or st.custom else \
            _row_losses(st, rows, producers, prog)
        if match is not None:      # a placeholder until the softmax it read is dead
            logits = _logit(match[1], st.rloops[0][0], sp.Integer(0))
            st = st.with_(body=sp.Function("reads")(logits))   # what the logits need
            found[id(st)] = match
        stmts.append(st)
    if not found:
        return prog
    alive = _dead_code(replace(prog, stmts=stmts))   # its names are free again
    builder = Builder()
    builder.tensors = dict(alive.tensors)
    builder._names.taken |= set(alive.tensors)
    applied, stmts = list(prog.rewrites), []
    for st in alive.stmts:
        if id(st) not in found:
            stmts.append(st)
            continue
        sign, shift, y = found[id(st)]
        builder.origin, builder.stmts = st.origin, []
        (_, n), (_, c) = shift.loops[0], shift.rloops[0]
        u = shift.body
        if isinstance(u, sp.Indexed) and tuple(u.indices) == (shift.loops[0][0],
                                                                shift.rloops[0][0]):
            logits = builder.view(prog.tensors[tensor_name(u)])     # z itself, not a copy
        else:
            logits = Value((n, c), "float", lambda idx, s=shift: _logit(s, *idx))
        mean = cross_entropy(builder, logits, builder.view(prog.tensors[y]))
        stmts += builder.stmts
        stmts.append(st.with_(body=sp.expand(sign * n * mean.build(())), reduce="none",
                              rloops=()))
        applied.append(Applied("cross_entropy", *_origin(st), "logsumexp(z) - z[i, y[i]]",
                               "cross_entropy(z, y)"))
    return replace(alive, stmts=stmts, tensors=builder.tensors, rewrites=applied)


def _row_losses(st: Stmt, rows: dict, producers: dict, prog: Program):
    """(sign, shift, y) when `st` is `sum_i sign*(logsumexp(u[i]) - u[i, y[i]])` for the
    matrix u whose row max `shift` is, else None."""
    (i, n), = st.rloops
    body = _expanded(st.body, producers)
    for rest, shift in rows.items():
        if sp.expand(n - shift.loops[0][1]) != 0:
            continue
        generic = _generic(body, shift)
        labels = {a for a in generic.atoms(sp.Indexed) if tuple(a.indices) == (i,)
                  and prog.tensors[tensor_name(a)].kind == "int"}
        for y in sorted(labels, key=sp.default_sort_key):
            picked = _expanded(_logit(shift, i, y), producers)
            loss = log1p(tensor_base(rest)[i]) + tensor_base(shift.target)[i] - picked
            for sign in (1, -1):
                if _same(generic, sign * loss):
                    return sign, shift, tensor_name(y)
    return None


__all__ = ["Applied", "SCALAR_RULES", "rewrite", "rewrite_scalar", "simplify_derivatives"]
