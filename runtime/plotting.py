"""The learning-curve plot: training and validation loss, and accuracy when known."""
from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .checkpoint import write_file

SIZE_INCHES = (10, 4)
DPI = 100          # so the PNG is 1000 x 400 pixels


def _series(history, key):
    points = [(row["epoch"], row[key]) for row in history if row.get(key) is not None]
    return [p[0] for p in points], [p[1] for p in points]


def plot_history(history: list, path: str, title: str = "") -> str:
    """Save loss (left) and accuracy or RMSE (right) per epoch as a PNG; returns the path.

    Uses the Agg canvas directly (no pyplot), so it changes no global matplotlib state.
    """
    fig = Figure(figsize=SIZE_INCHES, dpi=DPI)
    FigureCanvasAgg(fig)
    loss_ax, acc_ax = fig.subplots(1, 2)
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        epochs, values = _series(history, key)
        if epochs:
            loss_ax.plot(epochs, values, marker=".", label=label)
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss")
    metric = "rmse" if any("train_rmse" in row for row in history) else "accuracy"
    plotted = False
    for key, label in ((f"train_{metric}", "train"), (f"val_{metric}", "validation")):
        epochs, values = _series(history, key)
        if epochs:
            acc_ax.plot(epochs, values, marker=".", label=label)
            plotted = True
    name = "RMSE" if metric == "rmse" else "accuracy"
    acc_ax.set(xlabel="epoch", ylabel=name,
               title=name if plotted else "accuracy (no prediction to score)")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return write_file(path, lambda f: fig.savefig(f, format="png", dpi=DPI), "plot")


def plot_comparison(histories: dict, path: str, title: str = "") -> str:
    """Several runs (name -> history) in one figure: validation loss (training loss when
    there is no validation split) on the left, accuracy or RMSE on the right, one
    colour per run. Returns the path."""
    fig = Figure(figsize=SIZE_INCHES, dpi=DPI)
    FigureCanvasAgg(fig)
    loss_ax, score_ax = fig.subplots(1, 2)
    metric = "rmse" if any("train_rmse" in row for h in histories.values() for row in h) \
        else "accuracy"
    for name, history in histories.items():
        for key, style in (("train_loss", "--"), ("val_loss", "-")):
            epochs, values = _series(history, key)
            if epochs:
                loss_ax.plot(epochs, values, style, marker=".",
                             label=f"{name} ({'val' if key == 'val_loss' else 'train'})")
        epochs, values = _series(history, f"val_{metric}")
        if not epochs:
            epochs, values = _series(history, f"train_{metric}")
        if epochs:
            score_ax.plot(epochs, values, marker=".", label=name)
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss by optimiser")
    name = "RMSE" if metric == "rmse" else "accuracy"
    score_ax.set(xlabel="epoch", ylabel=name, title=f"{name} by optimiser")
    for ax in (loss_ax, score_ax):
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return write_file(path, lambda f: fig.savefig(f, format="png", dpi=DPI), "plot")
