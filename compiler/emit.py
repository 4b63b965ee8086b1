"""Emit: compiled entry points -> one readable, standalone Python module (and its atomic write).

Each entry point `f` brings a list of (kind, kernel) pairs — 'value', 'vjp', 'jvp', 'hvp',
each a compiled Program — and the public functions the contract promises, generated
from that list:

    f, f_vjp, f_value_and_grad, f_grad, f_jvp, f_hvp, f_jacobian, f_hessian  (+ _cuda)

A public function has the user's exact signature and one line: it hands its arguments,
as a tuple, to a private runner (`_f_vjp`, ...) that checks them, calls the kernel and
shapes the result. Only the runner and the kernels use generated names, so no argument
name a user picks can shadow anything the generated code calls.
"""
from __future__ import annotations

import os
import tempfile
import textwrap
from dataclasses import dataclass, field

import sympy as sp

from . import emit_cuda
from .backends.numba_cpu import BLAS_DOT, helper_source, vmath_source
from .checks_template import CHECKS
from .ir import Program
from .printer import size_code

KINDS = ("value", "vjp", "jvp", "hvp")


@dataclass
class Entry:
    """One entry point ready to emit.

    `program` is the entry point as the user wrote it (user names: SIGNATURES, sizes,
    index bounds); `kernels` maps a kind to the module name and source of its kernel;
    `names` holds the module-level names of everything this entry point defines.
    """

    program: Program
    kernels: dict                      # kind -> (name, source)
    names: dict                        # role -> module-level name
    cuda: object = None                # numba_cuda.CudaSource when the target has CUDA
    helpers: dict = field(default_factory=dict)   # scalar helper -> its module name
    requirements: list = field(default_factory=list)  # bounds.Requirement checked per call
    # kind -> (name, source, work): the kernel's variant on all cores, and the Python
    # expression of a call's work that decides whether it runs (threads.py)
    threads: dict = field(default_factory=dict)

    @property
    def scalar(self) -> bool:
        p = self.program
        return len(p.outputs) == 1 and p.tensors[p.outputs[0]].rank == 0


def derived(prog: Program) -> bool:
    """True for the functions the compiler derives (f_predict): a value, nothing else."""
    return bool(prog.predicts)


def public_names(prog: Program, cuda: bool) -> dict:
    """kind -> public name, for every function the contract gives an entry point."""
    n = prog.name
    if derived(prog):
        return {"value": n, **({"value_cuda": f"{n}_cuda"} if cuda else {})}
    out = {"value": n, "vjp": f"{n}_vjp", "jvp": f"{n}_jvp", "jacobian": f"{n}_jacobian",
           "Grads": f"{n}_Grads"}
    if len(prog.outputs) == 1 and prog.tensors[prog.outputs[0]].rank == 0:
        out.update(value_and_grad=f"{n}_value_and_grad", grad=f"{n}_grad",
                   hvp=f"{n}_hvp", hessian=f"{n}_hessian")
    if cuda:
        out.update({f"{k}_cuda": f"{v}_cuda" for k, v in list(out.items())
                    if k not in ("Grads", "jacobian", "hessian")})
    return out


def _shape_spec(shape) -> tuple:
    return tuple(int(s) if sp.sympify(s).is_Integer else str(s) for s in shape)


def signatures(entries, which="entry points") -> dict:
    """SIGNATURES (the user's entry points) or PREDICTIONS (the derived f_predict): per
    function, each argument's role, shape and dtype kind."""
    out = {}
    for e in entries:
        p = e.program
        if derived(p) != (which == "predictions"):
            continue
        args = {}
        bounds = dict(p.index_bounds)
        for a in p.args:
            kind = {"param": "float", "data": "float", "index": "int"}.get(a.role, a.role)
            args[a.name] = {"role": a.role, "shape": _shape_spec(a.shape), "dtype": kind}
            if a.ident in bounds:
                args[a.name]["bound"] = _shape_spec((bounds[a.ident],))[0]
            if a.has_default:
                args[a.name]["default"] = a.default
            if a.kwonly:
                args[a.name]["kwonly"] = True
        returns = [{"shape": _shape_spec(p.tensors[o].shape)} for o in p.outputs]
        out[p.name] = {"args": args, "returns": returns, "wrt": list(p.wrt), "line": p.line}
        if p.predicts:
            out[p.name]["predicts"] = dict(p.predicts)
    for e in entries:
        if derived(e.program) and e.program.predicts["of"] in out:
            out[e.program.predicts["of"]]["predict"] = e.program.name
    return out


def params(p: Program, extra="") -> str:
    """The user's parameter list (defaults, keyword-only marker), plus a keyword `extra`."""
    parts, star = [], False
    for a in p.args:
        if a.kwonly and not star:
            parts.append("*")
            star = True
        parts.append(f"{a.name}={a.default!r}" if a.has_default else a.name)
    if extra:
        if not star:
            parts.append("*")
        parts.append(extra)
    return ", ".join(parts)


def values_tuple(p: Program) -> str:
    names = [a.name for a in p.args]
    return "(" + ", ".join(names) + ("," if len(names) == 1 else "") + ")"


def sized(expr, sizes_var="sizes") -> str:
    """A size expression over the call's bound sizes, e.g. `2 * sizes["N"]`."""
    expr = sp.sympify(expr)
    return size_code(expr.xreplace({d: sp.Symbol(f'{sizes_var}["{d}"]', **d.assumptions0)
                                    for d in expr.free_symbols}))


def output_shapes(p: Program) -> str:
    """The outputs' shapes as the caller sees them (a tuple of tuples of ints)."""
    shapes = []
    for o in p.outputs:
        dims = [sized(s) for s in p.tensors[o].shape]
        shapes.append("(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")")
    return "(" + ", ".join(shapes) + ("," if len(shapes) == 1 else "") + ")"


def _outputs(p: Program, var: str, start: int = 0) -> str:
    """The user-facing outputs from a kernel's result tuple (rank 0 -> a scalar)."""
    items = [f"{var}[{start + k}][0]" if p.tensors[o].rank == 0 else f"{var}[{start + k}]"
             for k, o in enumerate(p.outputs)]
    return items[0] if len(items) == 1 else "(" + ", ".join(items) + ")"


def _return_none_if_any(tests) -> list:
    """`if a or b ...: return None`, wrapped to lines of readable length."""
    rows, row = [], []
    for t in tests:
        if row and len(" or ".join(row + [t])) > 78:
            rows.append(" or ".join(row))
            row = []
        row.append(t)
    rows.append(" or ".join(row))
    if len(rows) == 1:
        return [f"    if {rows[0]}:", "        return None"]
    return [f"    if ({rows[0]}", *[f"            or {r}" for r in rows[1:-1]],
            f"            or {rows[-1]}):", "        return None"]


def ready_checker(e: Entry) -> list:
    """`_f_ready(values)`: the kernel arguments as they are when nothing needs converting,
    else None. One straight line of attribute tests per argument (what a training loop
    passes is ready), so a small model's call costs about what its kernel costs; locals
    carry a prefix (`arg_X`, `size_N`) so that no argument name shadows a builtin."""
    p, names = e.program, e.names
    local = {a.name: f"arg_{a.name}" for a in p.args}
    tensors = [a for a in p.args if a.is_tensor]
    floats = [a for a in tensors if a.role != "index"]
    lines = [f"def {names['ready']}(values):",
             '    """The kernel arguments as they are, when they are C-contiguous arrays of the',
             "    declared shapes, of one float dtype (int64 for an Index), and Python numbers;",
             '    else None: `_prepare` converts them or says what is wrong."""',
             f"    {', '.join(local.values())}{',' if len(local) == 1 else ''} = values"]
    scalars = [f"type({local[a.name]}) is not {a.role}" for a in p.args if not a.is_tensor]
    if tensors or scalars:
        lines += _return_none_if_any(
            [f"type({local[a.name]}) is not _NDARRAY" for a in tensors] + scalars)
    dtype = f"{local[floats[0].name]}.dtype" if floats else "_F64"
    lines.append(f"    dtype = {dtype}")
    kinds = (["(dtype is not _F64 and dtype is not _F32)"] if floats else []) + \
        [f"{local[a.name]}.dtype is not " + ("_I64" if a.role == "index" else "dtype")
         for a in tensors if a is not (floats[0] if floats else None)]
    if kinds:
        lines += _return_none_if_any(kinds)
    if tensors:
        lines += _return_none_if_any([f"{local[a.name]}.ndim != {len(a.shape)}"
                                      for a in tensors])
    sizes, checks = {}, []
    for a in tensors:
        for d, s in enumerate(_shape_spec(a.shape)):
            axis = f"{local[a.name]}.shape[{d}]"
            if isinstance(s, int):
                checks.append(f"{axis} != {s}")
            elif s.isidentifier() and s not in sizes:
                sizes[s] = f"size_{s}"
                lines.append(f"    size_{s} = {axis}")
            elif s.isidentifier():
                checks.append(f"{axis} != size_{s}")
    if checks:
        lines += _return_none_if_any(checks)
    strided = [f"not {local[a.name]}.flags.c_contiguous" for a in tensors if a.shape]
    if strided:
        lines += _return_none_if_any(strided)
    args = [local[a.name] if a.shape or not a.is_tensor else f"{local[a.name]}.reshape(1)"
            for a in p.args]
    bound = ", ".join(f'"{s}": {v}' for s, v in sizes.items())
    ret = f"    return [{', '.join(args)}], {{{bound}}}, dtype"
    if len(ret) > 96:
        wrapped = textwrap.wrap(", ".join(args), 84, break_on_hyphens=False)
        ret = "\n".join([f"    return [{wrapped[0]}", *(f"            {w}" for w in wrapped[1:])])
        ret += f"], {{{bound}}}, dtype"
    lines += [ret, "", ""]
    return lines


def args_checker(e: Entry) -> list:
    """`_f_args(values)`: check and convert, bind sizes, check expression sizes and indices."""
    p, n, names = e.program, e.program.name, e.names
    lines = ready_checker(e) + [
        f"def {names['args']}(values):",
        f'    """Check and convert the arguments of `{n}` (ValueError on bad input)."""',
        f"    args, sizes, dtype = {names['ready']}(values) or _prepare(\"{n}\", values)"]
    for pos, a in enumerate(p.args):
        for d, s in enumerate(a.shape):
            s = sp.sympify(s)
            if not s.is_Integer and not isinstance(s, sp.Symbol):
                lines.append(f"    _check_size(\"{n}\", \"{a.name}\", {d}, args[{pos}].shape[{d}], "
                             f"{sized(s)}, \"{s}\")")
    for pos, name, bound, wrap in index_checks(p):
        lines.append(f"    args[{pos}] = _check_index(\"{n}\", \"{name}\", args[{pos}], "
                     f"{bound}, wrap={wrap})")
    for req in e.requirements:
        lines.append(f"    _check_in_range(\"{n}\", {sized(req.expr)}, {req.what!r}, sizes)")
    lines += ["    return args, sizes, dtype", "", ""]
    return lines


def index_checks(p: Program) -> list:
    """(position, name, bound code, wrap) per bound of every Index argument. Negative
    indices count from the end (NumPy) when the argument addresses one axis size only."""
    bounds = {}
    for ident, bound in p.index_bounds:
        bounds.setdefault(ident, []).append(sp.sympify(bound))
    out = []
    for ident, bs in bounds.items():
        pos = [a.ident for a in p.args].index(ident)
        wrap = len(set(bs)) == 1
        out += [(pos, p.args[pos].name, sized(b), wrap) for b in dict.fromkeys(bs)]
    return out


def grads_builder(e: Entry) -> list:
    p, names = e.program, e.names
    items = []
    for k, w in enumerate(p.wrt):
        arg = next(a for a in p.args if a.name == w)
        items.append(f"arrays[{k}].reshape(())" if not arg.shape else f"arrays[{k}]")
    return [f"def {names['grads']}(arrays):",
            f'    """{names["Grads"]} from the gradient arrays (rank-0 arguments as 0-d arrays)."""',
            f"    return {names['Grads']}({', '.join(items)})", "", ""]


def _public(name, p, doc, runner, extra="", keyword=None) -> list:
    call = values_tuple(p) + (f", {keyword}" if keyword else "")
    return [f"def {name}({params(p, extra)}):", f'    """{doc}"""',
            f"    return {runner}({call})", "", ""]


NUMBA_IMPORT = "from numba import get_num_threads, njit, prange"


def _kernel_call(e: Entry, kind: str, call_args: str) -> list:
    """The runner's `results = kernel(...)`: the threaded variant for a call with enough
    work when Numba has more than one thread, else the serial one."""
    name = e.kernels[kind][0]
    if kind not in e.threads:
        return [f"    results = {name}({call_args})"]
    threaded, _, work = e.threads[kind]
    return [f"    kernel = {threaded} if _threaded({work}) else {name}",
            f"    results = kernel({call_args})"]


def wrappers(e: Entry) -> str:
    """The public functions of one entry point and their private runners."""
    p, n, names = e.program, e.program.name, e.names
    k = e.kernels
    nout, nwrt = len(p.outputs), len(p.wrt)
    wrt = ", ".join(p.wrt) or "nothing"
    src = f"{display_name(p.source_file)}:{p.line}"
    lines = [] if derived(p) else \
        [f"{names['Grads']} = namedtuple(\"{names['Grads']}\", {list(p.wrt)!r})", "", ""]
    lines += args_checker(e) + ([] if derived(p) else grads_builder(e))
    run = names
    # f
    lines += [f"def {run['run_value']}(values):",
              f"    args, sizes, dtype = {names['args']}(values)",
              *_kernel_call(e, "value", "*args"),
              f"    return {_outputs(p, 'results')}", "", ""]
    if derived(p):
        of = p.predicts
        lines += _public(names["value"], p, f"The prediction of `{of['of']}`: the first "
                         f"argument of its {of['loss']} ({src}).", run["run_value"])
        return "\n".join(lines)
    lines += _public(names["value"], p, f"Value of `{n}` ({src}).", run["run_value"])
    # f_vjp
    lines += [f"def {run['run_vjp']}(values, cotangent):",
              f"    args, sizes, dtype = {names['args']}(values)",
              f"    seeds = _cotangents(\"{n}\", cotangent, {output_shapes(p)}, dtype)",
              *_kernel_call(e, "vjp", "*args, *seeds"),
              f"    return {names['grads']}(results[{nout}:])", "", ""]
    lines += _public(names["vjp"], p, f"Gradients of <cotangent, {n}(...)> with respect to "
                     f"{wrt}: one compiled forward-and-backward pass.", run["run_vjp"],
                     "cotangent", "cotangent")
    if e.scalar:
        lines += [f"def {run['run_value_and_grad']}(values):",
                  f"    args, sizes, dtype = {names['args']}(values)",
                  *_kernel_call(e, "vjp", "*args, _unit_seed(dtype)"),
                  f"    return results[0][0], {names['grads']}(results[1:])", "", ""]
        lines += _public(names["value_and_grad"], p, f"(value, {names['Grads']}) of `{n}`: one "
                         "compiled forward-and-backward pass.", run["run_value_and_grad"])
        lines += [f"def {names['grad']}({params(p)}):",
                  f'    """Gradients of `{n}` with respect to {wrt}."""',
                  f"    return {run['run_value_and_grad']}({values_tuple(p)})[1]", "", ""]
    # f_jvp
    tangents = f"_tangents(\"{n}\", \"tangents\", tangents, args, dtype)"
    lines += [f"def {run['run_jvp']}(values, tangents):",
              f"    args, sizes, dtype = {names['args']}(values)",
              *_kernel_call(e, "jvp", f"*args, *{tangents}"),
              f"    return {_outputs(p, 'results')}, {_outputs(p, 'results', nout)}", "", ""]
    lines += _public(names["jvp"], p, f"(value, tangent) of `{n}` along `tangents` (a dict "
                     f"from {wrt} to arrays; missing ones are zero): forward mode.",
                     run["run_jvp"], "tangents", "tangents")
    if e.scalar:
        vector = f"_tangents(\"{n}\", \"vector\", vector, args, dtype)"
        lines += [f"def {run['run_hvp']}(values, vector):",
                  f"    args, sizes, dtype = {names['args']}(values)",
                  *_kernel_call(e, "hvp", f"*args, _unit_seed(dtype), *{vector}"),
                  f"    return {names['grads']}(results[{2 + nwrt}:])", "", ""]
        lines += _public(names["hvp"], p, f"Hessian-vector product of `{n}` with `vector` (a "
                         f"dict from {wrt} to arrays): forward-over-reverse, one pass.",
                         run["run_hvp"], "vector", "vector")
        lines += [f"def {run['run_hessian']}(values):",
                  f"    args, sizes, dtype = {names['args']}(values)",
                  f"    return _hessian(\"{n}\", {k['hvp'][0]}, args, dtype)", "", ""]
        lines += _public(names["hessian"], p, f"Dense Hessian of `{n}` over the flattened "
                         f"{wrt} (in that order): one Hessian-vector product per column.",
                         run["run_hessian"])
    lines += [f"def {run['run_jacobian']}(values):",
              f"    args, sizes, dtype = {names['args']}(values)",
              f"    return _jacobian(\"{n}\", {k['jvp'][0]}, {k['vjp'][0]}, args, dtype, "
              f"{output_shapes(p)}, {names['Grads']})", "", ""]
    lines += _public(names["jacobian"], p, f"Jacobian of `{n}` with respect to {wrt}: a "
                     f"{names['Grads']} of arrays out.shape + arg.shape (forward mode when the "
                     "arguments have fewer elements than the output, else reverse mode).",
                     run["run_jacobian"])
    return "\n".join(lines)


def module_source(entries, source_path: str, digest: str, version: str) -> str:
    """The whole generated module."""
    helpers = {}
    for e in entries:
        helpers.update(e.helpers)
    base = display_name(source_path)
    listing = ", ".join(e.program.name for e in entries)
    has_cuda = any(e.cuda for e in entries)
    parts = [
        f'"""Generated by adc {version} from {base}: forward and derivative code.',
        "",
        f"Entry points: {listing}. For each entry point f: f, f_vjp, f_jvp and f_jacobian;",
        "for scalar outputs also f_grad, f_value_and_grad, f_hvp and f_hessian"
        + ("; the same with a _cuda suffix run on the GPU." if has_cuda else ".")
        + " Do not edit this",
        f"file: regenerate it with `adc compile {base}`.",
        '"""',
        "import math",
        "from collections import namedtuple",
        "",
        "import numpy as np",
        NUMBA_IMPORT,
        "",
        f"ADC_VERSION = {version!r}",
        f"SOURCE_SHA256 = {digest!r}",
        f"SIGNATURES = {_pretty(signatures(entries))}",
        "# the predictions derived from losses (f_predict): the first argument of the loss",
        f"PREDICTIONS = {_pretty(signatures(entries, 'predictions'))}",
        "",
        "",
        "# ---- input checks (plain Python: they run before any compiled code) ----",
        CHECKS.strip(),
    ]
    helper_text = helper_source(helpers) if helpers else ""
    vmath = vmath_source(helper_text + "".join(
        text for e in entries for _, text in e.kernels.values()))
    if vmath:
        parts.insert(parts.index(NUMBA_IMPORT) + 1, "from numba.core.errors import "
                     "NumbaIRAssumptionWarning\nfrom numba.extending import overload")
        parts.insert(parts.index("import math") + 1, "import warnings")
        parts += ["", "", vmath]
    if helpers:
        parts += ["", "", "# ---- scalar helpers ----", "", helper_text]
    if any(e.threads for e in entries):
        parts += ["", "", "# ---- for the threaded kernels ----", "", BLAS_DOT]
    cuda = [e for e in entries if e.cuda]
    if cuda:
        parts[parts.index(NUMBA_IMPORT)] += "\n" + emit_cuda.IMPORTS
        parts += ["", "", emit_cuda.runtime_source(cuda, helpers)]
    for e in entries:
        p = e.program
        parts += ["", "", f"# ==== {p.name} ({base}:{p.line}) ===="]
        for kind in KINDS:
            if kind in e.kernels:
                parts += ["", "", e.kernels[kind][1]]
            if kind in e.threads:
                parts += ["", "", e.threads[kind][1]]
        parts += ["", "", wrappers(e).rstrip()]
        if e.cuda:
            parts += ["", "", f"# ---- {p.name} on the GPU ----", "", "", e.cuda.factory]
            for host in e.cuda.hosts.values():
                parts += ["", "", host]
            parts += ["", "", emit_cuda.wrappers(e).rstrip()]
    return "\n".join(parts) + "\n"


def display_name(path: str) -> str:
    """The model's file name as it may appear in docstrings and comments: a name with
    quotes, backslashes or newlines must not end a string or a comment (and inject code)."""
    name = os.path.basename(path)
    safe = "".join(c if c.isprintable() and c not in "\"'\\" else "?" for c in name)
    return safe


def _pretty(obj, indent=0) -> str:
    """A deterministic, readable literal for nested dicts/lists/tuples."""
    pad = "    " * (indent + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{pad}{k!r}: {_pretty(v, indent + 1)}," for k, v in obj.items()]
        return "{\n" + "\n".join(items) + "\n" + "    " * indent + "}"
    if isinstance(obj, list) and any(isinstance(v, dict) for v in obj):
        items = [f"{pad}{_pretty(v, indent + 1)}," for v in obj]
        return "[\n" + "\n".join(items) + "\n" + "    " * indent + "]"
    return repr(obj)


def write_atomic(path: str, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the new one, never half.

    Missing parent folders are created first (`-o build/m.py` on a fresh clone). A file
    that already holds `text` is left untouched: its modification time is what Numba's
    on-disk cache checks, so recompiling an unchanged model keeps the compiled kernels."""
    if _holds(path, text):
        return
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".adc-", suffix=".tmp", dir=directory)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _holds(path: str, text: str) -> bool:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return f.read() == text
    except (OSError, UnicodeDecodeError):
        return False


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
