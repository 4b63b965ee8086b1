"""Mutation fuzzing of the samples: every mutant ends as a module that agrees with the eager
run, or as a located CompileError from `adc compile` (exit 1, `file:line:col: error:`,
no traceback) -- never a crash, a hang, or a module that fails when called.

    pytest tests/fuzz/test_mutations.py                 # the default budget
    ADC_FUZZ_MUTANTS=3000 ADC_FUZZ_RUN_EVERY=5 pytest tests/fuzz/test_mutations.py
    python tests/fuzz/run.py mutants --count 3000       # the same, grouped by class

Every ADC_FUZZ_RUN_EVERY-th mutant (default: every 10th) is also compiled by Numba and
checked against the eager run (values, gradients); the others go through the compiler
(front end, autodiff, emit) and the eager run only.
"""
from __future__ import annotations

import os

import pytest

import mutants
import oracle

MUTANTS = int(os.environ.get("ADC_FUZZ_MUTANTS", "200"))
START = int(os.environ.get("ADC_FUZZ_MUTANT_START", "0"))
RUN_EVERY = int(os.environ.get("ADC_FUZZ_RUN_EVERY", "10"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("adc-fuzz-mutants"))


@pytest.mark.parametrize("seed", range(START, START + MUTANTS))
def test_mutant(seed, workdir):
    m = mutants.mutant(seed)
    try:
        mutants.check_mutant(m, workdir, run=seed % RUN_EVERY == 0)
    except oracle.Failure as exc:
        text = m.source.decode("utf-8", "backslashreplace").replace("\x00", "\\x00")
        pytest.fail(f"mutant {seed} of {m.sample} ({m.how}): {exc}\n--- the mutant ---\n"
                    f"{text[:3000]}", pytrace=False)


def test_mutants_are_varied():
    """The mutations reach every kind, and a fair share of mutants still compile."""
    hows = [mutants.mutant(s).how for s in range(300)]
    text = "\n".join(hows)
    for word in ["operator", "call", "deleted", "duplicated", "annotation", "shape of",
                 "module constant", "inserted", "truncated", "junk", "nested", "keyword",
                 "function", "-> "]:
        assert word in text, f"no mutant made by {word!r}"
    samples = {mutants.mutant(s).sample for s in range(300)}
    assert len(samples) == len(mutants.SAMPLES)


def test_a_rejected_mutant_is_located(tmp_path):
    """The check itself: a located error passes, a crash would not."""
    m = mutants.Mutant("x.py", "inserted while", b"from adc.lang import Param, sum\n"
                       b"def f(x: Param[3]):\n    while True:\n        pass\n"
                       b"    return sum(x)\n", 0)
    assert mutants.check_mutant(m, str(tmp_path)) == "rejected"
