"""The Trainer: epochs of shuffled mini-batches over a compiled model's value-and-grad.

    module = adc.compile("samples/digits_mlp.py", "build/digits_mlp_adc.py")
    trainer = Trainer(module, "loss", optimizer=Adam(), lr=1e-2, epochs=30,
                      batch_size=32, patience=5, predict=predict, target="y")
    result = trainer.fit(params, train, val)      # params are updated in place

Each epoch: one pass of seeded mini-batches (`data.batch_indices`), an optimiser step
per batch at the scheduled rate, then the validation loss (and accuracy) with the
epoch's final weights. The history row of an epoch holds `epoch`, `lr`, `train_loss`
(the mean of the epoch's batch losses, weighted by batch size), `val_loss`, and for
classifiers `train_accuracy` and `val_accuracy` (fractions, on the whole split).

- L2 weight decay (`weight_decay`) adds `weight_decay * W` to the gradient of every
  weight (rank >= 2; biases are not decayed) inside the optimiser's fused loop; losses
  in the history are the model's own, without that term. (AdamW's decoupled decay is a
  hyper-parameter of `AdamW` instead.)
- Early stopping (`patience=k`): stop after k epochs without a better monitored loss
  (validation loss, or training loss without a validation split) and put the best
  weights back. With `patience` set, the returned weights are the best epoch's.
- Checkpoints (`checkpoint=PATH`): written atomically after every epoch with the
  weights, the optimiser's state, the step counter, the early-stopping state and the
  history. `fit(..., resume=True)` continues from it, after `resume.checked_state` has
  checked every field; because batch order and learning rates depend only on (seed,
  epoch, step), a resumed run reproduces an uninterrupted one bit for bit. A run first
  deletes the temporary files a killed run left beside its checkpoint.
- Divergence: a NaN or infinite loss (training or validation) or parameter value stops
  the run with a `TrainingError` naming the epoch, the step and the parameter; the
  optimiser kernels count non-finite values as they write them, so this costs no extra
  pass. The checkpoint of the last good epoch is left as it was. Initial weights must be
  finite.
- L-BFGS (`optimizer=LBFGS(iterations=k)`) trains full-batch: each epoch is one SciPy
  L-BFGS-B run of k iterations on the whole training split.
- The GPU (`device="cuda"`): the same loop over `DeviceTraining` (runtime/device.py)
  instead of `HostTraining`: weights, optimiser slots and the training split stay on the
  device, and come back to the host once per epoch, for scoring and the checkpoint.

Scores. Without further ado a model is scored by the compiled `<loss>_predict` that the
compiler derives from its loss call (PREDICTIONS in the generated module): accuracy for
the classification losses, RMSE for `mse` (METRIC_OF_LOSS). A model file can instead
make itself a classifier explicitly by defining a
function named `logits` (see `LOGITS`) that takes some of the loss's arguments by the
same names and returns the scores: shape (N, C) for C classes (the prediction is the
argmax of a row) or (N,) for a binary classifier (the prediction is `score > 0`). The
loss's one Data/Index argument that `logits` does not take is the target (labels, `y`
in the built-in datasets). `logits` may be an ordinary helper without annotations, which
the loss calls: it is then run eagerly with NumPy through `adc.lang` (the model file is
imported for that, and only for that); if it is an annotated entry point, its compiled
version is used. `predict_function` implements the lookup.
"""
from __future__ import annotations

import importlib.util
import inspect
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from . import checkpoint as ckpt
from . import data as data_mod
from .errors import TrainingError
from .optimizers import Optimizer
from .resume import checked_state
from .schedules import make_schedule

LOGITS = "logits"
EVAL_CHUNK = 4096      # rows per forward call when evaluating a whole split


@dataclass
class FitResult:
    history: list
    params: dict
    best_epoch: int | None
    stopped_early: bool
    seconds: float = 0.0
    final: dict = field(default_factory=dict)   # the history row of the returned weights


# ---- the `logits` convention ----

def _import_model(path: str):
    name = "_adc_eager_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, os.path.abspath(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# What each loss that the compiler derives f_predict from measures (compiler/frontend.py's
# PREDICTING_LOSSES): classifiers their accuracy, a regression its RMSE.
METRIC_OF_LOSS = {"cross_entropy": "accuracy", "binary_cross_entropy_with_logits": "accuracy",
                  "multiclass_hinge": "accuracy", "mse": "rmse"}


class Predictor:
    """predict(arrays, params) -> scores, and what they are scored by ("accuracy" of the
    argmax / sign against labels, or "rmse" against regression targets)."""

    def __init__(self, fn, names, metric="accuracy", source=LOGITS):
        self.fn, self.names, self.metric, self.source = fn, list(names), metric, source

    def __call__(self, arrays, params):
        values = {**arrays, **params}     # a float/int argument left out takes its default
        return np.asarray(self.fn(**{n: values[n] for n in self.names if n in values}))


def predict_function(module, model_path: str, spec: data_mod.ModelSpec):
    """(Predictor, target name): the model's own `logits` function when it has one (an
    explicit override), else the compiled `<loss>_predict` the compiler derived from the
    loss call; (None, None) when there is neither (see `no_prediction_reason`)."""
    found = _logits_function(module, model_path)
    if found is None:
        return _compiled_prediction(module, spec)
    fn, names = found
    known = set(spec.inputs) | set(spec.params)
    if not set(names) <= known:
        return None, None
    targets = [n for n in spec.inputs if n not in names]
    if len(targets) != 1:
        return None, None
    return Predictor(fn, names), targets[0]


def _logits_function(module, model_path):
    if LOGITS in getattr(module, "SIGNATURES", {}):
        return getattr(module, LOGITS), list(module.SIGNATURES[LOGITS]["args"])
    with open(model_path, encoding="utf-8") as f:
        if f"def {LOGITS}(" not in f.read():
            return None
    fn = getattr(_import_model(model_path), LOGITS, None)
    if not callable(fn):
        return None
    return fn, list(inspect.signature(fn).parameters)


def _compiled_prediction(module, spec):
    name = module.SIGNATURES[spec.fname].get("predict")
    entry = getattr(module, "PREDICTIONS", {}).get(name) if name else None
    if entry is None:
        return None, None
    predicts = entry["predicts"]
    metric = METRIC_OF_LOSS.get(predicts["loss"])
    if metric is None or predicts["target"] not in spec.inputs:
        return None, None
    return Predictor(getattr(module, name), entry["args"], metric, name), predicts["target"]


def rmse_parts(predicted: np.ndarray, targets: np.ndarray) -> float:
    """The sum of squared errors (the RMSE is its mean's square root)."""
    diff = np.asarray(predicted, dtype=np.float64).reshape(len(targets), -1) - \
        np.asarray(targets, dtype=np.float64).reshape(len(targets), -1)
    with np.errstate(over="ignore", invalid="ignore"):   # a diverging run: inf, reported
        return float(np.sum(diff * diff) / diff.shape[1])


def accuracy_of(scores: np.ndarray, labels: np.ndarray) -> int:
    """How many rows the scores classify correctly (argmax, or score > 0 when 1-D)."""
    predicted = np.argmax(scores, axis=1) if scores.ndim == 2 else (scores > 0)
    return int(np.sum(predicted.astype(np.int64) == labels.astype(np.int64)))


# ---- what the loop works on: host arrays here, device arrays in runtime/device.py ----

class HostTraining:
    """The CPU side of the training loop: the caller's NumPy arrays, updated in place by
    the optimiser's fused loops. `device.DeviceTraining` has the same methods."""

    def __init__(self, trainer, params: dict, train: dict):
        self.value_and_grad = trainer.value_and_grad
        self.optimizer = trainer.optimizer
        self.params, self.train = params, train

    def batches(self, indices: list):
        """(rows, arrays) of each mini-batch."""
        for idx in indices:
            yield len(idx), data_mod.take(self.train, idx)

    @staticmethod
    def scalar(value) -> float:
        return float(value)

    def to_host(self, params: dict):
        """Nothing to copy: the loop updated `params` itself."""


def _training_arrays(device: str):
    """The class of what the loop works on: HostTraining, or DeviceTraining on the GPU."""
    if device == "cpu":
        return HostTraining
    from .device import DeviceTraining        # imports numba.cuda: only for the GPU
    return DeviceTraining


# ---- the trainer ----

class Trainer:
    """Mini-batch training of one scalar entry point of a generated module."""

    def __init__(self, module, fname: str = "loss", *, optimizer: Optimizer,
                 lr: float = 1e-3, schedule="constant", schedule_options=None,
                 warmup: float = 0.0, epochs: int = 10, batch_size: int = 32,
                 weight_decay: float = 0.0, patience: int | None = None, seed: int = 0,
                 predict=None, target: str | None = None, checkpoint: str | None = None,
                 progress: bool = False, hyper: dict | None = None, device: str = "cpu"):
        self.module, self.fname = module, fname
        self.spec = data_mod.ModelSpec.from_module(module, fname)
        self.value_and_grad = getattr(module, f"{fname}_value_and_grad")
        self.value = getattr(module, fname)
        self.optimizer = optimizer
        self.lr, self.schedule, self.warmup = float(lr), schedule, float(warmup)
        self.schedule_options = dict(schedule_options or {})
        self.epochs, self.batch_size = int(epochs), int(batch_size)
        self.weight_decay, self.patience, self.seed = float(weight_decay), patience, int(seed)
        self.predict, self.target = predict, target
        self.checkpoint, self.progress = checkpoint, progress
        self.hyper = dict(hyper or {})
        self.device = device
        if device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
        if device == "cuda":
            from .device import check_target
            check_target(optimizer)
        if self.batch_size < 1 or self.epochs < 0:
            raise ValueError("batch_size must be >= 1 and epochs >= 0")
        if patience is not None and patience < 1:
            raise ValueError("patience must be >= 1")

    # -- evaluation --

    def _chunks(self, arrays):
        n = data_mod.n_samples(arrays)
        for start in range(0, n, EVAL_CHUNK):
            idx = np.arange(start, min(n, start + EVAL_CHUNK))
            yield data_mod.take(arrays, idx), len(idx)

    @property
    def metric(self) -> str | None:
        """"accuracy" (classifiers), "rmse" (regressions) or None (no prediction)."""
        return None if self.predict is None else getattr(self.predict, "metric", "accuracy")

    def evaluate(self, params: dict, arrays: dict) -> dict:
        """{"loss": mean loss over the rows, and "accuracy" (fraction correct) for a
        classifier or "rmse" for a regression}."""
        out = {"loss": self._mean_loss(params, arrays)}
        if self.predict is not None:
            out[self.metric] = self._score(params, arrays)
        return out

    def _mean_loss(self, params, arrays) -> float:
        # the loss is a mean over rows, so chunks combine weighted by their size
        total, n = 0.0, 0
        for chunk, size in self._chunks(arrays):
            total += float(self.value(**chunk, **params, **self.hyper)) * size
            n += size
        return total / n

    def _score(self, params, arrays) -> float:
        """Accuracy (fraction correct) or RMSE over the rows, chunk by chunk."""
        total, n = 0.0, 0
        score = accuracy_of if self.metric == "accuracy" else rmse_parts
        for chunk, size in self._chunks(arrays):
            total += score(self.predict(chunk, {**params, **self.hyper}), chunk[self.target])
            n += size
        return total / n if self.metric == "accuracy" else math.sqrt(total / n)

    # -- one epoch --

    def _decay(self, params) -> dict:
        return {n: self.weight_decay for n, p in params.items() if p.ndim >= 2}

    def _penalty(self, params) -> float:
        """The L2 term the decay gradient belongs to (L-BFGS needs the value too)."""
        return sum(0.5 * w * float(np.sum(params[n] ** 2))
                   for n, w in self._decay(params).items())

    def _batch_epoch(self, work, epoch, state):
        """One pass of mini-batches over `work` (HostTraining or DeviceTraining)."""
        n = data_mod.n_samples(work.train)
        decay, total, lr = self._decay(work.params), 0.0, None
        indices = data_mod.batch_indices(n, self.batch_size, self.seed, epoch)
        for rows, batch in work.batches(indices):
            value, grads = work.value_and_grad(**batch, **work.params, **self.hyper)
            value = work.scalar(value)
            if not math.isfinite(value):
                raise self._diverged(state, f"the loss is {value}")
            lr = float(self._schedule_fn(state["step"]))
            bad = work.optimizer.step(work.params, grads, lr, decay)
            if bad:
                raise self._diverged(state, _bad_values(bad, "after the update"))
            state["step"] += 1
            total += value * rows
        return total / n, lr

    def _full_batch_epoch(self, params, train, state):
        decay = self._decay(params)

        def objective(p):
            value, grads = self.value_and_grad(**train, **p, **self.hyper)
            grads = {n: np.asarray(getattr(grads, n)) + decay.get(n, 0.0) * p[n] for n in p}
            return float(value) + self._penalty(p), grads

        self.optimizer.minimize(objective, params)
        bad = non_finite(params)
        if bad:
            raise self._diverged(state, _bad_values(bad, "after L-BFGS"))
        state["step"] = self.optimizer.t
        value = float(self.value(**train, **params, **self.hyper))
        if not math.isfinite(value):
            raise self._diverged(state, f"the loss is {value}")
        return value, None

    def _diverged(self, state, what: str, at: str | None = None) -> TrainingError:
        """The divergence error: where it happened (by default the step under way),
        what, and which checkpoint was kept."""
        where = at or f"epoch {state['epoch'] + 1}" + (
            "" if self.optimizer.full_batch else f", step {state['step'] + 1}")
        kept = ""
        if self.checkpoint and state["epoch"] > 0 and os.path.exists(self.checkpoint):
            kept = (f"; the checkpoint of epoch {state['epoch']} (the last good one) is "
                    f"kept at {self.checkpoint}")
        advice = f"try a smaller learning rate (now {self.lr:g})"
        return TrainingError(f"training diverged at {where}: {what}{kept}; {advice}")

    # -- checkpoints --

    def _settings(self, n_train) -> dict:
        """What a checkpoint must share with the run that resumes it."""
        return {"model_sha256": getattr(self.module, "SOURCE_SHA256", ""),
                "function": self.fname, "optimizer": self.optimizer.name,
                "optimizer_hyper": self.optimizer.hyper(), "lr": self.lr,
                "schedule": self.schedule if isinstance(self.schedule, str) else "custom",
                "schedule_options": self.schedule_options,
                "warmup": self.warmup, "batch_size": self.batch_size,
                "weight_decay": self.weight_decay, "seed": self.seed, "n_train": n_train,
                "hyper": self.hyper}

    def _save(self, params, state, n_train):
        arrays = {f"param/{n}": p for n, p in params.items()}
        if state["best"] is not None:
            arrays.update({f"best/{n}": p for n, p in state["best"].items()})
        arrays.update({f"opt/{k}": v for k, v in self.optimizer.state_dict().items()})
        meta = {k: state[k] for k in ("epoch", "step", "best_loss", "best_epoch", "wait",
                                      "stopped", "history")}
        meta["settings"] = self._settings(n_train)
        ckpt.save_checkpoint(self.checkpoint, arrays, meta)

    def _load(self, params, n_train, steps) -> dict:
        arrays, meta = ckpt.load_checkpoint(self.checkpoint)
        return checked_state(self.checkpoint, arrays, meta,
                             settings=json_round_trip(self._settings(n_train)),
                             params=params, optimizer=self.optimizer,
                             steps_per_epoch=None if self.optimizer.full_batch else steps)

    # -- the loop --

    def fit(self, params: dict, train: dict, val: dict | None = None,
            resume: bool = False) -> FitResult:
        """Train `params` (name -> float64 array, updated in place) on `train`."""
        missing = [n for n in self.spec.params if n not in params]
        if missing:
            raise ValueError(f"no initial value for parameter(s) {', '.join(missing)}")
        n_train = data_mod.n_samples(train)
        steps = 1 if self.optimizer.full_batch else math.ceil(n_train / self.batch_size)
        self._schedule_fn = self.schedule if callable(self.schedule) else make_schedule(
            self.schedule, self.lr, self.epochs, steps, self.warmup, **self.schedule_options)
        if self.checkpoint:
            ckpt.remove_stale_temporaries(self.checkpoint)
        if resume:
            state = self._load(params, n_train, steps)
        else:
            _check_initial_values(params)
            state = {"epoch": 0, "step": 0, "best_loss": None, "best_epoch": None,
                     "wait": 0, "stopped": False, "history": [], "best": None}
        started = time.perf_counter()
        work = _training_arrays(self.device)(self, params, train)
        name = getattr(self.module, "__name__", self.fname).removesuffix("_adc")
        bar = _progress(self.progress, self.epochs, state["epoch"], name)
        try:
            while state["epoch"] < self.epochs and not state["stopped"]:
                self._run_epoch(params, train, val, state, work)
                if self.checkpoint:
                    self._save(params, state, n_train)
                if bar is not None:
                    bar.set_postfix(_postfix(state["history"][-1]), refresh=False)
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        return self._result(params, state, time.perf_counter() - started)

    def _run_epoch(self, params, train, val, state, work):
        epoch = state["epoch"]
        if self.optimizer.full_batch:
            train_loss, lr = self._full_batch_epoch(params, train, state)
        else:
            train_loss, lr = self._batch_epoch(work, epoch, state)
            work.to_host(params)      # the epoch's weights, to score and checkpoint
        row = {"epoch": epoch + 1, "lr": lr, "train_loss": train_loss}
        if self.predict is not None:
            row[f"train_{self.metric}"] = self._score(params, train)
        if val is not None:
            scores = self.evaluate(params, val)
            if not math.isfinite(scores["loss"]):
                raise self._diverged(state, f"the validation loss is {scores['loss']}",
                                     at=f"the end of epoch {epoch + 1}")
            row["val_loss"] = scores["loss"]
            if self.metric in scores:
                row[f"val_{self.metric}"] = scores[self.metric]
        state["history"].append(row)
        state["epoch"] = epoch + 1
        self._early_stopping(params, state, row["val_loss" if val is not None else "train_loss"])

    def _early_stopping(self, params, state, monitored):
        if self.patience is None:
            return
        if state["best_loss"] is None or monitored < state["best_loss"]:
            state.update(best_loss=monitored, best_epoch=state["epoch"], wait=0,
                         best={n: p.copy() for n, p in params.items()})
            return
        state["wait"] += 1
        state["stopped"] = state["wait"] >= self.patience

    def _result(self, params, state, seconds) -> FitResult:
        history = state["history"]
        final = history[-1] if history else {}
        if self.patience is not None and state["best"] is not None:
            for n, p in params.items():
                p[...] = state["best"][n]
            final = history[state["best_epoch"] - 1]
        return FitResult(history, params, state["best_epoch"], state["stopped"], seconds,
                         dict(final))


def non_finite(params: dict) -> dict:
    """{name: count} of the parameters holding NaN or infinite values."""
    counts = {n: int(np.size(p) - np.count_nonzero(np.isfinite(p))) for n, p in params.items()}
    return {n: c for n, c in counts.items() if c}


def _bad_values(bad: dict, when: str) -> str:
    (name, count), *rest = bad.items()
    also = ", ".join(f"'{n}': {c}" for n, c in rest)
    return (f"parameter '{name}' has {count} NaN or infinite values {when}".rstrip()
            + (f" (also {also})" if also else ""))


def _check_initial_values(params: dict):
    bad = non_finite(params)
    if bad:
        raise TrainingError("cannot train from non-finite initial weights: "
                            + _bad_values(bad, ""))


def json_round_trip(value):
    """`value` as it reads back from JSON (tuples become lists), for comparisons."""
    return json.loads(json.dumps(value))


def _postfix(row) -> dict:
    keys = ("train_loss", "val_loss", "val_accuracy")
    return {k: f"{row[k]:.4g}" for k in keys if row.get(k) is not None}


def _progress(enabled, total, initial, name):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=f"training {name}", unit="epoch",
                file=sys.stderr, dynamic_ncols=True)
