"""Differential tests: random well-typed models (progen.py) compiled by adc, against the
eager NumPy run of the same file (values) and central differences of it (gradients).

    pytest tests/fuzz/test_differential.py                       # the default budget
    ADC_FUZZ_EXAMPLES=5000 ADC_FUZZ_START=0 pytest tests/fuzz/test_differential.py
    python tests/fuzz/run.py gen --count 5000                    # the same, grouped by class

Each example is one seed: a failure prints the seed and the model's source, and
`python tests/fuzz/progen.py SEED` prints it again.
"""
from __future__ import annotations

import os
import subprocess
import sys
import types

import numpy as np
import pytest

import oracle
import progen

EXAMPLES = int(os.environ.get("ADC_FUZZ_EXAMPLES", "16"))
START = int(os.environ.get("ADC_FUZZ_START", "0"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("adc-fuzz-gen"))


@pytest.mark.parametrize("seed", range(START, START + EXAMPLES))
def test_generated_program(seed, workdir):
    program = progen.generate(seed)
    try:
        oracle.check_program(program, workdir)
    except (oracle.Failure, oracle.InvalidProgram) as exc:
        pytest.fail(f"seed {seed}: {exc}\n--- the model ---\n{program.source}", pytrace=False)


THREADED_EXAMPLES = int(os.environ.get("ADC_FUZZ_THREADED", "5"))


@pytest.mark.parametrize("seed", range(START + 500, START + 500 + THREADED_EXAMPLES))
def test_generated_program_on_threads(seed, workdir):
    """The same checks with every call on the threaded kernels (forced, two threads), and
    their value and gradients within a few ulps of the serial kernels' and the same bit
    for bit on a second threaded call. In a fresh interpreter (threads_child.py): GNU
    OpenMP cannot fork once this worker has run a threaded kernel in another test."""
    child = os.path.join(os.path.dirname(os.path.abspath(__file__)), "threads_child.py")
    done = subprocess.run([sys.executable, child, str(seed), workdir], capture_output=True,
                          text=True, timeout=1200)
    if done.returncode != 0:
        pytest.fail(f"{done.stdout[-4000:]}{done.stderr[-4000:]}\n--- the model ---\n"
                    f"{progen.generate(seed).source}", pytrace=False)


# -- the generator itself: valid programs that cover the language --------------------------------
COVERAGE_SEEDS = range(400)
MUST_COVER = [
    "slice", "matmul", "matmul-transposed", "matmul-batched", "transpose", "keepdims",
    "reduce-sum", "reduce-mean", "reduce-max", "reduce-min", "reduce-logsumexp", "reduce-var",
    "softmax", "log_softmax", "layer_norm", "batch_norm", "helper", "loop", "loop-index",
    "loop-recurrence", "loop-carries", "tuple-output", "tuple-shared", "gather", "gather-arange",
    "gather-axis1", "hyper-float", "cross_entropy", "multiclass_hinge", "mse", "bce",
    "fn-leaky_relu", "fn-elu", "fn-clip", "fn-log", "fn-sqrt", "fn-pow_float", "pow-tensor",
    "concatenate", "stack", "reshape", "einsum", "outer", "dot", "where", "augassign",
    "unpack", "rebind", "np-spelling", "dim-minus-1", "op-maximum", "op-/", "method",
    "squeeze", "atleast_1d", "cumsum", "ravel", "broadcast_to", "triangle", "vstack",
    "conv2d", "conv2d-groups", "conv2d-padding-same", "conv2d-padding-pairs", "conv2d-dilation",
    "pool-padding", "max_pool2d", "avg_pool2d"]


def test_generator_covers_the_language():
    seen = set()
    for seed in COVERAGE_SEEDS:
        seen |= progen.generate(seed).features
    assert not set(MUST_COVER) - seen, f"never generated: {sorted(set(MUST_COVER) - seen)}"


def test_generator_writes_tricky_names_and_runtime_keywords():
    text = "\n".join(progen.generate(s).source for s in COVERAGE_SEEDS)
    for word in ["d_x", "tmp0", "acc", "mm", "value", "slope=", "alpha=", "eps=", "margin=",
                 "keepdims=True", "axis=(", ":, :", "::2", "].T", "arange(", "dim(\"N\")"]:
        assert word in text, f"no generated program contains {word!r}"


def test_generated_programs_run_eagerly(tmp_path):
    """Every generated program is defined, finite and valid NumPy at its inputs."""
    for seed in range(150):
        program = progen.generate(seed)
        path = tmp_path / f"valid_{seed}.py"
        path.write_text(program.source)
        eager = oracle.import_file(str(path), f"valid_{seed}")
        values = oracle.draw_inputs(oracle.specs_of_program(program), seed)
        oracle.eager_run(getattr(eager, program.entry), values)


def test_generator_is_deterministic():
    assert progen.generate(7).source == progen.generate(7).source
    assert progen.generate(7).source != progen.generate(8).source


# -- the oracle catches what it must catch (a fake compiled module, no compiler) -----------------
SOURCE = """from adc.lang import Param, Data, sum, tanh
def f(x: Param[3], y: Data[3]):
    return sum(tanh(x) * y)
"""


def fake_module(eager, grad_error=0.0, value_error=0.0, write_input=False, slow_path=False):
    """A stand-in for a generated module: exact, or wrong by the given amounts (`slow_path`:
    a fast path `_f_ready` that turns down even what `_prepare` converted)."""
    def f(x, y):
        value = float(eager.f(x, y)) + value_error
        if write_input:
            x[0] = 0.0
        return value

    def f_value_and_grad(x, y):
        g = (1 - np.tanh(x) ** 2) * y
        g[1] += grad_error
        return f(x, y), types.SimpleNamespace(x=g)

    def f_grad(x, y):
        return f_value_and_grad(x, y)[1]
    sig = {"f": {"args": {"x": {"role": "param", "shape": (3,)},
                          "y": {"role": "data", "shape": (3,)}}, "wrt": ["x"]}}
    module = types.SimpleNamespace(f=f, f_value_and_grad=f_value_and_grad, f_grad=f_grad,
                                   SIGNATURES=sig)
    if slow_path:
        module._prepare = lambda fname, values: (list(values), {}, np.dtype(np.float64))
        module._f_ready = lambda values: None
    return module


@pytest.fixture
def eager_f(tmp_path):
    path = tmp_path / "oracle_model.py"
    path.write_text(SOURCE)
    return oracle.import_file(str(path), "oracle_model")


SPECS = [oracle.ArgSpec("x", "Param", (3,)), oracle.ArgSpec("y", "Data", (3,))]


def run_fake(eager, **wrong):
    values = oracle.draw_inputs(SPECS, 0)
    oracle.check_module(fake_module(eager, **wrong), eager.f, "f", SPECS, values, 0)


def test_oracle_accepts_a_correct_module(eager_f):
    run_fake(eager_f)


@pytest.mark.parametrize("wrong, kind", [({"grad_error": 1e-3}, "grad"),
                                         ({"value_error": 1e-6}, "value"),
                                         ({"write_input": True}, "mutates-input"),
                                         ({"slow_path": True}, "fast-path")])
def test_oracle_catches(eager_f, wrong, kind):
    with pytest.raises(oracle.Failure) as info:
        run_fake(eager_f, **wrong)
    assert info.value.kind == kind, info.value


def test_oracle_catches_a_wrong_vjp_of_a_tuple_output(eager_f):
    """A tensor output is checked through f_vjp with a random cotangent."""
    def g(x, y):
        return np.tanh(x) * y, float(np.sum(x))

    def g_vjp(x, y, cotangent):
        u, s = cotangent
        return types.SimpleNamespace(x=(1 - np.tanh(x) ** 2) * y * u + s + 1e-3)
    sig = {"g": {"args": {"x": {"role": "param", "shape": (3,)},
                          "y": {"role": "data", "shape": (3,)}}, "wrt": ["x"]}}
    module = types.SimpleNamespace(g=g, g_vjp=g_vjp, SIGNATURES=sig)
    values = oracle.draw_inputs(SPECS, 0)
    with pytest.raises(oracle.Failure) as info:
        oracle.check_module(module, g, "g", SPECS, values, 0)
    assert info.value.kind == "vjp", info.value


def test_a_crash_in_compiled_code_is_a_failure():
    import os
    import signal
    with pytest.raises(oracle.Failure) as info:
        oracle.in_child(lambda: os.kill(os.getpid(), signal.SIGSEGV))
    assert info.value.kind == "crash"
