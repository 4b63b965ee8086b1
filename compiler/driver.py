"""The pipeline, step by step: parse -> lower -> inline -> autodiff -> schedule -> backend -> emit."""
from __future__ import annotations

import os
from dataclasses import dataclass

from . import autodiff, emit, frontend, inline, schedule
from .backends import numba_cpu
from .errors import CompileError
from .printer import KernelPrinter

VERSION = "0.1.0"


@dataclass
class Compiled:
    """Everything the passes produced for one entry point (for `adc inspect`)."""

    lowered: object        # Program straight from the frontend
    program: object        # after inlining
    adjoint: object        # autodiff.Adjoint
    forward: object        # schedule.Schedule
    backward: object       # schedule.Schedule
    entry: emit.Entry


def read_source(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise CompileError(f"cannot read model file: {exc.strerror}", path=path) from None


def lower(path: str, source: str, functions=(), wrt=()) -> list:
    """Parse and lower the selected entry points (all of them by default)."""
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
    return [frontend.lower_function(ctx, fn, wrt) for fn in fns]


def compile_program(lowered) -> Compiled:
    prog = inline.inline_elementwise(lowered)
    adj = autodiff.reverse(prog)
    fwd = schedule.schedule_forward(prog.stmts, prog.tensors)
    tensors = {**prog.tensors, **adj.tensors}
    bwd = schedule.schedule_backward(adj.stmts, adj.groups, tensors)
    forward_names = {n for n, t in prog.tensors.items() if t.role in ("temp", "argmax")}
    saved = [n for n in schedule.saved_for_backward(forward_names, bwd)
             if n not in prog.outputs]
    printer = KernelPrinter()
    fsrc = numba_cpu.forward_kernel(prog, fwd, saved, printer)
    bsrc = numba_cpu.backward_kernel(prog, adj, bwd, saved, printer)
    entry = emit.Entry(prog, fsrc, bsrc, saved, set(printer.used_helpers))
    return Compiled(lowered, prog, adj, fwd, bwd, entry)


def compile_source(path: str, source: str, functions=(), wrt=()) -> tuple[str, list]:
    """(module text, per-entry Compiled) for a model's source."""
    compiled = [compile_program(p) for p in lower(path, source, functions, wrt)]
    text = emit.module_source([c.entry for c in compiled], path, source, VERSION)
    return text, compiled


def default_output(path: str) -> str:
    stem, _ = os.path.splitext(path)
    return stem + "_adc.py"


def compile_file(path: str, out: str | None = None, functions=(), wrt=(),
                 target="cpu") -> str:
    """Compile a model file and write the module atomically; returns the output path."""
    if target not in ("cpu",):
        raise CompileError(f"target '{target}' is not available yet (only 'cpu')", path=path)
    source = read_source(path)
    text, _ = compile_source(path, source, functions, wrt)
    out = out or default_output(path)
    emit.write_atomic(out, text)
    return out
