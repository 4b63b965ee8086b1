"""What a checkpoint must hold to resume a run: every field is checked against the run
before anything is loaded, so a damaged or edited checkpoint is refused with a
`CheckpointError` naming the file and the field, never half-loaded.

The counters are checked for consistency, not only for type: checkpoints are written at
the end of an epoch, so `step` is `epoch` times the steps per epoch, the optimiser took
one step per batch (`opt/t == step`), the history has one row per epoch, and the
early-stopping counters agree with the history. Parameters (and the best weights, and
every optimiser slot) must have the model's shapes and dtype and hold finite values.
"""
from __future__ import annotations

import copy
import math

import numpy as np

from .errors import CheckpointError, OptimizerStateError

COUNTERS = ("epoch", "step", "best_loss", "best_epoch", "wait", "stopped", "history")
PREFIXES = ("param/", "best/", "opt/")


def _refuse(path: str, problem: str) -> CheckpointError:
    return CheckpointError(f"cannot resume from {path}: {problem}")


def _found(value) -> str:
    if isinstance(value, (dict, list)):
        return f"a JSON {'object' if isinstance(value, dict) else 'list'}"
    return "text " + repr(value) if isinstance(value, str) else repr(value)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def check_settings(path: str, meta: dict, want: dict):
    """The settings the checkpoint was written with must be this run's."""
    have = meta.get("settings")
    if not isinstance(have, dict):
        raise _refuse(path, "the field 'settings' (the options of the run that wrote it) "
                            + ("is missing" if have is None else f"is {_found(have)}"))
    differ = [k for k in want if have.get(k) != want[k]]
    if differ:
        raise CheckpointError(
            f"checkpoint {path} was written by a different run: "
            + "; ".join(f"{k} was {have.get(k)!r}, now {want[k]!r}" for k in differ))


def _field(path, meta, key, ok, rule):
    if key not in meta:
        raise _refuse(path, f"the field '{key}' is missing")
    if not ok(meta[key]):
        raise _refuse(path, f"the field '{key}' is {_found(meta[key])}; it must be {rule}")
    return meta[key]


def check_history(path: str, history, epoch: int):
    """One row per epoch, numbered 1, 2, ..., with finite numbers (or empty values)."""
    if len(history) != epoch:
        raise _refuse(path, f"the history has {len(history)} rows, but the field 'epoch' "
                            f"is {epoch}")
    for number, row in enumerate(history, start=1):
        if not isinstance(row, dict) or row.get("epoch") != number:
            raise _refuse(path, f"history row {number} is not the record of epoch {number}")
        for key, value in row.items():
            if not (value is None or _is_number(value)):
                raise _refuse(path, f"history row {number}: '{key}' is {_found(value)}, "
                                    "not a finite number")
        if not _is_number(row.get("train_loss")):
            raise _refuse(path, f"history row {number} has no training loss")


def check_counters(path: str, meta: dict, steps_per_epoch: int | None) -> dict:
    """The counters of `meta`, checked alone and against each other.

    `steps_per_epoch` is None for a full-batch optimiser (its `step` is the optimiser's
    own count, checked against `opt/t` instead).
    """
    epoch = _field(path, meta, "epoch", _is_count, "a whole number >= 0")
    step = _field(path, meta, "step", _is_count, "a whole number >= 0")
    history = _field(path, meta, "history", lambda v: isinstance(v, list),
                     "a list with one row per epoch")
    check_history(path, history, epoch)
    if steps_per_epoch is not None and step != epoch * steps_per_epoch:
        raise _refuse(path, f"the field 'step' is {step}, but {epoch} epochs of "
                            f"{steps_per_epoch} steps make {epoch * steps_per_epoch}")
    stopped = _field(path, meta, "stopped", lambda v: isinstance(v, bool), "true or false")
    best_epoch = _field(path, meta, "best_epoch",
                        lambda v: v is None or (_is_count(v) and 1 <= v <= epoch),
                        f"empty (null) or an epoch from 1 to {epoch}")
    best_loss = _field(path, meta, "best_loss",
                       lambda v: (v is None) if best_epoch is None else _is_number(v),
                       "empty (null)" if best_epoch is None else
                       f"the loss of epoch {best_epoch}, a finite number")
    if best_epoch is not None:
        row = history[best_epoch - 1]
        if best_loss not in (row.get("val_loss"), row.get("train_loss")):
            raise _refuse(path, f"the field 'best_loss' is {best_loss!r}, but epoch "
                                f"{best_epoch} in the history has another loss")
    waited = epoch - best_epoch if best_epoch is not None else 0
    _field(path, meta, "wait", lambda v: v == waited and _is_count(v),
           f"{waited}, the epochs since the best one" if best_epoch is not None else "0")
    return {"epoch": epoch, "step": step, "best_loss": best_loss, "best_epoch": best_epoch,
            "wait": meta["wait"], "stopped": stopped, "history": history}


def check_weights(path: str, arrays: dict, prefix: str, params: dict, what: str):
    """`arrays[prefix + name]` for every parameter: present, the parameter's shape and
    dtype, finite; and no array under `prefix` for a name that is not a parameter."""
    for key in arrays:
        if key.startswith(prefix) and key[len(prefix):] not in params:
            raise _refuse(path, f"it has {what} '{key[len(prefix):]}', which is not a "
                                "parameter of the model")
    for name, p in params.items():
        array = arrays.get(prefix + name)
        if array is None:
            raise _refuse(path, f"{what} '{name}' is missing")
        if array.shape != p.shape:
            raise _refuse(path, f"{what} '{name}' has shape {array.shape}, but the model "
                                f"declares {p.shape}")
        if array.dtype != p.dtype:
            raise _refuse(path, f"{what} '{name}' is {array.dtype}, but the model's "
                                f"parameters are {p.dtype}")
        bad = ~np.isfinite(array)
        if bad.any():
            raise _refuse(path, f"{what} '{name}' holds {int(bad.sum())} NaN or infinite "
                                "values")


def check_optimizer(path: str, arrays: dict, optimizer, params: dict, complete: bool,
                    step: int):
    """The `opt/...` arrays (here without the prefix) load into a copy of `optimizer` and
    fit `params`; the optimiser took one step per batch."""
    t = arrays.get("t")
    if not (isinstance(t, np.ndarray) and t.shape == () and t.dtype.kind in "iu"
            and int(t) >= 0):
        found = ("missing" if t is None else _found(t.tolist()) if t.shape == ()
                 else f"an array of shape {t.shape}")
        raise _refuse(path, f"the array 'opt/t' (the optimizer's step count) is {found}; "
                            "it must be a whole number >= 0")
    trial = copy.copy(optimizer)
    try:
        trial.load_state_dict(arrays)
        trial.check_state(params, complete)
    except OptimizerStateError as exc:
        raise _refuse(path, str(exc)) from None
    if trial.t != step:
        raise _refuse(path, f"the optimizer step count 'opt/t' is {trial.t}, but the field "
                            f"'step' is {step} (one optimizer step per batch)")


def checked_state(path: str, arrays: dict, meta: dict, *, settings: dict, params: dict,
                  optimizer, steps_per_epoch: int | None) -> dict:
    """The training state a checkpoint holds, after every check; only then are `params`
    overwritten and the optimiser's state loaded. `settings` is this run's, as JSON."""
    check_settings(path, meta, settings)
    state = check_counters(path, meta, steps_per_epoch)
    unknown = [k for k in arrays if not k.startswith(PREFIXES)]
    if unknown:
        raise _refuse(path, f"it has an array '{unknown[0]}' that adc checkpoints do not "
                            "have")
    check_weights(path, arrays, "param/", params, "the parameter")
    if state["best_epoch"] is not None or any(k.startswith("best/") for k in arrays):
        if state["best_epoch"] is None:
            raise _refuse(path, "it has best weights, but the field 'best_epoch' is empty")
        check_weights(path, arrays, "best/", params, "the best weight")
    opt_arrays = {k[4:]: v for k, v in arrays.items() if k.startswith("opt/")}
    check_optimizer(path, opt_arrays, optimizer, params,
                    complete=steps_per_epoch is not None and state["step"] > 0,
                    step=state["step"])

    for name, p in params.items():
        p[...] = arrays[f"param/{name}"]
    optimizer.load_state_dict(opt_arrays, source=path)
    best = {n: arrays[f"best/{n}"].copy() for n in params} if state["best_epoch"] else None
    return {**state, "best": best}
