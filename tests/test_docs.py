"""The docs cannot rot: their models compile and mean what they say, their worked example
runs, every language name has an example, and their `adc inspect` transcripts are the
compiler's current output.

Conventions in docs/*.md (see the top of docs/language.md):
- a ```python block containing `from adc.lang import` is a complete model file; one that
  starts with `# error: MESSAGE` must fail to compile with MESSAGE in the error;
- a model block starting with `# file: NAME.py` is saved under that name for the
  ```python blocks starting with `# run: NAME.py`, which are executed;
- a ```text block starting with `$ adc inspect ARGS` is a transcript: the rest of the
  block must be the command's output (with `(abridged)`, its lines other than `...`
  must appear in the output, in order).
"""
from __future__ import annotations

import ast
import os
import re
import shlex
import sys

import pytest
from click.testing import CliRunner

import adc
import adc.lang
from adc.cli.main import main
from adc.compiler import driver, emit
from adc.compiler.backends import numpy_ref
from adc.compiler.errors import CompileError
from adc.runtime import gradcheck

from conftest import ROOT, assert_close_rel, import_eager

DOCS = [os.path.join(ROOT, "docs", name) for name in ("language.md", "architecture.md")]
LANGUAGE = DOCS[0]


def fenced_blocks(path, lang):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return re.findall(rf"^```{lang}\n(.*?)^```", text, re.M | re.S)


def model_blocks():
    """pytest params (doc path, source), one per model in the docs."""
    out = []
    for path in DOCS:
        for k, block in enumerate(fenced_blocks(path, "python")):
            if "from adc.lang import" in block:
                out.append(pytest.param(path, block, id=f"{os.path.basename(path)}-{k}"))
    return out


def expected_error(block):
    m = re.match(r"# error: (.*)\n", block)
    return m[1] if m else None


def write(folder, name, text):
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


@pytest.mark.parametrize("doc, block", model_blocks())
def test_doc_model_compiles_and_matches_its_eager_run(doc, block, tmp_path):
    path = write(str(tmp_path), "doc_model.py", block)
    message = expected_error(block)
    if message:
        with pytest.raises(CompileError, match=re.escape(message)):
            adc.compile(path)
        return
    # Compile once; the Compiled programs drive the NumPy reference (no Numba JIT).
    text, compiled = driver.compile_source(path, block)
    emit.write_atomic(str(tmp_path / "doc_model_adc.py"), text)
    module = adc.load(str(tmp_path / "doc_model_adc.py"))
    eager = import_eager(path)   # a model file must also run as plain NumPy code
    assert module.SIGNATURES, "a documented model must have an entry point"
    for c in compiled:      # derived f_predict: checked in tests/test_samples.py
        name = c.program.name
        if c.program.predicts:
            continue
        values = gradcheck.random_inputs(module, name, seed=3)
        expected = getattr(eager, name)(**values)
        got = numpy_ref.forward(c.program, values)
        expected = expected if isinstance(expected, tuple) else (expected,)
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert_close_rel(g, e, 1e-10, atol=1e-12, what=f"{name} value")


def imported_lang_names(block):
    names = set()
    for node in ast.walk(ast.parse(block)):
        if isinstance(node, ast.ImportFrom) and node.module == "adc.lang":
            names |= {a.name for a in node.names}
    return names


def test_every_language_name_has_a_working_example():
    shown = set()
    for block in fenced_blocks(LANGUAGE, "python"):
        if "from adc.lang import" in block and not expected_error(block):
            shown |= imported_lang_names(block)
    missing = set(adc.lang.__all__) - {"Dim", "TensorType"} - shown
    assert not missing, f"docs/language.md has no compiled example of {sorted(missing)}"


def test_worked_example_runs(tmp_path, monkeypatch, capsys):
    blocks = fenced_blocks(LANGUAGE, "python")
    files = {m[1]: b for b in blocks if (m := re.match(r"# file: (\S+)\n", b))}
    runs = [(m[1], b) for b in blocks if (m := re.match(r"# run: (\S+)\n", b))]
    assert runs, "docs/language.md lost its worked example"
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name, text in files.items():
        write(str(tmp_path), name, text)
    for needs, code in runs:
        assert needs in files
        stem = needs[:-3]
        try:
            exec(compile(code, f"docs/language.md ({needs})", "exec"), {"__name__": "doc"})
        finally:
            for mod in (stem, f"{stem}_adc"):
                sys.modules.pop(mod, None)
    # the comment in the example promises this message
    assert "loss: argument 'X' has shape (5, 2), expected (N=5, 3)" in capsys.readouterr().out


def transcripts():
    out = []
    for path in DOCS:
        for block in fenced_blocks(path, "text"):
            first, _, rest = block.partition("\n")
            if first.startswith("$ adc inspect "):
                out.append(pytest.param(first, rest, id=first[2:]))
    return out


@pytest.mark.parametrize("command, shown", transcripts())
def test_inspect_transcript_is_current(command, shown, monkeypatch):
    abridged = command.endswith("(abridged)")
    args = shlex.split(command.removesuffix("(abridged)"))[2:]   # after "$ adc"
    monkeypatch.chdir(ROOT)   # transcripts use paths relative to the repository
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    hint = f"regenerate the transcript with `{' '.join(['adc'] + args)}`"
    if not abridged:
        assert result.output == shown, hint
        return
    actual = iter(result.output.splitlines())
    for line in shown.splitlines():
        if line.strip() != "...":
            assert any(line == a for a in actual), f"{line!r} not in order; {hint}"


def test_docs_say_what_is_not_supported_yet():
    with open(LANGUAGE, encoding="utf-8") as f:
        text = f.read()
    section = text[text.index("## 5. Not supported yet"):]
    for feature in ("--target", "f_jacobian"):
        assert feature in section


def test_numpy_names_table_is_what_the_frontend_accepts():
    """§2.8 is compiler/spellings.py's table, and each name in it lowers to its language
    function (and exists in NumPy / math, so the eager run calls it)."""
    import math

    import numpy

    from adc.compiler import frontend, library, spellings
    with open(LANGUAGE, encoding="utf-8") as f:
        text = f.read()
    table = text[text.index("<!-- spellings table -->\n") + 25:
                 text.index("\n<!-- end spellings table -->")]
    assert table == spellings.docs_table(), "regenerate §2.8 from spellings.docs_table()"
    source = "import numpy as np\nimport math\n"
    ctx = frontend.parse_module("names.py", source)
    lower = frontend._Lowerer(ctx, frontend.Builder())
    for kind, module, prefix in (("numpy", numpy, "np"), ("math", math, "math")):
        for attr, name in spellings.accepted(kind).items():
            assert hasattr(module, attr), f"{prefix}.{attr}"
            got = lower.expr(ast.parse(f"{prefix}.{attr}", mode="eval").body, {})
            want = library.CONSTANTS.get(name)
            assert (got == want) if want is not None else got.name == name, (attr, got)
            assert f"`{prefix}.{attr}`" in table
    with pytest.raises(CompileError, match="did you mean `np.mean`"):
        lower.expr(ast.parse("np.nanmean", mode="eval").body, {})
