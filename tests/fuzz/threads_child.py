"""Run by test_differential.py in a fresh interpreter: one seed's checks on the threaded
kernels. GNU OpenMP (Numba's threading layer) cannot fork() once its threads have run in
a process, and the oracle forks a child per compiled call: a pytest worker that ran a
threaded kernel in an earlier test would see every child terminated. This interpreter
never runs compiled code itself.

    python tests/fuzz/threads_child.py SEED WORKDIR
"""
from __future__ import annotations

import os
import sys

sys.path[:0] = [os.path.dirname(os.path.abspath(__file__))]

import oracle  # noqa: E402
import progen  # noqa: E402


def main(seed: int, workdir: str) -> int:
    try:
        oracle.check_program(progen.generate(seed), workdir, tag=f"threads_{seed}",
                             threads=True)
    except (oracle.Failure, oracle.InvalidProgram) as exc:
        print(f"seed {seed}: {exc}")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), sys.argv[2]))
