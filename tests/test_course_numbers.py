"""The seed examples of the course material reproduce the course's numbers."""
from __future__ import annotations

import math
import os

import pytest

from conftest import SAMPLES, compile_to


def module(name, build_dir):
    return compile_to(os.path.join(SAMPLES, f"{name}.py"), build_dir)


def test_gate(build_dir):
    """(x + y) * z at x=-2, y=5, z=-4: value -12; df/dx = df/dy = z = -4, df/dz = x + y = 3."""
    value, grads = module("gate", build_dir).f_value_and_grad(-2.0, 5.0, -4.0)
    assert value == -12.0
    assert (grads.x, grads.y, grads.z) == (-4.0, -4.0, 3.0)


def test_sigmoid_neuron(build_dir):
    """The course's neuron: value 0.73; gradients w0 -0.20, x0 0.39, w1 -0.39, x1 -0.59, w2 0.20."""
    point = dict(w0=2.0, x0=-1.0, w1=-3.0, x1=-2.0, w2=-3.0)
    value, grads = module("neuron", build_dir).f_value_and_grad(**point)
    assert round(float(value), 2) == 0.73
    rounded = {k: round(float(v), 2) for k, v in grads._asdict().items()}
    assert rounded == {"w0": -0.20, "x0": 0.39, "w1": -0.39, "x1": -0.59, "w2": 0.20}
    # and exactly the hand-derived rule: dsigma = (1 - sigma) * sigma times the local inputs
    s = 1 / (1 + math.exp(-1.0))
    ds = (1 - s) * s
    expected = {"w0": ds * -1, "x0": ds * 2, "w1": ds * -2, "x1": ds * -3, "w2": ds}
    for name, want in expected.items():
        assert getattr(grads, name) == pytest.approx(want, rel=1e-15)


@pytest.mark.parametrize("x1,x2", [(0.5, 0.3), (-1.0, 2.0)])
def test_sin_example(build_dir, x1, x2):
    """f = 5*x1 + sin(x2 + pi): df/dx1 = 5, df/dx2 = cos(x2 + pi) = -cos(x2)."""
    value, grads = module("sin_example", build_dir).f_value_and_grad(x1, x2)
    assert value == pytest.approx(5 * x1 - math.sin(x2), rel=1e-14)
    assert grads.x1 == 5.0
    assert grads.x2 == pytest.approx(-math.cos(x2), rel=1e-14)
