"""The `adc` command line: thin wrappers that parse, call the compiler, and print.

Exit codes: 0 on success, 1 on a user error (a one-paragraph message on stderr, never
a traceback), 2 on bad command-line usage (click's own convention).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import click
import numpy as np

from ..compiler import driver, inspect_views
from ..compiler.errors import AdcError, CompileError
from ..runtime.checkpoint import atomic_write
from ..runtime.gradcheck import HVP_TOL

SHOW = ("ir", "grad", "jvp", "hvp", "cost", "rewrites", "code", "formulas", "graph")
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
@click.option("--no-rewrite", "no_rewrite", is_flag=True,
              help="Compile the formulas as written: no rewrite to stable forms "
                   "(see adc inspect --show rewrites).")
def compile_cmd(model, output, target, functions, wrt, no_rewrite):
    """Compile MODEL.py into a standalone module of Numba functions."""
    _refuse_to_overwrite_model(model, output)
    try:
        path = driver.compile_file(model, output, functions, wrt, target,
                                   rewrites=not no_rewrite)
    except USER_ERRORS as exc:
        _fail(exc, model, output)
    click.echo(f"wrote {path}")


@main.command("inspect")
@click.argument("model", type=MODEL)
@click.option("--function", "functions", multiple=True,
              help="Entry point to show (repeatable; default: all of them).")
@click.option("--show", type=click.Choice(SHOW), default="ir", show_default=True,
              help="ir: the indexed assignments; grad: the adjoint program; jvp: the "
                   "tangent program (forward mode); hvp: the Hessian-vector program; cost: "
                   "flops, bytes and memory of each mode, forward vs reverse; rewrites: the "
                   "stable forms that replaced what the model wrote; code: the "
                   "generated module; formulas: derivative formulas; graph: Graphviz DOT.")
@click.option("--wrt", multiple=True, help="Also differentiate this Data argument.")
@click.option("--target", type=click.Choice(["cpu", "cuda", "all"]), default="cpu",
              show_default=True, help="With --show code: which kernels to show.")
@click.option("--size", "sizes", multiple=True, metavar="NAME=INT",
              help="With --show cost: the value of a symbolic size (others stay symbolic).")
@click.option("--after", "after", type=click.Choice(inspect_views.PASSES), default=None,
              help="Dump the IR right after this pass instead of --show.")
@click.option("--kind", type=click.Choice(["value", "vjp", "jvp", "hvp"]), default="vjp",
              show_default=True, help="With --after names|schedule|cse: which program.")
@click.option("--no-rewrite", "no_rewrite", is_flag=True,
              help="Show the program without the rewrite pass.")
@click.option("--at", "at", multiple=True, metavar="NAME=VALUE",
              help="With --show graph: evaluate at this argument value; every node then "
                   "shows its value and its gradient (the course's figures).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="With --show graph: write graph.dot, or render graph.svg / graph.png "
                   "with Graphviz.")
def inspect_cmd(model, functions, show, wrt, target, sizes, after, kind, no_rewrite, at,
                output):
    """Show what the compiler makes of MODEL.py."""
    sizes = _parse_assignments(sizes, "--size", int)
    at = _parse_assignments(at, "--at", float)
    if (at or output) and show != "graph":
        raise click.BadParameter("--at and -o go with --show graph", param_hint="--show")
    try:
        source = driver.read_source(model)
        text, compiled = driver.compile_source(model, source, functions, wrt, target,
                                               rewrites=not no_rewrite)
    except USER_ERRORS as exc:
        _fail(exc, model)
    if not functions:      # the derived f_predict only when asked for by name
        compiled = [c for c in compiled if not c.program.predicts]
    if after:
        click.echo("\n\n".join(inspect_views.after(c, after, kind) for c in compiled))
        return
    if show == "code":
        click.echo(text, nl=False)
        return
    if show == "graph":
        _graph(compiled, at or None, sizes, output)
        return
    views = {"ir": inspect_views.ir, "grad": inspect_views.grad, "jvp": inspect_views.jvp,
             "hvp": inspect_views.hvp, "formulas": inspect_views.formulas,
             "graph": inspect_views.graph,
             "cost": lambda c: inspect_views.cost(c, sizes), "rewrites": inspect_views.rewrites}
    click.echo("\n\n".join(views[show](c) for c in compiled))


GRAPH_FORMATS = (".dot", ".svg", ".png")


def _graph(compiled, at, sizes, output):
    """Print the DOT text, or write it (.dot) or render it with Graphviz (.svg, .png)."""
    try:
        text = "\n\n".join(inspect_views.graph(c, at, sizes) for c in compiled)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from None
    if output is None:
        click.echo(text)
        return
    ext = os.path.splitext(output)[1].lower()
    if ext not in GRAPH_FORMATS:
        raise click.BadParameter(f"{output}: the graph is written as .dot, .svg or .png",
                                 param_hint="-o")
    data = text.encode() if ext == ".dot" else _render(text, ext[1:])
    try:
        atomic_write(output, lambda f: f.write(data))
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from None
    click.echo(f"wrote {output}")


def _render(dot_text: str, fmt: str) -> bytes:
    dot = shutil.which("dot")
    if dot is None:
        raise click.ClickException(
            f"rendering .{fmt} needs Graphviz's `dot` program, which is not installed: "
            "install Graphviz (apt install graphviz, brew install graphviz or conda install "
            "graphviz), or write the graph as .dot")
    done = subprocess.run([dot, f"-T{fmt}"], input=dot_text.encode(), capture_output=True)
    if done.returncode != 0:
        raise click.ClickException(f"Graphviz failed: {done.stderr.decode().strip()}")
    return done.stdout


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


def _parse_ranges(items):
    """--range LO:HI (every float argument) or NAME=LO:HI: {None or NAME: (lo, hi)}."""
    out = {}
    for item in items:
        name, sep, span = item.rpartition("=")
        lo, colon, hi = span.partition(":")
        try:
            if not colon or (sep and not name):
                raise ValueError
            bounds = (float(lo), float(hi))
        except ValueError:
            raise click.BadParameter(f"expected LO:HI or NAME=LO:HI, got {item!r}",
                                     param_hint="--range") from None
        if not (np.isfinite(bounds).all() and bounds[0] < bounds[1]):
            raise click.BadParameter(f"{span!r}: LO and HI must be finite, with LO < HI",
                                     param_hint="--range")
        out[name or None] = bounds
    return out


def _names_of(module, roles):
    return {n for sig in module.SIGNATURES.values() for n, a in sig["args"].items()
            if a["role"] in roles}


def _check_names(module, sizes, at, ranges):
    """Every --size, --at and --range must name something in one of the checked entry points."""
    dims = {s for sig in module.SIGNATURES.values() for a in sig["args"].values()
            for s in a["shape"] if isinstance(s, str)}
    for names, known, what, option in (
            (sizes, dims, "symbolic size", "--size"),
            (at, _names_of(module, ("param", "data", "index", "float", "int")), "argument",
             "--at"),
            (ranges, _names_of(module, ("param", "data")), "Param or Data argument",
             "--range")):
        for name in names:
            if name is not None and name not in known:
                kind = what.split()[-1] + "s"
                raise click.BadParameter(f"no {what} named '{name}' ({kind}: "
                                         f"{', '.join(sorted(known)) or 'none'})",
                                         param_hint=option)


def _fixed_values(spec, values, at):
    """The --at values of one entry point: a scalar, or a constant fill of an array."""
    out = {}
    for name, value in at.items():
        if name not in spec:
            continue
        integral = spec[name]["role"] in ("int", "index")
        if integral and not value.is_integer():
            raise click.BadParameter(f"'{name}' is an {spec[name]['role']} argument, got "
                                     f"{value:g}", param_hint="--at")
        value = int(value) if integral else value
        out[name] = np.full_like(values[name], value) if np.ndim(values[name]) else value
    return out


MOVE_THE_POINT = ("move the point with --range LO:HI (draw the float arguments uniformly "
                  "in [LO, HI], e.g. --range 0.5:2 for log or sqrt), --at NAME=VALUE (fix an "
                  "argument; an array is filled with VALUE) or --seed N (another draw)")


def _finite_text(output) -> str:
    """A value for a message: the number for a scalar, else how many elements are nan/inf."""
    parts = output if isinstance(output, tuple) else (output,)
    arrays = [np.asarray(p, dtype=np.float64) for p in parts]
    if len(arrays) == 1 and arrays[0].ndim == 0:
        return f"{float(arrays[0]):.6g}"
    bad = sum(int(np.sum(~np.isfinite(a))) for a in arrays)
    return f"{bad} of {sum(a.size for a in arrays)} elements nan or inf" if bad else "finite"


def _print_values(rows, tol) -> bool:
    ok = True
    for row in rows:
        passed = row.rel_error <= tol
        ok = ok and passed
        status = "ok" if passed else "FAIL"
        if row.note:
            click.echo(f"  {row.label:<12} {row.note}  {status}")
            continue
        at = "" if row.shape == () else "[0]"   # an array shows its first element
        click.echo(f"  {row.label:<12} compiled{at} {row.compiled:<11.6g} "
                   f"eager{at} {row.eager:<11.6g} rel. error {row.rel_error:.2e}  {status}")
    return ok


def _print_table(kind, what, rows, tol, note="") -> bool:
    """A header and one row per (label, shape, first element, error, note): whether every
    error is within `tol` (a nan error never is)."""
    click.echo(f"  {what:<12} {'shape':<14} {kind + '[0]':>12} {'rel. error':>12}{note}")
    ok = True
    for label, shape, first, err, text in rows:
        passed = err <= tol
        ok = ok and passed
        status = "ok" if passed else "FAIL"
        if text:
            click.echo(f"  {label:<12} {text}  {status}")
            continue
        click.echo(f"  {label:<12} {str(shape):<14} {first:>12.6g} {err:>12.2e}  {status}")
    return ok


def _jvp_error(row) -> float:
    """The tangent's error, or f_jvp's value error when that is worse (nan stays nan)."""
    return row.primal_error if row.primal_error > row.rel_error else row.rel_error


def _print_check(fname, suffix, target, value_rows, checks, tol, hvp_tol) -> dict:
    """The table of one entry point: {"value", "gradient", "JVP", "HVP"} -> within its
    tolerance. `checks` is (gradient rows, JVP rows, HVP rows or None), or None when the
    eager run has another output."""
    name = fname + suffix
    if target.via == "vjp":
        u = target.cotangent if isinstance(target.cotangent, tuple) else (target.cotangent,)
        shapes = ", ".join(str(np.shape(x)) for x in u)
        click.echo(f"{name}: output shape {shapes}, not a scalar: checking "
                   f"{fname}_vjp{suffix} with a random cotangent u")
        click.echo(f"<u, {name}> = {target.value:.6g}")
    else:
        click.echo(f"{name} = {target.value:.6g}")
    ok = {"value": _print_values(value_rows, tol)}
    if checks is None:
        click.echo("  (gradients not checked: the eager run has another output)")
        return ok
    grads, jvps, hvps = checks
    if not grads:
        click.echo("  (no differentiated arguments)")
        return ok
    ok["gradient"] = _print_table("grad", "argument", [
        (r.name, r.shape, r.first, r.rel_error, "") for r in grads], tol)
    ok["JVP"] = _print_table("jvp", "output", [
        (r.label, r.shape, r.first, _jvp_error(r), r.note) for r in jvps], tol,
        f"  ({fname}_jvp{suffix} along a random u)")
    if hvps is not None:
        ok["HVP"] = _print_table("hvp", "argument", [
            (r.name, r.shape, r.first, r.rel_error, "") for r in hvps], hvp_tol,
            f"  ({fname}_hvp{suffix} with a random v, --hvp-tol {hvp_tol:g})")
    return ok


def _compiled_objective(module, model, fname, values, seed, suffix):
    """gradcheck.objective, with the module's input checks and a missing GPU as user errors."""
    from ..runtime import gradcheck
    try:
        return gradcheck.objective(module, fname, values, seed, suffix)
    except ValueError as exc:   # the module's input checks (e.g. a --size clash)
        _fail(exc, model)
    except Exception as exc:    # no GPU and no simulator
        if type(exc).__name__ != "CudaSupportError":
            raise
        _fail(AdcError(f"{model}: error: no CUDA GPU or driver is available here; "
                       "set NUMBA_ENABLE_CUDASIM=1 to run the kernels in Numba's "
                       "simulator"), model)


def _derivative_checks(module, eager, model, fname, values, seed, suffix, goal):
    """(gradient rows, JVP rows, HVP rows or None for a non-scalar output), each against
    differences of the eager run; no JVP or HVP rows without differentiated arguments."""
    from ..runtime import gradcheck
    fn = getattr(eager, fname)
    reference = gradcheck.eager_objective(fn, goal)
    try:
        grads = gradcheck.check_gradients(module, fname, values, seed=seed, target=goal,
                                          reference=reference)
        if not grads:
            return grads, [], None
        jvps = gradcheck.check_jvp(module, fname, values,
                                   lambda **args: gradcheck.eager_call(fn, args),
                                   seed=seed, suffix=suffix)
        hvps = None if goal.via != "grad" else gradcheck.check_hvp(
            module, fname, values, reference, seed=seed, suffix=suffix)
    except gradcheck.EagerError as exc:
        _fail(AdcError(f"{model}: error: {exc} (near the checked point, while taking "
                       "finite differences)"), model)
    return grads, jvps, hvps


def _check_entry(module, eager, model, fname, values, seed, suffix, tols, problems):
    """Check one entry point and print its table; what failed is appended to `problems`."""
    from ..runtime import gradcheck
    goal = _compiled_objective(module, model, fname, values, seed, suffix)  # checks inputs
    output = getattr(module, fname + suffix)(**values)
    name = fname + suffix
    try:
        expected = gradcheck.eager_call(getattr(eager, fname), values)
    except gradcheck.EagerError as exc:
        _fail(AdcError(f"{model}: error: {exc}"), model)
    if gradcheck.nonfinite(expected):
        _fail(AdcError(f"{model}: error: {fname} is not finite at the checked point (eager "
                       f"NumPy run: {_finite_text(expected)}; compiled: {_finite_text(output)})"
                       f", so there is nothing to compare; {MOVE_THE_POINT}"), model)
    value_rows = gradcheck.compare_values(output, expected)
    if goal.via == "grad" and len(value_rows) == 1 and not value_rows[0].note:
        # f_value_and_grad's value is checked too (it is what training reports)
        value_rows[0].rel_error = max(value_rows[0].rel_error,
                                      gradcheck.value_error(goal.value, expected))
    checks = None
    if not any(r.note for r in value_rows):
        checks = _derivative_checks(module, eager, model, fname, values, seed, suffix, goal)
    ok = _print_check(fname, suffix, goal, value_rows, checks, *tols)
    if not ok["value"]:
        worst = max(value_rows, key=lambda r: r.rel_error)
        why = worst.note or (f"the compiled value is {_finite_text(output)}"
                             if gradcheck.nonfinite(output)
                             else f"rel. error {worst.rel_error:.2e} > {tols[0]:g}")
        problems.append(f"value check failed: the compiled {name} differs from the eager "
                        f"NumPy run of {fname} ({why})")
    if checks is not None:
        _derivative_problems(fname, suffix, checks, ok, tols, problems)


def _derivative_problems(fname, suffix, checks, ok, tols, problems):
    """The stderr lines of failed gradient, JVP and HVP rows (one per kind, plus one per
    row that is not finite, which says how to move the point)."""
    tol, hvp_tol = tols
    grads, jvps, hvps = checks
    name = fname + suffix
    if not ok.get("gradient", True):
        problems.append(f"gradient check failed: a relative error of {name} exceeds {tol:g}")
    if not ok.get("JVP", True):
        worst = max(jvps, key=lambda r: r.primal_error)
        why = (f" (its value differs from the eager NumPy run of {fname}: rel. error "
               f"{worst.primal_error:.2e})" if not worst.primal_error <= tol else "")
        problems.append(f"JVP check failed: a relative error of {fname}_jvp{suffix} exceeds "
                        f"{tol:g}{why}")
    if not ok.get("HVP", True):
        problems.append(f"HVP check failed: a relative error of {fname}_hvp{suffix} exceeds "
                        f"{hvp_tol:g} (--hvp-tol)")
    advice = f"; {MOVE_THE_POINT}"    # once per entry point
    for kind, rows in (("gradient", grads), ("JVP", jvps), ("HVP", hvps or ())):
        for row in (r for r in rows if r.nonfinite):
            if kind == "JVP":
                subject = f"the JVP of {name}" + (f" ({row.label})" if len(rows) > 1 else "")
            else:
                subject = f"the {kind} of {name} with respect to {row.name}"
            problems.append(f"{subject} is not finite at the checked point "
                            f"({row.nonfinite}){advice}")
            advice = ""


def _tolerance(ctx, param, value):
    if not (np.isfinite(value) and value > 0):
        raise click.BadParameter(f"{value:g} is not a positive number")
    return value


@main.command("check")
@click.argument("model", type=MODEL)
@click.option("--function", "functions", multiple=True, help="Entry point(s) to check.")
@click.option("--size", "sizes", multiple=True, metavar="NAME=INT",
              help="Value of a symbolic size (default 3).")
@click.option("--at", "at", multiple=True, metavar="NAME=VALUE",
              help="Fix an argument instead of drawing it at random: a scalar, or a "
                   "constant fill of a whole array (repeatable).")
@click.option("--range", "ranges", multiple=True, metavar="[NAME=]LO:HI",
              help="Draw the Param and Data arguments (or only NAME) uniformly in [LO, HI] "
                   "instead of from a standard normal (repeatable).")
@click.option("--seed", default=0, show_default=True, help="Seed of the random inputs.")
@click.option("--tol", default=1e-6, show_default=True, callback=_tolerance,
              help="Largest relative error allowed (values, gradients and JVPs).")
@click.option("--hvp-tol", default=HVP_TOL, show_default=True, callback=_tolerance,
              help="Largest relative error allowed for Hessian-vector products (second "
              "differences of the eager run are less accurate than first ones).")
@click.option("--wrt", multiple=True, help="Also differentiate this Data argument.")
@click.option("--target", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="Check the CPU functions or the CUDA ones (f_cuda, ...; without a GPU "
              "set NUMBA_ENABLE_CUDASIM=1 to run them in Numba's simulator).")
def check_cmd(model, functions, sizes, at, ranges, seed, tol, hvp_tol, wrt, target):
    """Check MODEL.py's compiled functions against its eager NumPy run.

    adc check runs the model file eagerly with NumPy: it executes the file (its imports,
    constants and function definitions; `if __name__ == ...` blocks are skipped) and
    calls each entry point on the same random inputs as the compiled function. That run
    is the oracle: the compiled value must match it, and every gradient, JVP and HVP
    must match central finite differences of it (float64).

    Scalar entry points are checked through f_value_and_grad; the others through f_vjp
    with a random cotangent u (the gradient of the random projection <u, f>). f_jvp is
    checked along a random direction, and f_hvp (scalar outputs) with a random vector
    against second differences, to --hvp-tol.
    """
    import adc
    from ..runtime import gradcheck
    sizes = _parse_assignments(sizes, "--size", int)
    at = _parse_assignments(at, "--at", float)
    ranges = _parse_ranges(ranges)
    problems = []
    with tempfile.TemporaryDirectory(prefix="adc-check-") as tmp:
        out = os.path.join(tmp, os.path.splitext(os.path.basename(model))[0] + "_adc.py")
        try:
            module = adc.compile(model, out, functions=functions, wrt=wrt,
                                 target="all" if target == "cuda" else "cpu")
        except USER_ERRORS as exc:
            _fail(exc, model, out)
        _check_names(module, sizes, at, ranges)
        try:
            eager = gradcheck.load_eager(model, driver.read_source(model))
        except gradcheck.EagerError as exc:
            _fail(AdcError(f"{model}: error: adc check runs the model file eagerly with "
                           f"NumPy, and {exc}"), model)
        for fname, sig in module.SIGNATURES.items():
            values = gradcheck.random_inputs(module, fname, sizes, seed, ranges)
            values.update(_fixed_values(sig["args"], values, at))
            _check_entry(module, eager, model, fname, values, seed,
                         "_cuda" if target == "cuda" else "", (tol, hvp_tol), problems)
    if problems:
        click.echo("\n".join(problems), err=True)
        sys.exit(1)
    click.echo("check passed: values match the eager NumPy run, gradients, JVPs and HVPs "
               "match its finite differences")


if __name__ == "__main__":
    main()

from adc.cli.train import train  # noqa: E402
main.add_command(train)
