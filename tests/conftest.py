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
