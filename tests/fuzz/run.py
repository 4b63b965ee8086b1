"""Run the fuzzers at a large budget outside pytest and group the failures into classes.

    python tests/fuzz/run.py gen --start 0 --count 2000 [--out DIR]
    python tests/fuzz/run.py mutants --start 0 --count 3000 [--run-every 5]

Each failure is printed once per class (its kind and its message with names and numbers
stripped), with the first seeds that show it; `--out` keeps every failing model there.
"""
from __future__ import annotations

import argparse
import collections
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import oracle  # noqa: E402
import progen  # noqa: E402


def signature(kind: str, detail: str) -> str:
    """The class of a failure: its kind and message without names, numbers and quotes."""
    text = re.sub(r"^\S+:\d+:\d+: error: ", "", detail)
    text = re.sub(r"'[^']*'", "'_'", text)
    text = re.sub(r"`[^`]*`", "`_`", text)
    text = re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "#", text)
    text = re.sub(r"\[[^\]]*\]", "[]", text)
    text = re.sub(r"\b(d/d)\w+", r"\1_", text)
    text = re.sub(r"\b\w+?(_vjp|_value_and_grad|_grad)\b", r"F\1", text)
    text = re.sub(r"^\w+(\[#\])?:", "F:", text)
    text = re.sub(r"\w+\.py:\w+", "<model>", text)
    return f"{kind}: {text[:160]}"


def run_generated(args, workdir):
    classes = collections.OrderedDict()
    invalid = 0
    started = time.time()
    for seed in range(args.start, args.start + args.count):
        program = progen.generate(seed)
        try:
            oracle.check_program(program, workdir)
        except oracle.InvalidProgram as exc:
            invalid += 1
            print(f"seed {seed}: invalid program: {exc}", flush=True)
        except oracle.Failure as exc:
            key = signature(exc.kind, exc.detail)
            classes.setdefault(key, []).append(seed)
            print(f"seed {seed}: {exc}  features={sorted(program.features)}", flush=True)
            if args.out:
                os.makedirs(args.out, exist_ok=True)
                with open(os.path.join(args.out, f"gen_{seed}.py"), "w") as f:
                    f.write(program.source + f"\n# {exc}\n")
        except Exception as exc:   # a bug in the harness itself
            classes.setdefault(f"harness: {oracle.last_frame(exc)}", []).append(seed)
            print(f"seed {seed}: HARNESS {oracle.last_frame(exc)}", flush=True)
        if (seed - args.start) % 25 == 24:
            print(f"-- {seed - args.start + 1} done, {time.time() - started:.0f}s, "
                  f"{sum(map(len, classes.values()))} failing, {invalid} invalid", flush=True)
    report(classes, args.count, invalid, time.time() - started)


def run_mutants(args, workdir):
    import mutants
    classes = collections.OrderedDict()
    started = time.time()
    outcomes = collections.Counter()
    for seed in range(args.start, args.start + args.count):
        mutant = mutants.mutant(seed)
        run = seed % args.run_every == 0
        try:
            outcome = mutants.check_mutant(mutant, workdir, run=run)
            outcomes[outcome] += 1
        except oracle.Failure as exc:
            key = signature(exc.kind, exc.detail)
            classes.setdefault(key, []).append(seed)
            print(f"mutant {seed} ({mutant.sample}: {mutant.how}): {exc}", flush=True)
            if args.out:
                os.makedirs(args.out, exist_ok=True)
                with open(os.path.join(args.out, f"mutant_{seed}.py"), "wb") as f:
                    f.write(mutant.source + f"\n# {mutant.how}\n# {exc}\n".encode())
        except Exception as exc:
            classes.setdefault(f"harness: {oracle.last_frame(exc)}", []).append(seed)
            print(f"mutant {seed}: HARNESS {oracle.last_frame(exc)}", flush=True)
        if (seed - args.start) % 100 == 99:
            print(f"-- {seed - args.start + 1} done, {time.time() - started:.0f}s, "
                  f"outcomes {dict(outcomes)}", flush=True)
    print(f"outcomes: {dict(outcomes)}")
    report(classes, args.count, 0, time.time() - started)


def report(classes, count, invalid, seconds):
    print(f"\n==== {count} examples in {seconds:.0f}s, {invalid} invalid, "
          f"{len(classes)} failure classes ====")
    for key, seeds in sorted(classes.items(), key=lambda kv: -len(kv[1])):
        print(f"{len(seeds):5d}  {key}\n       seeds {seeds[:12]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["gen", "mutants"])
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--run-every", type=int, default=5,
                        help="mutants: compile and run every k-th one (the rest: compile only)")
    parser.add_argument("--out", default=None, help="keep failing models in this folder")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    workdir = args.workdir or tempfile.mkdtemp(prefix=f"adc-fuzz-{args.what}-")
    os.makedirs(workdir, exist_ok=True)
    (run_generated if args.what == "gen" else run_mutants)(args, workdir)


if __name__ == "__main__":
    main()
