"""Faults to inject into checkpoint writes: in this process (with pytest's monkeypatch)
or in an `adc train` child process (`inject`, run before the command)."""
from __future__ import annotations

import errno
import os
import signal

import numpy as np

PARTIAL = b"PK\x03\x04" + bytes(4096)     # the start of a zip, as a write cut short leaves


def faulty_savez(real, at: int, fault: str):
    """`np.savez` whose `at`-th call (the at-th checkpoint) writes part of the file, then
    `fault`s: "kill" (SIGKILL this process, as kill -9 would) or "disk full" (ENOSPC)."""
    calls = [0]

    def savez(file, *args, **arrays):
        calls[0] += 1
        if calls[0] != at:
            return real(file, *args, **arrays)
        file.write(PARTIAL)
        file.flush()
        if fault == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    return savez


def inject(at: int, fault: str):
    """Install `faulty_savez` for the rest of this process."""
    np.savez = faulty_savez(np.savez, at, fault)
