"""Forward mode, HVPs, Jacobians and Hessians, timed against one value_and_grad in the same run.

For each of the course's models: the median time of f_value_and_grad, then f_jvp, f_hvp,
f_jacobian and f_hessian as ratios to it (an HVP should cost a small constant multiple
of a gradient; a Jacobian or Hessian scales with the number of parameters or outputs).

    python bench/modes.py [--repeat 200] [--batch 64]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

import adc
from adc.runtime import gradcheck

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ["neuron", "logistic_regression", "softmax_classifier", "mlp2_tanh", "mlp2_relu",
          "digits_mlp"]


def median_seconds(fn, repeat: int) -> float:
    fn()                                   # compile / warm up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bench(name: str, folder: str, repeat: int, batch: int) -> list:
    module = adc.compile(os.path.join(ROOT, "samples", f"{name}.py"),
                         os.path.join(folder, f"{name}_adc.py"))
    rows = []
    for fname, sig in module.SIGNATURES.items():
        if not hasattr(module, f"{fname}_value_and_grad"):
            continue
        values = gradcheck.random_inputs(module, fname, {"N": batch}, seed=0)
        wrt = sig["wrt"]
        vector = {w: np.ones(np.shape(values[w])) for w in wrt}
        params = sum(int(np.prod(np.shape(values[w]))) for w in wrt)
        calls = {
            "value_and_grad": lambda: getattr(module, f"{fname}_value_and_grad")(**values),
            "jvp": lambda: getattr(module, f"{fname}_jvp")(**values, tangents=vector),
            "hvp": lambda: getattr(module, f"{fname}_hvp")(**values, vector=vector),
            "jacobian": lambda: getattr(module, f"{fname}_jacobian")(**values),
        }
        if params <= 512:
            calls["hessian"] = lambda: getattr(module, f"{fname}_hessian")(**values)
        few = max(3, repeat // 20)
        times = {k: median_seconds(f, repeat if k in ("value_and_grad", "jvp", "hvp") else few)
                 for k, f in calls.items()}
        rows.append((f"{name}.{fname}", params, times))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--batch", type=int, default=64, help="the size N of every model")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rows = [r for name in MODELS for r in bench(name, folder, args.repeat, args.batch)]
    print(f"N = {args.batch}; times are medians; ratios are to one value_and_grad")
    print(f"{'model':<34} {'params':>7} {'value_and_grad':>15} {'jvp':>7} {'hvp':>7} "
          f"{'jacobian':>9} {'hessian':>9}")
    for label, params, t in rows:
        base = t["value_and_grad"]
        ratio = {k: f"{v / base:.2f}x" for k, v in t.items()}
        print(f"{label:<34} {params:>7} {base * 1e6:>12.1f} us {ratio['jvp']:>7} "
              f"{ratio['hvp']:>7} {ratio['jacobian']:>9} {ratio.get('hessian', 'n/a'):>9}")


if __name__ == "__main__":
    main()
