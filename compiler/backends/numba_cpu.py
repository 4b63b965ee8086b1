"""Numba CPU backend: scheduled blocks -> the source of `@njit` forward/backward kernels."""
from __future__ import annotations

import sympy as sp

from ..cse import cse_block
from ..ir import Program, Tensor, is_plain_target
from ..printer import KernelPrinter, size_code
from ..schedule import Gemm, Nest, Schedule

NJIT = "@njit(cache=True, error_model=\"numpy\")"


class Code:
    """Lines of Python with an indentation level."""

    def __init__(self):
        self.lines: list[str] = []
        self.level = 0

    def add(self, text=""):
        self.lines.append(("    " * self.level + text) if text else "")

    def indent(self):
        self.level += 1

    def dedent(self, n=1):
        self.level -= n

    def text(self):
        return "\n".join(self.lines)


def dim_bindings(prog: Program) -> list[str]:
    """`N = X.shape[0]` for each symbolic size, from the first argument that has it."""
    out, seen = [], set()
    for a in prog.args:
        for d, s in enumerate(a.shape):
            if isinstance(s, sp.Symbol) and str(s) not in seen:
                seen.add(str(s))
                out.append(f"{s} = {a.name}.shape[{d}]")
    return out


def dtype_source(prog: Program) -> str:
    for a in prog.args:
        if a.role in ("param", "data"):
            return f"{a.name}.dtype"
    return "np.float64"


def shape_code(t: Tensor) -> str:
    dims = [size_code(s) for s in t.shape] or ["1"]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


class KernelWriter:
    """Writes the blocks of one schedule into a kernel body."""

    def __init__(self, tensors, printer: KernelPrinter, code: Code, backward=False):
        self.tensors = tensors
        self.p = printer
        self.code = code
        self.backward = backward
        self.last_line = None

    def allocate(self, name, how):
        t = self.tensors[name]
        if how == "gemm":
            return
        dtype = "np.int64" if t.kind == "int" else "dtype"
        fn = "np.zeros" if how == "zeros" else "np.empty"
        self.code.add(f"{name} = {fn}({shape_code(t)}, {dtype})")

    def comment(self, origin):
        if origin and origin.line != self.last_line:
            self.code.add()
            tag = " (backward)" if self.backward else ""
            self.code.add(f"# line {origin.line}{tag}: {origin.text}")
            self.last_line = origin.line

    def blocks(self, sched: Schedule, allocated: set):
        for block in sched.blocks:
            self.comment(block.origin)
            targets = [block.target] if isinstance(block, Gemm) else \
                [x for st in block.items for x in (st.target, st.argmax) if x]
            for name in dict.fromkeys(targets):
                if name not in allocated and name in sched.alloc:
                    self.allocate(name, sched.alloc[name])
                    allocated.add(name)
            if isinstance(block, Gemm):
                self.gemm(block)
            else:
                self.nest(block)

    def gemm(self, g: Gemm):
        a = g.a + (".T" if g.ta else "")
        b = g.b + (".T" if g.tb else "")
        op = "+=" if g.accumulate else "="
        self.code.add(f"{g.target} {op} np.dot({a}, {b})")

    def nest(self, nest: Nest):
        for sym, ext in nest.loops:
            self.code.add(f"for {sym} in range({size_code(ext)}):")
            self.code.indent()
        simple, pending = [], []
        for st in nest.items:
            if st.rloops:
                self.flush(pending)
                pending = []
                self.reduction(st)
            else:
                pending.append(st)
        self.flush(pending)
        self.code.dedent(len(nest.loops))

    def flush(self, items):
        if not items:
            return
        temps, bodies = cse_block([st.body for st in items])
        for sym, expr in temps:
            self.code.add(f"{sym} = {self.p.doprint(expr)}")
        for st, body in zip(items, bodies):
            op = "+=" if st.accumulate else "="
            self.code.add(f"{self.target(st)} {op} {self.p.doprint(body)}")

    def target(self, st):
        idx = ", ".join(self.p.doprint(sp.sympify(i)) for i in st.target_index)
        return f"{st.target}[{idx}]"

    def reduction(self, st):
        kind = st.reduce if st.reduce != "none" else "sum"
        if kind == "sum":
            self.code.add("acc = 0.0")
        else:
            self.code.add(f"acc = {'-' if kind == 'max' else ''}math.inf")
            if st.argmax:
                self.code.add("arg = 0")
        for sym, ext in st.rloops:
            self.code.add(f"for {sym} in range({size_code(ext)}):")
            self.code.indent()
        temps, (body,) = cse_block([st.body])
        for sym, expr in temps:
            self.code.add(f"{sym} = {self.p.doprint(expr)}")
        if kind == "sum":
            self.code.add(f"acc += {self.p.doprint(body)}")
        else:
            self.code.add(f"value = {self.p.doprint(body)}")
            self.code.add(f"if value {'>' if kind == 'max' else '<'} acc:")
            self.code.indent()
            self.code.add("acc = value")
            if st.argmax:
                self.code.add(f"arg = {self.p.doprint(_flat_index(st.rloops))}")
            self.code.dedent()
        self.code.dedent(len(st.rloops))
        op = "+=" if st.accumulate else "="
        self.code.add(f"{self.target(st)} {op} acc")
        if st.argmax:
            idx = ", ".join(self.p.doprint(sp.sympify(i)) for i in st.target_index)
            self.code.add(f"{st.argmax}[{idx}] = arg")


def _flat_index(rloops):
    flat = sp.Integer(0)
    for sym, ext in rloops:
        flat = flat * ext + sym
    return flat


def _signature(prog: Program) -> list[str]:
    return [a.name for a in prog.args]


def forward_kernel(prog: Program, sched: Schedule, saved: list, printer: KernelPrinter) -> str:
    """`_f_forward(args) -> (outputs..., saved...)`."""
    code = Code()
    code.add(NJIT)
    code.add(f"def _{prog.name}_forward({', '.join(_signature(prog))}):")
    code.indent()
    code.add(f'"""Forward pass of `{prog.name}`: its outputs, then what the backward pass '
             'reads."""')
    for line in dim_bindings(prog):
        code.add(line)
    code.add(f"dtype = {dtype_source(prog)}")
    KernelWriter(prog.tensors, printer, code).blocks(sched, set())
    code.add()
    code.add(f"return {', '.join(prog.outputs + saved)}{',' if len(prog.outputs + saved) == 1 else ''}")
    return code.text()


def backward_kernel(prog: Program, adj, sched: Schedule, saved: list,
                    printer: KernelPrinter) -> str:
    """`_f_backward(args, outputs it reads..., saved..., seeds...) -> gradients in `wrt` order`."""
    tensors = dict(prog.tensors)
    tensors.update(adj.tensors)
    seeds = [adj.seeds[o] for o in prog.outputs]
    code = Code()
    code.add(NJIT)
    params = _signature(prog) + saved + seeds
    code.add(f"def _{prog.name}_backward({', '.join(params)}):")
    code.indent()
    code.add(f'"""Backward pass of `{prog.name}`: reverse-mode adjoints, last statement '
             'first."""')
    for line in dim_bindings(prog):
        code.add(line)
    code.add(f"dtype = {dtype_source(prog)}")
    allocated = set(seeds)
    writer = KernelWriter(tensors, printer, code, backward=True)
    writer.blocks(sched, allocated)
    grads = [adj.grads[n] for n in prog.wrt]
    missing = [g for g in grads if g not in allocated]
    if missing:
        code.add()
        code.add("# arguments the output does not depend on")
        for g in missing:
            writer.allocate(g, "zeros")
    code.add()
    code.add(f"return {', '.join(grads)}{',' if len(grads) == 1 else ''}")
    return code.text()


def helper_source(names) -> str:
    from ..ops import HELPERS
    parts = []
    for name in sorted(names):
        parts.append("@njit(cache=True, inline=\"always\")\n" + HELPERS[name])
    return "\n\n".join(parts)


__all__ = ["forward_kernel", "backward_kernel", "helper_source", "is_plain_target"]
