"""Runs with NUMBA_BOUNDSCHECK=1 (set before Numba is imported): every sample's value,
gradient, VJP, JVP and HVP on random valid inputs. Prints one JSON object: sample ->
"ok" or the error (an IndexError would mean generated code reads out of bounds).

    NUMBA_BOUNDSCHECK=1 NUMBA_CACHE_DIR=... python tests/safety/boundscheck_worker.py OUT SAMPLE.py...
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np

import adc
from adc.runtime import gradcheck


def exercise(module, fname):
    values = gradcheck.random_inputs(module, fname, {"N": 4}, seed=3)
    out = getattr(module, fname)(**values)
    rng = np.random.default_rng(4)
    cot = tuple(rng.normal(size=np.shape(o)) for o in out) if isinstance(out, tuple) \
        else rng.normal(size=np.shape(out))
    getattr(module, f"{fname}_vjp")(**values, cotangent=cot)
    wrt = module.SIGNATURES[fname]["wrt"]
    tangents = {w: rng.normal(size=np.shape(values[w])) for w in wrt}
    getattr(module, f"{fname}_jvp")(**values, tangents=tangents)
    if hasattr(module, f"{fname}_hvp"):
        getattr(module, f"{fname}_value_and_grad")(**values)
        getattr(module, f"{fname}_hvp")(**values, vector=tangents)


def main():
    assert os.environ.get("NUMBA_BOUNDSCHECK") == "1"
    out_dir, samples = sys.argv[1], sys.argv[2:]
    results = {}
    for path in samples:
        name = os.path.splitext(os.path.basename(path))[0]
        try:
            module = adc.compile(path, os.path.join(out_dir, f"{name}_bc_adc.py"))
            for fname in module.SIGNATURES:
                exercise(module, fname)
            results[name] = "ok"
        except Exception as exc:     # reported per sample
            results[name] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(results))


if __name__ == "__main__":
    main()
