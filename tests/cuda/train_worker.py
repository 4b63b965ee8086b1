"""`adc train --target cuda` without a GPU, for tests/cuda/test_cuda_training.py. Prints one
JSON object.

    NUMBA_ENABLE_CUDASIM=1 python tests/cuda/train_worker.py sim MODEL.py --data ... ARGS...
    python tests/cuda/train_worker.py ptx

`sim` (in Numba's simulator): each optimiser's CUDA kernel against its CPU loop, then one
`adc train MODEL.py --data ... ARGS...` run (ARGS include --target cuda), recording every
host <-> device copy made inside the mini-batch loop. `ptx` (a process WITHOUT the simulator): the training kernels compile
to PTX for compute capability 9.0, as they would for a real GPU.
"""
from __future__ import annotations

import json
import sys
from types import SimpleNamespace

import numpy as np

SHAPES = {"W": (3, 4), "b": (4,), "s": ()}
STEPS = 3


def _params(seed):
    rng = np.random.default_rng(seed)
    return {n: np.asarray(rng.standard_normal(s)) for n, s in SHAPES.items()}


def _device_copy(params):
    from numba import cuda
    return {n: cuda.to_device(p) for n, p in params.items()}


def optimizer_agreement() -> dict:
    """Per optimiser: the largest difference between DeviceOptimizer and Optimizer.step
    over a few steps (same gradients, an L2 term, a changing rate), the device state
    written back, a run resumed from a state dict, and the NaN counts of a bad gradient."""
    from adc.runtime.device import DeviceOptimizer
    from adc.runtime.optimizers import OPTIMIZERS, make_optimizer
    out = {}
    for name in (n for n, cls in OPTIMIZERS.items() if not cls.full_batch):
        cpu, gpu = make_optimizer(name), make_optimizer(name)
        host, device = _params(1), _device_copy(_params(1))
        stepper, diff = DeviceOptimizer(gpu, device), 0.0
        for t in range(STEPS):
            grads = _params(10 + t)
            lr, l2 = 0.05 * (1 + 0.1 * t), {"W": 0.01}
            cpu.step(host, grads, lr, l2)
            stepper.step(device, _device_copy(grads), lr, l2)
        for n in host:
            diff = max(diff, float(np.max(np.abs(device[n].copy_to_host() - host[n]))))
        stepper.to_host()
        state = max((float(np.max(np.abs(gpu.state[n][s] - cpu.state[n][s])))
                     for n in cpu.state for s in cpu.slots), default=0.0)
        out[name] = {"params": diff, "state": state, "t": [cpu.t, gpu.t],
                     "resumed": _resumed_difference(cpu, host),
                     "nan_counts": _nan_counts(name)}
    return out


def _resumed_difference(cpu, host) -> float:
    """A DeviceOptimizer loaded from `cpu`'s state dict continues as `cpu` does."""
    from adc.runtime.device import DeviceOptimizer
    from adc.runtime.optimizers import make_optimizer
    copy = make_optimizer(cpu.name)
    copy.load_state_dict({k: np.array(v) for k, v in cpu.state_dict().items()})
    device = _device_copy(host)
    stepper = DeviceOptimizer(copy, device)
    grads = _params(99)
    cpu.step(host, grads, 0.05)
    stepper.step(device, _device_copy(grads), 0.05)
    return max(float(np.max(np.abs(device[n].copy_to_host() - host[n]))) for n in host)


def _nan_counts(name) -> dict:
    """{'cpu': ..., 'cuda': ...}: what each step reports for two NaN gradient entries."""
    from adc.runtime.device import DeviceOptimizer
    from adc.runtime.optimizers import make_optimizer
    grads = _params(5)
    grads["W"][0, 1] = grads["W"][2, 3] = np.nan
    cpu = make_optimizer(name).step(_params(1), grads, 0.1)
    params = _device_copy(_params(1))
    gpu = DeviceOptimizer(make_optimizer(name), params).step(params, _device_copy(grads), 0.1)
    return {"cpu": cpu, "cuda": gpu}


def traced_training(args) -> dict:
    """One CLI run; every transfer inside Trainer._batch_epoch, as (direction, dtype kind,
    shape), and how many optimiser steps it took."""
    from click.testing import CliRunner
    from numba import cuda
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

    from adc.cli.main import main
    from adc.runtime import trainer

    inside, copies, steps = [False], [], [0]
    to_device, to_host = cuda.to_device, FakeCUDAArray.copy_to_host
    batch_epoch = trainer.Trainer._batch_epoch

    def spy_to_device(array, *rest, **kw):
        if inside[0]:
            array = np.asarray(array)
            copies.append(("to_device", array.dtype.kind, list(array.shape)))
        return to_device(array, *rest, **kw)

    def spy_to_host(self, *rest, **kw):
        if inside[0]:
            copies.append(("to_host", self.dtype.kind, list(self.shape)))
        return to_host(self, *rest, **kw)

    def spy_epoch(self, work, epoch, state):
        start = state["step"]
        inside[0] = True
        try:
            return batch_epoch(self, work, epoch, state)
        finally:
            inside[0] = False
            steps[0] += state["step"] - start

    cuda.to_device, FakeCUDAArray.copy_to_host = spy_to_device, spy_to_host
    trainer.Trainer._batch_epoch = spy_epoch
    try:
        result = CliRunner().invoke(main, ["train", *args])
    finally:
        cuda.to_device, FakeCUDAArray.copy_to_host = to_device, to_host
        trainer.Trainer._batch_epoch = batch_epoch
    return {"exit_code": result.exit_code, "stdout": result.stdout,
            "output": result.output[-3000:], "copies": copies, "steps": steps[0]}


def ptx_compiles() -> dict:
    """kernel -> 'ok' or the error: every update kernel and the row gather, float64."""
    import numba.cuda.dispatcher as cuda_dispatcher
    from numba import types
    from numba.cuda import compile_ptx

    from adc.runtime import device
    from adc.runtime.optimizers import OPTIMIZERS, make_optimizer

    # device functions compile for "the current device": stand in the cc the PTX targets
    cuda_dispatcher.get_current_device = lambda: SimpleNamespace(compute_capability=(9, 0))
    vector = types.Array(types.float64, 1, "C")
    counts = types.Array(types.int64, 1, "C")
    results = {}
    for name, cls in OPTIMIZERS.items():
        if cls.full_batch:
            continue
        opt = make_optimizer(name)
        opt.t = 1
        h = types.UniTuple(types.float64, len(opt.constants())) if opt.constants() \
            else types.Tuple(())
        kernel = device.update_kernel(opt.rule, len(opt.slots))
        sig = (vector,) * (2 + len(opt.slots)) + (types.float64, types.float64, h, counts,
                                                  types.int64)
        results[name] = _ptx(compile_ptx, kernel.py_func, sig)
    gather = device._take_rows_kernel().py_func
    for kind in (types.float64, types.int64):
        rows = types.Array(kind, 2, "C")
        results[f"take_rows.{kind}"] = _ptx(compile_ptx, gather,
                                            (rows, types.Array(types.int64, 1, "C"), rows))
    return results


def _ptx(compile_ptx, fn, sig) -> str:
    try:
        compile_ptx(fn, sig, cc=(9, 0))
        return "ok"
    except Exception as exc:  # reported: the test names the kernel
        return f"{type(exc).__name__}: {exc}"


def main() -> None:
    mode = sys.argv[1]
    if mode == "ptx":
        print(json.dumps({"ptx": ptx_compiles()}))
        return
    print(json.dumps({"optimizers": optimizer_agreement(),
                      "run": traced_training(sys.argv[2:])}))


if __name__ == "__main__":
    main()
