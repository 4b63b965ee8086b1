"""The training samples reach their test accuracies on the built-in datasets (fixed seeds,
the fixed 80/20 test split), through the same code path as `adc train`."""
from __future__ import annotations

import time

import pytest

from adc.runtime.session import RunOptions, run

from conftest import compile_to
from rt_support import compiled_sample, sample_path

# sample, dataset, options, minimum test accuracy
CASES = [
    ("breast_cancer_logreg", "breast_cancer", dict(epochs=30, lr=1e-2), 0.95),
    ("iris_softmax", "iris", dict(epochs=50, lr=5e-2), 0.93),
    ("digits_convnet", "digits", dict(epochs=20, lr=1e-2), 0.95),
    # a recurrent net over the image rows: its loop stays a loop (compiler/loops.py)
    ("digits_rnn", "digits", dict(epochs=20, lr=1e-2), 0.95),
]
DIGITS_MLP = dict(epochs=20, lr=3e-3, batch_size=16)   # as `make demo` runs it


def train(sample, dataset, tmp_path, module=None, **options):
    opts = RunOptions(sample_path(sample), dataset, out_dir=str(tmp_path), progress=False,
                      seed=0, **options)
    return run(opts, module=module)


@pytest.mark.parametrize("sample, dataset, options, minimum", CASES,
                         ids=[c[0] for c in CASES])
def test_sample_reaches_its_test_accuracy(sample, dataset, options, minimum, build_dir,
                                          tmp_path):
    report = train(sample, dataset, tmp_path, compiled_sample(sample, build_dir), **options)
    assert report.summary["test_accuracy"] >= minimum, report.summary
    assert report.summary["epochs"] == options["epochs"]


def test_digits_mlp_reaches_97_percent_within_a_minute_compile_included(tmp_path):
    started = time.perf_counter()
    module = compile_to(sample_path("digits_mlp"), str(tmp_path))
    report = train("digits_mlp", "digits", tmp_path, module, **DIGITS_MLP)
    seconds = time.perf_counter() - started
    assert report.summary["test_accuracy"] >= 0.97, report.summary
    assert seconds < 60, f"compile + train took {seconds:.1f} s"
