"""Learning-rate schedules: the rate for optimiser step `t` (0-based), a pure function.

Rates depend on the step count only, so a resumed run reproduces them exactly. Decay
parameters are in epochs; `steps_per_epoch` converts them.

    constant       lr
    step           lr * gamma ** floor(epoch / every)
    exponential    lr * gamma ** epoch                (epoch = t / steps_per_epoch)
    inverse_time   lr / (1 + k * epoch)               ("1/t" decay)
    cosine         lr_min + (lr - lr_min) * (1 + cos(pi * t / total_steps)) / 2
    warm-up        any of these times min(1, (t + 1) / (warmup * steps_per_epoch))
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    """lr(t) for a named rule; build one with `make_schedule`."""

    kind: str
    lr: float
    steps_per_epoch: int
    total_steps: int
    gamma: float = 0.5
    every: float = 10.0
    k: float = 0.1
    lr_min: float = 0.0
    warmup: float = 0.0

    def __call__(self, t: int) -> float:
        epoch = t / self.steps_per_epoch
        if self.kind == "constant":
            rate = self.lr
        elif self.kind == "step":
            rate = self.lr * self.gamma ** math.floor(epoch / self.every)
        elif self.kind == "exponential":
            rate = self.lr * self.gamma ** epoch
        elif self.kind == "inverse_time":
            rate = self.lr / (1.0 + self.k * epoch)
        else:  # cosine
            progress = min(t / max(self.total_steps, 1), 1.0)
            rate = self.lr_min + (self.lr - self.lr_min) * (1 + math.cos(math.pi * progress)) / 2
        if self.warmup > 0:
            rate *= min(1.0, (t + 1) / (self.warmup * self.steps_per_epoch))
        return rate


SCHEDULES = ("constant", "step", "exponential", "inverse_time", "cosine")

# Defaults that make each rule do something visible over a short run.
_DEFAULTS = {"step": {"gamma": 0.5, "every": 10.0}, "exponential": {"gamma": 0.95},
             "inverse_time": {"k": 0.1}, "cosine": {"lr_min": 0.0}, "constant": {}}


def make_schedule(kind: str, lr: float, epochs: int, steps_per_epoch: int,
                  warmup: float = 0.0, **options) -> Schedule:
    """A schedule by name; `options` are the rule's parameters (gamma, every, k, lr_min)."""
    if kind not in SCHEDULES:
        raise ValueError(f"unknown schedule '{kind}'; choose one of {', '.join(SCHEDULES)}")
    allowed = _DEFAULTS[kind]
    unknown = set(options) - set(allowed)
    if unknown:
        raise ValueError(f"schedule '{kind}' has no option {', '.join(sorted(unknown))}"
                         + (f" (options: {', '.join(allowed)})" if allowed else ""))
    if steps_per_epoch < 1 or lr <= 0:
        raise ValueError("a schedule needs lr > 0 and at least one step per epoch")
    values = {**allowed, **{k: float(v) for k, v in options.items()}}
    return Schedule(kind, float(lr), int(steps_per_epoch), int(epochs * steps_per_epoch),
                    warmup=float(warmup), **values)


def parse_schedule(text: str) -> tuple[str, dict]:
    """`cosine` or `step:every=5,gamma=0.3` -> (name, {option: value})."""
    name, _, rest = text.partition(":")
    options = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        try:
            options[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise ValueError(f"schedule option {item!r} is not NAME=NUMBER")
    return name.strip(), options
