"""value_and_grad on the CPU: adc against PyTorch (eager) and JAX (jit), same process.

For each workload of the CPU-speed issue, in float64 and float32: the same inputs go to
the adc module's `loss_value_and_grad`, to PyTorch autograd (`torch.autograd.grad` of the
loss) and to `jax.jit(jax.value_and_grad(loss))`; the three values are checked to agree,
then each is timed (median of interleaved rounds, so the machine's noise hits all three
alike) and the ratios printed: adc / torch, adc / jax and adc / the faster of the two
(the issue's goal: <= 0.85). Needs the optional `bench` extra:

    pip install -e '.[bench]' && python bench/cpu.py [--only tanh8] [--rounds 7]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time

import numpy as np

from adc.compiler import driver

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "samples")

TANH8 = """from adc.lang import *
N = dim("N")
def loss(X: Data[N, 32], y: Data[N], """ + ", ".join(
    f"W{k}: Param[32, 32], b{k}: Param[32]" for k in range(8)) + """, w: Param[32]):
    h = X
""" + "".join(f"    h = tanh(h @ W{k} + b{k})\n" for k in range(8)) + """    return mean((h @ w - y) ** 2)
"""


def _rng_arrays(shapes, labels=None, n=None, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in shapes.items():
        fan_in = shape[0] if len(shape) == 2 and name[0] in "WK" else 1
        out[name] = np.asarray(rng.standard_normal(shape) / np.sqrt(fan_in))
    if labels:
        out["y"] = rng.integers(0, labels, n)
    return out


# name -> (model file or source, input arrays, loss in torch, loss in jax, float args)
def workloads():
    def logreg_t(t, m, X, y, w, b):
        z = X @ w + b
        return (t.nn.functional.softplus(z) - y * z).mean()

    def logreg_j(j, X, y, w, b):
        z = X @ w + b
        return (j.nn.softplus(z) - y * z).mean()

    def softmax_t(t, m, X, y, W, b):
        return t.nn.functional.cross_entropy(X @ W + b, y) + 0.5e-3 * (W * W).sum()

    def softmax_j(j, X, y, W, b):
        return _ce_j(j, X @ W + b, y) + 0.5e-3 * (W * W).sum()

    def mlp2_t(t, m, X, y, W1, b1, W2, b2):
        return t.nn.functional.cross_entropy(t.relu(X @ W1 + b1) @ W2 + b2, y)

    def mlp2_j(j, X, y, W1, b1, W2, b2):
        return _ce_j(j, j.nn.relu(X @ W1 + b1) @ W2 + b2, y)

    def mnist_t(t, m, X, y, W1, b1, W2, b2, W3, b3):
        h = t.relu(t.relu(X @ W1 + b1) @ W2 + b2)
        reg = (W1 * W1).sum() + (W2 * W2).sum() + (W3 * W3).sum()
        return t.nn.functional.cross_entropy(h @ W3 + b3, y) + 1e-4 * reg

    def mnist_j(j, X, y, W1, b1, W2, b2, W3, b3):
        h = j.nn.relu(j.nn.relu(X @ W1 + b1) @ W2 + b2)
        reg = (W1 * W1).sum() + (W2 * W2).sum() + (W3 * W3).sum()
        return _ce_j(j, h @ W3 + b3, y) + 1e-4 * reg

    def tanh_t(t, m, X, y, *p):
        h = X
        for k in range(8):
            h = t.tanh(h @ p[2 * k] + p[2 * k + 1])
        return ((h @ p[16] - y) ** 2).mean()

    def tanh_j(j, X, y, *p):
        h = X
        for k in range(8):
            h = j.numpy.tanh(h @ p[2 * k] + p[2 * k + 1])
        return ((h @ p[16] - y) ** 2).mean()

    def conv_t(t, m, X, y, K, c, W, b):
        h = t.relu(t.nn.functional.conv2d(X, K, padding=1) + c.reshape(1, -1, 1, 1))
        h = t.nn.functional.max_pool2d(h, 2, 2).reshape(X.shape[0], 128)
        return t.nn.functional.cross_entropy(h @ W + b, y)

    def conv_j(j, X, y, K, c, W, b):
        h = j.lax.conv_general_dilated(X, K, (1, 1), ((1, 1), (1, 1)))
        h = j.nn.relu(h + c.reshape(1, -1, 1, 1))
        h = j.lax.reduce_window(h, -np.inf, j.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        return _ce_j(j, h.reshape(X.shape[0], 128) @ W + b, y)

    def bn_t(t, m, X, y, W1, b1, gamma, beta, W2, b2):
        a = X @ W1 + b1
        h = t.relu(t.nn.functional.batch_norm(a, None, None, gamma, beta, training=True,
                                              eps=1e-5))
        return t.nn.functional.cross_entropy(h @ W2 + b2, y)

    def bn_j(j, X, y, W1, b1, gamma, beta, W2, b2):
        a = X @ W1 + b1
        mu, var = a.mean(axis=0), a.var(axis=0)
        h = j.nn.relu((a - mu) / j.numpy.sqrt(var + 1e-5) * gamma + beta)
        return _ce_j(j, h @ W2 + b2, y)

    tanh_shapes = {"X": (256, 32), "y": (256,)}
    for k in range(8):
        tanh_shapes |= {f"W{k}": (32, 32), f"b{k}": (32,)}
    tanh_shapes["w"] = (32,)
    return {
        "logreg": ("logistic_regression.py", lambda: {
            **_rng_arrays({"X": (32, 30), "w": (30,), "b": ()}),
            "y": (np.random.default_rng(1).random(32) > 0.5).astype(float)},
            logreg_t, logreg_j, {}),
        "softmax": ("softmax_classifier.py", lambda: _rng_arrays(
            {"X": (128, 20), "W": (20, 4), "b": (4,)}, 4, 128), softmax_t, softmax_j,
            {"reg": 1e-3}),
        "mlp_digits": ("digits_mlp.py", lambda: _rng_arrays(
            {"X": (128, 64), "W1": (64, 128), "b1": (128,), "W2": (128, 10), "b2": (10,)},
            10, 128), mlp2_t, mlp2_j, {}),
        "mlp_mnist": ("mlp_mnist.py", lambda: _rng_arrays(
            {"X": (128, 784), "W1": (784, 256), "b1": (256,), "W2": (256, 256),
             "b2": (256,), "W3": (256, 10), "b3": (10,)}, 10, 128), mnist_t, mnist_j,
            {"lam": 1e-4}),
        "tanh8": (TANH8, lambda: _rng_arrays(tanh_shapes), tanh_t, tanh_j, {}),
        "convnet": ("digits_convnet.py", lambda: _rng_arrays(
            {"X": (128, 1, 8, 8), "K": (8, 1, 3, 3), "c": (8,), "W": (128, 10),
             "b": (10,)}, 10, 128), conv_t, conv_j, {}),
        "batchnorm_mlp": ("batch_norm_mlp.py", lambda: _rng_arrays(
            {"X": (128, 6), "W1": (6, 8), "b1": (8,), "gamma": (8,), "beta": (8,),
             "W2": (8, 3), "b2": (3,)}, 3, 128), bn_t, bn_j, {}),
    }


def _ce_j(j, z, y):
    return (j.nn.logsumexp(z, axis=1) - z[np.arange(z.shape[0]), y]).mean()


def _module(source, folder, name):
    path = os.path.join(SAMPLES, source) if source.endswith(".py") else \
        os.path.join(folder, name + ".py")
    if not source.endswith(".py"):
        with open(path, "w") as f:
            f.write(source)
    out = driver.compile_file(path, os.path.join(folder, name + "_adc.py"),
                              functions=("loss",))
    spec = importlib.util.spec_from_file_location(name + "_adc", out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _median_us(fns, rounds, seconds=0.2):
    """Median per-call time of each function, rounds interleaved."""
    counts = []
    for f in fns:
        f()
        n, start = 1, time.perf_counter()
        while time.perf_counter() - start < seconds / 4:
            f()
            n += 1
        counts.append(max(1, int(n * 4 / rounds)))
    times = [[] for _ in fns]
    for _ in range(rounds):
        for k, f in enumerate(fns):
            start = time.perf_counter()
            for _ in range(counts[k]):
                f()
            times[k].append((time.perf_counter() - start) / counts[k] * 1e6)
    return [statistics.median(t) for t in times]


def run(name, workload, dtype, folder, rounds):
    import jax
    import torch
    source, inputs, torch_loss, jax_loss, floats = workload
    module = _module(source, folder, name)
    order = list(module.SIGNATURES["loss"]["args"])
    wrt = module.SIGNATURES["loss"]["wrt"]
    arrays = {k: (v if v.dtype.kind == "i" else v.astype(dtype)) for k, v in inputs().items()}
    values = tuple(arrays[k] if k in arrays else floats[k] for k in order)

    def adc():
        return module.loss_value_and_grad(*values)

    tensors = [torch.tensor(arrays[k], requires_grad=k in wrt) for k in order if k in arrays]
    params = [t for k, t in zip((k for k in order if k in arrays), tensors) if k in wrt]

    def torch_fn():
        value = torch_loss(torch, None, *tensors)
        return value, torch.autograd.grad(value, params)

    jax_args = [jax.numpy.asarray(arrays[k]) for k in order if k in arrays]
    positions = tuple(i for i, k in enumerate(k for k in order if k in arrays) if k in wrt)
    jitted = jax.jit(jax.value_and_grad(lambda *a: jax_loss(jax, *a), argnums=positions))

    def jax_fn():
        value, grads = jitted(*jax_args)
        return jax.block_until_ready(value), grads

    ours, theirs, jaxs = float(adc()[0]), float(torch_fn()[0].detach()), float(jax_fn()[0])
    tol = 1e-3 if dtype == np.float32 else 1e-8
    if not (np.isclose(ours, theirs, rtol=tol) and np.isclose(ours, jaxs, rtol=tol)):
        raise SystemExit(f"{name}: values differ: adc {ours}, torch {theirs}, jax {jaxs}")
    a, t, j = _median_us([adc, torch_fn, jax_fn], rounds)
    best = min(t, j)
    print(f"{name:<14} {np.dtype(dtype).name:<8} {a:10.1f} {t:10.1f} {j:10.1f}   "
          f"{a / t:6.2f}x {a / j:6.2f}x {a / best:6.2f}x", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated workload names")
    parser.add_argument("--dtypes", default="float64,float32")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    try:
        import jax
        import torch
    except ImportError:
        sys.exit("bench/cpu.py needs PyTorch and JAX: pip install -e '.[bench]'")
    jax.config.update("jax_enable_x64", True)
    chosen = workloads()
    if args.only:
        chosen = {k: v for k, v in chosen.items() if k in args.only.split(",")}
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), jax "
          f"{jax.__version__}, numba threads {os.environ.get('NUMBA_NUM_THREADS', 'default')}")
    print(f"{'workload':<14} {'dtype':<8} {'adc us':>10} {'torch us':>10} {'jax us':>10}   "
          f"{'/torch':>7} {'/jax':>7} {'/best':>7}")
    with tempfile.TemporaryDirectory() as folder:
        for dtype in args.dtypes.split(","):
            for name, workload in chosen.items():
                run(name, workload, np.dtype(dtype).type, folder, args.rounds)


if __name__ == "__main__":
    main()
