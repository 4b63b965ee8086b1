"""The pipeline, step by step: parse -> lower -> inline -> autodiff -> schedule -> backend -> emit."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from . import autodiff, emit, frontend, inline, schedule
from .backends import numba_cpu, numba_cuda
from .errors import CompileError
from .printer import KernelPrinter
from sympy.printing.codeprinter import PrintMethodNotImplementedError

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
    """The model's text (universal newlines), read from its bytes: see `source_digest`."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise CompileError(f"cannot read model file: {exc.strerror}", path=path) from None
    try:
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        raise CompileError(f"the model file is not UTF-8 text (byte {exc.start})", path=path,
                           hint="save the file as UTF-8") from None


def source_digest(path: str) -> str:
    """SHA-256 of the model file's bytes, as `sha256sum` prints it."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


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


TARGETS = ("cpu", "cuda", "all")


def compile_program(lowered, target: str = "cpu") -> Compiled:
    prog = inline.inline_elementwise(lowered)
    adj = autodiff.reverse(prog)
    fwd = schedule.schedule_forward(prog.stmts, prog.tensors)
    tensors = {**prog.tensors, **adj.tensors}
    bwd = schedule.schedule_backward(adj.stmts, adj.groups, tensors, adj.seeds.values())
    forward_names = {n for n, t in prog.tensors.items() if t.role in ("temp", "argmax")}
    saved = [n for n in schedule.saved_for_backward(forward_names, bwd)
             if n not in prog.outputs]
    # outputs the backward pass reads too (e.g. tanh' = 1 - out**2), passed before `saved`
    outputs_read = schedule.saved_for_backward(set(prog.outputs), bwd)
    printer = KernelPrinter()
    fsrc = numba_cpu.forward_kernel(prog, fwd, saved, printer)
    bsrc = numba_cpu.backward_kernel(prog, adj, bwd, outputs_read + saved, printer)
    entry = emit.Entry(prog, fsrc, bsrc, saved, set(printer.used_helpers), outputs_read)
    if target in ("cuda", "all"):
        entry.cuda = numba_cuda.entry_source(prog, adj, fwd, bwd, saved, outputs_read)
    return Compiled(lowered, prog, adj, fwd, bwd, entry)


def compile_source(path: str, source: str, functions=(), wrt=(),
                   target: str = "cpu", digest: str | None = None) -> tuple[str, list]:
    """(module text, per-entry Compiled) for a model's source (`digest`: of the file's
    bytes; by default of `source` itself)."""
    try:
        compiled = [compile_program(p, target) for p in lower(path, source, functions, wrt)]
    except PrintMethodNotImplementedError as exc:
        raise _internal(path, f"no printing rule for {exc}") from exc
    digest = digest or hashlib.sha256(source.encode()).hexdigest()
    text = emit.module_source([c.entry for c in compiled], path, digest, VERSION)
    try:
        compile(text, default_output(path), "exec")
    except SyntaxError as exc:
        raise _internal(path, f"the generated module is not valid Python ({exc.msg}, "
                        f"line {exc.lineno})") from exc
    return text, compiled


def _internal(path, what) -> CompileError:
    """A failure of adc itself, reported before anything is written."""
    return CompileError(f"internal error: {what}; nothing was written", path=path,
                        hint="this is a bug in adc: please report it with the model file")


def default_output(path: str) -> str:
    stem, _ = os.path.splitext(path)
    return stem + "_adc.py"


def compile_file(path: str, out: str | None = None, functions=(), wrt=(),
                 target="cpu") -> str:
    """Compile a model file and write the module atomically; returns the output path."""
    if target not in TARGETS:
        raise CompileError(f"unknown target '{target}'", path=path,
                           hint=f"use one of: {', '.join(TARGETS)}")
    source = read_source(path)
    text, _ = compile_source(path, source, functions, wrt, target, source_digest(path))
    out = out or default_output(path)
    emit.write_atomic(out, text)
    return out
