"""Compiling a model never runs it (LANGUAGE.md section 1: the compiler only parses).

Each hostile model below would create a sentinel file if any of its code ran: through
open().write(), os.system("touch ..."), subprocess or __import__. The tests compile it
through the Python API and the CLI, then check that no sentinel exists.

Module-level code other than imports, constants, dims, definitions, docstrings and an
`if __name__ == "__main__":` block is rejected with a CompileError (LANGUAGE.md: anything
else is a compile error), rather than silently ignored; the main-guard block and unused
helpers are accepted and never run.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

import adc
from adc.cli.main import main as adc_main
from adc.compiler import driver
from adc.compiler.errors import CompileError

SENTINELS = ("BY_OPEN", "BY_SYSTEM", "BY_SUBPROCESS", "BY_IMPORT")


def write_model(tmp_path, template: str, name="model.py"):
    """The model file, with {OPEN}, {SYSTEM}, ... replaced by absolute sentinel paths."""
    paths = {s: str(tmp_path / s) for s in SENTINELS}
    path = tmp_path / name
    path.write_text(template.format(**{k: repr(v) for k, v in paths.items()}))
    return str(path)


def created_sentinels(tmp_path):
    return sorted(s for s in SENTINELS if (tmp_path / s).exists())


ALL_AT_TOP_LEVEL = '''\
import os
import subprocess
from adc.lang import Param, sum

open({BY_OPEN}, "w").write("ran")
os.system("touch " + {BY_SYSTEM})
subprocess.run(["touch", {BY_SUBPROCESS}])
__import__("os").system("touch " + {BY_IMPORT})


def loss(x: Param[3]):
    return sum(x * x)
'''

# (id, model template, line and words of the CompileError)
REJECTED = [
    ("import os first", ALL_AT_TOP_LEVEL, 1, "cannot import 'os'"),
    ("open().write() at top level", '''\
from adc.lang import Param, sum

open({BY_OPEN}, "w").write("ran")


def loss(x: Param[3]):
    return sum(x * x)
''', 3, "top-level code is not allowed"),
    ("__import__ at top level", '''\
from adc.lang import Param, sum

__import__("os").system("touch " + {BY_IMPORT})


def loss(x: Param[3]):
    return sum(x * x)
''', 3, "top-level code is not allowed"),
    ("side effect in a module constant", '''\
from adc.lang import Param, sum

K = open({BY_OPEN}, "w").write("ran")


def loss(x: Param[3]):
    return sum(x * x)
''', 3, "compile-time constant"),
    ("side effect in a size annotation", '''\
from adc.lang import Param, sum


def loss(x: Param[open({BY_OPEN}, "w").write("ran")]):
    return sum(x * x)
''', 4, "compile-time constant"),
    ("side effect in a default value", '''\
from adc.lang import Param, sum


def loss(x: Param[3], lam: float = open({BY_OPEN}, "w").write("ran")):
    return sum(x * x) * lam
''', 4, "compile-time constant"),
    ("side effect in a decorator", '''\
from adc.lang import Param, sum


@__import__("os").system
def loss(x: Param[3]):
    return sum(x * x)
''', 4, "decorators are not supported"),
    ("side effect in the entry point's body", '''\
from adc.lang import Param, sum


def loss(x: Param[3]):
    open({BY_OPEN}, "w").write("ran")
    return sum(x * x)
''', 5, "expression statement has no effect"),
    ("eval in the entry point's body", '''\
from adc.lang import Param, sum


def loss(x: Param[3]):
    k = eval("__import__('os').system('touch ' + " + repr({BY_SYSTEM}) + ")")
    return sum(x * x) * k
''', 5, "unknown function 'eval'"),
]

# Valid models whose extra code is never part of what is compiled.
ACCEPTED = [
    ("side effects under the main guard", '''\
from adc.lang import Param, sum


def loss(x: Param[3]):
    return sum(x * x)


if __name__ == "__main__":
    open({BY_OPEN}, "w").write("ran")
    __import__("os").system("touch " + {BY_SYSTEM})
'''),
    ("side effects in a helper nobody calls", '''\
from adc.lang import Param, sum


def _never_called():
    open({BY_OPEN}, "w").write("ran")
    return 1


def loss(x: Param[3]):
    return sum(x * x)
'''),
]


def test_sentinel_model_does_write_files_when_run_as_python(tmp_path):
    """Control: the hostile model really runs its side effects under Python, so a missing
    sentinel below means the compiler did not run it (not that the payload is broken)."""
    path = write_model(tmp_path, ALL_AT_TOP_LEVEL)
    subprocess.run([sys.executable, path], check=True, cwd=tmp_path, timeout=120)
    assert created_sentinels(tmp_path) == sorted(SENTINELS)


@pytest.mark.parametrize("template, line, words", [c[1:] for c in REJECTED],
                         ids=[c[0] for c in REJECTED])
def test_rejected_model_runs_nothing_through_the_api(tmp_path, monkeypatch, template, line,
                                                     words):
    monkeypatch.chdir(tmp_path)  # relative writes, if any ran, would land here too
    path = write_model(tmp_path, template)
    with pytest.raises(CompileError) as info:
        driver.compile_source(path, driver.read_source(path))
    assert info.value.line == line and words in info.value.message, info.value.format()
    with pytest.raises(CompileError):
        adc.compile(path, str(tmp_path / "model_adc.py"))
    assert created_sentinels(tmp_path) == []
    assert sorted(os.listdir(tmp_path)) == ["model.py"], "nothing may be written"


@pytest.mark.parametrize("template, line, words", [c[1:] for c in REJECTED],
                         ids=[c[0] for c in REJECTED])
def test_rejected_model_runs_nothing_through_the_cli(tmp_path, monkeypatch, template, line,
                                                     words):
    monkeypatch.chdir(tmp_path)
    path = write_model(tmp_path, template)
    result = CliRunner().invoke(adc_main, ["compile", path])
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1, result.output
    assert f"{path}:{line}:" in result.stderr and words in result.stderr
    assert "Traceback" not in result.output
    assert created_sentinels(tmp_path) == []
    assert sorted(os.listdir(tmp_path)) == ["model.py"]


def test_hostile_model_runs_nothing_through_the_adc_command(tmp_path):
    """The real `adc compile` process, as a user runs it."""
    path = write_model(tmp_path, ALL_AT_TOP_LEVEL)
    proc = subprocess.run([sys.executable, "-m", "adc.cli.main", "compile", path],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "cannot import 'os'" in proc.stderr and "Traceback" not in proc.stderr
    assert created_sentinels(tmp_path) == []


@pytest.mark.parametrize("template", [c[1] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_code_outside_the_entry_points_is_never_run(tmp_path, monkeypatch, template):
    """Compiles, and neither compiling nor importing the generated module runs it."""
    monkeypatch.chdir(tmp_path)
    path = write_model(tmp_path, template)
    module = adc.compile(path, str(tmp_path / "model_adc.py"))  # writes and imports
    assert "loss" in module.SIGNATURES
    result = CliRunner().invoke(adc_main, ["compile", path, "-o",
                                           str(tmp_path / "cli_adc.py")])
    assert result.exit_code == 0, result.output
    assert created_sentinels(tmp_path) == []
    generated = (tmp_path / "model_adc.py").read_text()
    assert "open(" not in generated and "os.system" not in generated


def test_main_guard_body_is_not_copied_into_the_generated_code(tmp_path):
    path = write_model(tmp_path, ACCEPTED[0][1])
    text, _ = driver.compile_source(path, driver.read_source(path))
    assert "BY_OPEN" not in text and "BY_SYSTEM" not in text


def test_model_file_name_cannot_inject_code(tmp_path, monkeypatch):
    """The file name appears in docstrings and comments: quotes must not end them."""
    monkeypatch.chdir(tmp_path)
    name = 'm""";open("BY_OPEN", "w").write("ran");"""x.py'
    path = write_model(tmp_path, "from adc.lang import Param\n\n\n"
                       "def f(x: Param[()]):\n    return x * x\n", name=name)
    adc.compile(path, str(tmp_path / "out_adc.py"))
    assert created_sentinels(tmp_path) == []
