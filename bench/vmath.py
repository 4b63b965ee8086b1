"""Throughput of the CPU kernels' vectorisable exp/expm1/log/log1p/tanh (vmath).

For each function and dtype: a Numba loop over 2**16 elements calling the vmath function
(compiled with the flags of a generated kernel), the same loop calling `math.*` (libm,
scalar: what the kernels called before), and NumPy's ufunc (SIMD where NumPy has it).
Medians of interleaved rounds; prints ns per element and the ratio vmath / NumPy (the
CPU-speed issue's goal: <= 1.5).

    python bench/vmath.py [--rounds 9] [--n 65536]
"""
from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
from numba import njit

from adc.compiler.backends import vmath

# name -> (libm function, NumPy ufunc, input range)
FUNCTIONS = {
    "exp": (math.exp, np.exp, (-10.0, 10.0)),
    "expm1": (math.expm1, np.expm1, (-10.0, 10.0)),
    "log": (math.log, np.log, (0.01, 100.0)),
    "log1p": (math.log1p, np.log1p, (-0.5, 100.0)),
    "tanh": (math.tanh, np.tanh, (-5.0, 5.0)),
}


def _loop(f):
    @njit(error_model="numpy", fastmath={"contract"})
    def loop(x, out):
        for i in range(x.shape[0]):
            out[i] = f(x[i])
    return loop


def _scalar(libm):
    return njit(inline="always")(lambda v: libm(v))


def _time(call, reps):
    t0 = time.perf_counter()
    for _ in range(reps):
        call()
    return (time.perf_counter() - t0) / reps


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--n", type=int, default=1 << 16)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'function':10} {'dtype':8} {'vmath ns':>9} {'libm ns':>8} {'numpy ns':>9} "
          f"{'/numpy':>7} {'/libm':>7}")
    for name, (libm, ufunc, (lo, hi)) in FUNCTIONS.items():
        fast, slow = _loop(vmath.compiled("v" + name)), _loop(_scalar(libm))
        for dtype in (np.float64, np.float32):
            x = rng.uniform(lo, hi, args.n).astype(dtype)
            out = np.empty_like(x)
            want = ufunc(x.astype(np.float64))
            fast(x, out)
            assert np.allclose(out, want, rtol=1e-6), name     # the same function
            slow(x, out)
            ufunc(x, out=out)
            reps = max(1, int(2e-3 / max(_time(lambda: ufunc(x, out=out), 3), 1e-7)))
            times = {"vmath": [], "libm": [], "numpy": []}
            for _ in range(args.rounds):
                times["vmath"].append(_time(lambda: fast(x, out), reps))
                times["libm"].append(_time(lambda: slow(x, out), reps))
                times["numpy"].append(_time(lambda: ufunc(x, out=out), reps))
            ns = {k: statistics.median(v) / args.n * 1e9 for k, v in times.items()}
            print(f"{name:10} {np.dtype(dtype).name:8} {ns['vmath']:9.2f} {ns['libm']:8.2f} "
                  f"{ns['numpy']:9.2f} {ns['vmath'] / ns['numpy']:6.2f}x "
                  f"{ns['vmath'] / ns['libm']:6.2f}x", flush=True)


if __name__ == "__main__":
    main()
