"""Runs in a subprocess with NUMBA_ENABLE_CUDASIM=1 (Numba's CUDA simulator must be chosen
before numba.cuda is imported). Prints one JSON object of results for tests/cuda/test_cuda.py.

    NUMBA_ENABLE_CUDASIM=1 python tests/cuda/sim_worker.py OUT_DIR SAMPLE.py...
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np

import adc
from adc.runtime import gradcheck


def rel_error(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = max(float(np.max(np.abs(b), initial=0.0)), 1e-300)
    return float(np.max(np.abs(a - b), initial=0.0)) / scale


def agreement(module, fname) -> dict:
    """Max relative error of every CUDA function against the CPU one (float64)."""
    values = gradcheck.random_inputs(module, fname, {"N": 3}, seed=1)
    errors = {"value": rel_error(getattr(module, f"{fname}_cuda")(**values),
                                 getattr(module, fname)(**values))}
    returns = module.SIGNATURES[fname]["returns"]
    rng = np.random.default_rng(2)
    value = getattr(module, fname)(**values)
    cotangent = rng.normal(size=np.shape(value)) if len(returns) == 1 else \
        tuple(rng.normal(size=np.shape(v)) for v in value)
    cpu = getattr(module, f"{fname}_vjp")(**values, cotangent=cotangent)
    gpu = getattr(module, f"{fname}_vjp_cuda")(**values, cotangent=cotangent)
    for name in cpu._fields:
        # zero gradients (e.g. a bias under batch norm) are rounding noise on both sides
        errors[f"vjp.{name}"] = rel_error(getattr(gpu, name), getattr(cpu, name)) \
            if np.max(np.abs(getattr(cpu, name)), initial=0) > 1e-12 else \
            float(np.max(np.abs(getattr(gpu, name)), initial=0))
    tangents = {w: rng.normal(size=np.shape(values[w])) for w in module.SIGNATURES[fname]["wrt"]}
    (v_cpu, t_cpu) = getattr(module, f"{fname}_jvp")(**values, tangents=tangents)
    (v_gpu, t_gpu) = getattr(module, f"{fname}_jvp_cuda")(**values, tangents=tangents)
    pairs = zip(t_cpu, t_gpu) if isinstance(t_cpu, tuple) else [(t_cpu, t_gpu)]
    for k, (a, b) in enumerate(pairs):
        errors[f"jvp.tangent{k}"] = rel_error(b, a) if np.max(np.abs(a), initial=0) > 1e-12 \
            else float(np.max(np.abs(b), initial=0))
    if hasattr(module, f"{fname}_hvp_cuda"):
        h_cpu = getattr(module, f"{fname}_hvp")(**values, vector=tangents)
        h_gpu = getattr(module, f"{fname}_hvp_cuda")(**values, vector=tangents)
        for name in h_cpu._fields:
            a, b = getattr(h_cpu, name), getattr(h_gpu, name)
            errors[f"hvp.{name}"] = rel_error(b, a) if np.max(np.abs(a), initial=0) > 1e-12 \
                else float(np.max(np.abs(b), initial=0))
    if hasattr(module, f"{fname}_value_and_grad_cuda"):
        v_cpu, g_cpu = getattr(module, f"{fname}_value_and_grad")(**values)
        v_gpu, g_gpu = getattr(module, f"{fname}_value_and_grad_cuda")(**values)
        errors["value_and_grad.value"] = rel_error(v_gpu, v_cpu)
        for name in g_cpu._fields:
            errors[f"grad.{name}"] = rel_error(getattr(g_gpu, name), getattr(g_cpu, name)) \
                if np.max(np.abs(getattr(g_cpu, name)), initial=0) > 1e-12 else \
                float(np.max(np.abs(getattr(g_gpu, name)), initial=0))
            if np.shape(getattr(g_gpu, name)) != np.shape(getattr(g_cpu, name)) or \
                    getattr(g_gpu, name).dtype != getattr(g_cpu, name).dtype:
                errors[f"grad.{name}.shape_or_dtype"] = 1.0
    return errors


VECTOR_MODEL = """
from adc.lang import Data, Param, dim, tanh

N = dim("N")


def layer(X: Data[N, 4], W: Param[4, 3], b: Param[3]):
    return tanh(X @ W + b)
"""


def device_checks(out_dir) -> dict:
    """Device arrays in -> device arrays out, with no copy to the host; bad input errors."""
    from numba import cuda
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

    path = os.path.join(out_dir, "layer.py")
    with open(path, "w") as f:
        f.write(VECTOR_MODEL)
    module = adc.compile(path, os.path.join(out_dir, "layer_cuda_adc.py"), target="cuda")
    rng = np.random.default_rng(0)
    host = {"X": rng.normal(size=(5, 4)), "W": rng.normal(size=(4, 3)), "b": rng.normal(size=3)}
    device = {k: cuda.to_device(v) for k, v in host.items()}
    cotangent = rng.normal(size=(5, 3))

    copies = []
    original = FakeCUDAArray.copy_to_host

    def counting_copy(self, *args, **kwargs):
        copies.append(self.shape)
        return original(self, *args, **kwargs)
    FakeCUDAArray.copy_to_host = counting_copy
    try:
        value = module.layer_cuda(**device)
        grads = module.layer_vjp_cuda(**device, cotangent=cuda.to_device(cotangent))
    finally:
        FakeCUDAArray.copy_to_host = original
    result = {
        "value_type": type(value).__name__,
        "grad_types": sorted({type(g).__name__ for g in grads}),
        "copies_to_host": len(copies),
        "value_error": rel_error(value.copy_to_host(), module.layer(**host)),
        "grad_error": max(rel_error(getattr(grads, n).copy_to_host(),
                                    getattr(module.layer_vjp(**host, cotangent=cotangent), n))
                          for n in grads._fields),
        "host_value_type": type(module.layer_cuda(**host)).__name__,
    }
    bad = {
        "device_shape": {**device, "X": cuda.to_device(np.zeros((5, 5)))},
        "device_dtype": {**device, "W": cuda.to_device(np.zeros((4, 3), np.float32))},
        "host_dtype": {**host, "X": np.zeros((5, 4), np.int64)},
        "host_shape": {**host, "b": np.zeros(4)},
    }
    messages = {}
    for case, args in bad.items():
        try:
            module.layer_cuda(**args)
            messages[case] = None
        except ValueError as exc:
            messages[case] = str(exc)
    for case in ("host_dtype", "host_shape"):   # the CPU function says the same
        try:
            module.layer(**bad[case])
        except ValueError as exc:
            messages[case + "_cpu"] = str(exc)
    result["messages"] = messages
    result["index"] = device_index_checks(out_dir)
    return result


INDEX_MODEL = """
from adc.lang import Data, Param, Index, dim, cross_entropy

N = dim("N")


def loss(X: Data[N, 4], y: Index[N], W: Param[4, 3]):
    return cross_entropy(X @ W, y)
"""


def device_index_checks(out_dir) -> dict:
    """Labels on the device are range-checked like host ones; -1 counts from the end."""
    from numba import cuda
    path = os.path.join(out_dir, "labels.py")
    with open(path, "w") as f:
        f.write(INDEX_MODEL)
    module = adc.compile(path, os.path.join(out_dir, "labels_cuda_adc.py"), target="cuda")
    rng = np.random.default_rng(0)
    X, W = rng.normal(size=(4, 4)), rng.normal(size=(4, 3))
    out = {}
    try:
        module.loss_cuda(cuda.to_device(X), cuda.to_device(np.array([0, 1, 3, 2])),
                         cuda.to_device(W))
        out["out_of_range"] = None
    except ValueError as exc:
        out["out_of_range"] = str(exc)
    wrapped = module.loss_cuda(cuda.to_device(X), cuda.to_device(np.array([0, 1, -1, 2])),
                               cuda.to_device(W))
    out["wrapped_error"] = rel_error(np.asarray(wrapped.copy_to_host()).reshape(()),
                                     module.loss(X, np.array([0, 1, 2, 2]), W))
    return out


# The simulator runs every GPU thread as a Python thread: the samples with large fixed
# sizes run at small ones (the kernels are the same code with other size literals).
SMALLER = {
    "mlp_mnist": [("D, H, C = 784, 256, 10", "D, H, C = 7, 5, 3")],
    "digits_mlp": [("D, H, C = 64, 128, 10", "D, H, C = 8, 6, 4")],
    "digits_convnet": [("F = 8 ", "F = 2 "), ("FLAT = 128 ", "FLAT = 32 ")],
    "digits_rnn": [("T = 8 ", "T = 3 "), ("H = 32 ", "H = 4 ")],
}


def small_copy(path, out_dir) -> str:
    """`path` itself, or a copy with the SMALLER sizes (each replacement must apply)."""
    name = os.path.splitext(os.path.basename(path))[0]
    if name not in SMALLER:
        return path
    with open(path) as f:
        source = f.read()
    for old, new in SMALLER[name]:
        if old not in source:
            raise ValueError(f"{name}: '{old}' not found: update SMALLER in {__file__}")
        source = source.replace(old, new)
    small = os.path.join(out_dir, f"{name}.py")
    with open(small, "w") as f:
        f.write(source)
    return small


def main() -> None:
    out_dir, samples = sys.argv[1], sys.argv[2:]
    results = {"_device": device_checks(out_dir)}
    for path in samples:
        name = os.path.splitext(os.path.basename(path))[0]
        try:
            path = small_copy(path, out_dir)
            module = adc.compile(path, os.path.join(out_dir, f"{name}_cuda_adc.py"),
                                 target="all")
            results[name] = {f: agreement(module, f) for f in module.SIGNATURES}
        except Exception as exc:  # reported, so one sample's failure names itself
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
