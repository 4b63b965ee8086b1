"""The forward-vs-reverse cost report, counted from the programs the kernels run.

For each program (value, JVP, VJP, HVP) of an entry point: floating-point operations
(each statement's operation count times its iterations; a GEMM is 2*M*N*K) and bytes
moved (every tensor a statement touches, read or written once per statement: the
compulsory traffic). The memory reverse mode keeps is the forward tensors the backward
statements read. Sizes stay symbolic (formulas in N) unless given.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .ir import Program, Stmt, accesses, tensor_name
from .schedule import as_gemm, saved_for_backward, schedule


@dataclass
class Cost:
    flops: sp.Expr
    bytes: sp.Expr


def _numel(shape) -> sp.Expr:
    n = sp.Integer(1)
    for s in shape:
        n *= sp.sympify(s)
    return n


def _iterations(st: Stmt) -> sp.Expr:
    return _numel([e for _, e in st.all_loops])


def _stmt_flops(st: Stmt, tensors) -> sp.Expr:
    if as_gemm(st, tensors) is not None:
        return 2 * _iterations(st)
    ops = sp.count_ops(st.body, visual=False) + (1 if st.accumulate or st.rloops else 0)
    return _iterations(st) * max(int(ops), 1)


def _stmt_bytes(st: Stmt, tensors, itemsize: int) -> sp.Expr:
    names = {tensor_name(a) for a in accesses(st.body)} | {st.target}
    total = sp.Integer(0)
    for n in sorted(names):
        t = tensors[n]
        size = 8 if t.kind == "int" else itemsize
        total += sp.Min(_numel(t.shape) or 1, _iterations(st)) * size
    return total


def program_cost(prog: Program, itemsize: int = 8) -> Cost:
    flops = sum((_stmt_flops(st, prog.tensors) for st in prog.stmts), sp.Integer(0))
    moved = sum((_stmt_bytes(st, prog.tensors, itemsize) for st in prog.stmts), sp.Integer(0))
    return Cost(sp.simplify(flops), sp.simplify(moved))


def kept_for_backward(vjp_program: Program, itemsize: int = 8) -> tuple[list, sp.Expr]:
    """(tensor names, bytes) the reverse pass keeps from the forward pass."""
    names = saved_for_backward(schedule(vjp_program))
    total = sp.Integer(0)
    for n in names:
        t = vjp_program.tensors[n]
        total += _numel(t.shape) * (8 if t.kind == "int" else itemsize)
    return names, sp.simplify(total)


def _at(expr, sizes: dict):
    expr = sp.sympify(expr)
    subs = {s: sizes[str(s)] for s in expr.free_symbols if str(s) in sizes}
    value = expr.xreplace(subs)
    return int(value) if value.is_Integer else value


def _show(expr) -> str:
    if isinstance(expr, int) or (isinstance(expr, sp.Expr) and expr.is_Integer):
        return _si(int(expr))
    return str(expr)


def _si(n: int) -> str:
    if abs(n) < 10_000:
        return str(n)
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{unit}"
    return str(n)


def report(c, sizes: dict | None = None, itemsize: int = 8) -> str:
    """The cost report of one compiled entry point (`driver.Compiled`)."""
    sizes = dict(sizes or {})
    p = c.program
    n = _at(sum((_numel(a.shape) for a in p.args if a.name in p.wrt), sp.Integer(0)), sizes)
    m = _at(sum((_numel(p.tensors[o].shape) for o in p.outputs), sp.Integer(0)), sizes)
    shown = ", ".join(f"{k}={v}" for k, v in sizes.items())
    lines = [f"# cost of {p.name} ({'float64' if itemsize == 8 else 'float32'}"
             f"{', ' + shown if shown else ''}; sizes not given stay symbolic)",
             f"parameters n = {_show(n)}   outputs m = {_show(m)}", "",
             f"  {'pass':<22} {'flops':>22} {'bytes moved':>22}"]
    costs = {}
    titles = {"value": "forward (f)", "jvp": "JVP (f_jvp)", "vjp": "VJP (f_vjp, f_grad)",
              "hvp": "HVP (f_hvp)"}
    for kind in ("value", "jvp", "vjp", "hvp"):
        if kind not in c.programs:
            continue
        cost = program_cost(c.programs[kind], itemsize)
        costs[kind] = Cost(_at(cost.flops, sizes), _at(cost.bytes, sizes))
        lines.append(f"  {titles[kind]:<22} {_show(costs[kind].flops):>22} "
                     f"{_show(costs[kind].bytes):>22}")
    names, kept = kept_for_backward(c.programs["vjp"], itemsize)
    kept = _at(kept, sizes)
    listed = ", ".join(f"{k}[{', '.join(str(s) for s in c.programs['vjp'].tensors[k].shape)}]"
                       for k in names) or "nothing"
    plural = "" if len(names) == 1 else "s"
    lines += ["", f"reverse mode keeps {len(names)} forward tensor{plural} for the backward "
              f"pass: {_show(kept)} bytes ({listed})"]
    lines += _jacobian_lines(n, m, costs)
    return "\n".join(lines)


def _jacobian_lines(n, m, costs) -> list:
    forward = sp.sympify(n) * sp.sympify(costs["jvp"].flops)
    reverse = sp.sympify(m) * sp.sympify(costs["vjp"].flops)
    lines = ["", "full Jacobian (m x n):",
             f"  forward mode: n = {_show(n)} JVPs = {_show(_simple(forward))} flops",
             f"  reverse mode: m = {_show(m)} VJPs = {_show(_simple(reverse))} flops"]
    ratio = sp.simplify(forward / reverse) if reverse != 0 else sp.oo
    if ratio.is_number:
        if ratio >= 1:
            lines.append(f"  reverse mode wins by {float(ratio):.3g}x (f_jacobian uses "
                         f"{'reverse' if sp.sympify(m) <= sp.sympify(n) else 'forward'} mode: "
                         "it picks the smaller of n and m)")
        else:
            lines.append(f"  forward mode wins by {float(1 / ratio):.3g}x (f_jacobian uses "
                         f"{'forward' if sp.sympify(n) < sp.sympify(m) else 'reverse'} mode: "
                         "it picks the smaller of n and m)")
    else:
        lines.append(f"  forward / reverse = {ratio} (give the sizes with --size to compare)")
    if "hvp" in costs:
        h = sp.simplify(sp.sympify(costs["hvp"].flops) / sp.sympify(costs["vjp"].flops))
        lines.append("")
        lines.append("one HVP costs " + (f"{float(h):.2f}x" if h.is_number else f"({h})x") +
                     " one gradient")
    return lines


def _simple(expr):
    expr = sp.simplify(expr)
    return int(expr) if expr.is_Integer else expr


__all__ = ["Cost", "program_cost", "kept_for_backward", "report"]
