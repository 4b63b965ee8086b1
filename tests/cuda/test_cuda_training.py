"""`adc train --target cuda` without a GPU: in Numba's simulator the run has the CPU run's
history and summary line, its mini-batch loop copies no weights or optimiser state to the
host, each optimiser's CUDA kernel computes exactly what its CPU loop does, and the
training kernels compile to PTX for a real GPU.

The simulator must be chosen before numba.cuda is imported, and PTX compilation needs a
process without it: both run in subprocesses (tests/cuda/train_worker.py), beside the CPU
run in this process. Simulator threads are Python threads: the run is tiny (16 training
rows, 2 batches per epoch, 2 epochs).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from adc.cli.main import main
from adc.runtime.data import load_builtin

from conftest import SAMPLES

HERE = os.path.dirname(os.path.abspath(__file__))
IRIS = os.path.join(SAMPLES, "iris_softmax.py")
EPOCHS, STEPS_PER_EPOCH = 2, 2
TRAIN = ["--epochs", str(EPOCHS), "--batch-size", "8", "--val-split", "0.2", "--lr", "0.1",
         "--weight-decay", "0.01", "--schedule", "cosine", "--seed", "3", "--quiet"]


def tiny_iris(path) -> str:
    """20 training rows (16 after the validation split: 2 batches of 8), 10 test rows."""
    train, test = load_builtin("iris")
    rng = np.random.default_rng(0)
    rows, test_rows = rng.permutation(len(train["y"]))[:20], rng.permutation(len(test["y"]))[:10]
    np.savez(path, X=train["X"][rows], y=train["y"][rows], X_test=test["X"][test_rows],
             y_test=test["y"][test_rows])
    return str(path)


def _worker(args, simulator):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    if simulator:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    return subprocess.Popen([sys.executable, os.path.join(HERE, "train_worker.py"), *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process) -> dict:
    out, err = process.communicate(timeout=1200)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same run on the CPU (here) and in the simulator (a worker), and the PTX check."""
    root = tmp_path_factory.mktemp("cuda-train")
    data = tiny_iris(root / "tiny_iris.npz")
    args = {target: [IRIS, "--data", data, *TRAIN, "--out", str(root / target),
                     "--target", target] for target in ("cpu", "cuda")}
    sim = _worker(["sim", *args["cuda"]], simulator=True)
    ptx = _worker(["ptx"], simulator=False)
    cpu = CliRunner().invoke(main, ["train", *args["cpu"]])
    assert cpu.exit_code == 0, cpu.output
    out = {"cpu": {"stdout": cpu.stdout}, **_finish(sim), **_finish(ptx)}
    assert out["run"]["exit_code"] == 0, out["run"]["output"]
    for target in ("cpu", "cuda"):
        with open(root / target / "history.json") as f:
            out.setdefault(target, {})["history"] = json.load(f)
        with np.load(root / target / "checkpoint.npz") as arrays:
            out[target]["checkpoint"] = {k: arrays[k] for k in arrays.files}
    out["cuda"]["stdout"] = out["run"]["stdout"]
    return out


def summary_of(stdout) -> dict:
    return dict(pair.split("=", 1) for pair in stdout.strip().splitlines()[-1].split())


def test_cuda_run_has_the_cpu_runs_history(runs):
    cpu, cuda = runs["cpu"]["history"], runs["cuda"]["history"]
    assert len(cpu) == len(cuda) == EPOCHS
    assert cpu[-1]["train_loss"] < cpu[0]["train_loss"]          # it trained
    for epoch, (a, b) in enumerate(zip(cpu, cuda), start=1):
        assert list(a) == list(b), f"epoch {epoch}: keys differ"
        for key, value in a.items():
            assert b[key] == pytest.approx(value, rel=1e-9, abs=1e-12), \
                f"epoch {epoch}, {key}: cpu {value!r}, cuda {b[key]!r}"


def test_cuda_run_prints_the_cpu_runs_summary_line(runs):
    cpu, cuda = summary_of(runs["cpu"]["stdout"]), summary_of(runs["cuda"]["stdout"])
    assert list(cpu) == list(cuda)
    assert {"epochs", "train_loss", "val_loss", "val_accuracy", "test_accuracy"} <= set(cpu)
    for key in cpu:
        if key != "seconds":               # printed to 4-6 digits
            assert float(cuda[key]) == pytest.approx(float(cpu[key]), rel=1e-5), key


def test_cuda_checkpoint_holds_the_cpu_runs_weights_and_optimizer_state(runs):
    """The weights and Adam's slots come back from the device for the checkpoint."""
    cpu, cuda = runs["cpu"]["checkpoint"], runs["cuda"]["checkpoint"]
    assert sorted(cpu) == sorted(cuda)
    assert {"param/W", "param/b", "opt/W/m", "opt/W/v", "opt/b/m", "opt/b/v"} <= set(cpu)
    assert int(cuda["opt/t"]) == int(cpu["opt/t"]) == EPOCHS * STEPS_PER_EPOCH
    for key in cpu:
        if cpu[key].dtype.kind == "f":
            np.testing.assert_allclose(cuda[key], cpu[key], rtol=1e-9, atol=1e-15,
                                       err_msg=key)


def test_the_batch_loop_copies_no_weights_or_optimizer_state(runs):
    """Inside the mini-batch loop, per step: the loss (one number) and the non-finite
    counts come back, the labels are read back by the CUDA wrapper's range check, and
    the wrapper uploads its one-element seed; the epoch's batch order goes up once."""
    run = runs["run"]
    steps = EPOCHS * STEPS_PER_EPOCH
    assert run["steps"] == steps
    copies = [tuple((d, k, tuple(s))) for d, k, s in run["copies"]]
    assert copies.count(("to_host", "f", ())) == steps                  # the losses
    assert copies.count(("to_device", "f", (1,))) == steps              # the seeds
    floats = [c for c in copies if c[1] == "f" and c not in (("to_host", "f", ()),
                                                               ("to_device", "f", (1,)))]
    assert floats == [], "weights, gradients or slots copied inside the loop"
    n_params = 2                                                         # W, b
    assert copies.count(("to_host", "i", (n_params,))) == steps         # the counts
    assert copies.count(("to_device", "i", (16,))) == EPOCHS            # the batch order


def test_each_optimizers_cuda_kernel_computes_what_its_cpu_loop_does(runs):
    optimizers = runs["optimizers"]
    assert set(optimizers) == {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam",
                               "adamw"}
    for name, result in optimizers.items():
        # bit for bit: the same rule, in the same order of operations
        assert result["params"] == result["state"] == result["resumed"] == 0.0, (name, result)
        assert result["t"][0] == result["t"][1]
        assert result["nan_counts"]["cuda"] == result["nan_counts"]["cpu"] == {"W": 2}, name


def test_training_kernels_compile_to_ptx(runs):
    ptx = runs["ptx"]
    assert len(ptx) == 9 and all(v == "ok" for v in ptx.values()), ptx
