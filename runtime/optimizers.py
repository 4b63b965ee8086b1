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

L-BFGS (`LBFGS`) is different: a full-batch method that hands SciPy's L-BFGS-B the
compiled value-and-grad of the whole training set.
"""
from __future__ import annotations

import numpy as np
import scipy.optimize
from numba import njit

# ---- the fused update loops (one call per parameter, on flat views) ----


@njit(cache=True)
def _sgd_kernel(p, g, lr, l2):
    for i in range(p.size):
        p[i] -= lr * (g[i] + l2 * p[i])


@njit(cache=True)
def _momentum_kernel(p, g, v, lr, l2, mu):
    for i in range(p.size):
        v[i] = mu * v[i] - lr * (g[i] + l2 * p[i])
        p[i] += v[i]


@njit(cache=True)
def _nesterov_kernel(p, g, v, lr, l2, mu):
    for i in range(p.size):
        v_prev = v[i]
        v[i] = mu * v[i] - lr * (g[i] + l2 * p[i])
        p[i] += -mu * v_prev + (1.0 + mu) * v[i]


@njit(cache=True)
def _adagrad_kernel(p, g, c, lr, l2, eps):
    for i in range(p.size):
        gi = g[i] + l2 * p[i]
        c[i] += gi * gi
        p[i] -= lr * gi / (np.sqrt(c[i]) + eps)


@njit(cache=True)
def _rmsprop_kernel(p, g, c, lr, l2, rho, eps):
    for i in range(p.size):
        gi = g[i] + l2 * p[i]
        c[i] = rho * c[i] + (1.0 - rho) * gi * gi
        p[i] -= lr * gi / (np.sqrt(c[i]) + eps)


@njit(cache=True)
def _adam_kernel(p, g, m, v, lr, l2, beta1, beta2, eps, correction1, correction2, decay):
    # correction_k = 1 - beta_k**t, computed once per step outside the loop
    for i in range(p.size):
        gi = g[i] + l2 * p[i]
        m[i] = beta1 * m[i] + (1.0 - beta1) * gi
        v[i] = beta2 * v[i] + (1.0 - beta2) * gi * gi
        m_hat = m[i] / correction1
        v_hat = v[i] / correction2
        p[i] -= lr * (m_hat / (np.sqrt(v_hat) + eps) + decay * p[i])


def _flat(array):
    """A 1-D view of a C-contiguous array (0-d included), so the kernels write through."""
    flat = array.reshape(-1)
    if not np.shares_memory(flat, array):
        raise ValueError("parameters must be C-contiguous arrays to be updated in place")
    return flat


def _grad_flat(g, dtype):
    return np.ascontiguousarray(g, dtype=dtype).reshape(-1)


class Optimizer:
    """Base class: per-parameter state slots, a step counter, and a state dict."""

    name = "optimizer"
    slots: tuple = ()
    full_batch = False

    def __init__(self):
        self.t = 0                      # steps taken (Adam's bias correction uses it)
        self.state: dict = {}           # param name -> {slot: array}

    def hyper(self) -> dict:
        """The hyper-parameters, as checkpoints record them."""
        return {}

    def _slots_for(self, name, p):
        if name not in self.state:
            self.state[name] = {s: np.zeros(p.size, p.dtype) for s in self.slots}
        return self.state[name]

    def step(self, params: dict, grads, lr: float, l2: dict | None = None):
        """One update of every parameter in place; `l2[name]` is its L2 coefficient."""
        self.t += 1
        l2 = l2 or {}
        for name, p in params.items():
            g = _grad_flat(getattr(grads, name) if not isinstance(grads, dict)
                           else grads[name], p.dtype)
            self._update(_flat(p), g, self._slots_for(name, p), float(lr),
                         float(l2.get(name, 0.0)))

    def _update(self, p, g, slots, lr, l2):
        raise NotImplementedError

    def state_dict(self) -> dict:
        """Arrays keyed `name/slot`, plus the step counter under `t`."""
        out = {"t": np.array(self.t)}
        for name, slots in self.state.items():
            for slot, array in slots.items():
                out[f"{name}/{slot}"] = array
        return out

    def load_state_dict(self, arrays: dict):
        self.t = int(arrays["t"])
        self.state = {}
        for key, array in arrays.items():
            if key != "t":
                name, slot = key.rsplit("/", 1)
                self.state.setdefault(name, {})[slot] = np.array(array)


class SGD(Optimizer):
    name = "sgd"

    def _update(self, p, g, slots, lr, l2):
        _sgd_kernel(p, g, lr, l2)


class Momentum(Optimizer):
    name = "momentum"
    slots = ("v",)

    def __init__(self, momentum=0.9):
        super().__init__()
        self.momentum = float(momentum)

    def hyper(self):
        return {"momentum": self.momentum}

    def _update(self, p, g, slots, lr, l2):
        _momentum_kernel(p, g, slots["v"], lr, l2, self.momentum)


class Nesterov(Momentum):
    name = "nesterov"

    def _update(self, p, g, slots, lr, l2):
        _nesterov_kernel(p, g, slots["v"], lr, l2, self.momentum)


class AdaGrad(Optimizer):
    name = "adagrad"
    slots = ("cache",)

    def __init__(self, eps=1e-8):
        super().__init__()
        self.eps = float(eps)

    def hyper(self):
        return {"eps": self.eps}

    def _update(self, p, g, slots, lr, l2):
        _adagrad_kernel(p, g, slots["cache"], lr, l2, self.eps)


class RMSProp(Optimizer):
    name = "rmsprop"
    slots = ("cache",)

    def __init__(self, rho=0.99, eps=1e-8):
        super().__init__()
        self.rho, self.eps = float(rho), float(eps)

    def hyper(self):
        return {"rho": self.rho, "eps": self.eps}

    def _update(self, p, g, slots, lr, l2):
        _rmsprop_kernel(p, g, slots["cache"], lr, l2, self.rho, self.eps)


class Adam(Optimizer):
    name = "adam"
    slots = ("m", "v")

    def __init__(self, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__()
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def hyper(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def _decay(self):
        return 0.0

    def _update(self, p, g, slots, lr, l2):
        c1 = 1.0 - self.beta1 ** self.t
        c2 = 1.0 - self.beta2 ** self.t
        _adam_kernel(p, g, slots["m"], slots["v"], lr, l2, self.beta1, self.beta2,
                     self.eps, c1, c2, self._decay())


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

    def _update(self, p, g, slots, lr, l2):
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
