"""`adc train MODEL.py --data NAME_OR_FILE`: compile a model and train it."""
from __future__ import annotations

import os
import sys

import click

from ..compiler.errors import AdcError

OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw",
                   "lbfgs")
INIT_NAMES = ("auto", "zeros", "normal", "xavier_uniform", "xavier_normal", "he_normal")


def _fail(message: str):
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _optimizers(text: str) -> list:
    names = [n.strip() for n in text.split(",")]
    for name in names:
        if name not in OPTIMIZER_NAMES:
            raise click.BadParameter(f"{name!r} is not an optimiser (choose from "
                                     f"{', '.join(OPTIMIZER_NAMES)})", param_hint="--optimizer")
    if len(set(names)) != len(names):
        raise click.BadParameter("an optimiser is named twice", param_hint="--optimizer")
    return names


def _settings(items) -> dict:
    """NAME=VALUE texts by name (the runtime checks names and types against the loss)."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--set")
        out[name.strip()] = value.strip()
    return out


@click.command("train")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--data", required=True, metavar="NAME_OR_FILE",
              help="A built-in dataset (digits, iris, breast_cancer, wine) or an .npz/.csv "
                   "file whose arrays are named like the model's Data/Index arguments.")
@click.option("--function", default="loss", show_default=True,
              help="The entry point to minimise.")
@click.option("--epochs", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1))
@click.option("--optimizer", default="adam", show_default=True, metavar="NAME[,NAME...]",
              callback=lambda ctx, param, value: _optimizers(value),
              help=f"One of {', '.join(OPTIMIZER_NAMES)}; several (sgd,momentum,adam) train "
                   "one run each from the same initialisation and overlay their curves in "
                   "OUT/optimizers.png.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Learning rate (default: 0.1 sgd/adagrad, 0.05 momentum/nesterov, "
                   "1e-3 rmsprop/adam/adamw).")
@click.option("--schedule", default="constant", show_default=True, metavar="NAME[:K=V,...]",
              help="constant, step, exponential, inverse_time or cosine, with options, "
                   "e.g. step:every=5,gamma=0.5 or cosine:lr_min=1e-4.")
@click.option("--warmup", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="Epochs of linear learning-rate warm-up.")
@click.option("--init", type=click.Choice(INIT_NAMES), default="auto", show_default=True,
              help="Initialiser of the weights; auto: He after ReLU, Xavier otherwise.")
@click.option("--val-split", default=0.1, show_default=True,
              type=click.FloatRange(0, 1, max_open=True),
              help="Share of the training rows held out for validation.")
@click.option("--patience", type=click.IntRange(min=1), default=None,
              help="Stop after this many epochs without a better validation loss "
                   "and restore the best weights.")
@click.option("--weight-decay", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="L2 weight decay on the weights (not the biases).")
@click.option("--seed", default=0, show_default=True, help="Seed of initialisation, "
              "validation split and batch order.")
@click.option("--no-standardize", is_flag=True,
              help="Do not standardise the features (mean/std of the training split).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for the compiled module, history and plot "
                   "[default: adc-runs/MODEL].")
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None,
              help="Checkpoint file, rewritten after every epoch [default: OUT/checkpoint.npz].")
@click.option("--resume", is_flag=True, help="Continue from the checkpoint.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Learning-curve PNG [default: OUT/learning_curve.png].")
@click.option("--target", type=click.Choice(["cpu", "cuda"]), default="cpu",
              show_default=True,
              help="Where training runs. cuda: weights, optimiser state and batches stay "
                   "on the GPU (NUMBA_ENABLE_CUDASIM=1: in Numba's simulator); scores use "
                   "the compiled CPU prediction, once per epoch.")
@click.option("--set", "settings", multiple=True, metavar="NAME=VALUE",
              help="A float or int argument of the loss, e.g. --set reg=1e-4 (repeatable; "
                   "recorded in the history).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train(model, data, function, epochs, batch_size, optimizer, lr, schedule, warmup, init,
          val_split, patience, weight_decay, seed, no_standardize, out_dir, checkpoint,
          resume, plot, target, settings, quiet):
    """Compile MODEL.py and train it on a dataset.

    Prints where it wrote the compiled module, checkpoint, history and plot, then a
    summary line of name=value pairs (epochs, losses, accuracies as fractions).
    Classifiers get accuracies from a `logits` function in the model file (see
    samples/README.md).
    """
    from ..runtime import schedules
    from ..runtime.session import RunOptions, run

    if target == "cuda" and "lbfgs" in optimizer:
        raise click.BadParameter("lbfgs trains full-batch in SciPy, on the host: it cannot "
                                 "train with --target cuda", param_hint="--optimizer")
    try:
        schedule_name, schedule_options = schedules.parse_schedule(schedule)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--schedule") from None
    try:  # the rule and its options are checked now: a typo is a usage error (exit 2)
        schedules.make_schedule(schedule_name, 1.0, 1, 1, **schedule_options)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--schedule") from None
    if len(optimizer) > 1 and (checkpoint or plot or resume):
        raise click.BadParameter("--checkpoint, --plot and --resume name one run; with several "
                                 "optimisers each run writes into OUT/NAME/",
                                 param_hint="--optimizer")
    opts = RunOptions(model, data, function=function, epochs=epochs, batch_size=batch_size,
                      optimizer=optimizer[0], lr=lr, schedule=schedule_name,
                      schedule_options=schedule_options, warmup=warmup, init=init,
                      val_split=val_split, patience=patience, weight_decay=weight_decay,
                      seed=seed, standardize=not no_standardize, out_dir=out_dir,
                      checkpoint=checkpoint, resume=resume, plot=plot, progress=not quiet,
                      target=target, settings=_settings(settings))
    if len(optimizer) > 1:
        _compare(opts, optimizer)
        return
    try:
        report = run(opts)
    except AdcError as exc:   # compile errors and every runtime.errors.RunError
        _fail(str(exc))
    _report(report)


def _report(report, prefix="") -> None:
    from ..runtime.session import summary_line
    for what in ("module", "checkpoint", "history_csv", "history_json", "plot"):
        if what in report.paths:
            click.echo(f"wrote {what.replace('_', ' ')}: {report.paths[what]}")
    for note in report.notes:
        click.echo(f"note: {note}")
    click.echo(prefix + summary_line(report.summary))


def _compare(opts, names) -> None:
    """One run per optimiser, same seed (so the same initial weights, split and batch
    order), each in OUT/NAME/, then their learning curves in one plot."""
    from dataclasses import replace

    from ..runtime.plotting import plot_comparison
    from ..runtime.session import default_out_dir, run
    out = opts.out_dir or default_out_dir(opts.model)
    histories, module = {}, None
    for name in names:
        try:
            report = run(replace(opts, optimizer=name, out_dir=os.path.join(out, name)),
                         module=module)
        except AdcError as exc:
            _fail(f"{name}: {exc}")
        module = report.module
        histories[name] = report.fit.history
        _report(report, prefix=f"optimizer={name} ")
    try:
        path = plot_comparison(histories, os.path.join(out, "optimizers.png"),
                               f"{os.path.basename(opts.model)} on {os.path.basename(opts.data)}")
    except AdcError as exc:
        _fail(str(exc))
    click.echo(f"wrote comparison plot: {path}")
