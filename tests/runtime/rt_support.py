"""Shared by the runtime tests: compile each model once per session (Numba JIT is slow)."""
from __future__ import annotations

import os

from conftest import SAMPLES, compile_to

_COMPILED: dict = {}


def sample_path(name: str) -> str:
    return os.path.join(SAMPLES, f"{name}.py")


def compiled_sample(name: str, build_dir: str):
    """The generated module of samples/NAME.py, compiled once per build folder."""
    key = (name, build_dir)
    if key not in _COMPILED:
        folder = os.path.join(build_dir, "runtime")
        os.makedirs(folder, exist_ok=True)
        _COMPILED[key] = compile_to(sample_path(name), folder)
    return _COMPILED[key]
