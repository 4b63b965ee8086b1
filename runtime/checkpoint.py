"""Atomic files: checkpoints (.npz), training history (CSV, JSON).

Every file is written to a temporary file in the destination folder, flushed to disk
and then renamed over the destination (`os.replace` is atomic on POSIX and Windows), so
a crash mid-write leaves the previous version intact. A process killed mid-write
(kill -9, power loss) leaves its temporary file behind: it is named
`.NAME.PID.XXXXXXXX.tmp` after the file it was to replace and the writer's process id,
and `remove_stale_temporaries(NAME)` deletes those whose writer is gone (the next run
does this). A failed write (disk full, a read-only folder) raises `WriteError` naming
the file, and the previous version stays as it was.

A checkpoint is a plain `.npz` (no pickles): arrays under `param/NAME`, `best/NAME` and
`opt/NAME/SLOT`, plus `meta`, a JSON text with the counters, the history and the
settings the run was started with. `runtime.resume` checks what it holds.
"""
from __future__ import annotations

import csv
import errno
import io
import json
import os
import re
import tempfile
import zipfile
import zlib

import numpy as np

from .errors import CheckpointError, WriteError

__all__ = ["CheckpointError", "WriteError", "atomic_write", "remove_stale_temporaries",
           "save_checkpoint", "load_checkpoint", "write_history"]


def _temporary_prefix(path: str, pid: int) -> str:
    return f".{os.path.basename(path)}.{pid}."


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str, write) -> str:
    """Call `write(binary_file)` on a temporary file, then rename it to `path`.

    An OSError (disk full, permissions) propagates after the temporary is removed;
    `write_file` turns it into a WriteError naming the file.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(path, os.getpid()), suffix=".tmp",
                               dir=folder)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
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


def write_file(path: str, write, what: str) -> str:
    """`atomic_write`, with an OSError reported as a WriteError about `what` at `path`."""
    try:
        return atomic_write(path, write)
    except OSError as exc:
        kept = f"; the previous {what} there is unchanged" if os.path.isfile(path) else ""
        raise WriteError(f"cannot write the {what} {path}: {os_error_text(exc)}"
                         f"{kept}") from None


def os_error_text(exc: OSError) -> str:
    """'No space left on device (ENOSPC)': the reason and the errno name."""
    code = f" ({errno.errorcode[exc.errno]})" if exc.errno in errno.errorcode else ""
    return f"{exc.strerror or exc}{code}"


def _writer_is_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True                      # this process: maybe another thread is writing
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True                      # alive, owned by someone else
    except OSError:
        return False
    return True


def stale_temporaries(path: str) -> list:
    """The temporary files `atomic_write(path, ...)` left behind in processes that no
    longer run (killed mid-write): only files named after `path` and a dead writer."""
    folder = os.path.dirname(os.path.abspath(path))
    name = re.escape(os.path.basename(path))
    pattern = re.compile(rf"\.{name}\.(\d+)\.[a-z0-9_]{{8}}\.tmp")   # see _temporary_prefix
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [os.path.join(folder, n) for n in sorted(names)
            if (m := pattern.fullmatch(n)) and not _writer_is_alive(int(m.group(1)))]


def remove_stale_temporaries(path: str) -> list:
    """Delete `stale_temporaries(path)`; returns the paths removed."""
    removed = []
    for tmp in stale_temporaries(path):
        try:
            os.unlink(tmp)
            removed.append(tmp)
        except FileNotFoundError:
            pass                         # another run cleaned it first
        except OSError as exc:
            raise WriteError(f"cannot remove the stale temporary file {tmp}: "
                             f"{os_error_text(exc)}") from None
    return removed


def save_checkpoint(path: str, arrays: dict, meta: dict) -> str:
    """Write `arrays` (name -> ndarray) and the JSON-able `meta` atomically."""
    payload = {**arrays, "meta": np.array(json.dumps(meta))}
    return write_file(path, lambda f: np.savez(f, **payload), "checkpoint")


# what np.load raises for a file that is not a (complete) .npz
UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error)


def load_npz(path: str, what: str, error) -> dict:
    """All arrays of an .npz file, or `error(message)` saying why it cannot be read.

    A missing file raises FileNotFoundError, for the caller to word.
    """
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise error(f"cannot read {path}: {os_error_text(exc)}") from None
    if magic != b"PK\x03\x04":
        found = "the file is empty" if not magic else "not an .npz (zip) file"
        raise error(f"{path} is not {what}: {found}")
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except UNREADABLE as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise error(f"{path} is not {what}: it is truncated or corrupt ({reason})") from None


def load_checkpoint(path: str) -> tuple[dict, dict]:
    """(arrays, meta) of a checkpoint written by `save_checkpoint`; `meta` is a dict
    (its fields are checked by `runtime.resume`)."""
    try:
        arrays = load_npz(path, "a readable adc checkpoint", CheckpointError)
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path} to resume from") from None
    meta = arrays.pop("meta", None)
    if meta is None or meta.shape != () or meta.dtype.kind != "U":
        raise CheckpointError(f"{path} is not a readable adc checkpoint: it has no 'meta' "
                              "record of the run")
    try:
        meta = json.loads(str(meta))
    except ValueError as exc:
        raise CheckpointError(f"{path} is not a readable adc checkpoint: its 'meta' record "
                              f"is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path} is not a readable adc checkpoint: its 'meta' record "
                              f"is a JSON {type(meta).__name__}, not an object")
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
    write_file(csv_path, lambda f: f.write(text.getvalue().encode()), "history file")
    write_file(json_path, lambda f: f.write(json.dumps(history, indent=1).encode()),
               "history file")
