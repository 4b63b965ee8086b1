"""Every sample: gradients vs finite differences and the NumPy reference backend;
forward values vs the eager NumPy run of the model file."""
from __future__ import annotations

import glob
import os
import subprocess
import sys

import numpy as np
import pytest

from adc.compiler.backends import numpy_ref
from adc.runtime import gradcheck

from conftest import SAMPLES, assert_close_rel, compile_to, import_eager, lowered

SAMPLE_FILES = sorted(glob.glob(os.path.join(SAMPLES, "*.py")))


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: os.path.basename(p)[:-3])
def test_sample_gradients(path, build_dir):
    module = compile_to(path, build_dir)
    eager = import_eager(path)
    programs = lowered(path)
    assert module.SIGNATURES, "a sample must have an entry point"
    for fname in module.SIGNATURES:
        values = gradcheck.random_inputs(module, fname, {"N": 3}, seed=1)
        value, grads = getattr(module, f"{fname}_value_and_grad")(**values)
        assert np.isfinite(value)

        # 1. forward value == the eager NumPy run of the same file
        expected = getattr(eager, fname)(**values)
        assert_close_rel(value, expected, 1e-10, what=f"{fname} value")

        # 2. gradients == central finite differences (float64)
        for row in gradcheck.check_gradients(module, fname, values):
            assert row.rel_error <= 1e-6, f"{fname}: d/d{row.name} error {row.rel_error:.2e}"

        # 3. gradients == the NumPy reference backend (interprets the same IR)
        c = programs[fname]
        ref = numpy_ref.vjp(c.program, values, [1.0])
        atol = 1e-13 * max(1.0, abs(float(value)))  # zero gradients: rounding noise only
        for name in module.SIGNATURES[fname]["wrt"]:
            assert_close_rel(getattr(grads, name), ref[name], 1e-10, atol=atol,
                             what=f"{fname}: d/d{name} vs numpy reference")


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: os.path.basename(p)[:-3])
def test_sample_predictions(path, build_dir):
    """f_predict of every loss built on a predicting loss: the loss's first argument, as
    the eager run computes it (the helper or expression the loss was called with)."""
    module = compile_to(path, build_dir)
    eager = import_eager(path)
    programs = lowered(path)
    for fname, sig in module.SIGNATURES.items():
        if "predict" not in sig:
            continue
        pname = sig["predict"]
        assert module.PREDICTIONS[pname]["predicts"]["of"] == fname
        values = gradcheck.random_inputs(module, fname, {"N": 3}, seed=1)
        args = {k: values[k] for k in module.PREDICTIONS[pname]["args"]}
        got = getattr(module, pname)(**args)
        want = _eager_prediction(eager, fname, values, module.PREDICTIONS[pname]["predicts"])
        assert_close_rel(got, want, 1e-10, what=f"{pname} vs the eager prediction")
        (ref,) = numpy_ref.forward(programs[pname].program, args)
        assert_close_rel(got, ref, 1e-10, what=f"{pname} vs numpy reference")


def _eager_prediction(eager, fname, values, predicts):
    """The first argument of the loss call, caught from the eager run of the loss."""
    import adc.lang
    seen = []
    loss = getattr(adc.lang, predicts["loss"])

    def spy(first, *rest, **kw):
        seen.append(np.array(first, dtype=float))
        return loss(first, *rest, **kw)
    saved = getattr(eager, predicts["loss"], None)
    setattr(eager, predicts["loss"], spy)
    try:
        getattr(eager, fname)(**values)
    finally:
        setattr(eager, predicts["loss"], saved)
    return seen[0]


# Compiling a parallel=True kernel takes 15-50 s, so the threads test runs the samples that
# between them have every threaded pattern: owned batch rows, per-chunk partials of a bias
# and of a kernel gradient (convnet), normalisation axes, arg-max routing, masks, tanh's
# derivative, and GEMMs through _blas_dot (ADC_THREADS_ALL=1: every sample).
THREADED = ["digits_mlp", "convnet", "batch_norm_mlp", "layer_norm_mlp", "mlp2_tanh",
            "mlp_maxout", "dropout_mlp", "svm"]
THREADED_FILES = SAMPLE_FILES if os.environ.get("ADC_THREADS_ALL") == "1" else \
    [os.path.join(SAMPLES, f"{n}.py") for n in THREADED]


@pytest.mark.parametrize("path", THREADED_FILES, ids=lambda p: os.path.basename(p)[:-3])
def test_sample_threads_give_the_serial_results(path, build_dir):
    """value_and_grad on the threaded kernels (two threads, forced at a small batch whose
    chunks are uneven) agrees with the serial kernels' result to a few ulps, and is the
    same bit for bit run after run."""
    import numba
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba has one thread on this machine")
    worker = os.path.join(os.path.dirname(__file__), "threads_worker.py")
    done = subprocess.run([sys.executable, worker, path, build_dir, "37"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    if os.path.basename(path) in ("digits_mlp.py", "convnet.py", "batch_norm_mlp.py"):
        assert "threaded kernels: True" in done.stdout, "expected threaded kernels"
