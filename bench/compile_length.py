"""Compile time against program length (issue: loops that stay loops).

Times code generation (parse, IR, autodiff, schedule, CSE, emit; not Numba's JIT):

- an RNN `for t in range(T): h = tanh(X[t] @ Wx + h @ Wh + b)` (hidden 32) at several T:
  the loop stays a loop (compiler/loops.py), so the times should be equal, and the
  ratios to the first T near 1.00x;
- a straight-line program of n statements (no loop to keep): the time per statement at
  every length, equal per-statement times meaning compile time linear in length, and
  the longest against the issue's goal (1000 statements in under 10 s).

    python bench/compile_length.py [--steps 10,1000,100000] [--lengths 10,100,1000]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from adc.compiler import driver


GOAL_SECONDS = 10.0      # issue: a 1000-statement straight-line program


def rnn(steps: int) -> str:
    return ("from adc.lang import *\n"
            f"def loss(X: Data[{steps}, 8, 16], h0: Param[8, 32], Wx: Param[16, 32],\n"
            "         Wh: Param[32, 32], b: Param[32]):\n"
            "    h = h0\n"
            f"    for t in range({steps}):\n"
            "        h = tanh(X[t] @ Wx + h @ Wh + b)\n"
            "    return sum(h * h)\n")


def straight_line(n: int) -> str:
    """h_k from h_{k-1}, and every third statement also from h_{k-5}: a DAG, not a chain."""
    lines = ["from adc.lang import *", "def f(x: Param[8], w: Param[8]):", "    h0 = x"]
    for k in range(1, n + 1):
        lines.append([f"    h{k} = tanh(h{k - 1} * w + {k * 0.001})",
                      f"    h{k} = h{k - 1} * 0.999 + w",
                      f"    h{k} = sin(h{k - 1}) + h{max(k - 5, 0)}"][k % 3])
    lines.append(f"    return sum(h{n})")
    return "\n".join(lines) + "\n"


def codegen_seconds(source: str, folder: str, repeat: int = 1) -> float:
    """The best of `repeat` runs (the machine is shared and noisy)."""
    path = os.path.join(folder, "model.py")
    with open(path, "w") as f:
        f.write(source)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        driver.compile_source(path, source)
        best = min(best, time.perf_counter() - start)
    return best


def cold_seconds(kind: str, n: int) -> float:
    """codegen_seconds in a fresh interpreter: no SymPy or derivative caches warm."""
    code = (f"import sys, tempfile; sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
            "import compile_length as c\n"
            "with tempfile.TemporaryDirectory() as d:\n"
            f"    print(c.codegen_seconds(c.{kind}({n}), d))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return float(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="10,1000,100000")
    parser.add_argument("--lengths", default="10,100,1000")
    args = parser.parse_args()
    steps = [int(n) for n in args.steps.split(",")]
    lengths = [int(n) for n in args.lengths.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        codegen_seconds(rnn(2), folder)          # warm-up: imports, SymPy caches
        base = None
        for T in steps:
            cold = min(cold_seconds("rnn", T) for _ in range(2))
            warm = codegen_seconds(rnn(T), folder, repeat=5)
            base = base or (cold, warm)
            print(f"          rnn T={T:<7} {cold:7.2f} s cold ({cold / base[0]:4.2f}x of "
                  f"T={steps[0]}), {warm:6.3f} s warm ({warm / base[1]:4.2f}x)"
                  "  (1.00x = independent of T)")
        per = {}
        for n in lengths:
            seconds = codegen_seconds(straight_line(n), folder)
            per[n] = seconds / n
            print(f"straight line n={n:<6} {seconds:8.2f} s  {per[n] * 1000:8.1f} ms/statement")
        first, last = lengths[0], lengths[-1]
        print(f"straight line ms/statement at n={last} / at n={first}: "
              f"{per[last] / per[first]:.2f}x  (1.00x = linear in length)")
        total = per[last] * last
        print(f"straight line n={last}: {total:.2f} s, goal for 1000 statements: < "
              f"{GOAL_SECONDS:.0f} s ({'met' if last >= 1000 and total < GOAL_SECONDS else 'not met'})")


if __name__ == "__main__":
    main()
