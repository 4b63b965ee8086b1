"""CUDA on real hardware (run by hand on a machine with an NVIDIA GPU; never in CI).

1. Every sample's CUDA functions against the CPU ones (float64), on the GPU itself.
2. MLP 784-256-256-10, batch 128, float32 value-and-grad: adc's CUDA kernels against
   PyTorch CUDA on the same GPU, both with data already on the device; prints the ratio.

    pip install -e '.[cuda]' torch && python bench/cuda_mlp.py [--repeat 200]
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "cuda"))

import adc  # noqa: E402
from sim_worker import agreement  # noqa: E402  (the simulator test's comparison)


def check_samples(folder) -> bool:
    ok = True
    for path in sorted(glob.glob(os.path.join(ROOT, "samples", "*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        module = adc.compile(path, os.path.join(folder, f"{name}_adc.py"), target="all")
        for fname in module.SIGNATURES:
            worst = max(agreement(module, fname).values())
            ok = ok and worst <= 1e-10
            print(f"{name}.{fname:<8} max relative error vs CPU {worst:.1e}"
                  f"  {'ok' if worst <= 1e-10 else 'FAIL'}")
    return ok


def best_time(fn, sync, repeat) -> float:
    for _ in range(5):
        fn()
    sync()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - start)
    return best


def mlp_benchmark(folder, repeat) -> None:
    from numba import cuda
    import torch
    module = adc.compile(os.path.join(ROOT, "samples", "mlp_mnist.py"),
                         os.path.join(folder, "mlp_mnist_adc.py"), target="cuda")
    rng = np.random.default_rng(0)
    sizes = [784, 256, 256, 10]
    host = {"X": rng.normal(size=(128, 784)).astype(np.float32),
            "y": rng.integers(0, 10, 128)}
    for k, (a, b) in enumerate(zip(sizes, sizes[1:]), start=1):
        host[f"W{k}"] = (rng.normal(size=(a, b)) / np.sqrt(a)).astype(np.float32)
        host[f"b{k}"] = np.zeros(b, np.float32)
    device = {k: cuda.to_device(v) for k, v in host.items()}
    ours = best_time(lambda: module.loss_value_and_grad_cuda(**device), cuda.synchronize, repeat)

    t = {k: torch.tensor(v, device="cuda", requires_grad=k[0] in "Wb") for k, v in host.items()}

    def torch_step():
        h = torch.relu(t["X"] @ t["W1"] + t["b1"])
        h = torch.relu(h @ t["W2"] + t["b2"])
        logits = h @ t["W3"] + t["b3"]
        loss = torch.nn.functional.cross_entropy(logits, t["y"]) + 1e-4 * sum(
            (t[w] * t[w]).sum() for w in ("W1", "W2", "W3"))
        return torch.autograd.grad(loss, [t[k] for k in t if k[0] in "Wb"])
    theirs = best_time(torch_step, torch.cuda.synchronize, repeat)
    print(f"MLP 784-256-256-10, batch 128, float32 value-and-grad on {torch.cuda.get_device_name()}")
    print(f"  adc CUDA     {ours * 1e3:8.3f} ms")
    print(f"  PyTorch CUDA {theirs * 1e3:8.3f} ms")
    print(f"  ratio adc / PyTorch: {ours / theirs:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        ok = check_samples(folder)
        mlp_benchmark(folder, args.repeat)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
