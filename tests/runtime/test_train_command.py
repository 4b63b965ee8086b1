"""`adc train` through click's CliRunner: the summary line, what it writes, --quiet,
--resume, and exit code 1 with a message (no traceback) for bad data and models."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import matplotlib.image
import numpy as np
import pytest
from click.testing import CliRunner

from adc.cli.main import main
from adc.runtime.data import load_builtin

from rt_support import sample_path

IRIS = sample_path("iris_softmax")
FAST = ["--epochs", "4", "--lr", "0.05", "--batch-size", "16"]


@pytest.fixture(scope="module")
def out_root(tmp_path_factory):
    # One folder for every run: the compiled module's Numba cache is shared between them.
    return tmp_path_factory.mktemp("train-cli")


def adc_train(*args):
    return CliRunner().invoke(main, ["train", *args])


def summary_of(result) -> dict:
    pairs = result.stdout.strip().splitlines()[-1].split()
    return dict(p.split("=", 1) for p in pairs)


@pytest.fixture(scope="module")
def iris_run(out_root):
    out = out_root / "iris"
    result = adc_train(IRIS, "--data", "iris", *FAST, "--out", str(out), "--quiet")
    return result, out


def test_train_ends_with_a_summary_line_of_name_value_pairs(iris_run):
    result, _ = iris_run
    assert result.exit_code == 0, result.output
    summary = summary_of(result)
    assert summary["epochs"] == "4"
    for key in ("train_loss", "val_loss"):
        assert float(summary[key]) > 0
    for key in ("val_accuracy", "test_accuracy"):
        assert 0.5 < float(summary[key]) <= 1.0      # fractions, and it learned something


def test_train_says_where_it_wrote_everything(iris_run):
    result, out = iris_run
    for what, name in (("checkpoint", "checkpoint.npz"), ("history csv", "history.csv"),
                       ("history json", "history.json"), ("plot", "learning_curve.png"),
                       ("module", "iris_softmax_adc.py")):
        path = os.path.join(str(out), name)
        assert f"wrote {what}: {path}" in result.stdout
        assert os.path.isfile(path)
    rows = (out / "history.csv").read_text().splitlines()
    assert len(rows) == 1 + 4 and rows[0].startswith("epoch,lr,train_loss")
    assert matplotlib.image.imread(str(out / "learning_curve.png")).shape[:2] == (400, 1000)


def test_quiet_turns_the_progress_bar_off(iris_run, out_root):
    quiet, _ = iris_run
    assert "epoch/s" not in quiet.output and "training iris_softmax" not in quiet.output
    loud = adc_train(IRIS, "--data", "iris", *FAST, "--out", str(out_root / "loud"))
    assert loud.exit_code == 0, loud.output
    assert "training iris_softmax" in loud.stderr and "4/4" in loud.stderr


def test_resume_continues_to_the_same_history_as_one_run(iris_run, out_root):
    _, whole = iris_run
    out = str(out_root / "resumed")
    first = adc_train(IRIS, "--data", "iris", *FAST[2:], "--epochs", "2", "--out", out, "--quiet")
    assert first.exit_code == 0, first.output
    second = adc_train(IRIS, "--data", "iris", *FAST, "--out", out, "--quiet", "--resume")
    assert second.exit_code == 0, second.output
    assert summary_of(second)["epochs"] == "4"
    history = json.loads(open(os.path.join(out, "history.json")).read())
    assert history == json.loads((whole / "history.json").read_text())


def test_a_csv_file_trains_and_has_no_test_accuracy(out_root, tmp_path):
    train, _ = load_builtin("iris")
    path = tmp_path / "iris.csv"
    lines = ["a,b,c,d,y"] + [",".join(map(repr, x)) + f",{y}" for x, y in
                             zip(train["X"].tolist(), train["y"])]
    path.write_text("\n".join(lines) + "\n")
    result = adc_train(IRIS, "--data", str(path), *FAST, "--out", str(out_root / "csv"),
                       "--quiet")
    assert result.exit_code == 0, result.output
    summary = summary_of(result)
    assert "val_accuracy" in summary and "test_accuracy" not in summary


def bad_npz(tmp_path, **changes):
    train, _ = load_builtin("iris")
    arrays = {**train, **changes}
    arrays = {k: v for k, v in arrays.items() if v is not None}
    path = str(tmp_path / "bad.npz")
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("changes, message", [
    ({"y": None}, "no array named 'y'"),
    ({"y": np.full(120, 3)}, "array 'y' has label 3 out of range; the model expects 0 <= y < 3"),
    ({"X": np.zeros((120, 5))}, r"array 'X' has shape (120, 5), but the model declares "
                                r"X: Data[N, 4]"),
    ({"X": np.full((120, 4), np.nan)}, "array 'X' contains NaN"),
])
def test_bad_data_is_rejected_before_training(changes, message, tmp_path):
    out = tmp_path / "out"
    result = adc_train(IRIS, "--data", bad_npz(tmp_path, **changes), *FAST, "--out", str(out))
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert not (out / "checkpoint.npz").exists() and not (out / "history.csv").exists()


def _without_a_gpu() -> dict:
    """An environment where Numba has no CUDA device: no simulator, CUDA switched off (so
    also on a machine with a GPU)."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["NUMBA_DISABLE_CUDA"] = "1"
    return env


def test_cuda_target_without_a_gpu_says_how_to_train(tmp_path):
    env = _without_a_gpu()
    probe = subprocess.run([sys.executable, "-c", "from numba import cuda; "
                            "print(cuda.is_available())"], env=env, capture_output=True,
                           text=True, check=True)
    assert probe.stdout.strip() == "False"
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-c", "from adc.cli.main import main; main()",
                             "train", IRIS, "--data", "iris", "--target", "cuda",
                             "--out", str(out)], env=env, capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    message = result.stderr.strip()
    assert message.startswith("error: --target cuda needs an NVIDIA GPU")
    for advice in ("pip install 'adc[cuda]'", "NUMBA_ENABLE_CUDASIM=1", "--target cpu"):
        assert advice in message
    assert "\n" not in message and "Traceback" not in result.stderr + result.stdout
    assert not out.exists()                  # refused before compiling or writing


def test_lbfgs_cannot_train_on_the_cuda_target(out_root):
    result = adc_train(IRIS, "--data", "iris", "--optimizer", "sgd,lbfgs", "--target", "cuda",
                       "--out", str(out_root / "lbfgs"))
    assert result.exit_code == 2
    assert "lbfgs trains full-batch in SciPy, on the host" in result.output
    assert not (out_root / "lbfgs").exists()


def test_unknown_function_and_model_errors_exit_1(out_root, tmp_path):
    result = adc_train(IRIS, "--data", "iris", "--function", "nosuch", "--out", str(out_root))
    assert result.exit_code == 1 and "no entry point 'nosuch'" in result.stderr
    broken = tmp_path / "broken.py"
    broken.write_text("from adc.lang import Data, dim\nN = dim('N')\n"
                      "def loss(X: Data[N]):\n    while True:\n        pass\n")
    result = adc_train(str(broken), "--data", "iris", "--out", str(tmp_path))
    assert result.exit_code == 1 and "broken.py:4" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args", [["--schedule", "linear"], ["--schedule", "step:k=1"],
                                  ["--optimizer", "adamax"], ["--epochs", "0"]])
def test_bad_options_are_usage_errors(args, out_root):
    result = adc_train(IRIS, "--data", "iris", *args, "--out", str(out_root))
    assert result.exit_code == 2, result.output


SVM = sample_path("svm")       # loss(X, y, W, b, reg: float = 1e-3)


def _svm_data(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 20))
    path = tmp_path / "svm.npz"
    np.savez(path, X=X, y=np.argmax(X[:, :4], axis=1))
    return str(path)


def test_set_passes_a_loss_argument_and_records_it(tmp_path):
    data = _svm_data(tmp_path)
    runs = {}
    for reg in ("0", "10"):
        out = str(tmp_path / f"reg{reg}")
        result = adc_train(SVM, "--data", data, *FAST, "--out", out, "--quiet",
                           "--set", f"reg={reg}")
        assert result.exit_code == 0, result.output
        runs[reg] = json.loads(open(os.path.join(out, "history.json")).read())
    assert all(row["set_reg"] == float(reg) for reg, rows in runs.items() for row in rows)
    # a strong penalty is part of the loss the run minimises and reports
    assert runs["10"][-1]["train_loss"] > runs["0"][-1]["train_loss"]


@pytest.mark.parametrize("setting, message", [
    ("lam=1", "'loss' has no float or int argument named 'lam' (its float/int arguments: reg)"),
    ("reg=abc", "'reg' is declared float, so it takes a number"),
    ("reg=inf", "give a finite number"),
    ("reg", "expected NAME=VALUE"),
])
def test_set_rejects_unknown_names_and_wrong_types(tmp_path, setting, message):
    result = adc_train(SVM, "--data", _svm_data(tmp_path), *FAST, "--out",
                       str(tmp_path / "bad"), "--quiet", "--set", setting)
    assert result.exit_code != 0
    assert message in result.output, result.output
    assert "Traceback" not in result.output


def test_a_loss_argument_without_default_must_be_set(tmp_path):
    source = open(SVM).read().replace("reg: float = 1e-3", "reg: float")
    model = tmp_path / "svm_nodefault.py"
    model.write_text(source)
    data = _svm_data(tmp_path)
    result = adc_train(str(model), "--data", data, *FAST, "--out", str(tmp_path / "a"), "--quiet")
    assert result.exit_code != 0
    assert "argument 'reg' has no default: give it with --set reg=VALUE" in result.output
    result = adc_train(str(model), "--data", data, *FAST, "--out", str(tmp_path / "b"),
                       "--quiet", "--set", "reg=1e-4")
    assert result.exit_code == 0, result.output


def test_several_optimizers_train_from_the_same_start_and_share_a_plot(tmp_path):
    out = tmp_path / "cmp"
    result = adc_train(IRIS, "--data", "iris", "--epochs", "2", "--batch-size", "16",
                       "--optimizer", "sgd,momentum,adam", "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    lines = [l for l in result.output.splitlines() if l.startswith("optimizer=")]
    assert [l.split()[0] for l in lines] == ["optimizer=sgd", "optimizer=momentum",
                                            "optimizer=adam"]
    for name in ("sgd", "momentum", "adam"):
        assert (out / name / "history.json").is_file()
    image = matplotlib.image.imread(str(out / "optimizers.png"))
    assert image.ndim == 3 and image.shape[0] > 100
    # the same initial weights, split and batches: at a vanishing learning rate every
    # optimiser reports the initial model's loss
    tiny = adc_train(IRIS, "--data", "iris", "--epochs", "1", "--lr", "1e-12",
                     "--optimizer", "sgd,momentum", "--out", str(tmp_path / "tiny"), "--quiet")
    assert tiny.exit_code == 0, tiny.output
    losses = [float(dict(p.split("=") for p in l.split())["val_loss"])
              for l in tiny.output.splitlines() if l.startswith("optimizer=")]
    assert len(losses) == 2 and abs(losses[0] - losses[1]) <= 1e-9 * abs(losses[0])


@pytest.mark.parametrize("args, message", [
    (["--optimizer", "sgd,adamx"], "'adamx' is not an optimiser"),
    (["--optimizer", "sgd,sgd"], "an optimiser is named twice"),
    (["--optimizer", "sgd,adam", "--resume"], "each run writes into OUT/NAME/"),
])
def test_optimizer_lists_are_checked(tmp_path, args, message):
    result = adc_train(IRIS, "--data", "iris", *args, "--out", str(tmp_path / "x"), "--quiet")
    assert result.exit_code == 2 and message in result.output, result.output
