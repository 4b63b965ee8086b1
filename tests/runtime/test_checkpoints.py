"""Checkpoints and history files are written atomically: a process killed mid-write
leaves the previous checkpoint loadable."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from adc.runtime.checkpoint import (CheckpointError, atomic_write, load_checkpoint,
                                    save_checkpoint, write_history)

# Rewrites one checkpoint forever; version k holds arrays filled with k. Big enough that
# most of the time is spent inside the write.
WRITER = """
import sys
import numpy as np
from adc.runtime.checkpoint import save_checkpoint
path = sys.argv[1]
k = 0
while True:
    k += 1
    save_checkpoint(path, {"param/W": np.full((1500, 1000), float(k)),
                           "param/b": np.full(1000, float(k))}, {"version": k})
"""


def temp_files(folder):
    return [n for n in os.listdir(folder) if n.endswith(".tmp")]


def kill_while_writing(path, folder):
    """Start the writer, wait for its first checkpoint, then SIGKILL it as soon as a
    temporary file is open (or after 2 s); True if a temporary file was left behind,
    i.e. the kill landed mid-write."""
    proc = subprocess.Popen([sys.executable, "-c", WRITER, path])
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.01)
        deadline = time.monotonic() + 2
        while not temp_files(folder) and time.monotonic() < deadline:
            time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    return bool(temp_files(folder))


def test_killed_mid_write_leaves_the_previous_checkpoint_loadable(tmp_path):
    for attempt in range(5):   # the kill must land inside a write; retry if it did not
        folder = tmp_path / f"try{attempt}"
        folder.mkdir()
        path = str(folder / "checkpoint.npz")
        mid_write = kill_while_writing(path, str(folder))
        arrays, meta = load_checkpoint(path)   # whatever happened, it must load
        k = meta["version"]
        assert k >= 1
        assert np.all(arrays["param/W"] == k) and arrays["param/W"].shape == (1500, 1000)
        assert np.all(arrays["param/b"] == k)
        if mid_write:
            return
    pytest.fail("never managed to kill the writer mid-write")


def test_checkpoint_round_trip_is_exact(tmp_path):
    path = str(tmp_path / "c.npz")
    arrays = {"param/W": np.random.default_rng(0).standard_normal((3, 4)),
              "opt/W/m": np.arange(12.0), "param/s": np.array(1.5)}
    meta = {"epoch": 3, "history": [{"epoch": 1, "train_loss": 0.1 + 0.2, "lr": None}]}
    save_checkpoint(path, arrays, meta)
    back, meta_back = load_checkpoint(path)
    assert meta_back == meta
    assert set(back) == set(arrays)
    for k in arrays:
        assert np.array_equal(back[k], arrays[k]) and back[k].dtype == arrays[k].dtype


def test_a_failing_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = str(tmp_path / "f.txt")
    atomic_write(path, lambda f: f.write(b"old"))

    def broken(f):
        f.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, broken)
    assert open(path, "rb").read() == b"old"
    assert temp_files(str(tmp_path)) == []


@pytest.mark.parametrize("content, message", [
    (None, "no checkpoint at .* to resume from"),
    (b"garbage", "is not a readable adc checkpoint"),
    (b"PK\x03\x04truncated zip", "is not a readable adc checkpoint"),
])
def test_unreadable_checkpoints_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "c.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(str(path))


def test_history_is_written_as_csv_and_json(tmp_path):
    history = [{"epoch": 1, "lr": 0.1, "train_loss": 0.5},
               {"epoch": 2, "lr": None, "train_loss": 0.25, "val_loss": 0.3}]
    write_history(history, str(tmp_path / "h.csv"), str(tmp_path / "h.json"))
    lines = (tmp_path / "h.csv").read_text().splitlines()
    assert lines == ["epoch,lr,train_loss,val_loss", "1,0.1,0.5,", "2,,0.25,0.3"]
    assert json.loads((tmp_path / "h.json").read_text()) == history
