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


def common_source(helpers) -> str:
    """`_cuda_common(real)`: GEMM, zero fill and the scalar helpers as device functions."""
    from .ops import HELPERS
    body = []
    for name in sorted(helpers):
        body.append("@cuda.jit(device=True)\n" + typed_helper_source(HELPERS[name]).rstrip())
    body.append(COMMON_KERNELS.strip())
    names = ["gemm", "fill_zero"] + sorted(helpers)
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


def runtime_source(entries) -> str:
    """Everything CUDA the module needs once: runtime helpers, shared kernels, kernel types."""
    helpers = set().union(*(e.cuda.helpers for e in entries))
    types = {"_common": dict(COMMON_TYPES)}
    for e in entries:
        types[e.prog.name] = e.cuda.kernel_types
    table = "CUDA_KERNELS = {\n" + "".join(
        f"    {name!r}: {{\n" + "".join(f"        {k!r}: {v!r},\n" for k, v in kinds.items())
        + "    },\n" for name, kinds in types.items()) + "}"
    doc = ("# Argument types of every kernel (i/f: int/float scalar, fN/iN: rank-N array,"
           " b: bool),\n# for compiling them ahead of time, e.g. to PTX.")
    return "\n".join(["# ---- CUDA runtime ----", CUDA_RUNTIME.strip(), "", "",
                      common_source(helpers), "", "", doc, table])


def _sized(p: Program, t) -> str:
    """A tensor's shape as code over the call's `sizes`."""
    dims = []
    for s in t.shape:
        code = size_code(s)
        for dim in sorted(sp.sympify(s).free_symbols, key=str):
            code = code.replace(str(dim), f"sizes[\"{dim}\"]")
        dims.append(code)
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def _output_shape(p, k: int) -> str:
    return "()" if p.tensors[p.outputs[k]].rank == 0 else f"results[{k}].shape"


def wrappers(e, params, values_dict, backward_inputs) -> str:
    """f_cuda, f_vjp_cuda, f_value_and_grad_cuda and f_grad_cuda of one entry point."""
    p, n = e.prog, e.prog.name
    names = ", ".join(a.name for a in p.args)
    nout = len(p.outputs)
    wrt = ", ".join(p.wrt) or "nothing"
    lines = [f"def _{n}_cuda_args({names}):",
             f'    """Check the arguments of `{n}`; host arrays go to the GPU, device arrays stay."""',
             f"    args, sizes, on_device = _prepare_cuda(\"{n}\", {values_dict})"]
    for name, bound in p.index_bounds:
        pos = [a.name for a in p.args].index(name)
        code = size_code(bound)
        for dim in sorted(sp.sympify(bound).free_symbols, key=str):
            code = code.replace(str(dim), f"sizes[\"{dim}\"]")
        lines.append(f"    if isinstance(args[{pos}], np.ndarray):  # host data: checked here")
        lines.append(f"        _check_index(\"{n}\", \"{name}\", args[{pos}], {code})")
    lines += [f"    args = _upload(args)",
              f"    return args, sizes, on_device, _cuda_kernels(_{n}_cuda_kernels, args)", "", ""]
    outs = [f"_from_device(results[{k}], {_sized(p, p.tensors[o])}, on_device)"
            for k, o in enumerate(p.outputs)]
    outs = [f"_host_scalar({o})" if p.tensors[name].rank == 0 else o
            for o, name in zip(outs, p.outputs)]
    value = outs[0] if nout == 1 else "(" + ", ".join(outs) + ")"
    lines += [f"def {n}_cuda({params(p)}):",
              f'    """Value of `{n}` on the GPU (left on the device when the inputs are)."""',
              f"    args, sizes, on_device, k = _{n}_cuda_args({names})",
              f"    results = _{n}_forward_cuda(k, *args)",
              f"    return {value}", "", ""]
    grads = [f"_from_device(grads[{k}], {_sized(p, p.tensors[w])}, on_device)"
             for k, w in enumerate(p.wrt)]
    grads_expr = f"{n}_Grads({', '.join(grads)})"
    lines += [f"def {n}_vjp_cuda({params(p, 'cotangent')}):",
              f'    """Gradients of <cotangent, {n}(...)> with respect to {wrt}, on the GPU."""',
              f"    args, sizes, on_device, k = _{n}_cuda_args({names})",
              f"    results = _{n}_forward_cuda(k, *args)",
              f"    dtype = np.dtype(results[0].dtype)",
              f"    shapes = (" + "".join(f"{_output_shape(p, k)}, " for k in range(nout)) + ")"]
    if nout == 1:
        lines.append(f"    seeds = [_cotangent_cuda(\"{n}\", cotangent, shapes[0], dtype)]")
    else:
        lines.append(f"    if not isinstance(cotangent, (tuple, list)) or len(cotangent) != {nout}:")
        lines.append(f"        raise ValueError(\"{n}_vjp_cuda: cotangent must be a tuple of "
                     f"{nout} arrays, one per output\")")
        lines.append(f"    seeds = [_cotangent_cuda(\"{n}\", c, shape, dtype)"
                     " for c, shape in zip(cotangent, shapes)]")
    lines += [f"    grads = _{n}_backward_cuda(k, *args, {backward_inputs(e)}, *seeds)",
              f"    return {grads_expr}", "", ""]
    if nout == 1 and p.tensors[p.outputs[0]].rank == 0:
        lines += [f"def {n}_value_and_grad_cuda({params(p)}):",
                  f'    """(value, {n}_Grads) of `{n}` on the GPU: one forward and one backward pass."""',
                  f"    args, sizes, on_device, k = _{n}_cuda_args({names})",
                  f"    results = _{n}_forward_cuda(k, *args)",
                  f"    seed = cuda.to_device(np.ones(1, np.dtype(results[0].dtype)))",
                  f"    grads = _{n}_backward_cuda(k, *args, {backward_inputs(e)}, seed)",
                  f"    return {outs[0]}, {grads_expr}", "", "",
                  f"def {n}_grad_cuda({params(p)}):",
                  f'    """Gradients of `{n}` with respect to {wrt}, on the GPU."""',
                  f"    return {n}_value_and_grad_cuda({names})[1]", "", ""]
    return "\n".join(lines)


__all__ = ["IMPORTS", "runtime_source", "wrappers", "REDUCE_THREADS"]
