"""Every sample in forward mode and second order: f_jvp, f_hvp, f_jacobian, f_hessian.

f_jvp against central differences of the eager run and the NumPy reference, the
dot-product test against f_vjp; f_hvp against central differences of the compiled
gradient (itself checked against the eager run by test_samples.py) and the NumPy
reference, and the symmetry of H (tests/mode_checks.py). f_jacobian of a scalar loss
is its gradient (reverse mode); f_hessian is f_hvp's columns, symmetric, (P, P), and a
ValueError naming f_hvp above the documented size. Float32 stays float32.
"""
from __future__ import annotations

import glob
import os

import numpy as np
import pytest

import adc
from adc.compiler import driver, emit
from adc.runtime import gradcheck

from conftest import SAMPLES, assert_close_rel, import_eager
from mode_checks import check_hvp, check_jvp, direction, grads_dict, parameter_count, wrt

SAMPLE_FILES = sorted(glob.glob(os.path.join(SAMPLES, "*.py")))
IDS = [os.path.basename(p)[:-3] for p in SAMPLE_FILES]
DENSE_HESSIAN_UP_TO = 200   # parameters; larger samples (below the limit) are not built


class Sample:
    """A sample's generated module, its eager import and its lowered programs."""

    def __init__(self, folder, path):
        with open(path, encoding="utf-8") as f:
            source = f.read()
        name = os.path.splitext(os.path.basename(path))[0]
        copy = os.path.join(folder, f"{name}.py")
        emit.write_atomic(copy, source)
        text, compiled = driver.compile_source(copy, source)
        out = os.path.join(folder, f"{name}_adc.py")
        emit.write_atomic(out, text)
        self.module = adc.load(out)
        self.eager = import_eager(copy)
        self.programs = {c.program.name: c.program for c in compiled}


@pytest.fixture(scope="module")
def samples(request, tmp_path_factory):
    cache = getattr(request.config, "cache", None)
    folder = str(cache.mkdir("adc-test-modes")) if cache is not None else \
        str(tmp_path_factory.mktemp("modes"))
    built = {}

    def get(path):
        if path not in built:
            built[path] = Sample(folder, path)
        return built[path]
    return get


def entry_points(sample):
    for fname in sample.module.SIGNATURES:
        yield fname, gradcheck.random_inputs(sample.module, fname, {"N": 3}, seed=1)


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=IDS)
def test_sample_jvp(path, samples):
    s = samples(path)
    for fname, values in entry_points(s):
        check_jvp(s.module, s.eager, s.programs[fname], fname, values, seed=2)


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=IDS)
def test_sample_hvp(path, samples):
    s = samples(path)
    for fname, values in entry_points(s):
        check_hvp(s.module, s.programs[fname], fname, values, seed=3)


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=IDS)
def test_sample_jacobian_and_hessian(path, samples):
    s = samples(path)
    for fname, values in entry_points(s):
        m = s.module
        names = wrt(m, fname)
        grads = grads_dict(getattr(m, f"{fname}_grad")(**values), names)
        jac = getattr(m, f"{fname}_jacobian")(**values)
        assert type(jac).__name__ == f"{fname}_Grads"
        for n in names:   # a scalar output: out.shape + param.shape == param.shape
            assert_close_rel(getattr(jac, n), grads[n], 1e-14, what=f"{fname}_jacobian.{n}")

        total = parameter_count(m, fname, values)
        if total > m._HESSIAN_MAX:
            with pytest.raises(ValueError, match=f"{fname}_hvp"):
                getattr(m, f"{fname}_hessian")(**values)
            continue
        if total > DENSE_HESSIAN_UP_TO:
            continue
        hessian = getattr(m, f"{fname}_hessian")(**values)
        assert hessian.shape == (total, total) and hessian.dtype == np.float64
        scale = float(np.max(np.abs(hessian)))
        assert scale > 0
        assert_close_rel(hessian, hessian.T, 1e-12, what=f"{fname}_hessian symmetry")
        hvp = getattr(m, f"{fname}_hvp")
        offsets = np.cumsum([0] + [int(np.size(values[n])) for n in names])
        for col in range(total):
            k = int(np.searchsorted(offsets, col, side="right")) - 1
            vector = {names[k]: np.zeros(np.shape(values[names[k]]))}
            vector[names[k]].reshape(-1)[col - offsets[k]] = 1.0
            hv = grads_dict(hvp(**values, vector=vector), names)
            column = np.concatenate([hv[n].reshape(-1) for n in names])
            assert_close_rel(hessian[:, col], column, 1e-14, atol=1e-15 * scale,
                             what=f"{fname}_hessian column {col}")


FLOAT32_SAMPLES = ["mlp2_tanh", "logistic_regression"]


@pytest.mark.parametrize("name", FLOAT32_SAMPLES)
def test_sample_float32(name, samples):
    """float32 in, float32 out, for f_jvp, f_hvp, f_jacobian and f_hessian; the values
    agree with the float64 run to float32 rounding."""
    s = samples(os.path.join(SAMPLES, f"{name}.py"))
    for fname, values in entry_points(s):
        m = s.module
        names = wrt(m, fname)
        single = {k: np.asarray(v, dtype=np.float32) if k in names or
                  m.SIGNATURES[fname]["args"][k]["role"] == "data" else v
                  for k, v in values.items()}
        u = direction(m, fname, values, seed=4)
        value, tangent = getattr(m, f"{fname}_jvp")(**single, tangents=u)
        value64, tangent64 = getattr(m, f"{fname}_jvp")(**values, tangents=u)
        assert np.asarray(value).dtype == np.float32 and np.asarray(tangent).dtype == np.float32
        assert_close_rel(tangent, tangent64, 1e-4, what=f"{fname}_jvp float32")
        hv = getattr(m, f"{fname}_hvp")(**single, vector=u)
        hv64 = grads_dict(getattr(m, f"{fname}_hvp")(**values, vector=u), names)
        for n in names:
            assert np.asarray(getattr(hv, n)).dtype == np.float32, f"{fname}_hvp.{n} dtype"
            assert_close_rel(getattr(hv, n), hv64[n], 1e-4, atol=1e-4 * max(
                float(np.max(np.abs(h))) for h in hv64.values()), what=f"{fname}_hvp.{n}")
            assert getattr(m, f"{fname}_jacobian")(**single)._asdict()[n].dtype == np.float32
        assert getattr(m, f"{fname}_hessian")(**single).dtype == np.float32
