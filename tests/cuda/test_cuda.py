"""The CUDA target without a GPU: the CUDA functions run in Numba's simulator and agree
with the CPU functions, and every sample's generated kernels compile to PTX for cc 9.0.

The simulator runs each GPU thread as a Python thread (a minute for a conv net), so the
suite runs the samples that between them use every kernel pattern the CUDA backend
emits (one-block reductions, scatters, gathers, windows, normalisation axes, arg-max
routing, dropout masks) and one model with every primitive; ADC_CUDASIM_ALL=1 runs
every sample.

Both checks run in subprocesses: the simulator must be chosen before numba.cuda is
imported, and PTX compilation needs a process without it. They run side by side.
"""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest

from conftest import SAMPLES

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE_FILES = sorted(glob.glob(os.path.join(SAMPLES, "*.py")))
NAMES = [os.path.splitext(os.path.basename(p))[0] for p in SAMPLE_FILES]
COVERING = ["neuron", "softmax_classifier", "svm", "mlp_maxout", "batch_norm_mlp",
            "layer_norm_mlp", "dropout_mlp", "convnet"]
SIM_NAMES = NAMES if os.environ.get("ADC_CUDASIM_ALL") == "1" else COVERING
SIM_FILES = [os.path.join(SAMPLES, f"{n}.py") for n in SIM_NAMES]
FLOAT64_TOO = {"neuron", "convnet", "batch_norm_mlp"}   # float64 PTX for a few samples


def _start(script, args, out_dir, simulator):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    if simulator:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    return subprocess.Popen([sys.executable, os.path.join(HERE, script), out_dir, *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process) -> dict:
    out, err = process.communicate(timeout=1800)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def primitives_model() -> str:
    """One entry point per row of compiler/prims.py, each operand squashed into the row's
    domain (step functions times x, so that their gradient is not all zero)."""
    from adc.compiler import prims
    lines = ["import numpy as np", "from adc.lang import *", ""]
    for row in prims.PUBLIC:
        lo, hi = row.domain
        operands = [f"({lo} + {hi - lo} * sigmoid({v}))" for v in ["x", "y"][:row.operands]]
        call = f"{row.name}({', '.join(operands)})" + (" * x" if row.kind == "step" else "")
        lines += [f"def p_{row.name}(x: Param[3, 4], y: Param[3, 4]):",
                  f"    return sum(sin(1.3 * {call}) + y)", ""]
    lines += ["def p_gelu_tanh(x: Param[3, 4]):",
              "    return sum(gelu(x, approximate=True))", ""]
    for name, expr in STRUCTURAL.items():
        lines += [f"def s_{name}(x: Param[3, 4], y: Param[3, 4]):",
                  f"    return sum(sin(1.3 * ({expr})) + y)", ""]
    for name, body in STATEMENTS.items():
        lines += [f"def s_{name}(x: Param[3, 4], y: Param[3, 4]):", body, ""]
    return "\n".join(lines)


# The diagonal, shape, stacking and running-product functions of compiler/shapes.py and
# library.py, a few per entry point (each (3, 4)).
STRUCTURAL = {
    "diagonals": "diag(diag(x)) @ y + tril(x, -1) * triu(y, 1) + trace(x[:, :3])",
    "shapes": "broadcast_to(expand_dims(ravel(x)[:4], 0), (3, 4)) "
              "+ squeeze(atleast_3d(x), axis=2) + vstack((x[0], y[1:]))",
    "stacks": "hstack((x, y))[:, 2:6] + column_stack((x[:, 0], y[:, 1:])) "
              "+ dstack((x, y))[:, :, 1]",
    "reductions": "std(x, axis=0, ddof=1) * var(y) + norm(x, axis=1)[:, None] + norm(y) "
                  "+ prod(x, axis=0)",
    "running": "cumsum(x, axis=1) * cumprod(y, axis=0)",
    "sorted": "sort(x) * y + sort(x * y, axis=0)",
    # the rest of issue 13's structural names: the splits, arrays of lists, np.r_ / np.c_,
    # diagonal, atleast_1d/2d, methods
    "assembled": "hstack(hsplit(x, 2)) + vstack(vsplit(y, [1])) "
                 "+ concatenate(array_split(x, 3, axis=1), axis=1) "
                 "+ tile(reshape(dsplit(reshape(y, (3, 2, 2)), 2)[1], (3, 2)), 2) "
                 "+ np.array([x[0], y[1], x[2] * y[2]]) + np.r_[x[:1], y[1:]] "
                 "+ np.c_[x[:, :2], y[:, 2:]] + diagonal(x[:, :3])[:, None] * atleast_2d(y[0]) "
                 "+ atleast_1d(x[0, 0]) + x.sum(axis=0) * y.mean() + x.reshape(4, 3).T "
                 "+ y.clip(-1.0, 1.0) + x.ravel()[:4] + y.cumsum(axis=1)",
    "pieces": "tile(split(x, 2, axis=1)[0], 2) + repeat(y[:, :2], 2, axis=1) "
              "+ kron(x[:1, :2], y[:, :2]) + tensordot(x, y[0], 1)[:, None]",
    # compiler/windows.py: 'same' and asymmetric padding, dilation, groups, padded pools
    "windows": "reshape(conv2d(reshape(x, (1, 1, 3, 4)), reshape(y[:2, :2], (1, 1, 2, 2)), "
               "padding='same', dilation=(1, 2)), (3, 4)) "
               "+ max_pool2d(reshape(x, (1, 1, 3, 4)), 2, 1, padding=1)[0, 0, :3, :4] "
               "+ avg_pool2d(reshape(y, (1, 1, 3, 4)), (1, 2), 1, padding=(0, 1))[0, 0, :, :4] "
               "+ reshape(conv2d(reshape(x, (1, 2, 2, 3)), reshape(y[:2, :2], (2, 1, 2, 1)), "
               "groups=2, padding=((0, 1), (0, 0))), (3, 4))",
}


# compiler/assignment.py: item assignment (new versions in disjoint boxes) and the
# scatter-add of np.add.at / index_add (a forward statement accumulating at indices)
STATEMENTS = {
    "assigned": "\n".join([
        "    h = zeros((3, 4))",
        "    h[0] = x[0]",
        "    h[1:, ::2] += y[1:, ::2] * x[1:, 1::2]",
        "    h[::-1, 3] = full((3,), 0.5) * y[:, 0]",
        "    np.add.at(h, [2, 2, 0], y)",
        "    g = index_add(ones_like(x), ([0, 0, 2], [1, 1, 3]), x[1, :3])",
        "    return sum(sin(1.3 * h * g) + y)"]),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """{'sim': ..., 'ptx': ...} from the two workers, run in parallel."""
    sim_dir = str(tmp_path_factory.mktemp("cuda-sim"))
    ptx_dir = str(tmp_path_factory.mktemp("cuda-ptx"))
    model = os.path.join(str(tmp_path_factory.mktemp("cuda-prims")), "primitives.py")
    with open(model, "w") as f:
        f.write(primitives_model())
    few = [p for p, n in zip(SAMPLE_FILES, NAMES) if n in FLOAT64_TOO]
    rest = [p for p, n in zip(SAMPLE_FILES, NAMES) if n not in FLOAT64_TOO] + [model]
    rest = [f"--float32-only={p}" for p in rest]
    sim = _start("sim_worker.py", SIM_FILES + [model], sim_dir, simulator=True)
    ptx = _start("ptx_worker.py", ["--float64", *few, *rest], ptx_dir, simulator=False)
    return {"sim": _finish(sim), "ptx": _finish(ptx)}


def test_every_primitive_runs_in_the_simulator_and_compiles_to_ptx(results):
    """Each row of compiler/prims.py: simulator == CPU, and float32 PTX without widening."""
    from adc.compiler import prims
    sim, ptx = results["sim"]["primitives"], results["ptx"]["primitives"]
    assert "error" not in sim and "compile" not in ptx, (sim, ptx)
    for row in prims.PUBLIC:
        errors = sim[f"p_{row.name}"]
        bad = {k: v for k, v in errors.items() if not v <= 1e-10}
        assert not bad, f"{row.name}: {bad}"
        kernels = {k: v for k, v in ptx.items() if k.startswith(f"p_{row.name}.")}
        assert kernels and all(v == "ok" for v in kernels.values()), (row.name, kernels)


def test_structural_functions_run_in_the_simulator_and_compile_to_ptx(results):
    """Diagonals, shape helpers, stacking, std/norm/prod and the running scans (cumsum,
    cumprod): simulator == CPU in every mode, and float32 PTX without widening."""
    sim, ptx = results["sim"]["primitives"], results["ptx"]["primitives"]
    for name in [*STRUCTURAL, *STATEMENTS]:
        bad = {k: v for k, v in sim[f"s_{name}"].items() if not v <= 1e-10}
        assert not bad, f"{name}: {bad}"
        kernels = {k: v for k, v in ptx.items() if k.startswith(f"s_{name}.")}
        assert kernels and all(v == "ok" for v in kernels.values()), (name, kernels)


@pytest.mark.parametrize("name", SIM_NAMES)
def test_simulator_agrees_with_cpu(results, name):
    """f_cuda, f_vjp_cuda, f_jvp_cuda, f_hvp_cuda and f_value_and_grad_cuda == the CPU
    functions (float64)."""
    sample = results["sim"][name]
    assert "error" not in sample, sample.get("error")
    for fname, errors in sample.items():
        bad = {k: v for k, v in errors.items() if not v <= 1e-10}
        assert not bad, f"{name}.{fname}: relative errors {bad}"


@pytest.mark.parametrize("name", NAMES)
def test_every_kernel_compiles_to_ptx(results, name):
    """compile_ptx(cc=(9, 0)) for each kernel; float32 kernels never widen to float64."""
    kernels = results["ptx"][name]
    failed = {k: v for k, v in kernels.items() if v != "ok"}
    assert kernels and not failed, failed
    assert any(k.endswith("float32") for k in kernels)
    if name in FLOAT64_TOO:
        assert any(k.endswith("float64") for k in kernels)


def test_device_arrays_stay_on_the_device(results):
    """Device arrays in: device arrays out, and nothing was copied to the host."""
    device = results["sim"]["_device"]
    assert device["value_type"] == "FakeCUDAArray"        # the simulator's device array
    assert device["grad_types"] == ["FakeCUDAArray"]
    assert device["copies_to_host"] == 0
    assert device["value_error"] <= 1e-12 and device["grad_error"] <= 1e-12
    assert device["host_value_type"] == "ndarray"         # host arrays in: NumPy out


def test_device_labels_are_range_checked(results):
    index = results["sim"]["_device"]["index"]
    assert index["out_of_range"] == ("loss: argument 'y' has index 3 out of range; "
                                     "expected -3 <= y < 3")
    assert index["wrapped_error"] <= 1e-12


def test_bad_input_gets_the_cpu_path_error(results):
    messages = results["sim"]["_device"]["messages"]
    assert messages["device_shape"] == "layer: argument 'X' has shape (5, 5), expected (N=5, 4)"
    assert "argument 'W'" in messages["device_dtype"] and "float64" in messages["device_dtype"]
    assert messages["host_dtype"] == messages["host_dtype_cpu"]
    assert messages["host_shape"] == messages["host_shape_cpu"]
