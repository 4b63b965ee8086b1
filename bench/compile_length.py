"""Compile time against program length (issue: loops that stay loops).

Times code generation (parse, IR, autodiff, schedule, CSE, emit; not Numba's JIT) of an
unrolled recurrence `for t in range(T): h = tanh(h * w + b)` and of a straight-line
program of n statements, and prints the time per statement: equal per-statement times
at every length mean compile time linear in program length, the best an unrolling
compiler can do (the scan that keeps such a loop one loop is not built yet).

    python bench/compile_length.py [--lengths 10,30,100]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

from adc.compiler import driver


def recurrence(steps: int) -> str:
    return ("from adc.lang import *\n"
            "def f(x: Param[8], w: Param[8], b: Param[8]):\n"
            "    h = x\n"
            f"    for t in range({steps}):\n"
            "        h = tanh(h * w + b)\n"
            "    return sum(h)\n")


def straight_line(n: int) -> str:
    """h_k from h_{k-1}, and every third statement also from h_{k-5}: a DAG, not a chain."""
    lines = ["from adc.lang import *", "def f(x: Param[8], w: Param[8]):", "    h0 = x"]
    for k in range(1, n + 1):
        lines.append([f"    h{k} = tanh(h{k - 1} * w + {k * 0.001})",
                      f"    h{k} = h{k - 1} * 0.999 + w",
                      f"    h{k} = sin(h{k - 1}) + h{max(k - 5, 0)}"][k % 3])
    lines.append(f"    return sum(h{n})")
    return "\n".join(lines) + "\n"


def codegen_seconds(source: str, folder: str) -> float:
    path = os.path.join(folder, "model.py")
    with open(path, "w") as f:
        f.write(source)
    start = time.perf_counter()
    driver.compile_source(path, source)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="10,30,100")
    lengths = [int(n) for n in parser.parse_args().lengths.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        codegen_seconds(recurrence(2), folder)          # warm-up: imports, SymPy caches
        for name, make in (("recurrence", recurrence), ("straight line", straight_line)):
            per = {}
            for n in lengths:
                seconds = codegen_seconds(make(n), folder)
                per[n] = seconds / n
                print(f"{name:>13} n={n:<6} {seconds:8.2f} s  {per[n] * 1000:8.1f} ms/statement")
            first, last = lengths[0], lengths[-1]
            print(f"{name:>13} ms/statement at n={last} / at n={first}: "
                  f"{per[last] / per[first]:.2f}x  (1.00x = linear in length)")


if __name__ == "__main__":
    main()
