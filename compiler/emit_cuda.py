"""Emit the CUDA part of a generated module: shared runtime, kernel factories, wrappers."""
from __future__ import annotations

import textwrap

import sympy as sp

from .backends.numba_cuda import REDUCE_THREADS, typed_helper_source
from .cuda_template import CUDA_RUNTIME
from .ir import Program
from .printer import size_code

IMPORTS = "from types import SimpleNamespace\n\nfrom numba import cuda, float32, float64, int64"

COMMON_KERNELS = '''
@cuda.jit
def gemm(A, B, C, ta, tb, accumulate):
    """C (+)= op(A) @ op(B), op(X) = X.T where its flag is set: 16 x 16 shared-memory tiles."""
    tile_a = cuda.shared.array((16, 16), real)
    tile_b = cuda.shared.array((16, 16), real)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    row = cuda.blockIdx.y * 16 + ty
    col = cuda.blockIdx.x * 16 + tx
    depth = A.shape[0] if ta else A.shape[1]
    acc = real(0.0)
    for start in range(0, depth, 16):
        tile_a[ty, tx] = real(0.0)
        tile_b[ty, tx] = real(0.0)
        k = start + tx
        if row < C.shape[0] and k < depth:
            tile_a[ty, tx] = A[k, row] if ta else A[row, k]
        k = start + ty
        if col < C.shape[1] and k < depth:
            tile_b[ty, tx] = B[col, k] if tb else B[k, col]
        cuda.syncthreads()
        for kk in range(16):
            acc += tile_a[ty, kk] * tile_b[kk, tx]
        cuda.syncthreads()
    if row < C.shape[0] and col < C.shape[1]:
        if accumulate:
            C[row, col] += acc
        else:
            C[row, col] = acc


@cuda.jit
def fill_zero(flat):
    t = cuda.grid(1)
    if t < flat.shape[0]:
        flat[t] = 0
'''

COMMON_TYPES = {"gemm": "f2,f2,f2,b,b,b", "fill_zero": "f1"}


def common_source(helpers: dict) -> str:
    """`_cuda_common(real)`: GEMM, zero fill and the scalar helpers as device functions."""
    from .ops import HELPERS
    body = []
    for name in sorted(helpers):
        src = HELPERS[name].replace(f"def {name}(", f"def {helpers[name]}(", 1)
        body.append("@cuda.jit(device=True)\n" + typed_helper_source(src).rstrip())
    body.append(COMMON_KERNELS.strip())
    names = ["gemm", "fill_zero"] + [helpers[h] for h in sorted(helpers)]
    lines = [
        "_CUDA_COMMON = {}",
        "",
        "",
        "def _cuda_common(real):",
        '    """Kernels and device functions all entry points share, for float type `real`."""',
        "    if real in _CUDA_COMMON:",
        "        return _CUDA_COMMON[real]",
        "",
        textwrap.indent("\n\n".join(body), "    "),
        "",
        "    common = SimpleNamespace(" + ", ".join(f"{n}={n}" for n in names) + ")",
        "    _CUDA_COMMON[real] = common",
        "    return common",
    ]
    return "\n".join(lines)


def runtime_source(entries, helpers: dict) -> str:
    """Everything CUDA the module needs once: runtime helpers, shared kernels, kernel types."""
    used = set().union(*(set(e.cuda.helpers) for e in entries))
    types = {"_common": dict(COMMON_TYPES)}
    for e in entries:
        types[e.program.name] = e.cuda.kernel_types
    table = "CUDA_KERNELS = {\n" + "".join(
        f"    {name!r}: {{\n" + "".join(f"        {k!r}: {v!r},\n" for k, v in kinds.items())
        + "    },\n" for name, kinds in types.items()) + "}"
    doc = ("# Argument types of every kernel (i/f: int/float scalar, fN/iN: rank-N array,"
           " b: bool),\n# for compiling them ahead of time, e.g. to PTX.")
    return "\n".join(["# ---- CUDA runtime ----", CUDA_RUNTIME.strip(), "", "",
                      common_source({h: helpers[h] for h in used}), "", "", doc, table])


def _results(p: Program, var: str, start: int = 0) -> str:
    """User-facing outputs from a host function's device results."""
    items = [f"_from_device({var}[{start + k}], on_device, "
             f"{p.tensors[o].rank == 0})" for k, o in enumerate(p.outputs)]
    return items[0] if len(items) == 1 else "(" + ", ".join(items) + ")"


def _grads(e, var: str, start: int) -> str:
    p, names = e.program, e.names
    items = []
    for k, w in enumerate(p.wrt):
        arg = next(a for a in p.args if a.name == w)
        items.append(f"_from_device({var}[{start + k}], on_device, {not arg.shape})")
    return f"{names['Grads']}({', '.join(items)})"


def wrappers(e) -> str:
    """f_cuda, f_vjp_cuda, f_value_and_grad_cuda, f_grad_cuda, f_jvp_cuda, f_hvp_cuda."""
    from .emit import _public, index_checks, output_shapes, params, values_tuple
    p, n, names = e.program, e.program.name, e.names
    nout, nwrt = len(p.outputs), len(p.wrt)
    wrt = ", ".join(p.wrt) or "nothing"
    host = {kind: names[f"host_{kind}"] for kind in e.cuda.hosts}
    head = [f"    args, sizes, dtype, on_device = _prepare_cuda(\"{n}\", values)"]
    for pos, name, bound, wrap in index_checks(p):
        head.append(f"    args[{pos}] = _check_index_cuda(\"{n}\", \"{name}\", args[{pos}], "
                    f"{bound}, {wrap})")
    head += ["    args = _upload(args)",
             f"    kernels = _cuda_kernels({names['cuda_kernels']}, args)"]
    lines = [f"def {names['run_value_cuda']}(values):"] + head + [
        f"    results = {host['value']}(kernels, *args)",
        f"    return {_results(p, 'results')}", "", ""]
    lines += _public(f"{n}_cuda", p, f"Value of `{n}` on the GPU (left on the device when the "
                     "inputs are).", names["run_value_cuda"])
    if not e.cuda.hosts.get("vjp"):       # a derived f_predict: its value only
        return "\n".join(lines)
    lines += [f"def {names['run_vjp_cuda']}(values, cotangent):"] + head + [
        f"    seeds = _cotangents_cuda(\"{n}\", cotangent, {output_shapes(p)}, dtype)",
        f"    results = {host['vjp']}(kernels, *args, *seeds)",
        f"    return {_grads(e, 'results', nout)}", "", ""]
    lines += _public(f"{n}_vjp_cuda", p, f"Gradients of <cotangent, {n}(...)> with respect to "
                     f"{wrt}, on the GPU.", names["run_vjp_cuda"], "cotangent", "cotangent")
    lines += [f"def {names['run_jvp_cuda']}(values, tangents):"] + head + [
        f"    extra = _tangents_cuda(\"{n}\", \"tangents\", tangents, args, dtype)",
        f"    results = {host['jvp']}(kernels, *args, *extra)",
        f"    return {_results(p, 'results')}, {_results(p, 'results', nout)}", "", ""]
    lines += _public(f"{n}_jvp_cuda", p, f"(value, tangent) of `{n}` along `tangents`, on the "
                     "GPU.", names["run_jvp_cuda"], "tangents", "tangents")
    if e.scalar:
        seed = "cuda.to_device(_unit_seed(dtype))"
        lines += [f"def {names['run_value_and_grad_cuda']}(values):"] + head + [
            f"    results = {host['vjp']}(kernels, *args, {seed})",
            f"    return {_results(p, 'results')}, {_grads(e, 'results', 1)}", "", ""]
        lines += _public(f"{n}_value_and_grad_cuda", p, f"(value, {names['Grads']}) of `{n}` "
                         "on the GPU: one forward and one backward pass.",
                         names["run_value_and_grad_cuda"])
        lines += [f"def {n}_grad_cuda({params(p)}):",
                  f'    """Gradients of `{n}` with respect to {wrt}, on the GPU."""',
                  f"    return {names['run_value_and_grad_cuda']}({values_tuple(p)})[1]", "", ""]
        lines += [f"def {names['run_hvp_cuda']}(values, vector):"] + head + [
            f"    extra = _tangents_cuda(\"{n}\", \"vector\", vector, args, dtype)",
            f"    results = {host['hvp']}(kernels, *args, {seed}, *extra)",
            f"    return {_grads(e, 'results', 2 + nwrt)}", "", ""]
        lines += _public(f"{n}_hvp_cuda", p, f"Hessian-vector product of `{n}` on the GPU.",
                         names["run_hvp_cuda"], "vector", "vector")
    return "\n".join(lines)


__all__ = ["IMPORTS", "runtime_source", "wrappers", "REDUCE_THREADS"]
