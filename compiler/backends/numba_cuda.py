"""Numba CUDA backend: scheduled blocks -> CUDA kernels and the host code that launches them.

The same schedules as the CPU backend, mapped onto the GPU:

- a fused loop nest becomes one kernel with one thread per element of its free loops
  (small reductions inside it run serially in the thread);
- a reduction to a single element (no free loops) becomes a one-block kernel that
  strides over the reduced elements and combines them in shared memory (sum, or max/min
  with the first maximal index, like the CPU code);
- a GEMM-shaped contraction calls one tiled shared-memory matrix-product kernel;
- an accumulation whose target is not owned by its thread (the adjoint of a broadcast,
  a gather, a strided window) uses `cuda.atomic.add`.

Kernels are built per float type by a factory `_f_cuda_kernels(real)` so that every
literal is typed (`real(0.5)`): a float64 literal would silently promote float32 code.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from ..cse import Let, Reduction
from ..ir import Program, accesses, tensor_name
from ..printer import KernelPrinter, size_code
from ..schedule import Gemm, Nest, ScanEnd, ScanStart, Schedule
from ..threads import owned_by
from .numba_cpu import Code, dim_bindings, dtype_source, phase_tag, shape_code

THREADS = 128          # threads per block of elementwise kernels
REDUCE_THREADS = 256   # threads of a one-block reduction (a power of two)


class CudaPrinter(KernelPrinter):
    """KernelPrinter whose value-context literals and integers are cast to `real`."""

    def __init__(self, int_names=(), int_tensors=(), helpers=None):
        super().__init__(helpers)
        self.int_names = set(int_names)   # loop indices, sizes, int arguments
        self.int_tensors = set(int_tensors)
        self._plain = 0                   # > 0 inside indices and comparisons

    def _plainly(self, expr):
        self._plain += 1
        try:
            return self._print(expr)
        finally:
            self._plain -= 1

    def _real(self, text):
        return text if self._plain else f"real({text})"

    def _print_index(self, e):
        return self._plainly(e)

    def _print_Symbol(self, expr):
        name = super()._print_Symbol(expr)
        return self._real(name) if name in self.int_names else name

    def _print_Integer(self, expr):
        return self._real(str(int(expr)))

    def _print_Float(self, expr):
        return f"real({float(expr)!r})"

    def _print_Rational(self, expr):
        return f"real({float(expr.p) / float(expr.q)!r})"

    def _print(self, expr, **kwargs):
        # a constant such as sqrt(pi) or 2/pi: one typed literal (math.pi is a float64)
        if isinstance(expr, sp.Expr) and expr.is_number and expr.is_real and \
                expr.is_finite and not isinstance(expr, (sp.Integer, sp.Float, sp.Rational)) \
                and not self._plain:
            return f"real({float(expr)!r})"
        return super()._print(expr, **kwargs)

    def _print_NumberSymbol(self, expr):
        return f"real({super()._print_NumberSymbol(expr)})"

    def _print_Infinity(self, expr):
        return "real(math.inf)"

    def _print_NegativeInfinity(self, expr):
        return "real(-math.inf)"

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.args
        if exp.is_Integer and 1 < int(exp) <= 4:
            # x*x*x: exact and typed (an integer power would go through float64)
            return "(" + "*".join([self.parenthesize(base, 60)] * int(exp)) + ")"
        if exp == -1:
            return f"real(1.0) / {self.parenthesize(base, 100)}"
        if exp == sp.Rational(1, 2):
            return f"math.sqrt({self._print(base)})"
        if exp == sp.Rational(-1, 2):
            return f"real(1.0) / math.sqrt({self._print(base)})"
        if exp.is_Integer and int(exp) < 0:
            return f"real(1.0) / {self.parenthesize(base ** -exp, 0.5)}"
        if base.is_integer and not exp.is_Number:   # 2 ** -t: not int ** int (it truncates)
            return f"real({self._plainly(base)})**{self.parenthesize(exp, 60)}"
        return f"{self.parenthesize(base, 60)}**{self.parenthesize(exp, 60)}"

    def _print_Piecewise(self, expr):
        *rest, (last, cond) = expr.args
        out = self._print(last)
        if cond != sp.true:
            out = f"({out} if {self._print(cond)} else real(0.0))"
        for value, c in reversed(rest):
            out = f"({self._print(value)} if {self._print(c)} else {out})"
        return out

    def _print_Relational(self, expr):
        op = expr.rel_op
        lhs, rhs = expr.lhs, expr.rhs
        ints = self.int_names, self.int_tensors
        if _is_int(lhs, *ints) and _is_int(rhs, *ints):
            return f"{self._plainly(lhs)} {op} {self._plainly(rhs)}"
        return f"{self.parenthesize(lhs, 40)} {op} {self.parenthesize(rhs, 40)}"

    def _print_sign(self, expr):
        x = self._print(expr.args[0])
        return f"(real(0.0) if {x} == 0 else math.copysign(real(1.0), {x}))"


def _is_int(expr, int_names, int_tensors) -> bool:
    """An integer-valued expression: loop indices, sizes, int tensors' elements."""
    expr = sp.sympify(expr)
    if expr.is_Integer:
        return True
    if isinstance(expr, sp.Symbol):
        return str(expr) in int_names
    if isinstance(expr, sp.Indexed):
        return tensor_name(expr) in int_tensors
    return bool(expr.args) and not expr.is_Pow and \
        all(_is_int(a, int_names, int_tensors) for a in expr.args)


def typed_helper_source(source: str) -> str:
    """A CPU scalar helper rewritten for `@cuda.jit(device=True)`: typed float literals."""
    return re.sub(r"(?<![\w.])(\d+\.\d+)", r"real(\1)", source)


# ---- GPU units ------------------------------------------------------------------------

def _owned(st, loops) -> bool:
    """Each thread writes its own target element (the steps of enclosing scans are fixed
    for the whole launch)."""
    return owned_by(st, [s for s, _ in loops])


def _atomic(st, loops) -> bool:
    return st.accumulate and not _owned(st, loops)


def _units(nest: Nest) -> list:
    """A fused nest as nests that each run race-free as one kernel."""
    if not nest.loops:
        units, serial = [], []
        for st in nest.items:
            if st.rloops:
                if serial:
                    units.append(Nest((), serial, serial[0].origin))
                    serial = []
                units.append(Nest((), [st], st.origin))
            else:
                serial.append(st)
        if serial:
            units.append(Nest((), serial, serial[0].origin))
        return units
    units, current, shared = [], [], set()
    for st in nest.items:
        reads_shared = {tensor_name(a) for a in accesses(sp.sympify(st.body))} & shared
        if current and reads_shared:
            # a value other threads accumulate into is complete only after the kernel
            units.append(Nest(nest.loops, current, current[0].origin))
            current, shared = [], set()
        current.append(st)
        if _atomic(st, nest.loops):
            shared.add(st.target)
    units.append(Nest(nest.loops, current, current[0].origin))
    return units


def split_for_gpu(sched: Schedule) -> Schedule:
    """The schedule with every nest split into kernels: 'map' (a thread per element of the
    free loops), 'reduce' (one block reducing to one element) or 'serial' (one thread)."""
    blocks = []
    for block in sched.blocks:
        blocks.extend(_units(block) if isinstance(block, Nest) else [block])
    return Schedule(sched.program, blocks, dict(sched.alloc))


def unit_kind(nest: Nest) -> str:
    if nest.loops:
        return "map"
    items = [it for it in nest.items if not isinstance(it, Let)]
    return "reduce" if len(items) == 1 and _rloops(items[0]) else "serial"


def _helpers_in(unit: Nest) -> set:
    """The scalar helpers a unit's bodies and temporaries call."""
    from ..ops import HELPER_CLASSES
    exprs = []
    for it in unit.items:
        if isinstance(it, Let):
            exprs.append(it.expr)
        else:
            exprs.append(_stmt(it).body)
            exprs += [let.expr for let in getattr(it, "lets", ())]
    return {HELPER_CLASSES[type(f)] for e in exprs for f in sp.sympify(e).atoms(sp.Function)
            if type(f) in HELPER_CLASSES}


def _stmt(item):
    return item.stmt if isinstance(item, Reduction) else item


def _rloops(item):
    return _stmt(item).rloops


# ---- kernel source -------------------------------------------------------------------

class KernelSource:
    """Writes one GPU unit (a nest after `split_for_gpu` and `cse`) as a `@cuda.jit`
    kernel, and the host line that launches it."""

    def __init__(self, prog: Program, name: str, unit: Nest, helpers: dict, steps=()):
        self.prog, self.tensors, self.name, self.unit = prog, prog.tensors, name, unit
        self.steps = [str(s) for s in steps]      # enclosing scans' steps: int arguments
        self.kind = unit_kind(unit)
        stmts = [_stmt(it) for it in unit.items if not isinstance(it, Let)]
        loop_syms = [str(s) for s, _ in unit.loops] + \
            [str(s) for st in stmts for s, _ in st.rloops]
        int_args = [a.ident for a in prog.args if a.role == "int"]
        self.sizes = sorted(str(s) for s in prog.dims.values())
        int_tensors = [n for n, t in self.tensors.items() if t.kind == "int"]
        self.printer = CudaPrinter(loop_syms + self.sizes + int_args + self.steps,
                                   int_tensors, helpers)
        self.params = self._params(stmts)
        self.helpers = _helpers_in(unit)

    def _params(self, stmts) -> list:
        """(name, type code) of the kernel's arguments: sizes, scalars, then arrays."""
        exprs, arrays = [], []
        for st in stmts:
            exprs += [sp.sympify(st.body)] + [sp.sympify(i) for i in st.target_index]
            exprs += [sp.sympify(e) for _, e in st.loops + st.rloops]
            arrays += [st.target] + ([st.argmax] if st.argmax else [])
        for it in self.unit.items:
            lets = [it] if isinstance(it, Let) else list(getattr(it, "lets", ()))
            exprs += [sp.sympify(let.expr) for let in lets]
        symbols = set().union(*(e.free_symbols for e in exprs))
        arrays += [tensor_name(a) for e in exprs for a in e.atoms(sp.Indexed)]
        names = {str(s) for s in symbols if not isinstance(s, sp.Indexed)} - set(arrays)
        roles = {a.ident: a.role for a in self.prog.args}
        out = [(n, "i") for n in self.steps if n in names]
        out += [(n, "i") for n in self.sizes if n in names]
        out += [(n, "f" if roles[n] == "float" else "i") for n in sorted(names)
                if roles.get(n) in ("float", "int")]
        for n in sorted(set(arrays)):
            t = self.tensors[n]
            out.append((n, ("i" if t.kind == "int" else "f") + str(max(1, t.rank))))
        return out

    def source(self) -> str:
        code = Code()
        code.level = 1
        code.add("@cuda.jit")
        code.add(f"def {self.name}({', '.join(n for n, _ in self.params)}):")
        code.indent()
        if self.unit.origin:
            code.add(f'"""line {self.unit.origin.line}: {_docstring(self.unit.origin.text)}"""')
        getattr(self, f"_{self.kind}")(code)
        return code.text()

    def launch(self) -> str:
        args = ", ".join(n for n, _ in self.params)
        if self.kind == "map":
            total = " * ".join(size_code(e) for _, e in self.unit.loops)
            return f"kernels.{self.name}[_grid({total})]({args})"
        threads = REDUCE_THREADS if self.kind == "reduce" else 1
        return f"kernels.{self.name}[1, {threads}]({args})"

    # -- bodies

    def _map(self, code):
        total = " * ".join(size_code(e) for _, e in self.unit.loops)
        code.add("thread = cuda.grid(1)")
        code.add(f"if thread >= {total}:")
        code.add("    return")
        _unravel(code, "thread", self.unit.loops)
        self._items(code)

    def _serial(self, code):
        self._items(code)

    def _items(self, code):
        p = self.printer
        for item in self.unit.items:
            if isinstance(item, Let):
                code.add(f"{item.symbol} = {p.doprint(item.expr)}")
            elif _rloops(item):
                self._thread_reduction(code, _stmt(item), getattr(item, "lets", ()))
            else:
                self._store(code, item, p.doprint(item.body))

    def _store(self, code, st, value):
        idx = self._index(st)
        if self.kind == "map" and _atomic(st, self.unit.loops):
            where = idx if len(st.target_index) <= 1 else f"({idx})"
            code.add(f"cuda.atomic.add({st.target}, {where}, {value})")
        else:
            op = "+=" if st.accumulate else "="
            code.add(f"{st.target}[{idx}] {op} {value}")

    def _index(self, st) -> str:
        return ", ".join(self.printer._plainly(sp.sympify(i)) for i in st.target_index) or "0"

    def _init_acc(self, code, kind, argmax):
        if kind == "sum":
            code.add("acc = real(0.0)")
        else:
            code.add(f"acc = real({'-' if kind == 'max' else ''}math.inf)")
        if argmax:
            code.add("arg = 0")

    def _compare(self, kind):
        return ">" if kind == "max" else "<"

    def _thread_reduction(self, code, st, lets):
        kind = st.reduce if st.reduce != "none" else "sum"
        self._init_acc(code, kind, st.argmax)
        for sym, ext in st.rloops:
            code.add(f"for {sym} in range({size_code(ext)}):")
            code.indent()
        self._accumulate(code, st, lets, kind, _flat_code(st.rloops))
        code.dedent(len(st.rloops))
        self._finish(code, st)

    def _accumulate(self, code, st, lets, kind, flat):
        p = self.printer
        for let in lets:
            code.add(f"{let.symbol} = {p.doprint(let.expr)}")
        body = p.doprint(st.body)
        if kind == "sum":
            code.add(f"acc += {body}")
            return
        code.add(f"value = {body}")
        code.add(f"if value {self._compare(kind)} acc or (value != value and acc == acc):")
        code.add("    acc = value")
        if st.argmax:
            code.add(f"    arg = {flat}")

    def _finish(self, code, st):
        self._store(code, st, "acc")
        if st.argmax:
            code.add(f"{st.argmax}[{self._index(st)}] = arg")

    def _reduce(self, code):
        (item,) = [it for it in self.unit.items if not isinstance(it, Let)]
        st, lets = _stmt(item), getattr(item, "lets", ())
        kind = st.reduce if st.reduce != "none" else "sum"
        total = " * ".join(size_code(e) for _, e in st.rloops)
        code.add("lane = cuda.threadIdx.x")
        self._init_acc(code, kind, st.argmax)
        code.add(f"for flat in range(lane, {total}, {REDUCE_THREADS}):")
        code.indent()
        _unravel(code, "flat", st.rloops)
        self._accumulate(code, st, lets, kind, "flat")
        code.dedent()
        code.add("# combine the threads' partial results in shared memory")
        code.add(f"partial = cuda.shared.array({REDUCE_THREADS}, real)")
        code.add("partial[lane] = acc")
        if st.argmax:
            code.add(f"partial_arg = cuda.shared.array({REDUCE_THREADS}, int64)")
            code.add("partial_arg[lane] = arg")
        code.add("cuda.syncthreads()")
        code.add(f"step = {REDUCE_THREADS // 2}")
        code.add("while step > 0:")
        code.indent()
        code.add("if lane < step:")
        code.indent()
        if kind == "sum":
            code.add("partial[lane] += partial[lane + step]")
        else:
            c = self._compare(kind)
            # NaN wins (the first one, by index), then the larger, then the first on ties
            earlier = " and partial_arg[lane + step] < partial_arg[lane]" if st.argmax else ""
            code.add("other = partial[lane + step]")
            code.add("mine = partial[lane]")
            code.add(f"if (other != other and (mine == mine{' or ' + earlier[5:] if earlier else ''})) "
                     f"or (mine == mine and (other {c} mine or (other == mine{earlier}))):")
            code.add("    partial[lane] = partial[lane + step]")
            if st.argmax:
                code.add("    partial_arg[lane] = partial_arg[lane + step]")
        code.dedent()
        code.add("cuda.syncthreads()")
        code.add("step //= 2")
        code.dedent()
        code.add("if lane == 0:")
        code.indent()
        code.add("acc = partial[0]")
        if st.argmax:
            code.add("arg = partial_arg[0]")
        self._finish(code, st.with_(loops=()))
        code.dedent()


def _docstring(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"""', "'''")


def _unravel(code, flat, loops):
    """Loop indices from a flat, row-major thread or element number."""
    rest = flat
    for k in range(len(loops) - 1, 0, -1):
        sym, ext = loops[k]
        code.add(f"{sym} = {rest} % {size_code(ext)}")
        quotient = f"{rest} // {size_code(ext)}"
        if k > 1:
            code.add(f"rem = {quotient}")
            rest = "rem"
        else:
            rest = quotient
    code.add(f"{loops[0][0]} = {rest}")


def _flat_code(rloops) -> str:
    flat = sp.Integer(0)
    for sym, ext in rloops:
        flat = flat * ext + sym
    return size_code(flat)


# ---- one entry point -----------------------------------------------------------------

def _allocation(name, tensor, how) -> str:
    dtype = "np.int64" if tensor.kind == "int" else "dtype"
    if how == "zeros":
        return f"{name} = _zeros(kernels, {shape_code(tensor)}, {dtype})"
    return f"{name} = cuda.device_array({shape_code(tensor)}, {dtype})"


class _Host:
    """Writes the host function of one scheduled program: allocations and launches."""

    def __init__(self, sched: Schedule, name: str, doc: str, make_kernel):
        self.sched, self.name, self.doc, self.make_kernel = sched, name, doc, make_kernel

    def source(self) -> str:
        prog, sched = self.sched.program, self.sched
        code = Code()
        code.add(f"def {self.name}(kernels, {', '.join(a.ident for a in prog.args)}):")
        code.indent()
        code.add(f'"""{self.doc} On the GPU: device arrays in, device arrays out."""')
        for line in dim_bindings(prog):
            code.add(line)
        code.add(f"dtype = {dtype_source(prog)}")
        allocated, last, steps = set(), None, []
        for pos, block in enumerate(sched.blocks):
            if isinstance(block, ScanStart):
                self._allocate_step(code, sched.blocks[pos + 1:], allocated)
                steps.append(block.step)
                last = _scan_header(code, block)
                continue
            if isinstance(block, ScanEnd):
                steps.pop()
                code.dedent()
                continue
            stmts = [block] if isinstance(block, Gemm) else \
                [_stmt(it) for it in block.items if not isinstance(it, Let)]
            origin, phase = stmts[0].origin, stmts[0].phase
            if origin and (origin.line, phase) != last:
                code.add()
                code.add(f"# line {origin.line}{phase_tag(phase)}: {origin.text}")
                last = (origin.line, phase)
            self._allocate(code, _targets(block), allocated)
            if isinstance(block, Gemm):
                code.add(f"_gemm(kernels, {block.target}, {block.a}, {block.ta}, {block.b}, "
                         f"{block.tb}, {block.accumulate})")
            else:
                code.add(self.make_kernel(prog, block, tuple(steps)).launch())
        code.add()
        outs = prog.outputs
        code.add(f"return {', '.join(outs)}{',' if len(outs) == 1 else ''}")
        return code.text()


    def _allocate(self, code, targets, allocated):
        prog, sched = self.sched.program, self.sched
        for name in dict.fromkeys(targets):
            how = sched.alloc.get(name)
            if name not in allocated and how:
                allocated.add(name)
                code.add(_allocation(name, prog.tensors[name],
                                     "empty" if how == "gemm" else how))

    def _allocate_step(self, code, rest, allocated):
        """A scan's buffers, once, before its loop."""
        targets = []
        for block in rest:
            if isinstance(block, ScanEnd):
                break
            targets += _targets(block)
        self._allocate(code, targets, allocated)


def _targets(block) -> list:
    if isinstance(block, Gemm):
        return [block.target]
    stmts = [_stmt(it) for it in block.items if not isinstance(it, Let)]
    return [x for st in stmts for x in (st.target, st.argmax) if x]


def _scan_header(code, start: ScanStart):
    """`for t in range(K):` on the host: each step launches the step's kernels."""
    count = size_code(start.count)
    code.add()
    if start.origin:
        tag = "" if start.direction > 0 else " (backward, last step first)"
        code.add(f"# line {start.origin.line}{tag}: {start.origin.text}")
    steps = f"range({count})" if start.direction > 0 else f"range({count} - 1, -1, -1)"
    code.add(f"for {start.step} in {steps}:")
    code.indent()
    return None


@dataclass
class CudaSource:
    """The CUDA code of one entry point."""

    factory: str          # `_f_cuda_kernels(real)`
    hosts: dict           # kind -> host function source
    kernel_types: dict    # kernel name -> argument type codes
    helpers: dict         # scalar helpers the kernels call: language name -> module name


def entry_source(schedules: dict, names: dict, helpers: dict, docs: dict) -> CudaSource:
    """Kernels and host functions for every kind of one entry point (schedules already
    split for the GPU and through CSE)."""
    kernels = []

    def make_kernel(prog, unit, steps=()):
        stmts = [_stmt(it) for it in unit.items if not isinstance(it, Let)]
        ks = KernelSource(prog, f"k{len(kernels)}_{stmts[-1].target}", unit, helpers, steps)
        kernels.append(ks)
        return ks

    hosts = {kind: _Host(sched, names[f"host_{kind}"], docs[kind], make_kernel).source()
             for kind, sched in schedules.items()}
    return CudaSource(_factory(names["cuda_kernels"], kernels, helpers), hosts,
                      {ks.name: ",".join(c for _, c in ks.params) for ks in kernels},
                      dict(helpers))


def _factory(name, kernels, helpers) -> str:
    """`_f_cuda_kernels(real)`: the kernels of one entry point for one float type."""
    code = Code()
    code.add(f"def {name}(real):")
    code.indent()
    code.add('"""The CUDA kernels of this entry point with float type `real` (float32 or '
             'float64)."""')
    code.add("common = _cuda_common(real)")
    used = set().union(*(ks.helpers for ks in kernels)) if kernels else set()
    lines = [code.text()]
    lines += [f"    {helpers[h]} = common.{helpers[h]}" for h in sorted(used)]
    body = "\n".join(lines) + "\n\n" + "\n\n".join(ks.source() for ks in kernels)
    listed = ["gemm=common.gemm", "fill_zero=common.fill_zero"] + \
        [f"{ks.name}={ks.name}" for ks in kernels]
    ret = "    return SimpleNamespace(\n" + "".join(f"        {x},\n" for x in listed) + "    )"
    return body + "\n\n" + ret
