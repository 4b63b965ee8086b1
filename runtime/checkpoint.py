"""Atomic files: checkpoints (.npz), training history (CSV, JSON).

Every file is written to a temporary file in the destination folder, flushed to disk
and then renamed over the destination (`os.replace` is atomic on POSIX and Windows), so
a crash mid-write leaves the previous version intact; at worst a stray `.*.tmp` remains.

A checkpoint is a plain `.npz` (no pickles): arrays under `param/NAME`, `best/NAME` and
`opt/NAME/SLOT`, plus `meta`, a JSON text with the counters, the history and the
settings the run was started with.
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import zipfile

import numpy as np


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not belong to this run."""


def atomic_write(path: str, write) -> str:
    """Call `write(binary_file)` on a temporary file, then rename it to `path`."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_checkpoint(path: str, arrays: dict, meta: dict) -> str:
    """Write `arrays` (name -> ndarray) and the JSON-able `meta` atomically."""
    payload = {**arrays, "meta": np.array(json.dumps(meta))}
    return atomic_write(path, lambda f: np.savez(f, **payload))


def load_checkpoint(path: str) -> tuple[dict, dict]:
    """(arrays, meta) of a checkpoint written by `save_checkpoint`."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        meta = json.loads(str(arrays.pop("meta")))
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path} to resume from") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{path} is not a readable adc checkpoint ({exc})") from None
    return arrays, meta


def write_history(history: list, csv_path: str, json_path: str) -> None:
    """The per-epoch rows as CSV (one column per metric) and as a JSON list."""
    columns = []
    for row in history:
        columns += [k for k in row if k not in columns]
    text = io.StringIO()
    writer = csv.DictWriter(text, columns, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: ("" if v is None else repr(float(v)) if isinstance(v, float) else v)
                         for k, v in row.items()})
    atomic_write(csv_path, lambda f: f.write(text.getvalue().encode()))
    atomic_write(json_path, lambda f: f.write(json.dumps(history, indent=1).encode()))
