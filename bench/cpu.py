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
    """Random inputs of the given shapes (weights scaled by 1/sqrt(fan-in)), with integer
    labels `y` in [0, labels) when `labels` is given."""
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

    def tanh_shapes(n):
        shapes = {"X": (n, 32), "y": (n,)}
        for k in range(8):
            shapes |= {f"W{k}": (32, 32), f"b{k}": (32,)}
        return shapes | {"w": (32,)}

    # name -> (model, inputs for batch size n, torch loss, jax loss, float args, default n)
    return {
        "logreg": ("logistic_regression.py", lambda n: {
            **_rng_arrays({"X": (n, 30), "w": (30,), "b": ()}),
            "y": (np.random.default_rng(1).random(n) > 0.5).astype(float)},
            logreg_t, logreg_j, {}, 32),
        "softmax": ("softmax_classifier.py", lambda n: _rng_arrays(
            {"X": (n, 20), "W": (20, 4), "b": (4,)}, 4, n), softmax_t, softmax_j,
            {"reg": 1e-3}, 128),
        "mlp_digits": ("digits_mlp.py", lambda n: _rng_arrays(
            {"X": (n, 64), "W1": (64, 128), "b1": (128,), "W2": (128, 10), "b2": (10,)},
            10, n), mlp2_t, mlp2_j, {}, 128),
        "mlp_mnist": ("mlp_mnist.py", lambda n: _rng_arrays(
            {"X": (n, 784), "W1": (784, 256), "b1": (256,), "W2": (256, 256),
             "b2": (256,), "W3": (256, 10), "b3": (10,)}, 10, n), mnist_t, mnist_j,
            {"lam": 1e-4}, 128),
        "tanh8": (TANH8, lambda n: _rng_arrays(tanh_shapes(n)), tanh_t, tanh_j, {}, 256),
        "convnet": ("digits_convnet.py", lambda n: _rng_arrays(
            {"X": (n, 1, 8, 8), "K": (8, 1, 3, 3), "c": (8,), "W": (128, 10),
             "b": (10,)}, 10, n), conv_t, conv_j, {}, 128),
        "batchnorm_mlp": ("batch_norm_mlp.py", lambda n: _rng_arrays(
            {"X": (n, 6), "W1": (6, 8), "b1": (8,), "gamma": (8,), "beta": (8,),
             "W2": (8, 3), "b2": (3,)}, 3, n), bn_t, bn_j, {}, 128),
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


LR, BETA1, BETA2, EPS = 1e-3, 0.9, 0.999, 1e-8
THREADS_FROM = None      # --threads-from


class Contenders:
    """For one workload, dtype and batch size: a no-argument function per framework that
    does one value_and_grad (or, with `step`, one training step: value_and_grad, then an
    Adam update of the parameters), on the same inputs."""

    def __init__(self, name, workload, dtype, folder, n, step, compiled):
        source, inputs, self.torch_loss, self.jax_loss, floats, default_n = workload
        self.module = _module(source, folder, name)
        if THREADS_FROM is not None:     # --threads-from: when adc's calls use threads
            self.module.THREADS_FROM = THREADS_FROM
        self.order = list(self.module.SIGNATURES["loss"]["args"])
        self.wrt = self.module.SIGNATURES["loss"]["wrt"]
        self.arrays = {k: (v if v.dtype.kind == "i" else v.astype(dtype))
                       for k, v in inputs(n or default_n).items()}
        self.floats, self.step, self.compiled = floats, step, compiled
        self.n = n or default_n

    def adc(self):
        from adc.runtime.optimizers import Adam
        values = tuple(self.arrays[k].copy() if k in self.arrays else self.floats[k]
                       for k in self.order)
        params = {k: v for k, v in zip(self.order, values) if k in self.wrt}
        adam, run = Adam(BETA1, BETA2, EPS), self.module.loss_value_and_grad

        def value_and_grad():
            return run(*values)

        def step():
            value, grads = run(*values)
            adam.step(params, grads, LR)
            return value, grads
        return step if self.step else value_and_grad

    def torch(self):
        import torch
        names = [k for k in self.order if k in self.arrays]
        tensors = [torch.tensor(self.arrays[k], requires_grad=k in self.wrt) for k in names]
        params = [t for k, t in zip(names, tensors) if k in self.wrt]
        loss = self.torch_loss
        if self.compiled:
            loss = torch.compile(loss)
        adam = torch.optim.Adam(params, lr=LR, betas=(BETA1, BETA2), eps=EPS)

        def value_and_grad():
            value = loss(torch, None, *tensors)
            return value, torch.autograd.grad(value, params)

        def step():
            adam.zero_grad()
            value = loss(torch, None, *tensors)
            value.backward()
            adam.step()
            return value, None
        return step if self.step else value_and_grad

    def jax(self):
        import jax
        jnp = jax.numpy
        names = [k for k in self.order if k in self.arrays]
        data = [jnp.asarray(self.arrays[k]) for k in names]
        where = [i for i, k in enumerate(names) if k in self.wrt]
        grad = jax.value_and_grad(lambda *a: self.jax_loss(jax, *a), argnums=tuple(where))
        if not self.step:
            jitted = jax.jit(grad)

            def value_and_grad():
                value, grads = jitted(*data)
                return jax.block_until_ready(value), grads
            return value_and_grad

        def update(params, m, v, t, args):
            full = list(args)
            for i, p in zip(where, params):
                full[i] = p
            value, grads = grad(*full)
            m = [BETA1 * a + (1 - BETA1) * g for a, g in zip(m, grads)]
            v = [BETA2 * a + (1 - BETA2) * g * g for a, g in zip(v, grads)]
            c1, c2 = 1 - BETA1 ** t, 1 - BETA2 ** t
            params = [p - LR * (a / c1) / (jnp.sqrt(b / c2) + EPS)
                      for p, a, b in zip(params, m, v)]
            return value, params, m, v

        jitted = jax.jit(update, donate_argnums=(0, 1, 2))
        state = {"params": [data[i] for i in where], "t": 0}
        state["m"] = [jnp.zeros_like(p) for p in state["params"]]
        state["v"] = [jnp.zeros_like(p) for p in state["params"]]

        def step():
            state["t"] += 1
            value, state["params"], state["m"], state["v"] = jitted(
                state["params"], state["m"], state["v"], float(state["t"]), data)
            return jax.block_until_ready(value), None
        return step


def _value(result) -> float:
    value = result[0]
    return float(value.detach()) if hasattr(value, "detach") else float(value)


def run(name, workload, dtype, folder, rounds, n=None, step=False, compiled=False):
    c = Contenders(name, workload, dtype, folder, n, step, compiled)
    fns = [c.adc(), c.torch(), c.jax()]
    # fresh contenders' first values agree (the same loss at the same point)
    ours, theirs, jaxs = (_value(f()) for f in [c.adc(), c.torch(), c.jax()])
    tol = 1e-3 if dtype == np.float32 else 1e-8
    if not (np.isclose(ours, theirs, rtol=tol) and np.isclose(ours, jaxs, rtol=tol)):
        raise SystemExit(f"{name}: values differ: adc {ours}, torch {theirs}, jax {jaxs}")
    a, t, j = _median_us(fns, rounds)
    best = min(t, j)
    print(f"{name:<14} {np.dtype(dtype).name:<8} {c.n:>5} {a:10.1f} {t:10.1f} {j:10.1f}   "
          f"{a / t:6.2f}x {a / j:6.2f}x {a / best:6.2f}x", flush=True)


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS")


def _pin_threads(threads: int):
    """Re-run this script with every library limited to `threads` threads (they read
    their settings once, at import)."""
    if os.environ.get("ADC_BENCH_THREADS") == str(threads):
        return
    env = dict(os.environ, ADC_BENCH_THREADS=str(threads),
               XLA_FLAGS=f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
                         f"intra_op_parallelism_threads={threads}")
    env.update({v: str(threads) for v in THREAD_VARIABLES})
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated workload names")
    parser.add_argument("--dtypes", default="float64,float32")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch", default="", help="comma-separated batch sizes "
                        "(default: each workload's own), e.g. 32,256,4096")
    parser.add_argument("--step", action="store_true",
                        help="time a training step (value_and_grad + Adam) instead")
    parser.add_argument("--threads", type=int, default=0,
                        help="limit BLAS, Numba, PyTorch and XLA to this many threads")
    parser.add_argument("--threads-from", type=int, default=None,
                        help="the work from which adc's calls use threads (the module's "
                             "THREADS_FROM; 0: always)")
    parser.add_argument("--torch-compile", action="store_true",
                        help="PyTorch through torch.compile (inductor) instead of eager")
    args = parser.parse_args()
    if args.threads:
        _pin_threads(args.threads)
    global THREADS_FROM
    THREADS_FROM = args.threads_from
    try:
        import jax
        import torch
    except ImportError:
        sys.exit("bench/cpu.py needs PyTorch and JAX: pip install -e '.[bench]'")
    jax.config.update("jax_enable_x64", True)
    if args.threads:
        torch.set_num_threads(args.threads)
    chosen = workloads()
    if args.only:
        chosen = {k: v for k, v in chosen.items() if k in args.only.split(",")}
    batches = [int(b) for b in args.batch.split(",") if b] or [None]
    what = "training step (value_and_grad + Adam)" if args.step else "value_and_grad"
    peer = "torch.compile" if args.torch_compile else "torch eager"
    print(f"{what}; torch {torch.__version__} ({torch.get_num_threads()} threads, {peer}), "
          f"jax {jax.__version__} (jit), threads limit {args.threads or 'none'}, adc threads "
          f"from {'default' if THREADS_FROM is None else THREADS_FROM}")
    print(f"{'workload':<14} {'dtype':<8} {'batch':>5} {'adc us':>10} {'torch us':>10} "
          f"{'jax us':>10}   {'/torch':>7} {'/jax':>7} {'/best':>7}")
    with tempfile.TemporaryDirectory() as folder:
        for dtype in args.dtypes.split(","):
            for name, workload in chosen.items():
                for n in batches:
                    run(name, workload, np.dtype(dtype).type, folder, args.rounds, n,
                        args.step, args.torch_compile)


if __name__ == "__main__":
    main()
