"""adc: a symbolic differentiation compiler for a small subset of Python.

    import adc
    model = adc.compile("model.py")          # writes model_adc.py and imports it
    value, grads = model.loss_value_and_grad(X, y, W1, b1, W2, b2)
"""
from __future__ import annotations

import importlib.util
import os
import sys

__version__ = "0.1.0"

__all__ = ["compile", "load", "__version__"]


def load(path: str):
    """Import a generated module from its file (a fresh module object each time)."""
    path = os.path.abspath(path)
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def compile(path: str, out: str | None = None, *, functions=(), wrt=(), target="cpu",
            rewrites=True):
    """Compile a model file (never executing it) and return the imported generated module.

    `rewrites=False` turns off the rewrite pass (the user's formulas as written).
    Raises adc.compiler.errors.CompileError for a mistake in the model file.
    """
    from .compiler.driver import compile_file
    written = compile_file(path, out, functions=tuple(functions), wrt=tuple(wrt),
                           target=target, rewrites=rewrites)
    return load(written)
