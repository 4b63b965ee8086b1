"""The `adc` command line (LANGUAGE.md §4) and `adc.compile` (§3), end to end.

Commands run in-process through click's CliRunner on `adc.cli.main`; two tests run the
installed `adc` console script in a real subprocess. Models are copied into a temporary
folder so that default outputs (`NAME_adc.py` beside the model) never land in samples/.
"""
from __future__ import annotations

import glob
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp
from click.testing import CliRunner

import adc
from adc.cli.main import main

from conftest import ROOT, SAMPLES

NEURON_AT = ["--at", "w0=2", "--at", "x0=-1", "--at", "w1=-3", "--at", "x1=-2",
             "--at", "w2=-3"]

TWO_ENTRIES = """\
from adc.lang import Param, Data, sum

def f(w: Param[3], x: Data[3]):
    return sum(w * x)

def g(w: Param[3], x: Data[3]):
    return sum(w * w * x)
"""

# Non-scalar outputs: `adc check` must go through the VJP (a matrix and a tuple).
VECTOR_MODEL = """\
from adc.lang import Param, Data, dim

N = dim("N")

def affine(W: Param[4, 3], b: Param[3], X: Data[N, 4]):
    return X @ W + b

def pair(a: Param[N], c: Param[N]):
    return a * c, a * a - c
"""

BAD_MODEL = """\
from adc.lang import Param

def f(x: Param[3]):
    while True:
        pass
    return x
"""


# ---- helpers -------------------------------------------------------------------------
def run(*args):
    """Invoke `adc ARGS...` in-process; exceptions become the result, never propagate."""
    return CliRunner().invoke(main, [str(a) for a in args])


def copy_sample(name, folder):
    dest = os.path.join(folder, f"{name}.py")
    shutil.copy(os.path.join(SAMPLES, f"{name}.py"), dest)
    return dest


def write_model(folder, name, text):
    path = os.path.join(folder, f"{name}.py")
    with open(path, "w") as f:
        f.write(text)
    return path


def assert_clean_user_error(result, *expected):
    """Exit 1, the expected words, one paragraph, and no Python traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), f"crashed: {result.exception!r}"
    assert "Traceback" not in result.output
    message = result.stderr.strip()
    assert message and "\n\n" not in message, f"not one paragraph:\n{message}"
    for word in expected:
        assert word in message, f"{word!r} not in:\n{message}"


def adc_script():
    """The installed console script (beside the interpreter in a venv or pyenv)."""
    beside = os.path.join(os.path.dirname(sys.executable), "adc")
    return beside if os.path.exists(beside) else shutil.which("adc")


@pytest.fixture
def folder(tmp_path):
    return str(tmp_path)


@pytest.fixture(scope="module")
def neuron_check():
    """One `adc check` of the course's neuron at the course's point (JIT once)."""
    return run("check", os.path.join(SAMPLES, "neuron.py"), *NEURON_AT)


# ---- adc compile -----------------------------------------------------------------------
def test_compile_writes_name_adc_beside_the_model(folder, monkeypatch):
    model = copy_sample("gate", folder)
    monkeypatch.chdir(os.path.dirname(SAMPLES))  # not the model's folder
    result = run("compile", model)
    assert result.exit_code == 0, result.output
    expected = os.path.join(folder, "gate_adc.py")
    assert os.path.isfile(expected)
    assert f"wrote {expected}" in result.output
    assert sorted(os.listdir(folder)) == ["gate.py", "gate_adc.py"]  # nothing half-written


def test_compile_dash_o_writes_exactly_there(folder):
    model = copy_sample("gate", folder)
    os.mkdir(os.path.join(folder, "build"))
    out = os.path.join(folder, "build", "my_gate.py")
    result = run("compile", model, "-o", out)
    assert result.exit_code == 0, result.output
    assert os.path.isfile(out)
    assert not os.path.exists(os.path.join(folder, "gate_adc.py"))
    assert adc.load(out).SIGNATURES["f"]["wrt"] == ["x", "y", "z"]


def test_compile_target_cpu_is_the_default(folder):
    model = copy_sample("gate", folder)
    explicit = os.path.join(folder, "explicit.py")
    assert run("compile", model, "--target", "cpu", "-o", explicit).exit_code == 0
    assert run("compile", model).exit_code == 0
    with open(explicit) as a, open(os.path.join(folder, "gate_adc.py")) as b:
        assert a.read() == b.read()


def test_compile_function_selects_entry_points(folder):
    model = write_model(folder, "two", TWO_ENTRIES)
    both, only_g = os.path.join(folder, "both.py"), os.path.join(folder, "only_g.py")
    assert run("compile", model, "-o", both).exit_code == 0
    assert run("compile", model, "--function", "g", "-o", only_g).exit_code == 0
    assert set(adc.load(both).SIGNATURES) == {"f", "g"}
    selected = adc.load(only_g)
    assert set(selected.SIGNATURES) == {"g"}
    assert not hasattr(selected, "f_grad")


def test_compile_unknown_function_is_a_user_error(folder):
    model = write_model(folder, "two", TWO_ENTRIES)
    assert_clean_user_error(run("compile", model, "--function", "nope"), "nope", "f, g")


def test_compile_wrt_adds_a_data_gradient(folder):
    model = write_model(folder, "two", TWO_ENTRIES)
    out = os.path.join(folder, "wrt.py")
    assert run("compile", model, "--wrt", "x", "-o", out).exit_code == 0
    module = adc.load(out)
    assert module.SIGNATURES["f"]["wrt"] == ["w", "x"]
    assert module.f_Grads._fields == ("w", "x")


def test_compile_wrt_of_an_unknown_argument_is_a_user_error(folder):
    model = copy_sample("gate", folder)
    assert_clean_user_error(run("compile", model, "--wrt", "q"), "--wrt q")


@pytest.mark.parametrize("target", ["cuda", "all"])
def test_compile_target_cuda_gives_cuda_entry_points_or_a_clean_error(target, folder):
    # The CUDA backend is its own issue: until it lands, asking for it must fail cleanly;
    # once it has, the module carries the `_cuda` twins (and, for `all`, the CPU ones).
    model = copy_sample("gate", folder)
    result = run("compile", model, "--target", target)
    if result.exit_code != 0:
        assert_clean_user_error(result, target)
        assert os.listdir(folder) == ["gate.py"]
        return
    with open(os.path.join(folder, "gate_adc.py")) as f:
        text = f.read()
    assert "def f_cuda(" in text and "def f_value_and_grad_cuda(" in text
    if target == "all":
        assert "def f_value_and_grad(" in text


def test_compile_refuses_to_overwrite_the_model(folder):
    model = copy_sample("gate", folder)
    with open(model) as f:
        before = f.read()
    result = run("compile", model, "-o", model)
    assert result.exit_code == 2
    with open(model) as f:
        assert f.read() == before


def test_compile_creates_missing_folders(folder):
    """`-o build/m.py` on a fresh clone (no build/): the folders are made, atomically."""
    model = copy_sample("gate", folder)
    out = os.path.join(folder, "no", "such", "dir", "m.py")
    result = run("compile", model, "-o", out)
    assert result.exit_code == 0, result.output
    assert os.path.isfile(out)
    assert os.listdir(os.path.dirname(out)) == ["m.py"]   # no temporary file left


def test_compile_under_a_file_is_a_user_error(folder):
    model = copy_sample("gate", folder)
    out = os.path.join(model, "m.py")          # a "folder" that is a file
    assert_clean_user_error(run("compile", model, "-o", out), out, "cannot write")


# ---- adc inspect -----------------------------------------------------------------------
@pytest.mark.parametrize("show", ["ir", "grad", "code", "formulas", "graph"])
def test_inspect_every_view_succeeds(show):
    result = run("inspect", os.path.join(SAMPLES, "mlp2_relu.py"), "--show", show)
    assert result.exit_code == 0, result.output
    assert result.output.strip()


def test_inspect_ir_of_the_neuron():
    result = run("inspect", os.path.join(SAMPLES, "neuron.py"), "--show", "ir")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "# f(w0, x0, w1, x1, w2)"
    assert "# line 10: dot = w0 * x0 + w1 * x1 + w2" in lines
    assert "out[0] = sigmoid(dot[0])" in lines      # the rewrite of 1/(1 + exp(-dot))
    assert lines[-1] == "return out"


def test_inspect_grad_of_the_neuron_has_one_adjoint_per_input():
    result = run("inspect", os.path.join(SAMPLES, "neuron.py"), "--show", "grad")
    assert result.exit_code == 0, result.output
    adjoints = [ln for ln in result.output.splitlines() if re.match(r"d_\w+\[0\] \+=", ln)]
    assert sorted(ln.split("[")[0] for ln in adjoints) == \
        ["d_dot", "d_w0", "d_w1", "d_w2", "d_x0", "d_x1"]
    assert "return w0 -> d_w0, x0 -> d_x0, w1 -> d_w1, x1 -> d_x1, w2 -> d_w2" in result.output


def test_inspect_code_is_the_module_that_compile_writes(folder):
    model = copy_sample("neuron", folder)
    shown = run("inspect", model, "--show", "code")
    assert shown.exit_code == 0
    assert run("compile", model).exit_code == 0
    with open(os.path.join(folder, "neuron_adc.py")) as f:
        assert shown.output == f.read()


def test_inspect_formulas_of_the_gate_are_the_course_s():
    result = run("inspect", os.path.join(SAMPLES, "gate.py"), "--show", "formulas")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "q = x + y", "f = q * z", "df/dq = z", "df/dx = z", "df/dy = z", "df/dz = q"]


def test_inspect_formulas_of_a_tensor_model_use_index_notation():
    result = run("inspect", os.path.join(SAMPLES, "linear_regression.py"), "--show", "formulas")
    assert result.exit_code == 0, result.output
    # the adjoint of the matrix-vector product X @ w, composed with mse's 2*(pred - y)/N
    assert re.search(r"^dloss/dw\[(\w)\] = 2\*sum_(\w)\(X\[\2, \1\]\*\(pred\[\2\] - y\[\2\]\)\)/N$",
                     result.output, re.M), result.output


def dot_nodes_and_edges(text):
    """Declared node names and (source, target) edges of our DOT output."""
    nodes = re.findall(r'^\s*"(\w+)" \[', text, re.M)
    edges = re.findall(r'^\s*"(\w+)" -> "(\w+)"', text, re.M)
    return nodes, edges


def assert_balanced_braces(text):
    depth = 0
    for ch in re.sub(r'"(\\.|[^"\\])*"', "", text):  # braces inside labels do not count
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0


@pytest.mark.parametrize("sample, inputs", [
    ("neuron", ["w0", "x0", "w1", "x1", "w2"]),
    ("mlp2_relu", ["X", "y", "W1", "b1", "W2", "b2"]),
])
def test_inspect_graph_is_valid_dot(sample, inputs):
    result = run("inspect", os.path.join(SAMPLES, f"{sample}.py"), "--show", "graph")
    assert result.exit_code == 0, result.output
    text = result.output.strip()
    assert text.startswith("digraph")
    assert_balanced_braces(text)
    nodes, edges = dot_nodes_and_edges(text)
    assert len(nodes) == len(set(nodes)), "a node is declared twice"
    assert set(inputs) <= set(nodes)
    for src, dst in edges:
        assert src in nodes and dst in nodes, (src, dst)
    for name in inputs:  # every input feeds something
        assert any(src == name for src, _ in edges), name


def graph_numbers(text):
    """{node: (value, gradient)} from the labels of `--show graph --at ...`."""
    found = re.findall(r'^\s*"(\w+)" \[.*?<b>\w+</b><br/>([^<]+)<br/><font color="#c0392b">'
                       r'grad ([^<]+)</font>', text, re.M)
    return {name: (float(value), float(grad)) for name, value, grad in found}


def test_the_course_gate_graph_shows_its_numbers():
    """The course's figure: f = (x + y) z at x=-2, y=5, z=-4: q = 3, f = -12, gradients
    df/dx = df/dy = z = -4, df/dz = q = 3, df/dq = z = -4 (by hand, not by adc)."""
    result = run("inspect", os.path.join(SAMPLES, "gate.py"), "--show", "graph",
                 "--at", "x=-2", "--at", "y=5", "--at", "z=-4")
    assert result.exit_code == 0, result.output
    assert_balanced_braces(result.output)
    assert graph_numbers(result.output) == {"x": (-2, -4), "y": (5, -4), "z": (-4, 3),
                                            "q": (3, -4), "out": (-12, 1)}
    assert '"q" -> "out" [label="q*z"]' in result.output


def test_the_course_neuron_graph_shows_its_numbers():
    """sigmoid(w0 x0 + w1 x1 + w2) at the course's point: 0.73, and the gradients
    x0 s(1-s), w0 s(1-s), ... with s(1-s) = 0.1966 (hand-derived)."""
    at = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
    result = run("inspect", os.path.join(SAMPLES, "neuron.py"), "--show", "graph",
                 *[f"--at={k}={v}" for k, v in at.items()])
    assert result.exit_code == 0, result.output
    numbers = graph_numbers(result.output)
    s = 1 / (1 + np.exp(-(2 * -1 + -3 * -2 - 3)))
    local = s * (1 - s)
    expected = {"w0": at["x0"] * local, "x0": at["w0"] * local, "w1": at["x1"] * local,
                "x1": at["w1"] * local, "w2": local}
    for name, grad in expected.items():
        assert numbers[name][0] == at[name]
        assert abs(numbers[name][1] - grad) < 1e-3, (name, numbers[name], grad)
    assert abs(numbers["out"][0] - s) < 1e-4


def test_a_tensor_graph_shows_shapes_and_summaries(folder):
    result = run("inspect", os.path.join(SAMPLES, "mlp2_relu.py"), "--show", "graph",
                 "--at", "b1=0.5", "--size", "N=4")
    assert result.exit_code == 0, result.output
    assert re.search(r'"b1" \[.*\[\d+\] mean 0\.5, max \|\.\| 0\.5', result.output)
    assert "grad [" in result.output


def test_the_graph_is_written_as_dot_and_svg_needs_graphviz(folder, monkeypatch):
    dot = os.path.join(folder, "sub", "gate.dot")
    result = run("inspect", os.path.join(SAMPLES, "gate.py"), "--show", "graph",
                 "--at", "x=-2", "-o", dot)
    assert result.exit_code == 0, result.output
    assert open(dot).read().startswith('digraph "f"')
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = run("inspect", os.path.join(SAMPLES, "gate.py"), "--show", "graph",
                 "-o", os.path.join(folder, "gate.svg"))
    assert result.exit_code == 1
    assert "needs Graphviz's `dot` program" in result.output and "apt install graphviz" in \
        result.output
    assert not os.path.exists(os.path.join(folder, "gate.svg"))


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_the_graph_renders_as_svg_with_graphviz(folder):
    svg = os.path.join(folder, "gate.svg")
    result = run("inspect", os.path.join(SAMPLES, "gate.py"), "--show", "graph",
                 "--at", "x=-2", "--at", "y=5", "--at", "z=-4", "-o", svg)
    assert result.exit_code == 0, result.output
    assert "<svg" in open(svg).read() and "-12" in open(svg).read()


@pytest.mark.parametrize("args, message", [
    (["--at", "q=1"], "'f' has no argument named 'q' (its arguments: x, y, z)"),
    (["--at", "x=abc"], "is not a number"),
    (["-o", "g.pdf"], "the graph is written as .dot, .svg or .png"),
])
def test_graph_options_are_checked(args, message):
    result = run("inspect", os.path.join(SAMPLES, "gate.py"), "--show", "graph", *args)
    assert result.exit_code == 2 and message in result.output, result.output


def test_at_goes_with_show_graph():
    result = run("inspect", os.path.join(SAMPLES, "gate.py"), "--at", "x=1")
    assert result.exit_code == 2 and "--at and -o go with --show graph" in result.output


def test_inspect_function_selects_one_entry_point(folder):
    model = write_model(folder, "two", TWO_ENTRIES)
    result = run("inspect", model, "--function", "g")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# g(w, x)")
    assert "# f(" not in result.output


# ---- adc check -------------------------------------------------------------------------
def check_tables(output):
    """{"grad" | "jvp" | "hvp": {label: (first element, rel. error, status)}} from the
    tables of `adc check` (`  argument  shape  grad[0]  rel. error` starts one; the rows
    of every entry point are merged)."""
    tables, current = {}, None
    for line in output.splitlines():
        header = re.match(r"  (?:argument|output)\s+shape\s+(\w+)\[0\]\s+rel\. error", line)
        if header:
            current = tables.setdefault(header[1], {})
            continue
        m = re.fullmatch(r"  (\w+(?: #\d+)?)\s+(\(.*?\))\s+(\S+)\s+(\S+)\s+(ok|FAIL)", line)
        if m and current is not None:
            current[m[1]] = (float(m[3]), float(m[4]), m[5])
    return tables


def table_rows(output):
    """{argument: (grad[0], rel. error, status)} from the gradient tables."""
    return check_tables(output).get("grad", {})


def statuses(output, kind):
    return {status for _, _, status in check_tables(output).get(kind, {}).values()}


def value_rows(output):
    """{label: (compiled, eager, rel. error, status)} from the value rows of the check table
    (`  value  compiled 0.73  eager 0.73  rel. error 0.00e+00  ok`; `[0]` for arrays)."""
    pattern = (r"^  (value(?: #\d+)?)\s+compiled(?:\[0\])? (\S+)\s+eager(?:\[0\])? (\S+)"
               r"\s+rel\. error (\S+)  (ok|FAIL)$")
    return {m[1]: (float(m[2]), float(m[3]), float(m[4]), m[5])
            for m in re.finditer(pattern, output, re.M)}


def test_check_the_neuron_at_the_course_point(neuron_check):
    assert neuron_check.exit_code == 0, neuron_check.output
    value = float(re.search(r"^f = (\S+)$", neuron_check.output, re.M)[1])
    assert round(value, 2) == 0.73
    rows = table_rows(neuron_check.output)
    assert list(rows) == ["w0", "x0", "w1", "x1", "w2"]
    assert [round(g, 2) for g, _, _ in rows.values()] == [-0.20, 0.39, -0.39, -0.59, 0.20]
    assert all(err <= 1e-6 and status == "ok" for _, err, status in rows.values())
    compiled, eager, err, status = value_rows(neuron_check.output)["value"]
    assert round(compiled, 6) == round(eager, 6) == 0.731059
    assert err <= 1e-12 and status == "ok"
    assert "check passed: values match the eager NumPy run, gradients, JVPs and HVPs match" \
        in neuron_check.output


def check_directions(names, point, seed=0):
    """The tangent u and the vector v `adc check` draws for scalar arguments `names`."""
    from types import SimpleNamespace
    from adc.runtime import gradcheck
    module = SimpleNamespace(SIGNATURES={"f": {"wrt": names}})
    return [{n: float(x) for n, x in gradcheck.random_direction(module, "f", point, seed,
                                                                stream).items()}
            for stream in (0, 1)]


def test_check_jvp_and_hvp_rows_of_the_neuron_are_its_derivatives(neuron_check):
    names = ["w0", "x0", "w1", "x1", "w2"]
    point = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
    u, v = check_directions(names, point)
    sym = {n: sp.Symbol(n, real=True) for n in names}
    f = 1 / (1 + sp.exp(-(sym["w0"] * sym["x0"] + sym["w1"] * sym["x1"] + sym["w2"])))
    at = {sym[n]: x for n, x in point.items()}
    jvp = sum(float(sp.diff(f, sym[n]).subs(at)) * u[n] for n in names)
    hvp = {a: sum(float(sp.diff(f, sym[a], sym[n]).subs(at)) * v[n] for n in names)
           for a in names}
    tables = check_tables(neuron_check.output)
    assert list(tables) == ["grad", "jvp", "hvp"]
    (label, (first, err, status)), = tables["jvp"].items()
    assert label == "value" and status == "ok" and err <= 1e-6
    assert first == pytest.approx(jvp, rel=1e-5)
    assert list(tables["hvp"]) == names
    for a, (first, err, status) in tables["hvp"].items():
        assert status == "ok" and err <= 1e-4, a
        assert first == pytest.approx(hvp[a], rel=1e-5, abs=1e-6), a
    assert "(f_jvp along a random u)" in neuron_check.output
    assert "(f_hvp with a random v, --hvp-tol 0.0001)" in neuron_check.output


def test_check_the_gate_at_the_course_point():
    result = run("check", os.path.join(SAMPLES, "gate.py"),
                 "--at", "x=-2", "--at", "y=5", "--at", "z=-4")
    assert result.exit_code == 0, result.output
    assert value_rows(result.output)["value"] == (-12.0, -12.0, 0.0, "ok")
    assert {n: g for n, (g, _, _) in table_rows(result.output).items()} == \
        {"x": -4.0, "y": -4.0, "z": 3.0}
    # f = (x + y) z: J u = z (u_x + u_y) + (x + y) u_z; H v = (v_z, v_z, v_x + v_y)
    u, v = check_directions(["x", "y", "z"], {"x": -2.0, "y": 5.0, "z": -4.0})
    tables = check_tables(result.output)
    assert tables["jvp"]["value"][0] == pytest.approx(
        -4 * (u["x"] + u["y"]) + 3 * u["z"], rel=1e-5)
    assert {n: first for n, (first, _, _) in tables["hvp"].items()} == pytest.approx(
        {"x": v["z"], "y": v["z"], "z": v["x"] + v["y"]}, rel=1e-5)
    assert statuses(result.output, "jvp") == statuses(result.output, "hvp") == {"ok"}


def corrupt_on_load(monkeypatch, wrapper_name, corrupt):
    """Make `adc.load` (used by adc.compile, hence by `adc check`) return a module whose
    `wrapper_name` function gives a wrong gradient for the first parameter."""
    real_load = adc.load

    def load(path):
        module = real_load(path)
        for fname in module.SIGNATURES:
            name = wrapper_name.format(f=fname)
            if hasattr(module, name):
                setattr(module, name, corrupt(getattr(module, name)))
        return module
    monkeypatch.setattr(adc, "load", load)


def scale_first_gradient(grads):
    first = grads._fields[0]
    return grads._replace(**{first: np.asarray(getattr(grads, first)) * 1.01})


def test_check_fails_with_exit_1_on_a_wrong_gradient(monkeypatch):
    def corrupt(value_and_grad):
        def wrong(*args, **kw):
            value, grads = value_and_grad(*args, **kw)
            return value, scale_first_gradient(grads)
        return wrong
    corrupt_on_load(monkeypatch, "{f}_value_and_grad", corrupt)
    result = run("check", os.path.join(SAMPLES, "neuron.py"), *NEURON_AT)
    assert result.exit_code == 1, result.output
    rows = table_rows(result.output)
    assert rows["w0"][2] == "FAIL" and rows["w0"][1] > 1e-3
    assert all(status == "ok" for name, (_, _, status) in rows.items() if name != "w0")
    assert "gradient check failed" in result.stderr
    assert value_rows(result.output)["value"][3] == "ok"


def test_check_non_scalar_outputs_through_the_vjp(folder):
    model = write_model(folder, "vector", VECTOR_MODEL)
    result = run("check", model, "--size", "N=5")
    assert result.exit_code == 0, result.output
    assert "affine: output shape (5, 3), not a scalar: checking affine_vjp" in result.output
    assert "pair: output shape (5,), (5,), not a scalar: checking pair_vjp" in result.output
    rows = table_rows(result.output)
    assert set(rows) == {"W", "b", "a", "c"}
    assert all(err <= 1e-6 and status == "ok" for _, err, status in rows.values())
    # one value row per output, each compared element by element with the eager run
    values = value_rows(result.output)
    assert set(values) == {"value", "value #1", "value #2"}
    assert all(err <= 1e-12 and status == "ok" for _, _, err, status in values.values())


def test_check_catches_a_wrong_vjp(folder, monkeypatch):
    def corrupt(vjp):
        return lambda *args, **kw: scale_first_gradient(vjp(*args, **kw))
    corrupt_on_load(monkeypatch, "{f}_vjp", corrupt)
    model = write_model(folder, "vector", VECTOR_MODEL)
    result = run("check", model, "--function", "affine")
    assert result.exit_code == 1, result.output
    rows = table_rows(result.output)
    assert rows["W"][2] == "FAIL" and rows["b"][2] == "ok"


def scale_tangent(jvp, k=0, factor=1.01, value_factor=1.0):
    """f_jvp with its k-th tangent (of a tuple output) scaled, and its value(s) too."""
    def wrong(*args, **kw):
        value, tangent = jvp(*args, **kw)
        if isinstance(tangent, tuple):
            return (tuple(np.asarray(x) * value_factor for x in value),
                    tuple(np.asarray(t) * (factor if i == k else 1.0)
                          for i, t in enumerate(tangent)))
        return value * value_factor, np.asarray(tangent) * factor
    return wrong


def test_check_catches_a_wrong_jvp(monkeypatch):
    corrupt_on_load(monkeypatch, "{f}_jvp", scale_tangent)
    result = run("check", os.path.join(SAMPLES, "neuron.py"), *NEURON_AT)
    assert result.exit_code == 1, result.output
    first, err, status = check_tables(result.output)["jvp"]["value"]
    assert status == "FAIL" and 5e-3 < err < 2e-2       # 1% off
    assert statuses(result.output, "grad") == statuses(result.output, "hvp") == {"ok"}
    assert value_rows(result.output)["value"][3] == "ok"
    assert result.stderr.strip() == "JVP check failed: a relative error of f_jvp exceeds 1e-06"


def test_check_catches_a_jvp_whose_value_is_wrong(monkeypatch):
    corrupt_on_load(monkeypatch, "{f}_jvp",
                    lambda jvp: scale_tangent(jvp, factor=1.0, value_factor=1.01))
    result = run("check", os.path.join(SAMPLES, "neuron.py"), *NEURON_AT)
    assert result.exit_code == 1, result.output
    assert check_tables(result.output)["jvp"]["value"][2] == "FAIL"
    assert "JVP check failed: a relative error of f_jvp exceeds 1e-06 (its value differs " \
           "from the eager NumPy run of f: rel. error 9.90e-03)" in result.stderr


def test_check_catches_a_wrong_jvp_of_one_output_of_several(folder, monkeypatch):
    corrupt_on_load(monkeypatch, "{f}_jvp", lambda jvp: scale_tangent(jvp, k=1))
    result = run("check", write_model(folder, "vector", VECTOR_MODEL), "--function", "pair")
    assert result.exit_code == 1, result.output
    jvp = check_tables(result.output)["jvp"]
    assert jvp["value #1"][2] == "ok" and jvp["value #2"][2] == "FAIL"
    assert "JVP check failed: a relative error of pair_jvp exceeds" in result.stderr


def test_check_catches_a_wrong_hvp(monkeypatch):
    corrupt_on_load(monkeypatch, "{f}_hvp",
                    lambda hvp: lambda *a, **kw: scale_first_gradient(hvp(*a, **kw)))
    result = run("check", os.path.join(SAMPLES, "neuron.py"), *NEURON_AT)
    assert result.exit_code == 1, result.output
    hvp = check_tables(result.output)["hvp"]
    assert hvp["w0"][2] == "FAIL" and hvp["w0"][1] > 1e-3
    assert {n for n, (_, _, status) in hvp.items() if status == "FAIL"} == {"w0"}
    assert statuses(result.output, "grad") == statuses(result.output, "jvp") == {"ok"}
    assert result.stderr.strip() == \
        "HVP check failed: a relative error of f_hvp exceeds 0.0001 (--hvp-tol)"


def test_check_compares_jvp_and_hvp_with_the_eager_run_not_the_module(monkeypatch):
    # f, its tangent and its H.v all doubled (f_jvp's value left right): consistent with
    # each other, so differences of the compiled f would pass them. The eager run does not.
    corrupt_on_load(monkeypatch, "{f}", lambda f: lambda *a, **kw: 2 * f(*a, **kw))
    corrupt_on_load(monkeypatch, "{f}_jvp", lambda jvp: scale_tangent(jvp, factor=2.0))
    corrupt_on_load(monkeypatch, "{f}_hvp", lambda hvp: lambda *a, **kw: hvp(*a, **kw)._replace(
        **{n: 2 * np.asarray(h) for n, h in hvp(*a, **kw)._asdict().items()}))
    result = run("check", os.path.join(SAMPLES, "neuron.py"), *NEURON_AT)
    assert result.exit_code == 1, result.output
    assert value_rows(result.output)["value"][3] == "FAIL"
    assert statuses(result.output, "jvp") == statuses(result.output, "hvp") == {"FAIL"}
    assert "(its value differs" not in result.stderr
    assert "JVP check failed" in result.stderr and "HVP check failed" in result.stderr


def test_second_differences_are_h_times_v():
    # f = sum(sin(x)) + x.A.x / 2 + sum(x) y: H v = (A - diag(sin x)) v over x, and
    # (H v)_y = sum(v_x) for the scalar y
    from adc.runtime import gradcheck
    rng = np.random.default_rng(3)
    a = rng.standard_normal((6, 6))
    a += a.T

    def f(x, y):
        return float(np.sum(np.sin(x)) + x @ a @ x / 2 + np.sum(x) * y)
    values = {"x": rng.standard_normal(6), "y": 0.5}
    v = {"x": rng.standard_normal(6), "y": np.asarray(rng.standard_normal())}
    expected = {"x": a @ v["x"] - np.sin(values["x"]) * v["x"] + v["y"], "y": v["x"].sum()}
    for name, points in (("x", np.arange(6)), ("y", np.arange(1))):
        for eps in gradcheck.HVP_STEPS[:4]:
            got = gradcheck.second_differences(f, values, v, name, eps, points)
            assert np.allclose(got, expected[name], rtol=1e-5, atol=1e-5), (name, eps)
        ladder = [gradcheck.second_differences(f, values, v, name, eps, points)
                  for eps in gradcheck.HVP_STEPS]
        best = gradcheck.most_consistent(ladder)
        assert np.max(np.abs(best - expected[name])) <= 1e-7 * np.max(np.abs(expected[name]))
    assert values == {"x": values["x"], "y": 0.5}          # the point is left as it was


@pytest.mark.parametrize("ladder, pick", [
    # rounding noise falling with the step, then truncation, then a kink
    ([1.001, 1.00001, 1.0000001, 1.00001, 5.0], 2),
    # a kink right after the smallest steps: keep them
    ([1.0000001, 1.0000002, 3.0, 4.0], 0),
    # nan where the larger steps leave the domain
    ([1.00001, 1.0000001, np.nan, np.nan], 0),
])
def test_most_consistent_keeps_the_rung_that_agrees_with_its_neighbour(ladder, pick):
    from adc.runtime import gradcheck
    rungs = [np.array([x, 2 * x]) for x in ladder]
    assert np.array_equal(gradcheck.most_consistent(rungs), rungs[pick])


# `adc check` compiles from scratch each time (20-50 s a sample); every sample's gradients
# are checked by tests/test_samples.py and tests/test_modes.py, so the command runs on
# samples of each kind (ADC_CHECK_ALL=1: every sample).
CHECKED = ["neuron", "svm", "softmax_classifier", "batch_norm_mlp", "digits_rnn"]
SAMPLE_FILES = sorted(glob.glob(os.path.join(SAMPLES, "*.py"))) \
    if os.environ.get("ADC_CHECK_ALL") == "1" else \
    [os.path.join(SAMPLES, f"{n}.py") for n in CHECKED]


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: os.path.basename(p)[:-3])
def test_check_passes_on_every_sample(path):
    """Samples of each kind at the default point and seed: values, gradients, JVPs, HVPs."""
    result = run("check", path)
    assert result.exit_code == 0, result.output + result.stderr
    tables = check_tables(result.output)
    assert tables.get("grad") and tables.get("jvp") and tables.get("hvp"), result.output
    assert "FAIL" not in result.output


def test_check_an_entry_point_that_writes_into_its_argument(folder):
    # Run eagerly, `w += 1.0` changes the caller's array: every eager call gets its own,
    # or the finite differences would be taken around a point that moves.
    model = write_model(folder, "inplace", "from adc.lang import Param, sum\n\n"
                        "def f(w: Param[3]):\n    w += 1.0\n    return sum(w * w)\n")
    result = run("check", model)
    assert result.exit_code == 0, result.output + result.stderr
    assert statuses(result.output, "grad") == statuses(result.output, "hvp") == {"ok"}


def test_check_tolerance_is_honoured():
    # Finite differences are never exact for the (nonlinear) neuron: errors are ~1e-11.
    result = run("check", os.path.join(SAMPLES, "neuron.py"), *NEURON_AT, "--tol", "1e-14")
    assert result.exit_code == 1, result.output
    assert statuses(result.output, "grad") == statuses(result.output, "jvp") == {"FAIL"}
    assert statuses(result.output, "hvp") == {"ok"}      # --hvp-tol is its own
    assert "HVP check failed" not in result.stderr


def test_check_hvp_tolerance_is_honoured():
    result = run("check", os.path.join(SAMPLES, "neuron.py"), *NEURON_AT,
                 "--hvp-tol", "1e-14")
    assert result.exit_code == 1, result.output
    assert statuses(result.output, "hvp") == {"FAIL"}
    assert statuses(result.output, "grad") == statuses(result.output, "jvp") == {"ok"}
    assert "(f_hvp with a random v, --hvp-tol 1e-14)" in result.output
    assert result.stderr.strip() == \
        "HVP check failed: a relative error of f_hvp exceeds 1e-14 (--hvp-tol)"


def test_check_a_model_whose_derivative_reads_its_output(folder):
    model = write_model(folder, "squash", "from adc.lang import Param, tanh\n\n"
                        "def f(x: Param[3]):\n    return tanh(x)\n")
    result = run("check", model)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("args", [
    ["--at", "q=1"],            # no such argument
    ["--at", "w0"],             # not NAME=VALUE
    ["--at", "w0=two"],         # not a number
    ["--size", "N=3"],          # the neuron has no symbolic size
    ["--range", "1"],           # not LO:HI
    ["--range", "a:b"],         # not numbers
    ["--range", "2:1"],         # LO > HI
    ["--range", "1:1"],         # an empty interval (use --at)
    ["--range", "0:inf"],       # not finite
    ["--range", "q=0:1"],       # no such argument
    ["--range", "=0:1"],        # an empty name
    ["--hvp-tol", "x"],         # not a number
    ["--hvp-tol", "-1e-4"],     # not positive
    ["--hvp-tol", "0"],
    ["--hvp-tol", "nan"],
    ["--hvp-tol", "inf"],
    ["--tol", "-1"],
])
def test_check_bad_option_values_are_usage_errors(args):
    result = run("check", os.path.join(SAMPLES, "neuron.py"), *args)
    assert result.exit_code == 2, result.output
    assert "Usage:" in result.output and "Traceback" not in result.output


# ---- adc check against the eager NumPy run (the independent oracle) ------------------
TANH_MODEL = """\
from adc.lang import Param, Data, tanh, sum

def f(w: Param[3], x: Data[3]):
    return sum(tanh(w * x))
"""

LOG_MODEL = """\
from adc.lang import Param, log, sum

def f(x: Param[4]):
    return sum(log(x))
"""


def test_check_fails_when_the_compiled_value_differs_from_the_eager_run(folder, monkeypatch):
    # In-process, the patch changes only the eager run (the compiled module never calls
    # adc.lang): a compiled value that disagrees with the model file's NumPy meaning.
    real_tanh = adc.lang.tanh
    monkeypatch.setattr(adc.lang, "tanh", lambda x: real_tanh(x) + 1e-3)
    result = run("check", write_model(folder, "squash", TANH_MODEL))
    assert result.exit_code == 1, result.output
    compiled, eager, err, status = value_rows(result.output)["value"]
    assert status == "FAIL" and err > 1e-5
    assert abs(eager - compiled - 3e-3) < 1e-9     # three elements, 1e-3 each
    # the derivative of tanh(x) + 1e-3 is tanh's: the gradients still agree
    assert {status for _, _, status in table_rows(result.output).values()} == {"ok"}
    assert "value check failed: the compiled f differs from the eager NumPy run" \
        in result.stderr
    assert "check passed" not in result.output


def test_check_fails_on_a_module_that_agrees_only_with_itself(monkeypatch):
    # Value and gradients scaled together: consistent, so finite differences of the
    # compiled function would pass it. The eager run does not.
    def double(value_and_grad):
        def wrong(*args, **kw):
            value, grads = value_and_grad(*args, **kw)
            return 2 * value, grads._replace(**{n: 2 * g for n, g in grads._asdict().items()})
        return wrong
    corrupt_on_load(monkeypatch, "{f}_value_and_grad", double)
    corrupt_on_load(monkeypatch, "{f}", lambda f: lambda *a, **kw: 2 * f(*a, **kw))
    result = run("check", os.path.join(SAMPLES, "neuron.py"), *NEURON_AT)
    assert result.exit_code == 1, result.output
    assert value_rows(result.output)["value"][3] == "FAIL"
    assert {status for _, _, status in table_rows(result.output).values()} == {"FAIL"}
    assert "value check failed" in result.stderr and "gradient check failed" in result.stderr


def test_check_a_compiled_nan_where_the_eager_run_is_finite_is_a_failure(monkeypatch):
    corrupt_on_load(monkeypatch, "{f}", lambda f: lambda *a, **kw: f(*a, **kw) * np.nan)
    result = run("check", os.path.join(SAMPLES, "neuron.py"), *NEURON_AT)
    assert result.exit_code == 1, result.output
    assert "  value        compiled nan" in result.output
    assert value_rows(result.output)["value"][3] == "FAIL"
    assert "the compiled value is nan" in result.stderr


def test_check_at_fills_a_whole_array(folder):
    result = run("check", write_model(folder, "logs", LOG_MODEL), "--at", "x=2")
    assert result.exit_code == 0, result.output
    compiled, eager, _, status = value_rows(result.output)["value"]
    assert status == "ok" and round(compiled, 5) == round(eager, 5) == round(4 * np.log(2), 5)
    assert table_rows(result.output)["x"][0] == 0.5    # d/dx log(x) at x = 2


def test_check_at_fills_an_index_array_with_an_integer(folder):
    model = write_model(folder, "ce", "from adc.lang import Param, Index, cross_entropy\n\n"
                        "def f(z: Param[4, 3], y: Index[4]):\n"
                        "    return cross_entropy(z, y)\n")
    assert run("check", model, "--at", "y=2").exit_code == 0
    result = run("check", model, "--at", "y=0.5")
    assert result.exit_code == 2 and "'y' is an index argument" in result.output


@pytest.mark.parametrize("span", ["0.5:2", "x=0.5:2"])
def test_check_range_moves_the_draw_into_the_domain(folder, span):
    model = write_model(folder, "logs", LOG_MODEL)
    result = run("check", model, "--range", span)
    assert result.exit_code == 0, result.output
    assert table_rows(result.output)["x"][2] == "ok"


def test_range_draws_uniformly_between_its_bounds(folder):
    from adc.runtime import gradcheck
    module = adc.compile(copy_sample("linear_regression", folder))
    spec = module.SIGNATURES["loss"]["args"]
    floats = [n for n, a in spec.items() if a["role"] in ("param", "data")]
    values = gradcheck.random_inputs(module, "loss", {"N": 50}, seed=1, ranges={None: (2, 3)})
    for name in floats:
        assert np.all((2 <= np.asarray(values[name])) & (np.asarray(values[name]) <= 3)), name
    one = gradcheck.random_inputs(module, "loss", {"N": 50}, seed=1,
                                  ranges={None: (2, 3), floats[0]: (-5, -4)})
    assert np.all(np.asarray(one[floats[0]]) <= -4)
    assert np.all(np.asarray(one[floats[1]]) >= 2)


@pytest.mark.parametrize("args", [["--range", "-2:-1"], ["--at", "x=-1"], []])
def test_check_a_nan_at_the_point_says_how_to_move_it(folder, args):
    # log of a negative number: nothing to compare, and one message instead of `nan FAIL`
    result = run("check", write_model(folder, "logs", LOG_MODEL), *args)
    assert_clean_user_error(result, "logs.py: error: f is not finite at the checked point",
                            "eager NumPy run: nan", "--range LO:HI", "--at NAME=VALUE",
                            "--seed")
    assert "FAIL" not in result.output


def test_check_a_gradient_that_is_not_finite_says_so(folder):
    # sqrt at 0: a finite value, an infinite derivative, nan finite differences
    model = write_model(folder, "root", "from adc.lang import Param, sqrt, sum\n\n"
                        "def f(x: Param[2]):\n    return sum(sqrt(x))\n")
    result = run("check", model, "--at", "x=0")
    assert result.exit_code == 1, result.output
    assert table_rows(result.output)["x"][2] == "FAIL"
    assert "the gradient of f with respect to x is not finite" in result.stderr
    assert "--range LO:HI" in result.stderr
    # the JVP and the HVP are infinite there too: FAIL rows, a nan error, one line each
    tables = check_tables(result.output)
    assert np.isnan(tables["jvp"]["value"][1]) and tables["jvp"]["value"][2] == "FAIL"
    assert np.isnan(tables["hvp"]["x"][1]) and tables["hvp"]["x"][2] == "FAIL"
    assert "the JVP of f is not finite at the checked point" in result.stderr
    assert "the HVP of f with respect to x is not finite at the checked point" in result.stderr
    assert result.stderr.count("--range LO:HI") == 1


def test_check_reports_an_eager_import_that_raises(folder, monkeypatch):
    # dim() is never called by the compiler; the eager import calls it
    def broken(name):
        raise RuntimeError(f"no dim for {name}")
    monkeypatch.setattr(adc.lang, "dim", broken)
    model = write_model(folder, "vector", VECTOR_MODEL)
    result = run("check", model)
    assert_clean_user_error(result, "vector.py: error: adc check runs the model file eagerly "
                            "with NumPy", "RuntimeError: no dim for N")


def test_check_reports_an_eager_call_that_raises(folder, monkeypatch):
    def broken(x):
        raise ValueError("tanh is broken")
    monkeypatch.setattr(adc.lang, "tanh", broken)
    result = run("check", write_model(folder, "squash", TANH_MODEL))
    assert_clean_user_error(result, "squash.py: error: the eager NumPy run of f raised "
                            "ValueError: tanh is broken")


def test_check_eager_import_leaves_nothing_behind(folder):
    # No bytecode beside the model, no module left in sys.modules, the main block not run.
    model = write_model(folder, "guarded", TANH_MODEL + "\nif __name__ == \"__main__\":\n"
                        "    raise SystemExit('the main block ran')\n")
    before = set(sys.modules)
    result = run("check", model)
    assert result.exit_code == 0, result.output
    assert os.listdir(folder) == ["guarded.py"]
    assert not {m for m in set(sys.modules) - before if "eager" in m}


def test_load_eager_skips_every_top_level_if(folder):
    # The compiler skips `if __name__ ...` blocks, so the eager oracle must too, whatever
    # the comparison: the eager program is the one that was compiled.
    from adc.runtime import gradcheck
    path = write_model(folder, "guard", TANH_MODEL + "\nif __name__ != \"__main__\":\n"
                       "    raise RuntimeError('ran')\n")
    eager = gradcheck.load_eager(path)
    assert float(eager.f(np.zeros(3), np.ones(3))) == 0.0


def test_check_target_cuda_against_the_eager_run_in_the_simulator(folder):
    # The simulator must be chosen before numba.cuda is imported: a real process.
    model = write_model(folder, "vector", VECTOR_MODEL)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    proc = subprocess.run([adc_script(), "check", model, "--target", "cuda", "--function",
                           "pair"], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pair_cuda: output shape (3,), (3,), not a scalar: checking pair_vjp_cuda" \
        in proc.stdout
    values = value_rows(proc.stdout)
    assert set(values) == {"value #1", "value #2"}
    assert all(status == "ok" for *_, status in values.values())
    assert {status for _, _, status in table_rows(proc.stdout).values()} == {"ok"}
    assert "(pair_jvp_cuda along a random u)" in proc.stdout
    assert set(check_tables(proc.stdout)["jvp"]) == {"value #1", "value #2"}
    assert statuses(proc.stdout, "jvp") == {"ok"}


def test_check_target_cuda_checks_the_cuda_jvp_and_hvp_in_the_simulator(neuron_check):
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    proc = subprocess.run([adc_script(), "check", os.path.join(SAMPLES, "neuron.py"),
                           *NEURON_AT, "--target", "cuda"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(f_jvp_cuda along a random u)" in proc.stdout
    assert "(f_hvp_cuda with a random v, --hvp-tol 0.0001)" in proc.stdout
    assert all(statuses(proc.stdout, kind) == {"ok"} for kind in ("grad", "jvp", "hvp"))
    # float64 in the simulator: the same first elements as the CPU functions
    cpu, cuda = check_tables(neuron_check.output), check_tables(proc.stdout)
    for kind in ("jvp", "hvp"):
        assert {n: first for n, (first, _, _) in cuda[kind].items()} == pytest.approx(
            {n: first for n, (first, _, _) in cpu[kind].items()}, rel=1e-5), kind


def check_transcripts():
    """The ```text blocks of docs/language.md that show `adc check`, as lists of
    (command line, text that follows it), `$ cat NAME` included."""
    with open(os.path.join(ROOT, "docs", "language.md"), encoding="utf-8") as f:
        blocks = re.findall(r"^```text\n(.*?)^```", f.read(), re.M | re.S)
    out = []
    for block in blocks:
        if "$ adc check " not in block:
            continue
        steps = re.split(r"^\$ (.*)\n", block, flags=re.M)[1:]
        out.append(list(zip(steps[0::2], steps[1::2])))
    return out


def masked(text):
    """A gradient row's relative error is finite-difference noise (libm's last bits):
    compare its magnitude class (ok/FAIL), not its digits."""
    return re.sub(r"(\(.*?\)\s+\S+\s+)\d\.\d\de-\d\d(  (ok|FAIL))$", r"\1*\2", text,
                  flags=re.M)


@pytest.mark.parametrize("steps", check_transcripts())
def test_check_transcripts_in_the_docs_are_current(steps, folder, monkeypatch):
    monkeypatch.chdir(folder)
    os.symlink(SAMPLES, os.path.join(folder, "samples"))
    for command, shown in steps:
        words = shlex.split(command)
        if words[0] == "cat":
            with open(os.path.join(folder, words[1]), "w") as f:
                f.write(shown)
            continue
        assert words[:2] == ["adc", "check"], command
        result = run(*words[1:])
        assert masked(result.output) == masked(shown), \
            f"regenerate the transcript of `{command}` in docs/language.md"


def test_check_help_says_it_runs_the_model_file():
    result = run("check", "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "adc check runs the model file eagerly with NumPy" in text
    assert "--range [NAME=]LO:HI" in result.output and "constant fill" in text


# ---- help, usage errors, user errors ----------------------------------------------------
@pytest.mark.parametrize("command", [[], ["compile"], ["inspect"], ["check"]])
def test_help_of_every_command(command):
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert result.output.startswith("Usage: ")


def test_version_is_the_package_version():
    result = run("--version")
    assert result.exit_code == 0 and adc.__version__ in result.output


@pytest.mark.parametrize("args", [
    ["compile", "{gate}", "--bogus"],
    ["inspect", "{gate}", "--show", "ast"],
    ["check", "{gate}", "--seed", "x"],
    ["compile", "{missing}"],
    ["inspect", "{missing}"],
    ["check", "{missing}"],
    ["compile"],
    ["frobnicate", "{gate}"],
])
def test_bad_usage_exits_2(args, folder):
    paths = {"gate": os.path.join(SAMPLES, "gate.py"), "missing": os.path.join(folder, "no.py")}
    result = run(*(a.format(**paths) for a in args))
    assert result.exit_code == 2, result.output
    assert "Usage:" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("command", ["compile", "inspect", "check"])
def test_a_bad_model_is_a_one_paragraph_user_error(command, folder):
    model = write_model(folder, "bad", BAD_MODEL)
    result = run(command, model)
    assert_clean_user_error(result, "bad.py:4:5: error: while loops are not supported",
                            "while True:", "^")
    assert os.listdir(folder) == ["bad.py"]


def test_a_model_that_is_not_text_is_a_user_error(folder):
    path = os.path.join(folder, "binary.py")
    with open(path, "wb") as f:
        f.write(b"\xff\xfe\x00model")
    assert_clean_user_error(run("compile", path), "binary.py", "UTF-8")


# ---- adc.compile from Python ------------------------------------------------------------
def test_adc_compile_returns_the_module_api(folder):
    model = copy_sample("gate", folder)
    module = adc.compile(model)
    assert module.__file__ == os.path.join(folder, "gate_adc.py")
    for name in ("f", "f_grad", "f_value_and_grad", "f_vjp"):
        assert callable(getattr(module, name)), name
    assert module.ADC_VERSION == adc.__version__
    with open(model, "rb") as f:
        assert module.SOURCE_SHA256 == hashlib.sha256(f.read()).hexdigest()
    args = module.SIGNATURES["f"]["args"]
    assert {n: (a["role"], tuple(a["shape"])) for n, a in args.items()} == \
        {"x": ("param", ()), "y": ("param", ()), "z": ("param", ())}
    # The numbers of the sample's docstring (hand-derived): f = -12, grads -4, -4, 3.
    value, grads = module.f_value_and_grad(-2.0, 5.0, -4.0)
    assert value == -12.0 and tuple(grads) == (-4.0, -4.0, 3.0)
    assert type(grads).__name__ == "f_Grads" and grads._fields == ("x", "y", "z")
    assert tuple(module.f_grad(x=-2.0, y=5.0, z=-4.0)) == (-4.0, -4.0, 3.0)
    assert tuple(module.f_vjp(-2.0, 5.0, -4.0, cotangent=2.0)) == (-8.0, -8.0, 6.0)


def test_adc_compile_raises_compile_error_for_a_bad_model(folder):
    from adc.compiler.errors import CompileError
    model = write_model(folder, "bad", BAD_MODEL)
    with pytest.raises(CompileError, match="while loops"):
        adc.compile(model)


def test_source_sha256_is_the_hash_of_the_file_bytes_even_with_crlf(folder):
    model = os.path.join(folder, "crlf.py")
    with open(os.path.join(SAMPLES, "gate.py"), "rb") as src, open(model, "wb") as dst:
        dst.write(src.read().replace(b"\n", b"\r\n"))
    module = adc.compile(model)
    with open(model, "rb") as f:
        assert module.SOURCE_SHA256 == hashlib.sha256(f.read()).hexdigest()


# ---- the installed console script, in a real process ----------------------------------
def test_console_script_compiles_a_model(folder):
    model = copy_sample("gate", folder)
    script = adc_script()
    assert script, "the `adc` console script is not installed (pip install -e .)"
    proc = subprocess.run([script, "compile", model], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"wrote {os.path.join(folder, 'gate_adc.py')}"
    with open(os.path.join(folder, "gate_adc.py")) as f:
        assert f.readline().startswith('"""Generated by adc')


def test_console_script_reports_a_bad_model_without_traceback(folder):
    model = write_model(folder, "bad", BAD_MODEL)
    proc = subprocess.run([adc_script(), "check", model], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"{model}:4:5: error: while loops are not supported")
