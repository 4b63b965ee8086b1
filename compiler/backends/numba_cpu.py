"""Numba CPU backend: a scheduled program -> the source of one `@njit` kernel.

The kernel takes the program's arguments in order (arrays, then scalars where the
signature has them) and returns its outputs: for `f` the value, for `vjp(f)` the value
and the gradients, for `jvp(f)` the value and the tangents. Rank-0 tensors are
one-element arrays.
"""
from __future__ import annotations

import re

import sympy as sp

from ..cse import Let, Reduction
from ..ir import Program, Stmt, Tensor
from ..printer import KernelPrinter, size_code
from ..schedule import Gemm, Nest, ScanEnd, ScanStart, Schedule
from ..threads import CHUNK_ROWS, CHUNKS, products, work
from . import vmath

# contract: a * b + c may be one fused multiply-add (one rounding instead of two); the
# inlined polynomials of vmath need it to run at the speed of NumPy's SIMD functions
NJIT = "@njit(cache=True, error_model=\"numpy\", fastmath={\"contract\"})"
NJIT_THREADS = NJIT[:-1] + ", parallel=True)"
# with parallel=True Numba runs np.dot of a matrix and a vector as its own prange loop,
# summing in another order than BLAS: the threaded kernels call BLAS through this
BLAS_DOT = '''@njit(cache=True)
def _blas_dot(a, b):
    """np.dot through BLAS, as the serial kernels call it (see the threaded kernels)."""
    return np.dot(a, b)'''


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
                out.append(f"{s} = {a.ident}.shape[{d}]")
    return out


def dtype_source(prog: Program) -> str:
    for a in prog.args:
        if a.role in ("param", "data", "cotangent", "tangent"):
            return f"{a.ident}.dtype"
    return "np.float64"


def shape_code(t: Tensor) -> str:
    dims = [size_code(s) for s in t.shape] or ["1"]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def phase_tag(phase: str) -> str:
    return "" if phase == "forward" else f" ({phase})"


class KernelWriter:
    """Writes the blocks of one schedule into a kernel body."""

    def __init__(self, sched: Schedule, printer: KernelPrinter, code: Code, threads=False):
        self.sched = sched
        self.threads = threads      # the variant whose threaded nests use prange
        self.tensors = sched.program.tensors
        self.p = printer
        self.code = code
        self.last = None
        self.allocated: set = set()
        self.terms: dict = {}       # id of a split reduction -> its scratch row
        self.partials: dict = {}    # scatter target of the current nest -> its partials
        self.chunked = False        # the current nest runs its outer loop in CHUNKS pieces

    def split_reductions(self, nest: Nest) -> list:
        """A sum whose terms call the vectorisable math runs as two loops: the terms into
        a scratch row (a loop without a carried sum: it vectorises), then the sum of the
        row in the same order as before (the same float64 accumulator, the same result,
        bit for bit). Returns (statement id, extent) of each; `rows` allocates them."""
        found = []
        for item in nest.items:
            st = item.stmt if isinstance(item, Reduction) else item
            lets = item.lets if isinstance(item, Reduction) else ()
            if isinstance(item, Let) or not st.rloops or len(st.rloops) != 1 or \
                    (st.reduce not in ("none", "sum")):
                continue
            text = " ".join([self.p.doprint(st.body)] + [self.p.doprint(x.expr) for x in lets])
            if calls_vector_math(text, self.p.helpers):
                found.append((id(st), st.rloops[0][1]))
        return found

    def rows(self, split):
        """The scratch rows of split reductions, before the nest's loops (one per chunk
        when the nest runs in chunks: each thread has its own)."""
        for key, extent in split:
            name = f"terms{len(self.terms)}"
            self.terms[key] = name
            shape = f"chunks, {size_code(extent)}" if self.chunked else f"{size_code(extent)},"
            self.code.add(f"{name} = np.empty(({shape}), np.float64)")

    def scatter_partials(self, nest: Nest):
        """A zeroed partial copy per chunk of each target the nest sums into across its
        outer loop."""
        self.partials, self.sum_index = {}, {}
        for target in nest.scatters:
            name = f"partials{len(self.partials)}"
            self.partials[target] = name
            t = self.tensors[target]
            if t.rank > 1:     # summed back over the loops of its (spanning) index
                st = next(st for st in _stmts(nest) if st.target == target)
                self.sum_index[target] = tuple(zip(st.target_index, t.shape))
            shape = ", ".join(size_code(n) for n in t.shape) or "1"
            self.code.add(f"{name} = np.zeros((chunks, {shape}), dtype)   # {target} per chunk")

    def outer_loop(self, nest: Nest, loops):
        """The nest's outer loop: over chunks (`prange` in the threaded variant) and the
        rows of each, or over the rows themselves when no iteration shares a buffer."""
        sym, ext = loops[0]
        ext = size_code(ext)
        each = "prange" if self.threads else "range"
        if not self.chunked:
            self.code.add(f"for {sym} in {each}({ext}):")
            self.code.indent()
            return 1
        span = ext if ext.isidentifier() or ext.isdigit() else f"({ext})"
        self.code.add(f"for chunk in {each}(chunks):")
        self.code.indent()
        self.code.add(f"for {sym} in range(chunk * {span} // chunks, "
                      f"(chunk + 1) * {span} // chunks):")
        self.code.indent()
        return 2

    def chunk_count(self, nest: Nest):
        """`chunks`: how many pieces the nest's outer loop runs in, from its size alone
        (never from the number of threads, so the sums are the same on any number)."""
        ext = size_code(nest.loops[0][1])
        span = ext if ext.isidentifier() or ext.isdigit() else f"({ext})"
        self.code.add(f"chunks = max(1, min({CHUNKS}, ({span} + {CHUNK_ROWS - 1}) // "
                      f"{CHUNK_ROWS}))   # chunks of {CHUNK_ROWS} rows or more")

    def sum_partials(self):
        """Each scatter target += its partials, chunk by chunk in order."""
        if not self.partials:
            return
        self.code.add("for chunk in range(chunks):")
        self.code.indent()
        for target, name in self.partials.items():
            t = self.tensors[target]
            if target in self.sum_index:
                loops = self.sum_index[target]
                for sym, n in loops:
                    self.code.add(f"for {sym} in range({size_code(n)}):")
                    self.code.indent()
                idx = ", ".join(str(sym) for sym, _ in loops)
                self.code.add(f"{target}[{idx}] += {name}[chunk, {idx}]")
                self.code.dedent(len(loops))
            elif t.rank:
                self.code.add(f"for flat in range({size_code(t.shape[0])}):")
                self.code.add(f"    {target}[flat] += {name}[chunk, flat]")
            else:
                self.code.add(f"{target}[0] += {name}[chunk, 0]")
        self.code.dedent()
        self.partials = {}

    def allocate(self, name):
        how = self.sched.alloc.get(name)
        if how in (None, "gemm") or name in self.allocated:
            return
        self.allocated.add(name)
        t = self.tensors[name]
        dtype = "np.int64" if t.kind == "int" else "dtype"
        fn = "np.zeros" if how == "zeros" else "np.empty"
        self.code.add(f"{name} = {fn}({shape_code(t)}, {dtype})")

    def comment(self, origin, phase, blank=True):
        """`# line 12 (backward): h = relu(...)` when the source line or phase changes."""
        if origin and (origin.line, phase) != self.last:
            if blank:
                self.code.add()
            self.code.add(f"# line {origin.line}{phase_tag(phase)}: {origin.text}")
            self.last = (origin.line, phase)

    def blocks(self):
        blocks = self.sched.blocks
        for pos, block in enumerate(blocks):
            if isinstance(block, ScanStart):
                self.scan(block, blocks[pos + 1:])
            elif isinstance(block, ScanEnd):
                self.code.dedent()
            elif isinstance(block, Gemm):
                self.comment(block.origin, block.phase)
                self.gemm(block)
            else:
                self.nest(block)

    def scan(self, start: ScanStart, rest):
        """`for t in range(K):` (or downwards) around one step's blocks, whose buffers
        are allocated once, before the loop."""
        for block in rest:
            if isinstance(block, ScanEnd):
                break
            for st in (block.items if isinstance(block, Nest) else ()):
                st = st.stmt if isinstance(st, Reduction) else st
                for name in (getattr(st, "target", None), getattr(st, "argmax", None)):
                    if name:
                        self.allocate(name)
        count = size_code(start.count)
        self.code.add()
        if start.origin:
            tag = "" if start.direction > 0 else " (backward, last step first)"
            self.code.add(f"# line {start.origin.line}{tag}: {start.origin.text}")
        steps = f"range({count})" if start.direction > 0 else f"range({count} - 1, -1, -1)"
        self.code.add(f"for {start.step} in {steps}:")
        self.code.indent()
        self.last = None

    def gemm(self, g: Gemm):
        a = g.a + (".T" if g.ta else "")
        b = g.b + (".T" if g.tb else "")
        op = "+=" if g.accumulate else "="
        dot = "_blas_dot" if self.threads else "np.dot"
        self.code.add(f"{g.target} {op} {dot}({a}, {b})")

    def nest(self, nest: Nest):
        stmts = [it.stmt if isinstance(it, Reduction) else it for it in nest.items
                 if not isinstance(it, Let)]
        first = stmts[0]
        self.comment(first.origin, first.phase)
        if nest.loops:     # buffers before the loops; a loop-free nest allocates as it goes
            for st in stmts:
                for name in (st.target, st.argmax):
                    if name:
                        self.allocate(name)
            split = self.split_reductions(nest)
            self.chunked = nest.threads and bool(nest.scatters or split)
            if self.chunked:
                self.chunk_count(nest)
            self.rows(split)
            if self.chunked:
                self.scatter_partials(nest)
        depth = self.outer_loop(nest, nest.loops) if nest.threads else 0
        for sym, ext in nest.loops[1 if nest.threads else 0:]:
            self.code.add(f"for {sym} in range({size_code(ext)}):")
            self.code.indent()
            depth += 1
        for item, owner in zip(nest.items, statement_of(nest.items)):
            self.comment(owner.origin, owner.phase, blank=not nest.loops)
            if not nest.loops and not isinstance(item, Let):
                st = item.stmt if isinstance(item, Reduction) else item
                for name in (st.target, st.argmax):
                    if name:
                        self.allocate(name)
            if isinstance(item, Let):
                self.code.add(f"{item.symbol} = {self.p.doprint(item.expr)}")
            elif isinstance(item, Reduction):
                self.reduction(item.stmt, item.lets)
            elif item.rloops:
                self.reduction(item, ())
            else:
                op = "+=" if item.accumulate else "="
                self.code.add(f"{self.target(item)} {op} {self.p.doprint(item.body)}")
        self.code.dedent(depth)
        self.sum_partials()
        self.chunked = False

    def target(self, st):
        idx = ", ".join(self.p.doprint(sp.sympify(i)) for i in st.target_index)
        if st.target in self.partials:
            return f"{self.partials[st.target]}[chunk, {idx}]"
        return f"{st.target}[{idx}]"

    def reduction(self, st: Stmt, lets):
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
        for let in lets:
            self.code.add(f"{let.symbol} = {self.p.doprint(let.expr)}")
        body = self.p.doprint(st.body)
        terms = self.terms.get(id(st))
        if terms:
            sym, ext = st.rloops[0]
            row = f"{terms}[chunk, {sym}]" if self.chunked else f"{terms}[{sym}]"
            self.code.add(f"{row} = {body}")
            self.code.dedent()
            self.code.add(f"for {sym} in range({size_code(ext)}):")
            self.code.indent()
            self.code.add(f"acc += {row}")
        elif kind == "sum":
            self.code.add(f"acc += {body}")
        else:
            self.code.add(f"value = {body}")
            # the first NaN wins and stays, as NumPy's max and argmax read it
            self.code.add(f"if value {'>' if kind == 'max' else '<'} acc or "
                          "(value != value and acc == acc):")
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


def calls_vector_math(text: str, helpers: dict) -> bool:
    """Whether printed code calls a vmath function, directly or through a helper."""
    from ..ops import HELPERS
    if vmath.used_in(vmath.vectorised(text)):
        return True
    return any(re.search(rf"\b{module_name}\(", text) and
               vmath.used_in(vmath.vectorised(HELPERS[name]))
               for name, module_name in helpers.items())


def _stmts(nest: Nest) -> list:
    return [it.stmt if isinstance(it, Reduction) else it for it in nest.items
            if not isinstance(it, Let)]


def statement_of(items) -> list:
    """For each nest item, the statement it belongs to (a temporary: the next statement)."""
    out, pending = [], 0
    for item in items:
        if isinstance(item, Let):
            pending += 1
            continue
        st = item.stmt if isinstance(item, Reduction) else item
        out += [st] * (pending + 1)
        pending = 0
    return out + [out[-1]] * pending if out else []


def _flat_index(rloops):
    flat = sp.Integer(0)
    for sym, ext in rloops:
        flat = flat * ext + sym
    return flat


def kernel(sched: Schedule, name: str, doc: str, printer: KernelPrinter,
           threads=False) -> str:
    """`@njit def name(args...)`: runs the scheduled program, returns its outputs. The
    `threads` variant runs its threaded nests' outer loops with `prange`: the same code
    and the same results otherwise."""
    prog = sched.program
    code = Code()
    code.add(NJIT_THREADS if threads else NJIT)
    code.add(f"def {name}({', '.join(a.ident for a in prog.args)}):")
    code.indent()
    code.add(f'"""{doc}"""')
    for line in dim_bindings(prog):
        code.add(line)
    code.add(f"dtype = {dtype_source(prog)}")
    KernelWriter(sched, printer, code, threads).blocks()
    code.add()
    outs = prog.outputs
    code.add(f"return {', '.join(outs)}{',' if len(outs) == 1 else ''}")
    return vmath.vectorised(code.text())


def work_code(sched: Schedule) -> str | None:
    """The runner's arguments of `_threaded`: a call's work (threads.work) and, for a
    kernel with matrix products, their largest (threads.products), read from the shapes
    of the kernel's arguments `args`; None when no nest runs on threads."""
    expr = work(sched)
    if expr is None:
        return None
    code = _shape_code(sched, expr)
    largest = products(sched)
    if code is None or largest is None:
        return code
    largest = _shape_code(sched, largest)
    return None if largest is None else f"{code}, {largest}"


def _shape_code(sched: Schedule, expr) -> str | None:
    """A size expression as Python reading the shapes of `args`."""
    where = {}
    for k, a in enumerate(sched.program.args):
        if a.role in ("cotangent", "tangent"):
            continue         # after the arguments in `args`; their sizes are bound already
        for d, s in enumerate(a.shape):
            if isinstance(s, sp.Symbol):
                where.setdefault(s, sp.Symbol(f"args[{k}].shape[{d}]"))
    if not expr.free_symbols <= set(where):
        return None
    return sp.pycode(expr.xreplace(where))


def helper_source(names: dict) -> str:
    """The scalar helpers the kernels call: language name -> emitted name."""
    from ..ops import HELPERS
    parts = []
    for name in sorted(names):
        src = HELPERS[name]
        if names[name] != name:
            src = src.replace(f"def {name}(", f"def {names[name]}(", 1)
        parts.append("@njit(cache=True, inline=\"always\")\n" + vmath.vectorised(src))
    return "\n\n".join(parts)


def vmath_source(cpu_text: str) -> str:
    """The vectorisable math functions the CPU kernels and helpers call, with a header."""
    used = vmath.used_in(cpu_text)
    if not used:
        return ""
    return ("# ---- vectorisable math (adc's compiler/backends/vmath.py) ----\n"
            "# exp, log, tanh, ... as range reduction and a polynomial: a loop that calls them\n"
            "# vectorises, where math.exp is a scalar libm call\n\n"
            + vmath.source(used).rstrip())


__all__ = ["kernel", "work_code", "BLAS_DOT", "NJIT_THREADS", "helper_source", "vmath_source",
           "calls_vector_math", "Code", "dim_bindings",
           "dtype_source", "shape_code"]
