"""Shared helpers: compile a model into a temporary folder and compare gradients."""
from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np
import pytest

import adc
from adc.compiler import driver

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "samples")


def compile_to(path, out_dir):
    """adc.compile a model file into out_dir; returns the generated module."""
    name = os.path.splitext(os.path.basename(path))[0]
    return adc.compile(path, os.path.join(out_dir, f"{name}_adc.py"))


def lowered(path):
    """The per-entry-point Compiled objects (IR, adjoint, schedules) of a model file."""
    with open(path) as f:
        source = f.read()
    return {c.program.name: c for c in (driver.compile_program(p)
                                        for p in driver.lower(path, source))}


def import_eager(path):
    """Import a model file as plain Python (adc.lang's NumPy implementations)."""
    name = "eager_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def assert_close_rel(actual, expected, rtol, atol=0.0, what=""):
    """max|a - e| <= rtol * max|e| + atol: a norm-wise relative error."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    scale = float(np.max(np.abs(e), initial=0.0))
    err = float(np.max(np.abs(a - e), initial=0.0))
    assert err <= rtol * scale + atol, f"{what}: error {err:.3e} > {rtol:g} * {scale:.3e} + {atol:g}"


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("adc-build"))


def write_model(folder, source, name="model"):
    """Write a model source into `folder` (unique file name per source); returns its path."""
    import hashlib
    digest = hashlib.sha1(source.encode()).hexdigest()[:10]
    path = os.path.join(str(folder), f"{name}_{digest}.py")
    with open(path, "w", encoding="utf-8") as f:
        f.write(source)
    return path


def check_against_eager(folder, source, sizes=None, seed=0, values=None, fd_rtol=1e-6,
                        value_rtol=1e-10):
    """Compile `source`, and for every entry point compare with the *eager* NumPy run:
    the value (rel. `value_rtol`), and every gradient with central differences of the
    eager run (rel. `fd_rtol`; through f_vjp with a random cotangent). Returns the module.
    """
    from adc.runtime import gradcheck
    path = write_model(folder, source)
    module = compile_to(path, str(folder))
    eager = import_eager(path)
    for fname in module.SIGNATURES:
        if "predicts" in module.SIGNATURES[fname]:
            continue     # f_predict has no eager twin; tests/test_samples.py checks it
        args = values(module, fname) if values else \
            gradcheck.random_inputs(module, fname, sizes, seed)
        got = getattr(module, fname)(**args)
        want = getattr(eager, fname)(**args)
        got_t = got if isinstance(got, tuple) else (got,)
        want_t = want if isinstance(want, tuple) else (want,)
        assert len(got_t) == len(want_t), f"{fname}: {len(got_t)} outputs vs eager {len(want_t)}"
        for k, (g, w) in enumerate(zip(got_t, want_t)):
            assert np.shape(g) == np.shape(w), f"{fname} output {k}: shape {np.shape(g)} vs eager {np.shape(w)}"
            assert_close_rel(g, w, value_rtol, what=f"{fname} output {k} vs eager")
        u = gradcheck.random_cotangent(want, seed)
        grads = getattr(module, f"{fname}_vjp")(**args, cotangent=u)

        def projected(**kw):
            return gradcheck._project(u, getattr(eager, fname)(**kw))
        for name in module.SIGNATURES[fname]["wrt"]:
            points, numeric = gradcheck.numeric_gradient(projected, args, name)
            analytic = np.asarray(getattr(grads, name), dtype=np.float64)
            assert analytic.shape == np.shape(args[name]), f"{fname}: d/d{name} shape"
            scale = max(np.max(np.abs(numeric), initial=0.0), 1e-4)
            err = np.max(np.abs(analytic.reshape(-1)[points] - numeric), initial=0.0) / scale
            assert err <= fd_rtol, f"{fname}: d/d{name} vs FD of the eager run: {err:.2e}"
    return module
