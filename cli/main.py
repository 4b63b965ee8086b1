"""The `adc` command line: thin wrappers that parse, call the compiler, and print."""
from __future__ import annotations

import os
import sys
import tempfile

import click

from ..compiler import driver, inspect_views
from ..compiler.errors import AdcError

SHOW = ("ir", "grad", "code", "formulas", "graph")


def _fail(exc: Exception):
    click.echo(str(exc), err=True)
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(driver.VERSION, prog_name="adc")
def main():
    """adc: compile a model file into readable Numba forward and gradient code."""


@main.command("compile")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Where to write the module (default: MODEL_adc.py beside the model).")
@click.option("--target", type=click.Choice(["cpu", "cuda", "all"]), default="cpu",
              show_default=True, help="Code to generate.")
@click.option("--function", "functions", multiple=True, help="Entry point(s) to compile.")
@click.option("--wrt", multiple=True, help="Also differentiate this Data argument.")
def compile_cmd(model, output, target, functions, wrt):
    """Compile MODEL.py into a standalone module of Numba functions."""
    try:
        path = driver.compile_file(model, output, functions, wrt, target)
    except AdcError as exc:
        _fail(exc)
    click.echo(f"wrote {path}")


@main.command("inspect")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--function", "functions", multiple=True, help="Entry point(s) to show.")
@click.option("--show", type=click.Choice(SHOW), default="ir", show_default=True,
              help="ir: the indexed assignments; grad: the adjoint program; code: the "
                   "generated module; formulas: derivative formulas; graph: Graphviz DOT.")
@click.option("--wrt", multiple=True, help="Also differentiate this Data argument.")
def inspect_cmd(model, functions, show, wrt):
    """Show what the compiler makes of MODEL.py."""
    try:
        source = driver.read_source(model)
        text, compiled = driver.compile_source(model, source, functions, wrt)
    except AdcError as exc:
        _fail(exc)
    if show == "code":
        click.echo(text, nl=False)
        return
    views = {"ir": inspect_views.ir, "grad": inspect_views.grad,
             "formulas": inspect_views.formulas, "graph": inspect_views.graph}
    click.echo("\n\n".join(views[show](c) for c in compiled))


def _parse_assignments(items, what):
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint=what)
        try:
            out[name] = float(value) if what == "--at" else int(value)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not a number", param_hint=what) from None
    return out


@main.command("check")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--function", "functions", multiple=True, help="Entry point(s) to check.")
@click.option("--size", "sizes", multiple=True, metavar="NAME=INT",
              help="Value of a symbolic size (default 3).")
@click.option("--at", "at", multiple=True, metavar="NAME=FLOAT",
              help="Fix a scalar argument instead of drawing it at random.")
@click.option("--seed", default=0, show_default=True, help="Seed of the random inputs.")
@click.option("--tol", default=1e-6, show_default=True, help="Largest relative error allowed.")
@click.option("--wrt", multiple=True, help="Also differentiate this Data argument.")
def check_cmd(model, functions, sizes, at, seed, tol, wrt):
    """Check MODEL.py's gradients against central finite differences."""
    from ..runtime import gradcheck
    import adc
    sizes = _parse_assignments(sizes, "--size")
    at = _parse_assignments(at, "--at")
    with tempfile.TemporaryDirectory(prefix="adc-check-") as tmp:
        out = os.path.join(tmp, os.path.splitext(os.path.basename(model))[0] + "_adc.py")
        try:
            module = adc.compile(model, out, functions=functions, wrt=wrt)
        except AdcError as exc:
            _fail(exc)
        ok = True
        for fname, sig in module.SIGNATURES.items():
            values = gradcheck.random_inputs(module, fname, sizes, seed)
            unknown = set(at) - set(values)
            if unknown:
                _fail(click.UsageError(f"--at: '{fname}' has no argument "
                                       f"{', '.join(sorted(unknown))}"))
            values.update(at)
            if not hasattr(module, f"{fname}_grad"):
                click.echo(f"{fname}: output is not a scalar; checking the VJP is not "
                           "supported by `adc check` yet")
                continue
            value, grads = getattr(module, f"{fname}_value_and_grad")(**values)
            rows = gradcheck.check_gradients(module, fname, values)
            click.echo(f"{fname} = {float(value):.6g}")
            click.echo(f"  {'argument':<12} {'shape':<14} {'grad[0]':>12} {'rel. error':>12}")
            for row in rows:
                g = getattr(grads, row.name)
                first = float(g.reshape(-1)[0]) if g.size else 0.0
                status = "ok" if row.rel_error <= tol else "FAIL"
                ok = ok and row.rel_error <= tol
                click.echo(f"  {row.name:<12} {str(row.shape):<14} {first:>12.6g} "
                           f"{row.rel_error:>12.2e}  {status}")
    if not ok:
        click.echo(f"gradient check failed: an error exceeds {tol:g}", err=True)
        sys.exit(1)
    click.echo("gradient check passed")


if __name__ == "__main__":
    main()
