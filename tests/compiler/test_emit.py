"""The emitted module: golden text, determinism, size-independence, atomic writes."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from adc.compiler import driver, emit

from conftest import ROOT, SAMPLES

GOLDEN = os.path.join(ROOT, "tests", "golden")
GOLDEN_SAMPLES = ["neuron", "mlp_mnist", "convnet"]   # each also holds its jvp and hvp kernels
UPDATE = os.environ.get("ADC_UPDATE_GOLDEN") == "1"


def generate(sample: str) -> str:
    """The module text for samples/<sample>.py, as `adc compile` would write it."""
    path = os.path.join(SAMPLES, f"{sample}.py")
    text, _ = driver.compile_source(path, driver.read_source(path))
    return text


@pytest.mark.parametrize("sample", GOLDEN_SAMPLES)
def test_golden_module(sample):
    """A change in the generated code is always a visible diff of tests/golden/.

    Regenerate after an intended change with: ADC_UPDATE_GOLDEN=1 pytest tests/compiler/test_emit.py
    """
    golden = os.path.join(GOLDEN, f"{sample}_adc.py")
    text = generate(sample)
    if UPDATE:
        emit.write_atomic(golden, text)
    with open(golden, encoding="utf-8") as f:
        expected = f.read()
    assert text == expected, (f"generated code for {sample} changed; review the diff and "
                              "regenerate with ADC_UPDATE_GOLDEN=1")


def test_golden_module_is_readable():
    """The neuron's module names the source lines and separates forward from backward."""
    text = generate("neuron")
    assert "# line 10: dot = w0 * x0 + w1 * x1 + w2" in text
    assert "# line 10 (backward): dot = w0 * x0 + w1 * x1 + w2" in text
    assert "# line 10 (tangent): dot = w0 * x0 + w1 * x1 + w2" in text
    assert "# line 10 (backward tangent): dot = w0 * x0 + w1 * x1 + w2" in text
    vjp = text[text.index("def _f_vjp_kernel"):text.index("def _f_jvp_kernel")]
    assert vjp.index("# line 11: return") < vjp.index("# line 11 (backward)") < \
        vjp.index("# line 10 (backward)")
    assert "@njit(cache=True" in text
    assert "import torch" not in text and "import jax" not in text and "adc" not in \
        [line.split()[1] for line in text.splitlines() if line.startswith("import ")]


def _compile_in_subprocess(sample: str, out: str, hashseed: str) -> bytes:
    env = dict(os.environ, PYTHONHASHSEED=hashseed)
    subprocess.run([sys.executable, "-m", "adc.cli.main", "compile",
                    os.path.join(SAMPLES, f"{sample}.py"), "-o", out],
                   check=True, env=env, capture_output=True)
    with open(out, "rb") as f:
        return f.read()


@pytest.mark.parametrize("sample", ["convnet", "batch_norm_mlp"])
def test_output_is_deterministic(sample, tmp_path):
    """Same file, two processes with different hash seeds: byte-identical modules."""
    first = _compile_in_subprocess(sample, str(tmp_path / "a.py"), "1")
    second = _compile_in_subprocess(sample, str(tmp_path / "b.py"), "987654")
    assert first == second


MLP_SMALL = {"D, H, C = 784, 256, 10": "D, H, C = 7, 5, 3"}


def _normalised(text: str) -> str:
    """The module with every integer literal and the source hash blanked out."""
    text = re.sub(r"SOURCE_SHA256 = '[0-9a-f]+'", "SOURCE_SHA256 = ...", text)
    return re.sub(r"\b\d+\b", "<int>", text)


def test_code_does_not_depend_on_tensor_sizes(tmp_path):
    """784-256-256-10 and 7-5-5-3 give the same code up to size literals: nothing is
    unrolled over tensor elements, so compile time cannot grow with the sizes.
    (bench/compile_time.py times both and prints the ratio.)"""
    path = os.path.join(SAMPLES, "mlp_mnist.py")
    big_source = driver.read_source(path)
    small_source = big_source
    for old, new in MLP_SMALL.items():
        assert old in small_source
        small_source = small_source.replace(old, new)
    small_path = str(tmp_path / "mlp_mnist.py")
    big, _ = driver.compile_source(path, big_source)
    small, _ = driver.compile_source(small_path, small_source)
    assert big != small
    assert _normalised(big) == _normalised(small)
    assert "range(784)" in big and "range(7)" in small


def test_write_atomic_replaces_whole_file(tmp_path):
    target = tmp_path / "m_adc.py"
    emit.write_atomic(str(target), "old = 1\n")
    emit.write_atomic(str(target), "new = 2\n")
    assert target.read_text() == "new = 2\n"
    assert os.listdir(tmp_path) == ["m_adc.py"], "no temporary file may be left behind"
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~emit._umask()  # not mkstemp's 0600


def test_write_atomic_leaves_an_identical_file_untouched(tmp_path):
    """Recompiling an unchanged model keeps the file's mtime, which Numba's cache checks."""
    target = tmp_path / "m_adc.py"
    emit.write_atomic(str(target), "same = 1\n")
    os.utime(target, ns=(1_000_000_000, 1_000_000_000))
    emit.write_atomic(str(target), "same = 1\n")
    assert os.stat(target).st_mtime_ns == 1_000_000_000
    emit.write_atomic(str(target), "changed = 2\n")
    assert target.read_text() == "changed = 2\n"
    assert os.stat(target).st_mtime_ns != 1_000_000_000


def test_write_atomic_crash_keeps_previous_file(tmp_path, monkeypatch):
    """A crash while writing leaves the previous module untouched and no temp file."""
    target = tmp_path / "m_adc.py"
    emit.write_atomic(str(target), "old = 1\n")

    def crash(src, dst):
        raise KeyboardInterrupt("killed mid-write")
    monkeypatch.setattr(emit.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        emit.write_atomic(str(target), "new = 2\n" * 1000)
    assert target.read_text() == "old = 1\n"
    assert os.listdir(tmp_path) == ["m_adc.py"]


def test_compile_file_failure_leaves_no_output(tmp_path):
    """A model with an error writes nothing (and keeps an existing module as it was)."""
    from adc.compiler.errors import CompileError
    model = tmp_path / "bad.py"
    model.write_text("from adc.lang import Param\n\ndef f(x: Param[3]):\n    return undefined_name\n")
    out = tmp_path / "bad_adc.py"
    with pytest.raises(CompileError):
        driver.compile_file(str(model))
    assert not out.exists()
    out.write_text("previous = True\n")
    with pytest.raises(CompileError):
        driver.compile_file(str(model))
    assert out.read_text() == "previous = True\n"
