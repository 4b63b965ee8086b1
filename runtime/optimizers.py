"""Optimisers: each updates every parameter in place with one fused Numba loop.

The update rules are the published ones, in the notation of the CS231n notes and the
original papers (g is the gradient plus `l2 * p` when L2 weight decay is on):

    sgd       p -= lr * g
    momentum  v = mu * v - lr * g;  p += v                        (Polyak / CS231n)
    nesterov  v' = mu * v - lr * g;  p += -mu * v + (1 + mu) * v'; v = v'   (CS231n form)
    adagrad   c += g**2;  p -= lr * g / (sqrt(c) + eps)           (Duchi et al. 2011)
    rmsprop   c = rho * c + (1 - rho) * g**2;  p -= lr * g / (sqrt(c) + eps)  (Hinton)
    adam      m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g**2;
              p -= lr * (m / (1 - b1**t)) / (sqrt(v / (1 - b2**t)) + eps)  (Kingma & Ba)
    adamw     adam on the loss gradient, plus the decoupled decay - lr * wd * p
              (Loshchilov & Hutter), computed from the same old p

Each rule is one scalar function (`adam_rule`, ...), which the CPU loops here inline
and runtime/device.py compiles into the CUDA kernels of `adc train --target cuda`.

L-BFGS (`LBFGS`) is different: a full-batch method that hands SciPy's L-BFGS-B the
compiled value-and-grad of the whole training set.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.optimize
from numba import njit

from .errors import OptimizerStateError

# ---- the update rules: one scalar function per optimiser ----
# Each takes one element of the parameter, of its gradient and of each slot, the step's
# rate `lr`, the parameter's L2 coefficient `l2` and the optimiser's constants `h` (a
# tuple: `Optimizer.constants`), and returns the new parameter value and slot values.
# The CPU loops below inline them (`@njit`), and runtime/device.py compiles the same
# functions as CUDA device functions: both targets run one definition of each formula.
# NumPy's error model: a division by zero gives inf/NaN (counted by the loops) instead of
# Python's ZeroDivisionError check per division, which kept the loops from vectorising
# (Adam on 270k values: 1.5 ms -> about a fifth of it).
KERNEL = njit(cache=True, error_model="numpy")


@KERNEL
def sgd_rule(p, g, lr, l2, h):
    return p - lr * (g + l2 * p)


@KERNEL
def momentum_rule(p, g, v, lr, l2, h):
    mu = h[0]
    v = mu * v - lr * (g + l2 * p)
    return p + v, v


@KERNEL
def nesterov_rule(p, g, v, lr, l2, h):
    mu = h[0]
    v_new = mu * v - lr * (g + l2 * p)
    return p + (-mu * v + (1.0 + mu) * v_new), v_new


@KERNEL
def adagrad_rule(p, g, c, lr, l2, h):
    eps = h[0]
    gi = g + l2 * p
    c = c + gi * gi
    return p - lr * gi / (math.sqrt(c) + eps), c


@KERNEL
def rmsprop_rule(p, g, c, lr, l2, h):
    rho, eps = h
    gi = g + l2 * p
    c = rho * c + (1.0 - rho) * gi * gi
    return p - lr * gi / (math.sqrt(c) + eps), c


@KERNEL
def adam_rule(p, g, m, v, lr, l2, h):
    # correction_k = 1 - beta_k**t, computed once per step (Adam.constants)
    beta1, beta2, eps, correction1, correction2, decay = h
    gi = g + l2 * p
    m = beta1 * m + (1.0 - beta1) * gi
    v = beta2 * v + (1.0 - beta2) * gi * gi
    m_hat = m / correction1
    v_hat = v / correction2
    return p - lr * (m_hat / (math.sqrt(v_hat) + eps) + decay * p), m, v


# ---- the fused CPU loops (one call per parameter, on flat views) ----
# Each returns how many of the updated values are NaN or infinite (0 in a healthy run),
# counted in the same loop: divergence is noticed at the step it happens, at no extra
# pass over memory. Numba does not check bounds: `Optimizer.step` checks every buffer first.
# One loop per rule, not one taking the rule as an argument: Numba's disk cache does not
# recognise a function-typed argument in a new process, so that loop would recompile.

@KERNEL
def _sgd_kernel(p, g, lr, l2, h):
    bad = 0
    for i in range(p.size):
        p[i] = sgd_rule(p[i], g[i], lr, l2, h)
        bad += not math.isfinite(p[i])
    return bad


@KERNEL
def _momentum_kernel(p, g, v, lr, l2, h):
    bad = 0
    for i in range(p.size):
        p[i], v[i] = momentum_rule(p[i], g[i], v[i], lr, l2, h)
        bad += not math.isfinite(p[i])
    return bad


@KERNEL
def _nesterov_kernel(p, g, v, lr, l2, h):
    bad = 0
    for i in range(p.size):
        p[i], v[i] = nesterov_rule(p[i], g[i], v[i], lr, l2, h)
        bad += not math.isfinite(p[i])
    return bad


@KERNEL
def _adagrad_kernel(p, g, c, lr, l2, h):
    bad = 0
    for i in range(p.size):
        p[i], c[i] = adagrad_rule(p[i], g[i], c[i], lr, l2, h)
        bad += not math.isfinite(p[i])
    return bad


@KERNEL
def _rmsprop_kernel(p, g, c, lr, l2, h):
    bad = 0
    for i in range(p.size):
        p[i], c[i] = rmsprop_rule(p[i], g[i], c[i], lr, l2, h)
        bad += not math.isfinite(p[i])
    return bad


@KERNEL
def _adam_kernel(p, g, m, v, lr, l2, h):
    bad = 0
    for i in range(p.size):
        p[i], m[i], v[i] = adam_rule(p[i], g[i], m[i], v[i], lr, l2, h)
        bad += not math.isfinite(p[i])
    return bad


def _describe(array) -> str:
    if not isinstance(array, np.ndarray):
        return f"a {type(array).__name__}, not an array"
    layout = "" if array.flags.c_contiguous else "non-contiguous "
    access = "" if array.flags.writeable else "read-only "
    return f"a {access}{layout}{array.dtype} array of shape {array.shape}"


def _fits(array, shape, dtype) -> bool:
    """Safe for a fused kernel: an ndarray of exactly `shape` and `dtype`, C-contiguous
    and writeable (so a flat view writes through and every index is in bounds)."""
    return (isinstance(array, np.ndarray) and array.shape == shape and array.dtype == dtype
            and array.flags.c_contiguous and array.flags.writeable)


def _param_flat(name, p):
    """A 1-D view of a parameter (0-d included), so the kernels write through."""
    if not (isinstance(p, np.ndarray) and p.dtype.kind == "f" and _fits(p, p.shape, p.dtype)):
        raise OptimizerStateError(f"parameter '{name}' is {_describe(p)}; the optimiser "
                                  "updates writeable C-contiguous float arrays in place")
    return p.reshape(-1)


def _grad_flat(name, g, p):
    g = np.asarray(g)
    if g.shape != p.shape:
        raise OptimizerStateError(f"the gradient of '{name}' has shape {g.shape}, but the "
                                  f"parameter has shape {p.shape}")
    return np.ascontiguousarray(g, dtype=p.dtype).reshape(-1)


def gradient_of(grads, name):
    """The gradient of parameter `name` from a dict or a generated module's named tuple."""
    return grads[name] if isinstance(grads, dict) else getattr(grads, name)


class Optimizer:
    """Base class: per-parameter state slots, a step counter, and a state dict.

    Every slot of a parameter `p` is a flat C-contiguous array of `p.size` values of
    `p.dtype`; `step` checks this (and the gradient's shape) before each fused kernel
    runs, since Numba does not check bounds. A subclass names its scalar `rule`, the CPU
    loop that applies it (`cpu_loop`) and the rule's `constants`.
    """

    name = "optimizer"
    slots: tuple = ()
    nonnegative: tuple = ()            # slots that hold sums of squares
    full_batch = False
    rule = None                        # staticmethod(<name>_rule)
    cpu_loop = None                    # staticmethod(_<name>_kernel)

    def __init__(self):
        self.t = 0                      # steps taken (Adam's bias correction uses it)
        self.state: dict = {}           # param name -> {slot: array}
        self.loaded_from = None         # the file load_state_dict read, for messages

    def hyper(self) -> dict:
        """The hyper-parameters, as checkpoints record them."""
        return {}

    def constants(self) -> tuple:
        """The rule's constants `h` for the step under way (`t` already counts it)."""
        return ()

    def _slots_for(self, name, p):
        if name not in self.state:
            self.state[name] = {s: np.zeros(p.size, p.dtype) for s in self.slots}
        slots = self.state[name]
        for slot in self.slots:
            if slot not in slots:
                raise OptimizerStateError(f"parameter '{name}' has no optimizer slot "
                                          f"'{slot}'{self._origin()}")
            if not _fits(slots[slot], (p.size,), p.dtype):
                raise OptimizerStateError(
                    f"optimizer slot '{name}/{slot}'{self._origin()} is "
                    f"{_describe(slots[slot])}, but parameter '{name}' needs a writeable "
                    f"contiguous {p.dtype} array of shape ({p.size},)")
        return slots

    def _origin(self) -> str:
        return f" (loaded from {self.loaded_from})" if self.loaded_from else ""

    def step(self, params: dict, grads, lr: float, l2: dict | None = None) -> dict:
        """One update of every parameter in place; `l2[name]` is its L2 coefficient.

        Every buffer is checked before the first kernel runs, so a step that raises
        OptimizerStateError has changed nothing. Returns {name: how many values are now
        NaN or infinite} for the parameters that have any (empty in a healthy run).
        """
        l2 = l2 or {}
        work = []
        for name, p in params.items():
            g = gradient_of(grads, name)
            work.append((name, _param_flat(name, p), _grad_flat(name, g, p),
                         self._slots_for(name, p)))
        self.t += 1
        h, bad = self.constants(), {}
        for name, p, g, slots in work:
            count = self.cpu_loop(p, g, *(slots[s] for s in self.slots), float(lr),
                                  float(l2.get(name, 0.0)), h)
            if count:
                bad[name] = int(count)
        return bad

    def state_dict(self) -> dict:
        """Arrays keyed `name/slot`, plus the step counter under `t`."""
        out = {"t": np.array(self.t)}
        for name, slots in self.state.items():
            for slot, array in slots.items():
                out[f"{name}/{slot}"] = array
        return out

    def load_state_dict(self, arrays: dict, source: str | None = None):
        """The state `state_dict` gave; `source` (a file name) goes into messages.

        Checks the form (a whole step count `t` >= 0, keys `name/slot` with this
        optimiser's slot names); `check_state` checks the arrays against the parameters.
        """
        t = arrays.get("t")
        if not (isinstance(t, np.ndarray) and t.shape == () and t.dtype.kind in "iu"
                and int(t) >= 0):
            found = "nothing" if t is None else _describe(t)
            raise OptimizerStateError(f"the optimizer step count 't' must be a whole number "
                                      f">= 0, found {found}")
        state: dict = {}
        for key, array in arrays.items():
            if key == "t":
                continue
            name, _, slot = key.rpartition("/")
            if not name or slot not in self.slots:
                known = ", ".join(self.slots) or "none"
                raise OptimizerStateError(f"'{key}' is not a slot of the {self.name} "
                                          f"optimizer (its slots: {known})")
            state.setdefault(name, {})[slot] = np.array(array)
        self.t, self.state, self.loaded_from = int(t), state, source

    def check_state(self, params: dict, complete: bool):
        """Raise OptimizerStateError unless every slot belongs to a parameter, fits it
        (shape, dtype) and holds finite values (sums of squares: >= 0); with `complete`,
        every parameter must have all its slots (true after the first step)."""
        for name in self.state:
            if name not in params:
                raise OptimizerStateError(f"the optimizer state has slots for '{name}', "
                                          "which is not a parameter of the model")
        for name, p in params.items():
            slots = self.state.get(name)
            if slots is None:
                if complete and self.slots:
                    raise OptimizerStateError(f"the optimizer state has no slots for "
                                              f"parameter '{name}'")
                continue
            self._slots_for(name, p)
            for slot in self.slots:
                _check_slot_values(name, slot, slots[slot], slot in self.nonnegative)


def _check_slot_values(name, slot, array, nonnegative):
    finite = np.isfinite(array)
    if not finite.all():
        raise OptimizerStateError(f"optimizer slot '{name}/{slot}' holds "
                                  f"{int((~finite).sum())} NaN or infinite values")
    if nonnegative and (array < 0).any():
        raise OptimizerStateError(f"optimizer slot '{name}/{slot}' holds negative values "
                                  f"(it is a running sum of squares)")


class SGD(Optimizer):
    name = "sgd"
    rule, cpu_loop = staticmethod(sgd_rule), staticmethod(_sgd_kernel)


class Momentum(Optimizer):
    name = "momentum"
    slots = ("v",)
    rule, cpu_loop = staticmethod(momentum_rule), staticmethod(_momentum_kernel)

    def __init__(self, momentum=0.9):
        super().__init__()
        self.momentum = float(momentum)

    def hyper(self):
        return {"momentum": self.momentum}

    def constants(self):
        return (self.momentum,)


class Nesterov(Momentum):
    name = "nesterov"
    rule, cpu_loop = staticmethod(nesterov_rule), staticmethod(_nesterov_kernel)


class AdaGrad(Optimizer):
    name = "adagrad"
    slots = ("cache",)
    nonnegative = ("cache",)
    rule, cpu_loop = staticmethod(adagrad_rule), staticmethod(_adagrad_kernel)

    def __init__(self, eps=1e-8):
        super().__init__()
        self.eps = float(eps)

    def hyper(self):
        return {"eps": self.eps}

    def constants(self):
        return (self.eps,)


class RMSProp(Optimizer):
    name = "rmsprop"
    slots = ("cache",)
    nonnegative = ("cache",)
    rule, cpu_loop = staticmethod(rmsprop_rule), staticmethod(_rmsprop_kernel)

    def __init__(self, rho=0.99, eps=1e-8):
        super().__init__()
        self.rho, self.eps = float(rho), float(eps)

    def hyper(self):
        return {"rho": self.rho, "eps": self.eps}

    def constants(self):
        return (self.rho, self.eps)


class Adam(Optimizer):
    name = "adam"
    slots = ("m", "v")
    nonnegative = ("v",)
    rule, cpu_loop = staticmethod(adam_rule), staticmethod(_adam_kernel)

    def __init__(self, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__()
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def hyper(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def _decay(self):
        return 0.0

    def constants(self):
        return (self.beta1, self.beta2, self.eps, 1.0 - self.beta1 ** self.t,
                1.0 - self.beta2 ** self.t, self._decay())


class AdamW(Adam):
    name = "adamw"

    def __init__(self, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
        super().__init__(beta1, beta2, eps)
        self.weight_decay = float(weight_decay)

    def hyper(self):
        return {**super().hyper(), "weight_decay": self.weight_decay}

    def _decay(self):
        return self.weight_decay


class LBFGS(Optimizer):
    """Full-batch L-BFGS (SciPy's L-BFGS-B): `minimize(objective, params, iterations)`.

    Each call starts a fresh L-BFGS memory from the current parameters, so the trainer
    calls it once per epoch with `iterations` steps and can validate in between.
    """

    name = "lbfgs"
    full_batch = True

    def __init__(self, iterations=20, memory=10):
        super().__init__()
        self.iterations, self.memory = int(iterations), int(memory)

    def hyper(self):
        return {"iterations": self.iterations, "memory": self.memory}

    def minimize(self, objective, params: dict) -> float:
        """Minimise `objective(params) -> (value, grads)` in place; returns the last value.

        `grads` is a mapping or named tuple keyed by parameter name.
        """
        names = list(params)
        shapes = [params[n].shape for n in names]
        sizes = [params[n].size for n in names]
        dtype = params[names[0]].dtype

        def unpack(x):
            out, start = {}, 0
            for n, shape, size in zip(names, shapes, sizes):
                out[n] = x[start:start + size].reshape(shape).astype(dtype)
                start += size
            return out

        def fun(x):
            value, grads = objective(unpack(x))
            get = grads.__getitem__ if isinstance(grads, dict) else grads.__getattribute__
            flat = np.concatenate([np.asarray(get(n), np.float64).reshape(-1) for n in names])
            return float(value), flat

        x0 = np.concatenate([params[n].astype(np.float64).reshape(-1) for n in names])
        result = scipy.optimize.minimize(fun, x0, jac=True, method="L-BFGS-B",
                                         options={"maxiter": self.iterations,
                                                  "maxcor": self.memory})
        self.t += int(result.nit)
        for n, array in unpack(result.x).items():
            params[n][...] = array
        return float(result.fun)

    def step(self, params, grads, lr, l2=None):
        raise TypeError("L-BFGS is a full-batch method: use minimize(), not step()")


OPTIMIZERS = {cls.name: cls for cls in
              (SGD, Momentum, Nesterov, AdaGrad, RMSProp, Adam, AdamW, LBFGS)}

DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.1,
              "rmsprop": 1e-3, "adam": 1e-3, "adamw": 1e-3, "lbfgs": 1.0}


def make_optimizer(name: str, **hyper) -> Optimizer:
    """An optimiser by name (`sgd`, `momentum`, ..., `lbfgs`) with its hyper-parameters."""
    try:
        cls = OPTIMIZERS[name]
    except KeyError:
        raise ValueError(f"unknown optimizer '{name}'; choose one of "
                         f"{', '.join(OPTIMIZERS)}") from None
    return cls(**hyper)
