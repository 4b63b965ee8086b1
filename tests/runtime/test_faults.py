"""Fault injection for `adc train`: damaged or edited checkpoints, optimiser slots of the
wrong size, truncated data files, failed writes, NaN weights, kill -9 mid-write.

Each fault ends with a clear message naming the file (a `RunError`; from the command
line: exit code 1 and no traceback) or with a correct resume, and the last good
checkpoint stays loadable. Faults are tried through the Python API (all of them) and
through the command line (a few of each kind, in-process with click's runner and in a
fresh process, as a user runs it).
"""
from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
import tempfile
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner

from adc.cli.main import main
from adc.compiler.errors import AdcError
from adc.runtime import checkpoint, data
from adc.runtime.checkpoint import load_checkpoint, remove_stale_temporaries
from adc.runtime.errors import (CheckpointError, DataError, OptimizerStateError, RunError,
                                TrainingError, WriteError)
from adc.runtime.initializers import init_params
from adc.runtime.optimizers import make_optimizer
from adc.runtime.trainer import Trainer, predict_function

import faults
from rt_support import compiled_sample, sample_path

HERE = os.path.dirname(os.path.abspath(__file__))
IRIS = sample_path("iris_softmax")
STEPS = 6                 # iris in the API tests: 96 training rows in batches of 16


# ---- the Python API: a small classifier trained for two epochs ----

@pytest.fixture(scope="module")
def iris(build_dir):
    module = compiled_sample("iris_softmax", build_dir)
    spec = data.ModelSpec.from_module(module, "loss")
    predict, target = predict_function(module, IRIS, spec)
    arrays = data.check_arrays(data.load_builtin("iris")[0], spec)
    train, val = data.split_validation(arrays, 0.2, seed=0, stratify=target)
    return SimpleNamespace(module=module, spec=spec, predict=predict, target=target,
                           train=train, val=val)


def params_for(iris, seed=0):
    shapes = {n: tuple(iris.spec.args[n]["shape"]) for n in iris.spec.params}
    return init_params(shapes, "xavier_uniform", seed)


def fit(iris, checkpoint, params=None, resume=False, module=None, **options):
    settings = dict(optimizer=make_optimizer("adam"), lr=0.05, epochs=2, batch_size=16,
                    patience=5, predict=iris.predict, target=iris.target,
                    checkpoint=str(checkpoint))
    settings.update(options)
    trainer = Trainer(module or iris.module, "loss", **settings)
    params = params_for(iris) if params is None else params
    return trainer.fit(params, iris.train, iris.val, resume=resume), params


@pytest.fixture(scope="module")
def good_checkpoint(iris, tmp_path_factory):
    """A checkpoint after 2 of 4 epochs, and the history of the uninterrupted 4 epochs."""
    folder = tmp_path_factory.mktemp("good")
    path = folder / "checkpoint.npz"
    fit(iris, path)
    whole, _ = fit(iris, folder / "whole.npz", epochs=4)
    return SimpleNamespace(path=path, history=whole.history)


def rewrite(source, target, edit):
    """Copy a checkpoint with `edit(record)` applied; `record` holds the arrays and, under
    "meta", the decoded JSON (a dict), which the edit may replace or delete."""
    arrays, meta = load_checkpoint(str(source))
    record = {**arrays, "meta": meta}
    edit(record)
    if isinstance(record.get("meta"), dict):
        record["meta"] = np.array(json.dumps(record["meta"]))
    np.savez(str(target), **record)
    return target


def set_meta(**fields):
    return lambda r: r["meta"].update(fields)


def drop_meta(key):
    return lambda r: r["meta"].pop(key)


def set_array(key, value):
    return lambda r: r.update({key: value(r) if callable(value) else value})


def drop_array(key):
    return lambda r: r.pop(key)


def nan_in(key, count=1):
    def edit(record):
        array = record[key].copy()
        array.reshape(-1)[:count] = np.nan
        record[key] = array
    return edit


# edit, what the message says (after "cannot resume from PATH: ", unless said otherwise)
EDITS = {
    "step missing": (drop_meta("step"), "the field 'step' is missing"),
    "history missing": (drop_meta("history"), "the field 'history' is missing"),
    "opt/t missing": (drop_array("opt/t"), "the array 'opt/t' (the optimizer's step count) "
                                           "is missing; it must be a whole number >= 0"),
    "epoch -3": (set_meta(epoch=-3), "the field 'epoch' is -3; it must be a whole number >= 0"),
    "epoch as text": (set_meta(epoch="2"), "the field 'epoch' is text '2'"),
    "epoch edited": (set_meta(epoch=1), "the history has 2 rows, but the field 'epoch' is 1"),
    "step edited": (set_meta(step=7), "the field 'step' is 7, but 2 epochs of 6 steps make 12"),
    "opt/t edited": (set_array("opt/t", np.array(11)),
                     "the optimizer step count 'opt/t' is 11, but the field 'step' is 12"),
    "opt/t as text": (set_array("opt/t", np.array("12")),
                      "the array 'opt/t' (the optimizer's step count) is text '12'; it must "
                      "be a whole number >= 0"),
    "opt/t negative": (set_array("opt/t", np.array(-1)), "the array 'opt/t' (the "
                       "optimizer's step count) is -1; it must be a whole number >= 0"),
    "history as text": (set_meta(history="x"), "the field 'history' is text 'x'; it must be "
                                               "a list"),
    "history row renumbered": (lambda r: r["meta"]["history"][1].update(epoch=5),
                               "history row 2 is not the record of epoch 2"),
    "history loss as text": (lambda r: r["meta"]["history"][0].update(train_loss="low"),
                             "history row 1: 'train_loss' is text 'low', not a finite number"),
    "best_epoch out of range": (set_meta(best_epoch=3), "the field 'best_epoch' is 3; it "
                                                        "must be empty (null) or an epoch "
                                                        "from 1 to 2"),
    "best_loss edited": (set_meta(best_loss=0.125), "the field 'best_loss' is 0.125, but "
                                                    "epoch"),
    "wait edited": (set_meta(wait=4), "the field 'wait' is 4"),
    "stopped as text": (set_meta(stopped="no"), "the field 'stopped' is text 'no'; it must "
                                                "be true or false"),
    "settings missing": (drop_meta("settings"), "the field 'settings'"),
    "meta missing": (drop_array("meta"), "it has no 'meta' record"),
    "meta not JSON": (set_array("meta", np.array("{epoch: 2")), "is not valid JSON"),
    "meta a list": (set_array("meta", np.array("[1, 2]")), "is a JSON list, not an object"),
    "parameter missing": (drop_array("param/W"), "the parameter 'W' is missing"),
    "parameter of the wrong shape": (set_array("param/W", np.zeros((4, 2))),
                                     "the parameter 'W' has shape (4, 2), but the model "
                                     "declares (4, 3)"),
    "parameter float32": (set_array("param/W", lambda r: r["param/W"].astype(np.float32)),
                          "the parameter 'W' is float32, but the model's parameters are "
                          "float64"),
    "parameter NaN": (nan_in("param/W", 12), "the parameter 'W' holds 12 NaN or infinite "
                                             "values"),
    "parameter the model lacks": (set_array("param/V", np.zeros(3)),
                                  "it has the parameter 'V', which is not a parameter"),
    "best weight NaN": (nan_in("best/b"), "the best weight 'b' holds 1 NaN"),
    "slot too small": (set_array("opt/W/m", np.zeros(5)),
                       "optimizer slot 'W/m' is a float64 array of shape (5,), but parameter "
                       "'W' needs a writeable contiguous float64 array of shape (12,)"),
    "slot too big": (set_array("opt/W/m", np.zeros(500_000)),
                     "optimizer slot 'W/m' is a float64 array of shape (500000,)"),
    "slot float32": (set_array("opt/W/v", lambda r: r["opt/W/v"].astype(np.float32)),
                     "optimizer slot 'W/v' is a float32 array of shape (12,)"),
    "slot missing": (drop_array("opt/b/v"), "parameter 'b' has no optimizer slot 'v'"),
    "slots of a parameter missing": (lambda r: [r.pop("opt/b/m"), r.pop("opt/b/v")],
                                     "the optimizer state has no slots for parameter 'b'"),
    "slot NaN": (nan_in("opt/W/v"), "optimizer slot 'W/v' holds 1 NaN or infinite values"),
    "slot negative": (set_array("opt/b/v", np.full(3, -1.0)), "optimizer slot 'b/v' holds "
                                                             "negative values"),
    "unknown slot": (set_array("opt/W/q", np.zeros(12)), "'W/q' is not a slot of the adam "
                                                         "optimizer"),
    "unknown array": (set_array("notes", np.zeros(1)), "it has an array 'notes' that adc "
                                                       "checkpoints do not have"),
}


@pytest.mark.parametrize("case", sorted(EDITS))
def test_an_edited_checkpoint_is_refused_before_anything_is_loaded(case, iris,
                                                                  good_checkpoint, tmp_path):
    edit, message = EDITS[case]
    path = rewrite(good_checkpoint.path, tmp_path / "edited.npz", edit)
    before = path.read_bytes()
    params = params_for(iris, seed=7)
    start = {n: p.copy() for n, p in params.items()}
    with pytest.raises(CheckpointError) as caught:
        fit(iris, path, params=params, resume=True, epochs=4)
    assert str(path) in str(caught.value) and message in str(caught.value)
    assert path.read_bytes() == before                       # left as it was
    for n in params:                                         # and nothing half-loaded
        assert np.array_equal(params[n], start[n])


def test_the_unedited_checkpoint_resumes_to_the_uninterrupted_history(iris, good_checkpoint,
                                                                     tmp_path):
    path = rewrite(good_checkpoint.path, tmp_path / "copy.npz", lambda r: None)
    resumed, _ = fit(iris, path, params=params_for(iris, seed=7), resume=True, epochs=4)
    assert resumed.history == good_checkpoint.history


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b"not a zip", "not an .npz (zip) file"),
    (faults.PARTIAL, "it is truncated or corrupt"),
])
def test_an_unreadable_checkpoint_is_refused(content, message, iris, tmp_path):
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=re.escape(f"{path} is not a readable adc "
                                                        f"checkpoint: {message}")):
        fit(iris, path, resume=True)


def test_a_truncated_copy_of_a_good_checkpoint_is_refused(iris, good_checkpoint, tmp_path):
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(good_checkpoint.path.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="it is truncated or corrupt"):
        fit(iris, path, resume=True)


# ---- optimiser buffers: checked before every fused kernel runs ----

def adam_after_one_step():
    params = {"W": np.ones((3, 4)), "b": np.ones(4)}
    opt = make_optimizer("adam")
    opt.step(params, {n: np.ones_like(p) for n, p in params.items()}, 0.1)
    return opt, params


def strided(n):
    return np.zeros(2 * n)[::2]


def read_only(n):
    array = np.zeros(n)
    array.flags.writeable = False
    return array


@pytest.mark.parametrize("slot, message", [
    (np.zeros(5), "is a float64 array of shape (5,)"),
    (np.zeros(500_000), "is a float64 array of shape (500000,)"),
    (np.zeros(12, np.float32), "is a float32 array of shape (12,)"),
    (np.zeros((3, 4)), "is a float64 array of shape (3, 4)"),
    (strided(12), "is a non-contiguous float64 array of shape (12,)"),
    (read_only(12), "is a read-only float64 array of shape (12,)"),
    ([0.0] * 12, "is a list, not an array"),
], ids=["too small", "too big", "float32", "2-d", "strided", "read-only", "a list"])
def test_a_slot_that_does_not_fit_stops_the_step_before_any_write(slot, message):
    opt, params = adam_after_one_step()
    opt.state["W"]["m"] = slot
    opt.loaded_from = "run/checkpoint.npz"
    before = {n: p.copy() for n, p in params.items()}
    with pytest.raises(OptimizerStateError) as caught:
        opt.step(params, {n: np.ones_like(p) for n, p in params.items()}, 0.1)
    assert str(caught.value) == (f"optimizer slot 'W/m' (loaded from run/checkpoint.npz) "
                                 f"{message}, but parameter 'W' needs a writeable contiguous "
                                 f"float64 array of shape (12,)")
    assert np.array_equal(params["W"], before["W"])


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop",
                                  "adam", "adamw"])
def test_every_optimizer_checks_the_gradient_and_parameter_shapes(name):
    opt = make_optimizer(name)
    params = {"W": np.ones((3, 4))}
    with pytest.raises(OptimizerStateError, match=r"the gradient of 'W' has shape \(5,\), "
                                                  r"but the parameter has shape \(3, 4\)"):
        opt.step(params, {"W": np.ones(5)}, 0.1)
    with pytest.raises(OptimizerStateError, match="parameter 'W' is a non-contiguous"):
        opt.step({"W": np.ones((4, 3)).T}, {"W": np.ones((3, 4))}, 0.1)
    for slot in opt.slots:
        opt = make_optimizer(name)
        opt.state["W"] = {s: np.zeros(12) for s in opt.slots}
        opt.state["W"][slot] = np.zeros(11)
        with pytest.raises(OptimizerStateError, match=f"optimizer slot 'W/{slot}' is a "
                                                      r"float64 array of shape \(11,\)"):
            opt.step(params, {"W": np.ones((3, 4))}, 0.1)


# ---- failed writes: the previous checkpoint stays, the message names the file ----

def test_a_full_disk_stops_the_run_and_keeps_the_last_checkpoint(iris, good_checkpoint,
                                                                 tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.npz"
    monkeypatch.setattr(np, "savez", faults.faulty_savez(np.savez, 3, "disk full"))
    with pytest.raises(WriteError) as caught:
        fit(iris, path, epochs=4)
    assert str(caught.value) == (f"cannot write the checkpoint {path}: No space left on "
                                 "device (ENOSPC); the previous checkpoint there is unchanged")
    monkeypatch.undo()
    assert [n for n in os.listdir(tmp_path) if n.endswith(".tmp")] == []
    assert load_checkpoint(str(path))[1]["epoch"] == 2
    resumed, _ = fit(iris, path, resume=True, epochs=4)
    assert resumed.history == good_checkpoint.history


def test_a_read_only_folder_is_a_clear_error(iris, tmp_path, monkeypatch):
    # simulated (the tests may run as root, who can write anywhere)
    def read_only_mkstemp(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkstemp", read_only_mkstemp)
    with pytest.raises(WriteError, match=r"cannot write the checkpoint .*checkpoint.npz: "
                                         r"Read-only file system \(EROFS\)$"):
        fit(iris, tmp_path / "checkpoint.npz")
    with pytest.raises(WriteError, match=r"cannot write the history file .*h.csv: Read-only"):
        checkpoint.write_history([{"epoch": 1}], str(tmp_path / "h.csv"),
                                 str(tmp_path / "h.json"))


# ---- NaN and infinite weights ----

def test_nan_initial_weights_are_refused(iris, tmp_path):
    params = params_for(iris)
    params["W"][1, 2] = np.nan
    with pytest.raises(TrainingError, match="cannot train from non-finite initial weights: "
                                            "parameter 'W' has 1 NaN or infinite values$"):
        fit(iris, tmp_path / "c.npz", params=params)


def poisoned(module, from_call: int, name: str):
    """The module, with the gradient of `name` NaN from the `from_call`-th value-and-grad
    on while the loss stays finite (as when relu or max hides a NaN in the forward)."""
    calls = [0]

    def value_and_grad(**arrays):
        value, grads = module.loss_value_and_grad(**arrays)
        calls[0] += 1
        if calls[0] >= from_call:
            grads = grads._replace(**{name: np.full_like(getattr(grads, name), np.nan)})
        return value, grads

    return SimpleNamespace(SIGNATURES=module.SIGNATURES, loss=module.loss,
                           loss_value_and_grad=value_and_grad, __name__=module.__name__)


def test_weights_that_turn_nan_stop_the_run_at_that_step(iris, tmp_path):
    path = tmp_path / "checkpoint.npz"
    with pytest.raises(TrainingError) as caught:
        fit(iris, path, module=poisoned(iris.module, 2 * STEPS + 3, "W"), epochs=4)
    assert str(caught.value) == (
        f"training diverged at epoch 3, step {2 * STEPS + 3}: parameter 'W' has 12 NaN or "
        f"infinite values after the update; the checkpoint of epoch 2 (the last good one) "
        f"is kept at {path}; try a smaller learning rate (now 0.05)")
    arrays, meta = load_checkpoint(str(path))
    assert meta["epoch"] == 2 and np.isfinite(arrays["param/W"]).all()


# ---- stale temporary files of a killed write ----

def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_stale_temporaries_of_this_checkpoint_are_removed(tmp_path):
    path = tmp_path / "checkpoint.npz"
    dead, alive = dead_pid(), os.getpid()
    names = {f".checkpoint.npz.{dead}.ab_cd123.tmp": False,    # its writer was killed
             f".checkpoint.npz.{alive}.ab_cd123.tmp": True,    # a writer still running
             f".other.npz.{dead}.ab_cd123.tmp": True,          # another file's
             f".checkpoint.npz.{dead}.notmine.tmp": True,      # not our name pattern
             "checkpoint.npz.tmp": True, "notes.tmp": True}
    for name in names:
        (tmp_path / name).write_bytes(faults.PARTIAL)
    assert remove_stale_temporaries(str(path)) == [str(tmp_path / f".checkpoint.npz.{dead}"
                                                               ".ab_cd123.tmp")]
    assert sorted(os.listdir(tmp_path)) == sorted(n for n, keep in names.items() if keep)


# ---- data files ----

def iris_arrays():
    return data.load_builtin("iris")[0]


def npz_bytes(tmp_path, **arrays) -> bytes:
    np.savez(str(tmp_path / "scratch.npz"), **arrays)
    return (tmp_path / "scratch.npz").read_bytes()


def iris_csv() -> str:
    arrays = iris_arrays()
    rows = [",".join(map(repr, x)) + f",{y}" for x, y in zip(arrays["X"].tolist(),
                                                            arrays["y"])]
    return "\n".join(["a,b,c,d,y", *rows]) + "\n"


# file name, its content (from tmp_path), what the message says after the file name
DATA_FILES = {
    "truncated npz": ("d.npz", lambda t: npz_bytes(t, **iris_arrays())[:-300],
                      " is not a readable .npz data file: it is truncated or corrupt"),
    "empty npz": ("d.npz", lambda t: b"", " is not a readable .npz data file: the file is "
                                          "empty"),
    "zero-row npz": ("d.npz", lambda t: npz_bytes(t, X=np.zeros((0, 4)),
                                                  y=np.zeros(0, int)),
                     ": array 'X' has no rows (shape (0, 4)); training needs at least one "
                     "sample"),
    "zero-row test split": ("d.npz", lambda t: npz_bytes(t, **iris_arrays(),
                                                         X_test=np.zeros((0, 4)),
                                                         y_test=np.zeros(0, int)),
                            " (test split): array 'X' has no rows"),
    "truncated csv": ("d.csv", lambda t: iris_csv()[:iris_csv().rindex(",")].encode(),
                      ", line 121: 4 values, but the header has 5 (is the file truncated?)"),
    "header-only csv": ("d.csv", lambda t: b"a,b,c,d,y\n",
                        ": a CSV file needs a header row and at least one data row"),
    "csv not UTF-8": ("d.csv", lambda t: b"a,b,c,d,y\n1,2,3,4,\xff\n", ": not UTF-8 text"),
}


def adc_train(*args):
    return CliRunner().invoke(main, ["train", *map(str, args)])


def assert_clean_failure(result, *fragments):
    """Exit code 1 with the message on stderr: no traceback, not even a caught one."""
    if isinstance(result, subprocess.CompletedProcess):
        code, stderr, output = result.returncode, result.stderr, result.stdout + result.stderr
    else:
        assert result.exc_info[0] is SystemExit, result.exc_info
        code, stderr, output = result.exit_code, result.stderr, result.output
    assert code == 1, output
    assert "Traceback" not in output
    for fragment in fragments:
        assert fragment in stderr


@pytest.fixture(scope="module")
def cli_out(tmp_path_factory):
    # one --out for every command-line run: they share the module's Numba cache
    return tmp_path_factory.mktemp("faults-cli")


CLI = ["--epochs", "4", "--lr", "0.05", "--batch-size", "16", "--patience", "5", "--quiet"]


@pytest.mark.parametrize("case", sorted(DATA_FILES))
def test_a_broken_data_file_is_a_clear_message(case, cli_out, tmp_path):
    name, content, message = DATA_FILES[case]
    path = tmp_path / name
    path.write_bytes(content(tmp_path))
    assert_clean_failure(adc_train(IRIS, "--data", path, *CLI, "--out", cli_out,
                                   "--checkpoint", tmp_path / "c.npz"), f"{path}{message}")
    assert not (tmp_path / "c.npz").exists()


@pytest.mark.parametrize("option, message", [
    ("--checkpoint", "the checkpoint would overwrite the data file {data}; choose another "
                     "--checkpoint"),
    ("--plot", "the plot would overwrite the data file {data}; choose another --plot"),
])
def test_outputs_never_overwrite_the_data_file(option, message, cli_out, tmp_path):
    path = tmp_path / "d.npz"
    path.write_bytes(npz_bytes(tmp_path, **iris_arrays()))
    before = path.read_bytes()
    assert_clean_failure(adc_train(IRIS, "--data", path, *CLI, "--out", cli_out, option,
                                   path), message.format(data=path))
    assert path.read_bytes() == before


def test_runtime_errors_are_one_family_that_the_command_line_reports():
    for cls in (CheckpointError, DataError, OptimizerStateError, TrainingError, WriteError):
        assert issubclass(cls, RunError) and issubclass(cls, AdcError)
    assert issubclass(DataError, ValueError) and issubclass(TrainingError, RuntimeError)


# ---- the command line: faults in a fresh `adc train` process ----

def adc_train_process(*args, inject=None):
    """`adc train ARGS` in a new Python process, with `faults.inject(*inject)` first."""
    code = ["import sys", f"sys.path.insert(0, {HERE!r})"]
    if inject:
        code += ["import faults", f"faults.inject{tuple(inject)!r}"]
    code += ["from adc.cli.main import main",
             f"main(['train', *{[str(a) for a in args]!r}], prog_name='adc')"]
    return subprocess.run([sys.executable, "-c", "\n".join(code)], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def cli_runs(cli_out):
    """An uninterrupted 4-epoch run, and a checkpoint after 2 epochs of the same run."""
    whole = adc_train(IRIS, "--data", "iris", *CLI, "--out", cli_out,
                      "--checkpoint", cli_out / "whole.npz")
    assert whole.exit_code == 0, whole.output
    half = adc_train(IRIS, "--data", "iris", *CLI, "--epochs", "2", "--out", cli_out,
                     "--checkpoint", cli_out / "half.npz")
    assert half.exit_code == 0, half.output
    return SimpleNamespace(history=load_checkpoint(str(cli_out / "whole.npz"))[1]["history"],
                           half=cli_out / "half.npz", summary=summary(whole))


def summary(result) -> dict:
    pairs = dict(p.split("=", 1) for p in result.stdout.strip().splitlines()[-1].split())
    pairs.pop("seconds")
    return pairs


@pytest.mark.parametrize("case", ["epoch -3", "slot too small", "parameter NaN",
                                  "step missing", "opt/t as text"])
def test_adc_train_refuses_an_edited_checkpoint(case, cli_runs, cli_out, tmp_path):
    edit, message = EDITS[case]
    path = rewrite(cli_runs.half, tmp_path / "edited.npz", edit)
    before = path.read_bytes()
    result = adc_train(IRIS, "--data", "iris", *CLI, "--out", cli_out, "--checkpoint", path,
                       "--resume")
    assert_clean_failure(result, f"error: cannot resume from {path}: {message}")
    assert path.read_bytes() == before


def test_adc_train_killed_mid_write_resumes_to_the_uninterrupted_run(cli_runs, cli_out,
                                                                     tmp_path):
    path = tmp_path / "checkpoint.npz"
    args = [IRIS, "--data", "iris", *CLI, "--out", cli_out, "--checkpoint", path]
    killed = adc_train_process(*args, inject=(3, "kill"))      # kill -9 in the 3rd write
    assert killed.returncode == -9, killed.stderr
    left = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert len(left) == 1 and left[0].startswith(".checkpoint.npz.")
    assert load_checkpoint(str(path))[1]["epoch"] == 2          # the last complete one
    resumed = adc_train(*args, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert os.listdir(tmp_path) == ["checkpoint.npz"]            # the stale file is gone
    assert summary(resumed) == cli_runs.summary
    assert load_checkpoint(str(path))[1]["history"] == cli_runs.history


def test_adc_train_with_a_full_disk_exits_1_and_keeps_the_checkpoint(cli_out, tmp_path):
    path = tmp_path / "checkpoint.npz"
    result = adc_train_process(IRIS, "--data", "iris", *CLI, "--out", cli_out,
                               "--checkpoint", path, inject=(2, "disk full"))
    assert_clean_failure(result, f"error: cannot write the checkpoint {path}: No space left "
                                 "on device (ENOSPC); the previous checkpoint there is "
                                 "unchanged")
    assert load_checkpoint(str(path))[1]["epoch"] == 1
    assert os.listdir(tmp_path) == ["checkpoint.npz"]


def test_adc_train_refuses_a_damaged_checkpoint_in_a_fresh_process(cli_runs, cli_out,
                                                                   tmp_path):
    path = rewrite(cli_runs.half, tmp_path / "edited.npz", set_array("opt/W/m", np.zeros(5)))
    result = adc_train_process(IRIS, "--data", "iris", *CLI, "--out", cli_out,
                               "--checkpoint", path, "--resume")
    assert_clean_failure(result, f"cannot resume from {path}: optimizer slot 'W/m' is a "
                                 "float64 array of shape (5,)")


def test_adc_train_stops_a_diverging_run_and_keeps_the_last_good_checkpoint(cli_out,
                                                                           tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 10))
    np.savez(tmp_path / "linear.npz", X=X, y=X @ np.arange(10.0))
    path = tmp_path / "checkpoint.npz"
    result = adc_train(sample_path("linear_regression"), "--data", tmp_path / "linear.npz",
                       "--optimizer", "sgd", "--lr", "1000", "--epochs", "50", "--quiet",
                       "--out", cli_out, "--checkpoint", path)
    assert_clean_failure(result, "error: training diverged at ", "(the last good one) is "
                                 f"kept at {path}; try a smaller learning rate (now 1000)")
    arrays, meta = load_checkpoint(str(path))
    assert 0 < meta["epoch"] < 50
    assert all(np.isfinite(a).all() for a in arrays.values())
