"""Samples with Numba's bounds checking on: value, gradient, VJP, JVP and HVP on random
valid inputs raise no IndexError (nothing reads or writes out of bounds).

Compiling with bounds checks cannot reuse Numba's cache, so the suite runs the samples
that between them use every indexing pattern the compiler emits (gathers, slices,
padding, windows, reshapes, arg-max routing, normalisation axes, hinge masks);
ADC_BOUNDSCHECK_ALL=1 runs every sample.
"""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest

from conftest import SAMPLES

HERE = os.path.dirname(os.path.abspath(__file__))
COVERING = ["neuron", "svm", "softmax_classifier", "logistic_regression", "mlp_maxout",
            "batch_norm_mlp", "layer_norm_mlp", "dropout_mlp", "l1_l2", "convnet", "mlp2_elu"]
ALL = sorted(glob.glob(os.path.join(SAMPLES, "*.py")))
SAMPLE_FILES = ALL if os.environ.get("ADC_BOUNDSCHECK_ALL") == "1" else \
    [os.path.join(SAMPLES, f"{n}.py") for n in COVERING]
NAMES = [os.path.splitext(os.path.basename(p))[0] for p in SAMPLE_FILES]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("boundscheck"))
    # a cache of its own: code compiled without bounds checks must not be reused
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=os.path.join(out, "cache"))
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    done = subprocess.run([sys.executable, os.path.join(HERE, "boundscheck_worker.py"), out,
                           *SAMPLE_FILES], env=env, capture_output=True, text=True,
                          timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", NAMES)
def test_no_out_of_bounds_access(results, name):
    assert results[name] == "ok", results[name]
