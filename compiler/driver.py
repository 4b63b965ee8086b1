"""The pipeline, step by step: parse -> lower -> inline -> vjp/jvp -> names -> schedule
-> cse -> backend -> emit. Every pass maps a Program to a Program (or a Schedule)."""
from __future__ import annotations

import hashlib
import os
import sys
import threading
from dataclasses import dataclass

from sympy.printing.codeprinter import PrintMethodNotImplementedError

import sympy as sp

from . import bounds, emit, frontend, inline, names, rewrite
from .backends import numba_cpu, numba_cuda
from .checks_template import CHECKS
from .cse import cse
from .cuda_template import CUDA_RUNTIME
from .errors import CompileError
from .frontend import source_lines
from .jvp import jvp
from .printer import KernelPrinter, helpers_used
from .schedule import schedule
from .threads import plan_threads
from .vjp import vjp

VERSION = "0.1.0"


@dataclass
class Compiled:
    """Everything the passes produced for one entry point (for `adc inspect` and tests)."""

    lowered: object        # Program straight from the frontend
    program: object        # after inlining: what `f` computes
    programs: dict         # kind -> Program ('value', 'vjp', 'jvp', 'hvp'), user names
    schedules: dict        # kind -> Schedule of the renamed program the kernel runs
    entry: emit.Entry = None

    @property
    def vjp(self):
        return self.programs["vjp"]


def transforms(lowered, rewrites=True) -> dict:
    """The programs of one entry point: kind -> Program (hvp for scalar outputs only; a
    derived f_predict has its value only)."""
    value = inline.inline_elementwise(lowered)
    if rewrites:
        value = rewrite.rewrite(value)
    if emit.derived(value):
        return {"value": value}
    reverse = vjp(value)
    if rewrites:
        reverse = rewrite.simplify_derivatives(reverse)
    out = {"value": value, "vjp": reverse, "jvp": jvp(value)}
    if len(value.outputs) == 1 and value.tensors[value.outputs[0]].rank == 0:
        out["hvp"] = jvp(reverse)
    return out


def read_source(path: str) -> str:
    """The model's text (universal newlines), read from its bytes: see `source_digest`."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise CompileError(f"cannot read model file: {exc.strerror}", path=path) from None
    try:   # utf-8-sig: a byte-order mark is accepted, as Python accepts it
        return data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        before = frontend.source_lines(data[:exc.start].decode("utf-8-sig"))
        text = frontend.source_lines(data.decode("utf-8-sig", "replace"))[len(before) - 1]
        raise CompileError(f"the model file is not UTF-8 text: byte 0x{data[exc.start]:02x} "
                           f"({exc.reason})", path=path, line=len(before),
                           col=len(before[-1]) + 1, source_line=text,
                           hint="save the file as UTF-8, or remove the byte") from None


def source_digest(path: str) -> str:
    """SHA-256 of the model file's bytes, as `sha256sum` prints it."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def lower(path: str, source: str, functions=(), wrt=(), scan=True) -> list:
    """Parse and lower the selected entry points (all of them by default; `scan=False`
    unrolls every loop)."""
    ctx = frontend.parse_module(path, source)
    fns = frontend.entry_points(ctx)
    if not fns:
        raise CompileError("no entry point: no public function has all its arguments "
                           "annotated", path=path, line=1, col=1,
                           hint="annotate every argument with Param[...], Data[...], "
                           "Index[...], float or int")
    if functions:
        known = {f.name: f for f in fns}
        for name in functions:
            if name not in known:
                raise CompileError(f"no entry point named '{name}' (entry points: "
                                   f"{', '.join(known)})", path=path, line=1, col=1)
        fns = [known[n] for n in functions]
    programs = [frontend.lower_function(ctx, fn, wrt, scan=scan) for fn in fns]
    taken = set(ctx.functions)
    for fn, prog in zip(fns, list(programs)):
        scalar = len(prog.outputs) == 1 and prog.tensors[prog.outputs[0]].rank == 0
        if scalar and f"{fn.name}_predict" not in taken:
            predict = frontend.lower_prediction(ctx, fn, scan)
            if predict is not None:
                programs.append(predict)
    return programs


TARGETS = ("cpu", "cuda", "all")
KERNEL_DOCS = {
    "value": "`{n}`: the forward pass.",
    "vjp": "`{n}` and its vector-Jacobian product: the forward pass, then reverse-mode "
           "adjoints, last statement first.",
    "jvp": "`{n}` and its Jacobian-vector product: each statement followed by its "
           "tangent (forward mode).",
    "hvp": "`{n}`, its gradient and the gradient's tangent: a Hessian-vector product "
           "(forward-over-reverse).",
}
# the kernels that get a variant on all cores: training and prediction (a jvp or hvp
# kernel runs serially)
THREADED_KINDS = ("value", "vjp")
# the threaded variant's docstring, after the kernel's own
THREADS_DOC = (" On all of Numba's threads (prange), for calls with enough work: results that "
               "agree with the serial kernel's to rounding, the same bits on any number of "
               "threads.")


def _entry_names(prog, modules: names.ModuleNames, cuda: bool, where) -> dict:
    """Module-level names of one entry point: the public ones (a clash is the user's
    error) and the private runners, kernels and checks."""
    out = {}
    for kind, name in emit.public_names(prog, cuda).items():
        other = modules.claim(name, f"`{name}` of entry point '{prog.name}'")
        if other:
            hint = "rename one of the functions" if name in modules.public else \
                f"rename the function '{prog.name}'"
            raise where(prog, f"the generated module needs the name '{name}' for entry point "
                        f"'{prog.name}', but it is already {other}", hint)
        out[kind] = name
    n = prog.name
    for role in ("ready", "args", "grads", "run_value", "run_vjp", "run_value_and_grad", "run_jvp",
                 "run_hvp", "run_hessian", "run_jacobian"):
        hint = f"_{n}_" + role.replace("run_", "")
        out[role] = modules.fresh(f"_{n}" if role == "run_value" else hint)
    for kind in emit.KINDS:
        out[f"kernel_{kind}"] = modules.fresh(f"_{n}_{kind}_kernel")
        out[f"threads_{kind}"] = modules.fresh(f"_{n}_{kind}_kernel_threads")
    if cuda:
        for role in ("cuda_kernels", "run_value_cuda", "run_vjp_cuda", "run_value_and_grad_cuda",
                     "run_jvp_cuda", "run_hvp_cuda"):
            out[role] = modules.fresh(f"_{n}_" + role.replace("run_", ""))
        for kind in emit.KINDS:
            out[f"host_{kind}"] = modules.fresh(f"_{n}_{kind}_cuda_host")
    return out


def compile_source(path: str, source: str, functions=(), wrt=(), target: str = "cpu",
                   digest: str | None = None, rewrites: bool = True) -> tuple[str, list]:
    """(module text, per-entry Compiled) for a model's source (`digest`: of the file's
    bytes; by default of `source` itself; `rewrites=False`: no rewrite pass)."""
    return _deep(_compile_source, path, source, functions, wrt, target, digest, rewrites)


STACK_BYTES = 512 * 1024 * 1024
RECURSION = 200_000


def _deep(fn, path, *args):
    """fn(path, *args) on a thread with a large stack: a 3000-term sum or a 20000-term
    line is deep recursion in Python's own `ast` and in lowering; beyond even this
    depth the error is the user's, located, never a RecursionError."""
    result = {}

    def run():
        try:
            result["value"] = fn(path, *args)
        except BaseException as exc:   # handed to the caller's thread below
            result["error"] = exc
    old_stack, old_limit = threading.stack_size(), sys.getrecursionlimit()
    with _DEEP_LOCK:
        threading.stack_size(STACK_BYTES)
        sys.setrecursionlimit(max(old_limit, RECURSION))
        try:
            worker = threading.Thread(target=run, name="adc-compile")
            worker.start()
            worker.join()
        finally:
            threading.stack_size(old_stack)
            sys.setrecursionlimit(old_limit)
    if "error" in result:
        exc = result["error"]
        if isinstance(exc, (RecursionError, MemoryError)):
            raise CompileError("the model is nested too deeply for adc (an expression or a "
                               "chain of helpers thousands of levels deep)", path=path,
                               hint="split long expressions into several statements") from exc
        raise exc
    return result["value"]


_DEEP_LOCK = threading.Lock()


def _compile_source(path, source, functions, wrt, target, digest, rewrites=True):
    lines = source_lines(source)

    def where(prog, message, hint=""):
        text = lines[prog.line - 1] if 0 < prog.line <= len(lines) else ""
        return CompileError(message, path=path, line=prog.line, col=text.find(prog.name) + 1,
                            source_line=text, hint=hint)

    cuda = target in ("cuda", "all")
    try:
        lowered = lower(path, source, functions, wrt)
        programs = [transforms(p, rewrites) for p in lowered]
        modules = names.ModuleNames([a.name for p in lowered for a in p.args],
                                    names.defined_names(CHECKS, CUDA_RUNTIME))
        entry_names = [_entry_names(p, modules, cuda, where) for p in lowered]
        used = helpers_used(p for progs in programs for p in progs.values())
        helpers = {h: modules.fresh(h) for h in sorted(used)}
        compiled = [_compile_entry(p, progs, n, helpers, cuda)
                    for p, progs, n in zip(lowered, programs, entry_names)]
    except PrintMethodNotImplementedError as exc:
        raise _internal(path, f"no printing rule for {exc}") from exc
    except bounds.OutOfRange as exc:
        line = exc.origin.line if exc.origin else 0
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        raise CompileError(exc.message, path=path, line=line,
                           col=len(text) - len(text.lstrip()) + 1, source_line=text,
                           hint=exc.hint) from None
    digest = digest or hashlib.sha256(source.encode()).hexdigest()
    text = emit.module_source([c.entry for c in compiled], path, digest, VERSION)
    try:
        compile(text, default_output(path), "exec")
    except SyntaxError as exc:
        raise _internal(path, f"the generated module is not valid Python ({exc.msg}, "
                        f"line {exc.lineno})") from exc
    return text, compiled


def compile_program(lowered, target: str = "cpu", rewrites: bool = True) -> Compiled:
    """One entry point through every pass on its own (for tests and inspection)."""
    programs = transforms(lowered, rewrites)
    modules = names.ModuleNames([a.name for a in lowered.args],
                                names.defined_names(CHECKS, CUDA_RUNTIME))
    cuda = target in ("cuda", "all")

    def where(prog, message, hint=""):
        return CompileError(message, path=prog.source_file, line=prog.line, hint=hint)
    entry_names = _entry_names(lowered, modules, cuda, where)
    helpers = {h: modules.fresh(h) for h in sorted(helpers_used(programs.values()))}
    return _compile_entry(lowered, programs, entry_names, helpers, cuda)


def _compile_entry(lowered, programs: dict, entry_names: dict, helpers: dict,
                   cuda: bool) -> Compiled:
    printer = KernelPrinter(helpers)
    schedules, gpu, kernels, threaded = {}, {}, {}, {}
    docs = {kind: KERNEL_DOCS[kind].format(n=lowered.name) for kind in programs}
    for kind, prog in programs.items():
        sched = plan_threads(schedule(names.kernel_names(prog, helpers.values())))
        schedules[kind] = cse(sched)
        name = entry_names[f"kernel_{kind}"]
        kernels[kind] = (name, numba_cpu.kernel(schedules[kind], name, docs[kind], printer))
        work = numba_cpu.work_code(schedules[kind]) if kind in THREADED_KINDS else None
        if work:
            name = entry_names[f"threads_{kind}"]
            threaded[kind] = (name, numba_cpu.kernel(schedules[kind], name, docs[kind] +
                                                     THREADS_DOC, printer, threads=True), work)
        if cuda:
            gpu[kind] = cse(numba_cuda.split_for_gpu(sched))
    used = helpers_used(programs.values())
    entry = emit.Entry(programs["value"], kernels, entry_names,
                       helpers={h: n for h, n in helpers.items() if h in used},
                       requirements=_requirements(programs), threads=threaded)
    if cuda:
        entry.cuda = numba_cuda.entry_source(gpu, entry_names, helpers, docs)
    return Compiled(lowered, programs["value"], programs, schedules, entry)


def _requirements(programs: dict) -> list:
    """The size conditions every program's accesses need, each once."""
    found = {}
    for prog in programs.values():
        for req in bounds.requirements(prog):
            found.setdefault(sp.srepr(req.expr), req)
    return list(found.values())


def _internal(path, what) -> CompileError:
    """A failure of adc itself, reported before anything is written."""
    return CompileError(f"internal error: {what}; nothing was written", path=path,
                        hint="this is a bug in adc: please report it with the model file")


def default_output(path: str) -> str:
    stem, _ = os.path.splitext(path)
    return stem + "_adc.py"


def compile_file(path: str, out: str | None = None, functions=(), wrt=(),
                 target="cpu", rewrites: bool = True) -> str:
    """Compile a model file and write the module atomically; returns the output path."""
    if target not in TARGETS:
        raise CompileError(f"unknown target '{target}'", path=path,
                           hint=f"use one of: {', '.join(TARGETS)}")
    source = read_source(path)
    text, _ = compile_source(path, source, functions, wrt, target, source_digest(path),
                             rewrites)
    out = out or default_output(path)
    emit.write_atomic(out, text)
    return out
