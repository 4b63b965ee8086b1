"""Compile time does not depend on tensor sizes.

Times `adc compile`'s code generation (parse, IR, autodiff, schedule, CSE, emit; not
Numba's JIT) for samples/mlp_mnist.py at 784-256-256-10 and at 7-5-5-3, best of
--repeat runs each, alternating so machine noise hits both alike, and prints the ratio.

    python bench/compile_time.py [--repeat 5]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from adc.compiler import driver

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "samples", "mlp_mnist.py")
SIZES = {"784-256-256-10": "D, H, C = 784, 256, 10", "7-5-5-3": "D, H, C = 7, 5, 3"}


def sources() -> dict[str, str]:
    base = driver.read_source(MODEL)
    assert SIZES["784-256-256-10"] in base
    return {name: base.replace(SIZES["784-256-256-10"], line) for name, line in SIZES.items()}


def codegen_seconds(source: str) -> float:
    start = time.perf_counter()
    driver.compile_source(MODEL, source)
    return time.perf_counter() - start


def cli_seconds(source: str, folder: str) -> float:
    """A whole cold `adc compile` process (Python start-up and imports included)."""
    model = os.path.join(folder, "mlp_mnist.py")
    with open(model, "w") as f:
        f.write(source)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "adc.cli.main", "compile", model],
                   check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    models = sources()
    codegen_seconds(models["7-5-5-3"])  # warm-up: imports and SymPy's caches
    best = {name: float("inf") for name in models}
    for _ in range(repeat):
        for name, source in models.items():
            best[name] = min(best[name], codegen_seconds(source))
    for name, seconds in best.items():
        print(f"codegen {name:>15}: {seconds * 1000:8.1f} ms (best of {repeat})")
    with tempfile.TemporaryDirectory() as folder:
        cold = {name: min(cli_seconds(source, folder) for _ in range(repeat))
                for name, source in models.items()}
    for name, seconds in cold.items():
        print(f"adc compile {name:>11}: {seconds * 1000:8.1f} ms (cold process, best of {repeat})")
    ratio = best["784-256-256-10"] / best["7-5-5-3"]
    print(f"ratio 784-256-256-10 / 7-5-5-3: {ratio:.2f}x  (1.00x = independent of sizes)")
    print(f"cold ratio: {cold['784-256-256-10'] / cold['7-5-5-3']:.2f}x")
    print(f"adc compile 784-256-256-10 under 2 s: "
          f"{'yes' if cold['784-256-256-10'] < 2.0 else 'NO'}")


if __name__ == "__main__":
    main()
