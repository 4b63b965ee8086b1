"""Emit: compiled entry points -> one readable, standalone Python module (and its atomic write)."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

import sympy as sp

from . import emit_cuda
from .backends.numba_cpu import helper_source
from .checks_template import CHECKS
from .ir import Program
from .printer import size_code


@dataclass
class Entry:
    """One entry point ready to emit: its program and kernel sources."""

    prog: Program
    forward_src: str
    backward_src: str
    saved: list
    helpers: set
    outputs_read: list = field(default_factory=list)   # outputs the backward pass reads
    cuda: object = None     # numba_cuda.CudaSource when the target includes CUDA


def _shape_spec(shape) -> tuple:
    return tuple(int(s) if sp.sympify(s).is_Integer else str(s) for s in shape)


def signatures(entries) -> dict:
    """SIGNATURES: per entry point, each argument's role, shape and dtype kind."""
    out = {}
    for e in entries:
        p = e.prog
        args = {}
        bounds = dict(p.index_bounds)
        for a in p.args:
            kind = {"param": "float", "data": "float", "index": "int"}.get(a.role, a.role)
            args[a.name] = {"role": a.role, "shape": _shape_spec(a.shape), "dtype": kind}
            if a.name in bounds:
                args[a.name]["bound"] = _shape_spec((bounds[a.name],))[0]
            if a.has_default:
                args[a.name]["default"] = a.default
        returns = [{"shape": _shape_spec(p.tensors[o].shape)} for o in p.outputs]
        out[p.name] = {"args": args, "returns": returns, "wrt": list(p.wrt), "line": p.line}
    return out


def _params(p: Program, extra="") -> str:
    parts = []
    for a in p.args:
        parts.append(f"{a.name}={a.default!r}" if a.has_default else a.name)
    if extra:
        if "*" not in parts:
            parts.append("*")
        parts.append(extra)
    return ", ".join(parts)


def _values_dict(p: Program) -> str:
    return "{" + ", ".join(f'"{a.name}": {a.name}' for a in p.args) + "}"


def _scalar_output(p: Program) -> bool:
    return len(p.outputs) == 1 and p.tensors[p.outputs[0]].rank == 0


def _output_expr(p: Program, k: int, var: str) -> str:
    return f"{var}[0]" if p.tensors[p.outputs[k]].rank == 0 else var


def _output_shape(p: Program, k: int) -> str:
    """The shape of output k as the caller sees it (rank-0 outputs are stored as (1,))."""
    return "()" if p.tensors[p.outputs[k]].rank == 0 else f"results[{k}].shape"


def _grads_expr(p: Program, var: str) -> str:
    items = []
    for k, name in enumerate(p.wrt):
        arg = next(a for a in p.args if a.name == name)
        items.append(f"{var}[{k}].reshape(())" if not arg.shape else f"{var}[{k}]")
    return f"{p.name}_Grads({', '.join(items)})"


def backward_inputs(e: Entry) -> str:
    """What a wrapper passes to the backward kernel after `*args`: the outputs it reads,
    then the saved forward values (`results` is outputs..., saved...)."""
    nout = len(e.prog.outputs)
    read = [f"results[{e.prog.outputs.index(o)}]" for o in e.outputs_read]
    return ", ".join(read + [f"*results[{nout}:]"])


def wrappers(e: Entry) -> str:
    """The public functions of one entry point (plain Python around the kernels)."""
    p, n = e.prog, e.prog.name
    nout = len(p.outputs)
    names = ", ".join(a.name for a in p.args)
    lines = [f"{n}_Grads = namedtuple(\"{n}_Grads\", {[w for w in p.wrt]!r})", "", ""]
    lines += [f"def _{n}_args({names}):",
              f'    """Check and convert the arguments of `{n}` (ValueError on bad input)."""',
              f"    args, sizes = _prepare(\"{n}\", {_values_dict(p)})"]
    for name, bound in p.index_bounds:
        pos = [a.name for a in p.args].index(name)
        bound_code = size_code(bound)
        for dim in sorted(sp.sympify(bound).free_symbols, key=str):
            bound_code = bound_code.replace(str(dim), f"sizes[\"{dim}\"]")
        lines.append(f"    _check_index(\"{n}\", \"{name}\", args[{pos}], {bound_code})")
    lines += ["    return args, sizes", "", ""]
    outs = ", ".join(_output_expr(p, k, f"results[{k}]") for k in range(nout))
    value = outs if nout == 1 else f"({outs})"
    src = f"{display_name(p.source_file)}:{p.line}"  # independent of the cwd
    lines += [f"def {n}({_params(p)}):",
              f'    """Value of `{n}` ({src})."""',
              f"    args, _ = _{n}_args({names})",
              f"    results = _{n}_forward(*args)",
              f"    return {value}", "", ""]
    seeds_from = "cotangent" if nout == 1 else "cotangent[k]"
    lines += [f"def {n}_vjp({_params(p, 'cotangent')}):",
              f'    """Gradients of <cotangent, {n}(...)> with respect to {", ".join(p.wrt) or "nothing"}."""',
              f"    args, sizes = _{n}_args({names})",
              f"    results = _{n}_forward(*args)",
              f"    dtype = results[0].dtype"]
    shapes = "(" + "".join(f"{_output_shape(p, k)}, " for k in range(nout)) + ")"
    if nout == 1:
        lines.append(f"    seeds = [_cotangent(\"{n}\", cotangent, {_output_shape(p, 0)}, dtype)]")
    else:
        lines.append(f"    if not isinstance(cotangent, (tuple, list)) or len(cotangent) != {nout}:")
        lines.append(f"        raise ValueError(\"{n}_vjp: cotangent must be a tuple of {nout} arrays, "
                     "one per output\")")
        lines.append(f"    seeds = [_cotangent(\"{n}\", {seeds_from}, shape, dtype)"
                     f" for k, shape in enumerate({shapes})]")
    lines += [f"    grads = _{n}_backward(*args, {backward_inputs(e)}, *seeds)",
              f"    return {_grads_expr(p, 'grads')}", "", ""]
    if _scalar_output(p):
        lines += [f"def {n}_value_and_grad({_params(p)}):",
                  f'    """(value, {n}_Grads) of `{n}`: one forward and one backward pass."""',
                  f"    args, _ = _{n}_args({names})",
                  f"    results = _{n}_forward(*args)",
                  f"    seed = np.ones(1, results[0].dtype)",
                  f"    grads = _{n}_backward(*args, {backward_inputs(e)}, seed)",
                  f"    return results[0][0], {_grads_expr(p, 'grads')}", "", "",
                  f"def {n}_grad({_params(p)}):",
                  f'    """Gradients of `{n}` with respect to {", ".join(p.wrt) or "nothing"}."""',
                  f"    return {n}_value_and_grad({names})[1]", "", ""]
    return "\n".join(lines)


def module_source(entries, source_path: str, digest: str, version: str) -> str:
    """The whole generated module."""
    base = display_name(source_path)
    names = ", ".join(e.prog.name for e in entries)
    helpers = set().union(*(e.helpers for e in entries)) if entries else set()
    parts = [
        f'"""Generated by adc {version} from {base}: forward and reverse-mode derivative code.',
        "",
        f"Entry points: {names}. For each entry point f: f, f_grad, f_value_and_grad and",
        "f_vjp (f_grad and f_value_and_grad for scalar outputs)"
        + ("; the same with a _cuda suffix run on the GPU." if any(e.cuda for e in entries)
           else ".") + " Do not edit this file:",
        f"regenerate it with `adc compile {base}`.",
        '"""',
        "import math",
        "from collections import namedtuple",
        "",
        "import numpy as np",
        "from numba import njit",
        "",
        f"ADC_VERSION = {version!r}",
        f"SOURCE_SHA256 = {digest!r}",
        f"SIGNATURES = {_pretty(signatures(entries))}",
        "",
        "",
        "# ---- input checks (plain Python: they run before any compiled code) ----",
        CHECKS.strip(),
    ]
    if helpers:
        parts += ["", "", "# ---- scalar helpers ----", "", helper_source(helpers)]
    cuda = [e for e in entries if e.cuda]
    if cuda:
        parts[parts.index("from numba import njit")] += "\n" + emit_cuda.IMPORTS
        parts += ["", "", emit_cuda.runtime_source(cuda)]
    for e in entries:
        p = e.prog
        parts += ["", "", f"# ==== {p.name} ({base}:{p.line}) ====", "", "",
                  e.forward_src, "", "", e.backward_src, "", "", wrappers(e).rstrip()]
        if e.cuda:
            parts += ["", "", f"# ---- {p.name} on the GPU ----", "", "",
                      e.cuda.factory, "", "", e.cuda.host_forward, "", "",
                      e.cuda.host_backward, "", "",
                      emit_cuda.wrappers(e, _params, _values_dict(p), backward_inputs).rstrip()]
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
    """Write `text` to `path` so that readers see the old file or the new one, never half."""
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
