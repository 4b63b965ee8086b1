"""Training on a CUDA GPU (`adc train --target cuda`), or in Numba's CUDA simulator.

The trainer's loop is the same on both targets (runtime/trainer.py); this module hands
it device arrays instead of host ones. `DeviceTraining` is the GPU twin of
`trainer.HostTraining`:

- the parameters, the optimiser's slots and the training split are copied to the device
  once per fit; each mini-batch is gathered there (`take_rows`) from the epoch's batch
  order, uploaded once per epoch;
- the compiled `<loss>_value_and_grad_cuda` takes device arrays and returns its value
  and gradients as device arrays;
- each optimiser's scalar rule (runtime/optimizers.py) runs as a CUDA device function,
  one thread per element (`DeviceOptimizer`), and counts non-finite results with an
  atomic add, as the CPU loops count them;
- per step the host reads back the loss (one number) and the non-finite counts (one per
  parameter), and the `_cuda` wrapper the batch's labels (its range check runs on a host
  copy); once per epoch, the weights and slots, for scoring (with the compiled CPU
  prediction), early stopping and the checkpoint.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .errors import OptimizerStateError, TrainingError
from .optimizers import gradient_of

try:
    from numba import cuda
except ImportError:              # no numba-cuda: check_target says what to install
    cuda = None

THREADS = 128                    # threads per block of the elementwise kernels

NO_GPU = ("--target cuda needs an NVIDIA GPU and its driver, and Numba finds none "
          "(numba.cuda.is_available() is False). Install the NVIDIA driver and adc's CUDA "
          "extra (pip install 'adc[cuda]'), or set NUMBA_ENABLE_CUDASIM=1 to train in "
          "Numba's CUDA simulator (slow: for tests and tiny runs), or train on the CPU "
          "with --target cpu")
NO_NUMBA_CUDA = ("--target cuda needs Numba's CUDA target, which is not installed: "
                 "pip install 'adc[cuda]', or train on the CPU with --target cpu")
ON_THE_HOST = "{name} trains full-batch in SciPy, on the host: train it with --target cpu"


def check_target(optimizer):
    """Raise TrainingError, saying what to do, unless `optimizer` can train on the device
    and Numba can run CUDA kernels (on a GPU, or in the simulator that
    NUMBA_ENABLE_CUDASIM=1 chooses)."""
    if optimizer.full_batch:
        raise TrainingError(ON_THE_HOST.format(name=optimizer.name))
    if cuda is None:
        raise TrainingError(NO_NUMBA_CUDA)
    if not cuda.is_available():
        raise TrainingError(NO_GPU)


def _launch(n: int):
    """(blocks, threads) for one thread per element; a small array gets a small block
    (the simulator runs every thread of a block, in bounds or not, as a Python thread)."""
    threads = max(1, min(THREADS, n))
    return (n + threads - 1) // threads, threads


# ---- the kernels (built on first use, after check_target) ----

@functools.cache
def _take_rows_kernel():
    @cuda.jit
    def take_rows(source, rows, out):
        """out[i, j] = source[rows[i], j], one thread per element of `out`."""
        t = cuda.grid(1)
        width = out.shape[1]
        if t < out.shape[0] * width:
            i = t // width
            j = t - i * width
            out[i, j] = source[rows[i], j]
    return take_rows


def take_rows(array, rows):
    """array[rows] for a device array and a device index vector, on the device."""
    out = cuda.device_array((rows.shape[0],) + tuple(array.shape[1:]), array.dtype)
    if out.size:
        width = out.size // rows.shape[0]
        _take_rows_kernel()[_launch(out.size)](array.reshape(array.shape[0], width), rows,
                                               out.reshape(rows.shape[0], width))
    return out


@functools.cache
def update_kernel(rule, slots: int):
    """The CUDA kernel of an optimiser's scalar `rule` with `slots` slot arrays: one
    thread per element; `bad[k]` counts the new values of parameter k that are NaN or
    infinite. `rule` is the @njit function the CPU loop inlines: the same Python code
    becomes a device function here."""
    step = cuda.jit(device=True)(rule.py_func)
    if slots == 0:
        def update(p, g, lr, l2, h, bad, k):
            i = cuda.grid(1)
            if i < p.size:
                p[i] = step(p[i], g[i], lr, l2, h)
                if not math.isfinite(p[i]):
                    cuda.atomic.add(bad, k, 1)
    elif slots == 1:
        def update(p, g, s, lr, l2, h, bad, k):
            i = cuda.grid(1)
            if i < p.size:
                p[i], s[i] = step(p[i], g[i], s[i], lr, l2, h)
                if not math.isfinite(p[i]):
                    cuda.atomic.add(bad, k, 1)
    elif slots == 2:
        def update(p, g, s1, s2, lr, l2, h, bad, k):
            i = cuda.grid(1)
            if i < p.size:
                p[i], s1[i], s2[i] = step(p[i], g[i], s1[i], s2[i], lr, l2, h)
                if not math.isfinite(p[i]):
                    cuda.atomic.add(bad, k, 1)
    else:
        raise NotImplementedError(f"an update rule with {slots} slots")
    return cuda.jit(update)


# ---- the optimiser's step on the device ----

def _on_device(array) -> bool:
    """A Numba device array (the simulator's too, which has no cuda.is_cuda_array)."""
    return bool(getattr(array, "__cuda_ndarray__", False))


def _describe(array) -> str:
    if isinstance(array, np.ndarray):
        return f"a NumPy array of shape {array.shape}, not a device array"
    if not _on_device(array):
        return f"a {type(array).__name__}, not a device array"
    layout = "" if array.is_c_contiguous() else "non-contiguous "
    return f"a {layout}{array.dtype} device array of shape {tuple(array.shape)}"


def _fits(array, shape, dtype) -> bool:
    """Safe for an update kernel: a C-contiguous device array of `shape` and `dtype`."""
    return (_on_device(array) and tuple(array.shape) == tuple(shape)
            and array.dtype == dtype and array.is_c_contiguous())


def _flat(array):
    """A 1-D view (0-d included), so the kernels write through."""
    return array if array.ndim == 1 else array.reshape(array.size)


class DeviceOptimizer:
    """`Optimizer.step` on device arrays. The optimiser keeps its step count and
    hyper-parameters; the slots of `params` (name -> device array) move to the device
    when this is made (from `optimizer.state`, as a resumed run has them, else zeros) and
    stay there until `to_host` copies them back."""

    def __init__(self, optimizer, params: dict):
        check_target(optimizer)
        self.optimizer = optimizer
        self.kernel = update_kernel(optimizer.rule, len(optimizer.slots))
        self.state = {name: {s: cuda.to_device(np.ascontiguousarray(a))
                             for s, a in slots.items()}
                      for name, slots in optimizer.state.items()}
        for name, p in params.items():
            if name not in self.state:
                self.state[name] = {s: cuda.to_device(np.zeros(p.size, p.dtype))
                                    for s in optimizer.slots}
        self._bad = cuda.to_device(np.zeros(len(params), np.int64))   # non-finite counts

    def step(self, params: dict, grads, lr: float, l2: dict | None = None) -> dict:
        """One update of every parameter in place, as Optimizer.step: every buffer is
        checked first; returns {name: NaN or infinite count} where there are any."""
        l2 = l2 or {}
        work = [(name, self._param(name, p), self._grad(name, gradient_of(grads, name), p),
                 self._slots_for(name, p)) for name, p in params.items()]
        self.optimizer.t += 1
        h, bad = self.optimizer.constants(), self._counters(len(work))
        for k, (name, p, g, slots) in enumerate(work):
            self.kernel[_launch(p.size)](p, g, *slots, float(lr), float(l2.get(name, 0.0)),
                                         h, bad, k)
        counts = bad.copy_to_host()
        if counts.any():                # zero again for the next step (healthy: never)
            self._bad = cuda.to_device(np.zeros(len(work), np.int64))
        return {name: int(c) for (name, *_), c in zip(work, counts) if c}

    def to_host(self):
        """The slots into the optimiser's state, as host arrays (for the checkpoint)."""
        for name, slots in self.state.items():
            self.optimizer.state[name] = {s: a.copy_to_host() for s, a in slots.items()}

    def _counters(self, n):
        if self._bad.size != n:         # another set of parameters than at the start
            self._bad = cuda.to_device(np.zeros(n, np.int64))
        return self._bad

    @staticmethod
    def _param(name, p):
        if not (_on_device(p) and p.dtype.kind == "f" and p.is_c_contiguous()):
            raise OptimizerStateError(f"parameter '{name}' is {_describe(p)}; the GPU "
                                      "optimiser updates C-contiguous float device arrays")
        return _flat(p)

    @staticmethod
    def _grad(name, g, p):
        if not _fits(g, p.shape, p.dtype):
            raise OptimizerStateError(f"the gradient of '{name}' is {_describe(g)}, but the "
                                      f"parameter is a {p.dtype} device array of shape "
                                      f"{tuple(p.shape)}")
        return _flat(g)

    def _slots_for(self, name, p):
        names = self.optimizer.slots
        slots = self.state.get(name, {})
        for slot in names:
            if slot not in slots or not _fits(slots[slot], (p.size,), p.dtype):
                found = _describe(slots[slot]) if slot in slots else "missing"
                raise OptimizerStateError(f"optimizer slot '{name}/{slot}' is {found}, but "
                                          f"parameter '{name}' needs a contiguous {p.dtype} "
                                          f"device array of shape ({p.size},)")
        return [slots[s] for s in names]


# ---- the trainer's array backend ----

def _upload(arrays: dict) -> dict:
    return {n: cuda.to_device(np.ascontiguousarray(a)) for n, a in arrays.items()}


class DeviceTraining:
    """What the training loop works on, on the GPU (the methods of trainer.HostTraining):
    device copies of the parameters and the training split, the compiled CUDA
    value-and-grad, and the optimiser's step on the device."""

    def __init__(self, trainer, params: dict, train: dict):
        name = f"{trainer.fname}_value_and_grad_cuda"
        if not hasattr(trainer.module, name):
            raise TrainingError(f"the compiled model has no {name}: compile it with "
                                "--target cuda (adc.compile(..., target='cuda'))")
        self.value_and_grad = getattr(trainer.module, name)
        self.params, self.train = _upload(params), _upload(train)
        self.optimizer = DeviceOptimizer(trainer.optimizer, self.params)

    def batches(self, indices: list):
        """(rows, arrays) of each mini-batch, gathered on the device."""
        order = cuda.to_device(np.concatenate(indices).astype(np.int64))
        start = 0
        for idx in indices:
            rows = order[start:start + len(idx)]
            start += len(idx)
            yield len(idx), {n: (a if a.ndim == 0 else take_rows(a, rows))
                             for n, a in self.train.items()}

    @staticmethod
    def scalar(value) -> float:
        """A 0-d device result as a Python float (one number read back)."""
        return float(value.copy_to_host())

    def to_host(self, params: dict):
        """Copy the weights into `params` (in place) and the slots into the optimiser."""
        for name, p in self.params.items():
            p.copy_to_host(params[name])
        self.optimizer.to_host()
