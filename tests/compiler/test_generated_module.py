"""The generated module's API (LANGUAGE.md §3): input validation, dtypes, Numba cache."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import SAMPLES, compile_to

D, C = 20, 4  # the sizes of samples/softmax_classifier.py


@pytest.fixture(scope="module")
def softmax(build_dir):
    return compile_to(os.path.join(SAMPLES, "softmax_classifier.py"), build_dir)


def good_args(n=5, dtype=np.float64):
    rng = np.random.default_rng(0)
    return dict(X=rng.normal(size=(n, D)).astype(dtype), y=rng.integers(0, C, n),
                W=rng.normal(size=(D, C)).astype(dtype), b=np.zeros(C, dtype))


def test_signatures_describe_arguments(softmax):
    spec = softmax.SIGNATURES["loss"]["args"]
    assert spec["X"] == {"role": "data", "shape": ("N", D), "dtype": "float"}
    assert spec["y"]["role"] == "index" and spec["y"]["shape"] == ("N",)
    assert spec["W"]["role"] == "param" and spec["reg"]["role"] == "float"
    assert softmax.SIGNATURES["loss"]["wrt"] == ["W", "b"]


def test_api_functions_agree(softmax):
    args = good_args()
    value, grads = softmax.loss_value_and_grad(**args)
    assert value == softmax.loss(**args)
    assert type(grads).__name__ == "loss_Grads" and grads._fields == ("W", "b")
    for name in grads._fields:
        np.testing.assert_array_equal(getattr(softmax.loss_grad(**args), name),
                                      getattr(grads, name))
        np.testing.assert_allclose(getattr(softmax.loss_vjp(**args, cotangent=2.0), name),
                                   2.0 * getattr(grads, name), rtol=1e-14)
    # positional arguments and the source's default for `reg`
    assert softmax.loss(args["X"], args["y"], args["W"], args["b"]) == \
        softmax.loss(**args, reg=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_outputs_keep_the_input_dtype(softmax, dtype):
    value, grads = softmax.loss_value_and_grad(**good_args(dtype=dtype))
    assert np.asarray(value).dtype == dtype
    assert grads.W.dtype == dtype and grads.W.shape == (D, C)
    assert grads.b.dtype == dtype and grads.b.shape == (C,)


def test_float32_gradient_close_to_float64(softmax):
    g64 = softmax.loss_grad(**good_args(dtype=np.float64))
    g32 = softmax.loss_grad(**good_args(dtype=np.float32))
    np.testing.assert_allclose(g32.W, g64.W, rtol=1e-4, atol=1e-6)


BAD_INPUTS = [
    # (what to change, the argument the message must name, words in the message)
    ({"X": np.zeros((5, D, 1))}, "X", "shape (5, 20, 1), expected (N, 20)"),
    ({"X": np.zeros((5, D + 1))}, "X", "expected (N=5, 20)"),
    ({"y": np.zeros(4, np.int64)}, "y", "shape (4,), expected (N=5,)"),
    ({"W": np.zeros((C, D))}, "W", "shape (4, 20), expected (20, 4)"),
    ({"b": np.zeros((C, 1))}, "b", "expected (4,)"),
    ({"X": np.zeros((5, D), np.int64)}, "X", "must be a float array, got dtype int64"),
    ({"W": np.zeros((D, C), bool)}, "W", "must be a float array"),
    ({"y": np.zeros(5)}, "y", "must be an integer array, got dtype float64"),
    ({"y": np.array([0, 1, 2, 3, 4])}, "y", "index 4 out of range; expected -4 <= y < 4"),
    ({"y": np.array([0, -5, 2, 3, 0])}, "y", "index -5 out of range"),
    ({"reg": "big"}, "reg", "must be a Python float"),
]


@pytest.mark.parametrize("change,name,words", BAD_INPUTS,
                         ids=[f"{n}-{i}" for i, (_, n, _) in enumerate(BAD_INPUTS)])
def test_bad_input_raises_before_compiled_code(softmax, monkeypatch, change, name, words):
    """Each bad input is a ValueError naming the argument, raised before any kernel runs."""
    def kernel_must_not_run(*args):
        raise AssertionError("compiled code ran on invalid input")
    for kernel in ("_loss_value_kernel", "_loss_vjp_kernel", "_loss_jvp_kernel",
                   "_loss_hvp_kernel"):
        monkeypatch.setattr(softmax, kernel, kernel_must_not_run)
    args = {**good_args(), **change}
    for call in (softmax.loss, softmax.loss_value_and_grad, softmax.loss_grad):
        with pytest.raises(ValueError) as info:
            call(**args)
        message = str(info.value)
        assert f"'{name}'" in message and words in message, message


def _converted(module, values):
    """What `_prepare` gives: the converting path, which `_loss_ready` must agree with."""
    return module._prepare("loss", values)


def _values(**change):
    args = {**good_args(), "reg": 1e-3, **change}
    return tuple(args[k] for k in ("X", "y", "W", "b", "reg"))


def test_ready_arguments_are_used_as_they_are(softmax):
    for values in (_values(), _values(**good_args(dtype=np.float32))):
        ready = softmax._loss_ready(values)
        args, sizes, dtype = _converted(softmax, values)
        assert ready is not None and ready[1:] == (sizes, dtype) == ({"N": 5}, values[0].dtype)
        assert all(a is b for a, b in zip(ready[0], args))


NOT_READY = [dict(X=np.asfortranarray(good_args()["X"])),
             dict(W=good_args()["W"].astype(np.float32)), dict(y=good_args()["y"].astype(np.int32)),
             dict(reg=0), dict(b=[0.0] * C), dict(X=good_args()["X"][None]),
             dict(b=np.zeros(C + 1)), dict(y=np.zeros(4, np.int64)),
             dict(X=np.zeros((10, D))[::2]), dict(X=good_args()["X"].astype(">f8")),
             dict(W=np.zeros((D, C))[:, None, :].squeeze(1)[:, ::-1])]


@pytest.mark.parametrize("change", NOT_READY, ids=lambda c: next(iter(c)))
def test_arguments_that_need_converting_or_are_wrong_take_the_checked_path(softmax, change):
    values = _values(**change)
    assert softmax._loss_ready(values) is None
    try:
        args, sizes, dtype = _converted(softmax, values)
    except ValueError:
        with pytest.raises(ValueError):
            softmax.loss(*values)
        return
    assert all(a.flags.c_contiguous for a in args[:4]) and args[1].dtype == np.int64
    assert isinstance(args[4], float)
    # the converted arguments are ready: the same value through the fast path
    assert softmax._loss_ready(tuple(args)) is not None
    assert softmax.loss(*values) == softmax.loss(*args)


def test_negative_labels_count_from_the_end_like_numpy(softmax):
    """y = -1 is the last class, as NumPy's indexing (and so the eager run) reads it."""
    args = good_args()
    wrapped = dict(args, y=np.where(args["y"] == C - 1, -1, args["y"]))
    assert softmax.loss(**wrapped) == softmax.loss(**args)
    np.testing.assert_array_equal(softmax.loss_grad(**wrapped).W, softmax.loss_grad(**args).W)


def test_bad_cotangent_shape(softmax):
    with pytest.raises(ValueError, match=r"cotangent has shape \(3,\), expected \(\)"):
        softmax.loss_vjp(**good_args(), cotangent=np.ones(3))


CACHE_PROBE = textwrap.dedent("""
    import importlib.util, json, sys
    import numpy as np
    spec = importlib.util.spec_from_file_location("gate_adc", sys.argv[1])
    m = importlib.util.module_from_spec(spec)
    sys.modules["gate_adc"] = m
    spec.loader.exec_module(m)
    m.f(np.array(-2.0), np.array(5.0), np.array(-4.0))
    m.f_value_and_grad(np.array(-2.0), np.array(5.0), np.array(-4.0))
    stats = {k: (sum(d.stats.cache_hits.values()), sum(d.stats.cache_misses.values()))
             for k, d in (("value", m._f_value_kernel), ("vjp", m._f_vjp_kernel))}
    print(json.dumps(stats))
""")


def _probe(module_path):
    out = subprocess.run([sys.executable, "-c", CACHE_PROBE, module_path],
                         check=True, capture_output=True, text=True).stdout
    import json
    return json.loads(out.strip().splitlines()[-1])


def test_second_import_uses_numba_cache(tmp_path):
    """The first process compiles and caches the kernels; a second one loads them."""
    from adc.compiler import driver
    model = tmp_path / "gate.py"
    shutil.copy(os.path.join(SAMPLES, "gate.py"), model)
    module_path = driver.compile_file(str(model))
    first = _probe(module_path)
    assert first["value"][1] == 1 and first["vjp"][1] == 1, first  # compiled once
    second = _probe(module_path)
    assert second == {"value": [1, 0], "vjp": [1, 0]}, second  # loaded, not compiled
