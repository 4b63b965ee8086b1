"""The `adc` command line: thin wrappers that parse, call the compiler, and print.

Exit codes: 0 on success, 1 on a user error (a one-paragraph message on stderr, never
a traceback), 2 on bad command-line usage (click's own convention).
"""
from __future__ import annotations

import os
import sys
import tempfile

import click
import numpy as np

from ..compiler import driver, inspect_views
from ..compiler.errors import AdcError, CompileError

SHOW = ("ir", "grad", "jvp", "hvp", "code", "formulas", "graph")
MODEL = click.Path(exists=True, dir_okay=False)


def _message(exc: Exception, model: str, output: str | None) -> str:
    """The user-facing text of an error; a CompileError with no location drops `:0:0`."""
    if isinstance(exc, CompileError) and not exc.line:
        hint = f"\nhint: {exc.hint}" if exc.hint else ""
        return f"{exc.path}: error: {exc.message}{hint}"
    if isinstance(exc, OSError):   # reading the model is a CompileError: this is the output
        target = output or driver.default_output(model)
        return f"{target}: error: cannot write the module: {exc.strerror or exc}"
    if isinstance(exc, UnicodeDecodeError):
        return (f"{model}: error: the model file is not UTF-8 text "
                f"({exc.reason} at byte {exc.start})")
    return str(exc)


def _fail(exc: Exception, model: str, output: str | None = None):
    click.echo(_message(exc, model, output), err=True)
    sys.exit(1)


# What a user can cause and fix: a mistake in the model, an unreadable or unwritable
# path, a file that is not text. Anything else is a bug in adc and keeps its traceback.
USER_ERRORS = (AdcError, OSError, UnicodeDecodeError)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(driver.VERSION, prog_name="adc")
def main():
    """adc: compile a model file into readable Numba forward and gradient code."""


def _refuse_to_overwrite_model(model, output):
    if output and os.path.exists(output) and os.path.samefile(model, output):
        raise click.BadParameter("the output would overwrite the model file",
                                 param_hint="'-o' / '--output'")


@main.command("compile")
@click.argument("model", type=MODEL)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Where to write the module (default: NAME_adc.py beside NAME.py).")
@click.option("--target", type=click.Choice(["cpu", "cuda", "all"]), default="cpu",
              show_default=True, help="Code to generate.")
@click.option("--function", "functions", multiple=True,
              help="Entry point to compile (repeatable; default: all of them).")
@click.option("--wrt", multiple=True,
              help="Also differentiate this Data argument (repeatable).")
def compile_cmd(model, output, target, functions, wrt):
    """Compile MODEL.py into a standalone module of Numba functions."""
    _refuse_to_overwrite_model(model, output)
    try:
        path = driver.compile_file(model, output, functions, wrt, target)
    except USER_ERRORS as exc:
        _fail(exc, model, output)
    click.echo(f"wrote {path}")


@main.command("inspect")
@click.argument("model", type=MODEL)
@click.option("--function", "functions", multiple=True,
              help="Entry point to show (repeatable; default: all of them).")
@click.option("--show", type=click.Choice(SHOW), default="ir", show_default=True,
              help="ir: the indexed assignments; grad: the adjoint program; jvp: the "
                   "tangent program (forward mode); hvp: the Hessian-vector program; code: "
                   "the generated module; formulas: derivative formulas; graph: Graphviz DOT.")
@click.option("--wrt", multiple=True, help="Also differentiate this Data argument.")
@click.option("--target", type=click.Choice(["cpu", "cuda", "all"]), default="cpu",
              show_default=True, help="With --show code: which kernels to show.")
def inspect_cmd(model, functions, show, wrt, target):
    """Show what the compiler makes of MODEL.py."""
    try:
        source = driver.read_source(model)
        text, compiled = driver.compile_source(model, source, functions, wrt, target)
    except USER_ERRORS as exc:
        _fail(exc, model)
    if show == "code":
        click.echo(text, nl=False)
        return
    views = {"ir": inspect_views.ir, "grad": inspect_views.grad, "jvp": inspect_views.jvp,
             "hvp": inspect_views.hvp,
             "formulas": inspect_views.formulas, "graph": inspect_views.graph}
    click.echo("\n\n".join(views[show](c) for c in compiled))


def _parse_assignments(items, option, convert):
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint=option)
        try:
            out[name] = convert(value)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not a number", param_hint=option) from None
    return out


def _check_names(module, sizes, at):
    """Every --size and --at must name something in one of the checked entry points."""
    dims = {s for sig in module.SIGNATURES.values() for a in sig["args"].values()
            for s in a["shape"] if isinstance(s, str)}
    for name in sizes:
        if name not in dims:
            raise click.BadParameter(f"no symbolic size named '{name}' (sizes: "
                                     f"{', '.join(sorted(dims)) or 'none'})", param_hint="--size")
    scalars = {n for sig in module.SIGNATURES.values()
               for n, a in sig["args"].items() if a["shape"] == ()}
    for name in at:
        if name not in scalars:
            raise click.BadParameter(f"no scalar argument named '{name}' (scalar arguments: "
                                     f"{', '.join(sorted(scalars)) or 'none'})",
                                     param_hint="--at")


def _fixed_values(spec, at):
    """The --at values that belong to one entry point, as the type of their argument."""
    out = {}
    for name, value in at.items():
        if name not in spec:
            continue
        if spec[name]["role"] == "int":
            if not value.is_integer():
                raise click.BadParameter(f"'{name}' is an int argument, got {value:g}",
                                         param_hint="--at")
            value = int(value)
        out[name] = value
    return out


def _print_check(fname, target, rows, tol) -> bool:
    """The table of one entry point; True when every error is within `tol`."""
    if target.via == "vjp":
        u = target.cotangent if isinstance(target.cotangent, tuple) else (target.cotangent,)
        shapes = ", ".join(str(np.shape(x)) for x in u)
        click.echo(f"{fname}: output shape {shapes}, not a scalar: checking {fname}_vjp "
                   "with a random cotangent u")
        click.echo(f"<u, {fname}> = {target.value:.6g}")
    else:
        click.echo(f"{fname} = {target.value:.6g}")
    if not rows:
        click.echo("  (no differentiated arguments)")
        return True
    click.echo(f"  {'argument':<12} {'shape':<14} {'grad[0]':>12} {'rel. error':>12}")
    ok = True
    for row in rows:
        passed = row.rel_error <= tol
        ok = ok and passed
        click.echo(f"  {row.name:<12} {str(row.shape):<14} {row.first:>12.6g} "
                   f"{row.rel_error:>12.2e}  {'ok' if passed else 'FAIL'}")
    return ok


@main.command("check")
@click.argument("model", type=MODEL)
@click.option("--function", "functions", multiple=True, help="Entry point(s) to check.")
@click.option("--size", "sizes", multiple=True, metavar="NAME=INT",
              help="Value of a symbolic size (default 3).")
@click.option("--at", "at", multiple=True, metavar="NAME=FLOAT",
              help="Fix a scalar argument instead of drawing it at random.")
@click.option("--seed", default=0, show_default=True, help="Seed of the random inputs.")
@click.option("--tol", default=1e-6, show_default=True, help="Largest relative error allowed.")
@click.option("--wrt", multiple=True, help="Also differentiate this Data argument.")
@click.option("--target", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="Check the CPU functions or the CUDA ones (f_cuda, ...; without a GPU "
              "set NUMBA_ENABLE_CUDASIM=1 to run them in Numba's simulator).")
def check_cmd(model, functions, sizes, at, seed, tol, wrt, target):
    """Check MODEL.py's gradients against central finite differences.

    Scalar entry points are checked through f_value_and_grad; the others through f_vjp
    with a random cotangent u (the gradient of the random projection <u, f>).
    """
    import adc
    from ..runtime import gradcheck
    sizes = _parse_assignments(sizes, "--size", int)
    at = _parse_assignments(at, "--at", float)
    ok = True
    with tempfile.TemporaryDirectory(prefix="adc-check-") as tmp:
        out = os.path.join(tmp, os.path.splitext(os.path.basename(model))[0] + "_adc.py")
        try:
            module = adc.compile(model, out, functions=functions, wrt=wrt,
                                 target="all" if target == "cuda" else "cpu")
        except USER_ERRORS as exc:
            _fail(exc, model, out)
        _check_names(module, sizes, at)
        for fname, sig in module.SIGNATURES.items():
            values = gradcheck.random_inputs(module, fname, sizes, seed)
            values.update(_fixed_values(sig["args"], at))
            suffix = "_cuda" if target == "cuda" else ""
            try:
                goal = gradcheck.objective(module, fname, values, seed, suffix)
            except ValueError as exc:   # the module's input checks (e.g. a --size clash)
                _fail(exc, model)
            except Exception as exc:    # no GPU and no simulator
                if type(exc).__name__ != "CudaSupportError":
                    raise
                _fail(AdcError(f"{model}: error: no CUDA GPU or driver is available here; "
                               "set NUMBA_ENABLE_CUDASIM=1 to run the kernels in Numba's "
                               "simulator"), model)
            rows = gradcheck.check_gradients(module, fname, values, seed=seed, target=goal)
            ok = _print_check(fname + suffix, goal, rows, tol) and ok
    if not ok:
        click.echo(f"gradient check failed: a relative error exceeds {tol:g}", err=True)
        sys.exit(1)
    click.echo("gradient check passed")


if __name__ == "__main__":
    main()

from adc.cli.train import train  # noqa: E402
main.add_command(train)
