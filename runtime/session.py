"""One training run end to end, as `adc train` does it: compile, load and check data,
split, standardise, initialise, train, test, and write history, plot and checkpoint."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from . import data as data_mod
from .checkpoint import os_error_text, remove_stale_temporaries, write_history
from .errors import WriteError
from .initializers import follow_activations, init_params
from .optimizers import DEFAULT_LR, make_optimizer
from .plotting import plot_history
from .trainer import METRIC_OF_LOSS, FitResult, Trainer, predict_function


@dataclass
class RunOptions:
    model: str
    data: str
    function: str = "loss"
    epochs: int = 20
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float | None = None              # None: the optimiser's DEFAULT_LR
    schedule: str = "constant"
    schedule_options: dict = field(default_factory=dict)
    warmup: float = 0.0
    init: str = "auto"
    val_split: float = 0.1
    patience: int | None = None
    weight_decay: float = 0.0
    seed: int = 0
    standardize: bool = True
    out_dir: str | None = None           # default: adc-runs/<model name>
    checkpoint: str | None = None        # default: <out_dir>/checkpoint.npz
    resume: bool = False
    plot: str | None = None              # default: <out_dir>/learning_curve.png
    progress: bool = True
    target: str = "cpu"
    settings: dict = field(default_factory=dict)   # --set NAME=VALUE (text) for float/int args


@dataclass
class RunReport:
    summary: dict                        # name -> value, for the summary line
    paths: dict                          # what -> where it was written
    fit: FitResult
    notes: list = field(default_factory=list)   # printed before the summary line
    module: object = None                       # the compiled model, for another run


def default_out_dir(model: str) -> str:
    return os.path.join("adc-runs", os.path.splitext(os.path.basename(model))[0])


def module_path(model: str, out_dir: str) -> str:
    """Where `adc train` writes the generated module: OUT/<model>_adc.py."""
    return os.path.join(out_dir, os.path.splitext(os.path.basename(model))[0] + "_adc.py")


def _same_file(a: str, b: str) -> bool:
    if os.path.exists(a) and os.path.exists(b):
        return os.path.samefile(a, b)
    return os.path.abspath(a) == os.path.abspath(b)


def _refuse_to_overwrite_inputs(paths: dict, opts: RunOptions):
    """A checkpoint, history or plot path that is the model or the data file would
    destroy it at the end of the first epoch."""
    inputs = {"model file": opts.model}
    if opts.data not in data_mod.BUILTIN:
        inputs["data file"] = opts.data
    for what, path in paths.items():
        for kind, source in inputs.items():
            if _same_file(path, source):
                option = {"checkpoint": "--checkpoint", "plot": "--plot"}.get(what, "--out")
                raise WriteError(f"the {what.replace('_', ' ')} would overwrite the {kind} "
                                 f"{source}; choose another {option}")


def _make_folder(folder: str):
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"cannot create the output folder {folder}: "
                         f"{os_error_text(exc)}") from None


def _compile(model: str, out: str, target: str):
    import adc
    try:
        return adc.compile(model, out, target=target)
    except OSError as exc:        # reading the model is a CompileError: this is the output
        raise WriteError(f"cannot write the compiled module {out}: "
                         f"{os_error_text(exc)}") from None


def prepare_data(opts: RunOptions, spec, target):
    """(train, val, test) checked against the model, split and standardised."""
    arrays, test = data_mod.load_data(opts.data, spec)
    arrays = data_mod.check_arrays(arrays, spec, where=opts.data)
    if test is not None:
        test = data_mod.check_arrays(test, spec, where=f"{opts.data} (test split)")
    train, val = data_mod.split_validation(arrays, opts.val_split, opts.seed, stratify=target)
    if opts.standardize:
        scaler = data_mod.Standardizer.fit(train, data_mod.feature_names(spec, target))
        train, val, test = scaler.apply(train), scaler.apply(val), scaler.apply(test)
    return train, val, test


def run(opts: RunOptions, module=None) -> RunReport:
    """Train as `adc train` does; `module` skips compiling (an already compiled model)."""
    if opts.target == "cuda":      # before anything is compiled or written
        from .device import check_target
        check_target(make_optimizer(opts.optimizer))
    out_dir = opts.out_dir or default_out_dir(opts.model)
    paths = {"checkpoint": opts.checkpoint or os.path.join(out_dir, "checkpoint.npz"),
             "history_csv": os.path.join(out_dir, "history.csv"),
             "history_json": os.path.join(out_dir, "history.json"),
             "plot": opts.plot or os.path.join(out_dir, "learning_curve.png")}
    _refuse_to_overwrite_inputs(paths, opts)
    _make_folder(out_dir)
    for what in ("history_csv", "history_json", "plot"):   # the checkpoint's: in fit
        remove_stale_temporaries(paths[what])
    if module is None:
        paths["module"] = module_path(opts.model, out_dir)
        module = _compile(opts.model, paths["module"], opts.target)
    spec = data_mod.ModelSpec.from_module(module, opts.function)
    hyper = scalar_settings(spec, opts.settings)
    predict, target = predict_function(module, opts.model, spec)
    train, val, test = prepare_data(opts, spec, target)

    with open(opts.model, encoding="utf-8") as f:
        roles = follow_activations(f.read(), opts.function)
    shapes = {n: tuple(spec.args[n]["shape"]) for n in spec.params}
    bad = [n for n, s in shapes.items() if any(isinstance(d, str) for d in s)]
    if bad:
        raise data_mod.DataError(f"parameter(s) {', '.join(bad)} have symbolic sizes; "
                                 "give them module-level int constants to train the model")
    params = init_params(shapes, opts.init, opts.seed, roles)

    optimizer = make_optimizer(opts.optimizer)
    trainer = Trainer(module, opts.function, optimizer=optimizer,
                      lr=opts.lr if opts.lr is not None else DEFAULT_LR[opts.optimizer],
                      schedule=opts.schedule, schedule_options=opts.schedule_options,
                      warmup=opts.warmup, epochs=opts.epochs, batch_size=opts.batch_size,
                      weight_decay=opts.weight_decay, patience=opts.patience, seed=opts.seed,
                      predict=predict, target=target, checkpoint=paths["checkpoint"],
                      progress=opts.progress, hyper=hyper, device=opts.target)
    fit = trainer.fit(params, train, val, resume=opts.resume)
    for row in fit.history:            # the run's history records what --set chose
        row.update({f"set_{name}": value for name, value in hyper.items()
                    if name in opts.settings})

    summary = {"epochs": len(fit.history)}
    if fit.best_epoch is not None and opts.patience is not None:
        summary["best_epoch"] = fit.best_epoch
    for key in ("train_loss", "train_accuracy", "train_rmse", "val_loss", "val_accuracy",
                "val_rmse"):
        if fit.final.get(key) is not None:
            summary[key] = fit.final[key]
    if test is not None:
        scores = trainer.evaluate(params, test)
        summary["test_loss"] = scores["loss"]
        for metric in ("accuracy", "rmse"):
            if metric in scores:
                summary[f"test_{metric}"] = scores[metric]
    summary["seconds"] = fit.seconds
    write_history(fit.history, paths["history_csv"], paths["history_json"])
    plot_history(fit.history, paths["plot"],
                 f"{os.path.basename(opts.model)} on {os.path.basename(opts.data)}")
    notes = [] if predict is not None else [NO_SCORE.format(fname=opts.function)]
    return RunReport(summary, paths, fit, notes, module)


def scalar_settings(spec, settings: dict) -> dict:
    """The loss's float/int arguments from `--set NAME=VALUE` texts, checked: a known name,
    a value of the argument's type; every argument without a default must be set."""
    scalars = {n: a for n, a in spec.args.items() if a["role"] in ("float", "int")}
    out = {}
    for name, text in settings.items():
        if name not in scalars:
            known = ", ".join(scalars) or "none"
            raise data_mod.DataError(f"--set {name}={text}: '{spec.fname}' has no float or int "
                                     f"argument named '{name}' (its float/int arguments: {known})")
        role = scalars[name]["role"]
        try:
            value = int(text) if role == "int" else float(text)
        except ValueError:
            want = "an integer" if role == "int" else "a number"
            raise data_mod.DataError(f"--set {name}={text}: '{name}' is declared {role}, so it "
                                     f"takes {want}") from None
        if role == "float" and not math.isfinite(value):
            raise data_mod.DataError(f"--set {name}={text}: give a finite number")
        out[name] = value
    missing = [n for n, a in scalars.items() if n not in out and "default" not in a]
    if missing:
        raise data_mod.DataError(f"'{spec.fname}' argument '{missing[0]}' has no default: give it "
                                 f"with --set {missing[0]}=VALUE")
    return out


NO_SCORE = ("no accuracy or RMSE: '{fname}' calls none of " + ", ".join(METRIC_OF_LOSS) +
            " on its predictions, and the model defines no 'logits' function")


def summary_line(summary: dict) -> str:
    """`name=value` pairs: counts as integers, accuracies as fractions (4 decimals),
    losses to 6 significant digits."""
    parts = []
    for key, value in summary.items():
        if isinstance(value, int):
            parts.append(f"{key}={value}")
        elif key == "seconds":
            parts.append(f"{key}={value:.1f}")
        elif key.endswith("accuracy"):
            parts.append(f"{key}={value:.4f}")
        else:
            parts.append(f"{key}={value:.6g}")
    return " ".join(parts)
