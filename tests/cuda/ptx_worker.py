"""Compiles every CUDA kernel of the given samples to PTX for compute capability 9.0.

Runs in a subprocess WITHOUT NUMBA_ENABLE_CUDASIM (there compile_ptx is a stub). No GPU
or driver is needed: NVVM comes from the numba-cuda[cu13] wheels. Prints one JSON object.

    python tests/cuda/ptx_worker.py OUT_DIR [--float64] SAMPLE.py... [--float32-only=SAMPLE.py]...

--float64 compiles the kernels for float64 as well as float32, except for the samples
given as --float32-only=PATH.
"""
from __future__ import annotations

import json
import os
import re
import sys
from types import SimpleNamespace

import numba.cuda.dispatcher as cuda_dispatcher
from numba import float32, float64, types
from numba.cuda import compile_ptx

import adc

# Device functions (the scalar helpers) are compiled for "the current device"; there is
# none here, so stand in a compute-capability-9.0 one, the same cc the kernels target.
cuda_dispatcher.get_current_device = lambda: SimpleNamespace(compute_capability=(9, 0))

# A float64 literal or int in float32 code shows as a float32 value widened to float64.
# (libdevice's own sinf/cosf range reduction uses float64 from integers: that is fine.)
PROMOTION = re.compile(r"cvt(\.\w+)*\.f64\.f32\b")


def signature(codes: str, real) -> tuple:
    """Numba types from CUDA_KERNELS' codes: i/f scalars, iN/fN arrays, b bool."""
    out = []
    for code in codes.split(","):
        if code == "b":
            out.append(types.boolean)
        elif code in ("i", "f"):
            out.append(types.int64 if code == "i" else real)
        else:
            out.append(types.Array(real if code[0] == "f" else types.int64, int(code[1:]), "C"))
    return tuple(out)


def compile_kernels(module, real, entries) -> dict:
    """kernel -> 'ok', or the error; float32 PTX must not widen values to float64."""
    results = {}
    for fname in entries:
        kernels = module._cuda_common(real) if fname == "_common" else \
            getattr(module, f"_{fname}_cuda_kernels")(real)
        for kname, codes in module.CUDA_KERNELS[fname].items():
            key = f"{fname}.{kname}.{real}"
            try:
                ptx, _ = compile_ptx(getattr(kernels, kname).py_func, signature(codes, real),
                                     cc=(9, 0))
                widened = [line.strip() for line in ptx.splitlines() if PROMOTION.search(line)]
                results[key] = "ok" if real is float64 or not widened else \
                    f"float32 values widened to float64 in a float32 kernel: {widened[:3]}"
            except Exception as exc:
                results[key] = f"{type(exc).__name__}: {str(exc)[:2000]}"
    return results


def main() -> None:
    out_dir, args = sys.argv[1], sys.argv[2:]
    reals = [float32, float64] if "--float64" in args else [float32]
    only32 = {a.split("=", 1)[1] for a in args if a.startswith("--float32-only=")}
    paths = [a for a in args if not a.startswith("--")] + sorted(only32)
    results, common_done = {}, False
    for path in paths:
        name = os.path.splitext(os.path.basename(path))[0]
        try:
            module = adc.compile(path, os.path.join(out_dir, f"{name}_ptx_adc.py"), target="cuda")
            entries = list(module.SIGNATURES) + ([] if common_done else ["_common"])
            common_done = True
            results[name] = {}
            for real in ([float32] if path in only32 else reals):
                results[name].update(compile_kernels(module, real, entries))
        except Exception as exc:
            results[name] = {"compile": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
