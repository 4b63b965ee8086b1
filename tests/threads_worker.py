"""Run in a subprocess by test_samples.py: a model's value_and_grad on the serial kernels
and on the threaded ones (forced, on two threads): the threaded result agrees with the
serial one to rounding (normwise, `AGREE`: the two variants are compiled apart, and LLVM
may fuse a multiply-add in one and not the other) and is the same bit for bit run after
run.

    python tests/threads_worker.py MODEL.py BUILD_DIR N

Prints one line per entry point; exits 1 when any result differs. A subprocess, because
GNU OpenMP (Numba's usual threading layer) cannot fork once its threads run, and other
tests fork.
"""
from __future__ import annotations

import os
import sys

import numba
import numpy as np

import adc
from adc.runtime import gradcheck


AGREE = 1e-13    # normwise relative: a few ulps of float64


def same(a, b) -> bool:
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


def agree(a, b) -> bool:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = np.max(np.abs(a), initial=0.0)
    return a.shape == b.shape and bool(np.max(np.abs(a - b), initial=0.0) <= AGREE * scale)


def main(path, out_dir, n):
    name = os.path.splitext(os.path.basename(path))[0]
    out = os.path.join(out_dir, f"{name}_adc.py")
    # the module test_sample_gradients wrote: its serial kernels are in Numba's cache
    module = adc.load(out) if os.path.exists(out) else adc.compile(path, out)
    numba.set_num_threads(2)
    bad = 0
    for fname in module.SIGNATURES:
        run = getattr(module, f"{fname}_value_and_grad", None)
        if run is None:
            continue
        values = gradcheck.random_inputs(module, fname, {"N": n}, seed=2)
        module.THREADS_FROM = 1 << 62
        value, grads = run(**values)
        module.THREADS_FROM = 0
        first_value, first = run(**values)
        far = [k for k in grads._fields if not agree(getattr(grads, k), getattr(first, k))]
        if not agree(value, first_value) or far:
            bad += 1
            print(f"{fname}: threaded result differs from the serial one beyond {AGREE:g} "
                  f"in value={not agree(value, first_value)} grads={far}")
        for attempt in range(2):       # and the same again: no run-to-run difference
            v, g = run(**values)
            differs = [k for k in first._fields if not same(getattr(first, k), getattr(g, k))]
            if not same(first_value, v) or differs:
                bad += 1
                print(f"{fname}: threaded run {attempt + 1} differs from run 0 in "
                      f"value={not same(first_value, v)} grads={differs}")
        threaded = any(k.endswith("_kernel_threads") for k in vars(module))
        print(f"{fname}: ok (threaded kernels: {threaded})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
