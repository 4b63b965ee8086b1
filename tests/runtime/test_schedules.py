"""Learning-rate schedules: each rule's value at chosen steps, warm-up, option parsing."""
from __future__ import annotations

import math

import pytest

from adc.runtime.schedules import make_schedule, parse_schedule

SPE = 10  # steps per epoch


def rates(schedule, steps):
    return [schedule(t) for t in steps]


def test_constant_never_changes():
    s = make_schedule("constant", 0.1, epochs=5, steps_per_epoch=SPE)
    assert rates(s, [0, 7, 49]) == [0.1, 0.1, 0.1]


def test_step_decay_halves_every_k_epochs():
    s = make_schedule("step", 0.1, epochs=9, steps_per_epoch=SPE, every=3, gamma=0.5)
    # epochs 0-2 at 0.1, 3-5 at 0.05, 6-8 at 0.025; the drop happens at an epoch boundary
    assert rates(s, [0, 29, 30, 59, 60]) == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_exponential_decay_is_gamma_to_the_epoch():
    s = make_schedule("exponential", 0.2, epochs=5, steps_per_epoch=SPE, gamma=0.9)
    assert rates(s, [0, 10, 25]) == pytest.approx([0.2, 0.2 * 0.9, 0.2 * 0.9 ** 2.5])


def test_inverse_time_decay():
    s = make_schedule("inverse_time", 1.0, epochs=5, steps_per_epoch=SPE, k=0.5)
    assert rates(s, [0, 10, 40]) == pytest.approx([1.0, 1 / 1.5, 1 / 3.0])


def test_cosine_goes_from_lr_to_lr_min_over_the_run():
    s = make_schedule("cosine", 0.1, epochs=4, steps_per_epoch=SPE, lr_min=0.01)
    total = 40
    assert s(0) == pytest.approx(0.1)
    assert s(total // 2) == pytest.approx(0.055)
    assert s(total) == pytest.approx(0.01)
    t = 13
    assert s(t) == pytest.approx(0.01 + 0.09 * (1 + math.cos(math.pi * t / total)) / 2)
    assert all(a >= b for a, b in zip(rates(s, range(41)), rates(s, range(1, 42))))


def test_linear_warmup_ramps_up_then_hands_over():
    s = make_schedule("cosine", 0.1, epochs=10, steps_per_epoch=SPE, warmup=2)
    plain = make_schedule("cosine", 0.1, epochs=10, steps_per_epoch=SPE)
    assert s(0) == pytest.approx(plain(0) * 1 / 20)   # step 1 of 20 warm-up steps
    assert s(9) == pytest.approx(plain(9) * 10 / 20)
    assert s(19) == pytest.approx(plain(19))           # warm-up done
    assert s(55) == pytest.approx(plain(55))


def test_parse_schedule_reads_name_and_options():
    assert parse_schedule("cosine") == ("cosine", {})
    assert parse_schedule("step:every=5,gamma=0.3") == ("step", {"every": 5.0, "gamma": 0.3})
    with pytest.raises(ValueError, match="not NAME=NUMBER"):
        parse_schedule("step:every")


@pytest.mark.parametrize("kind, options, message", [
    ("linear", {}, "unknown schedule 'linear'"),
    ("step", {"k": 1.0}, "schedule 'step' has no option k"),
])
def test_bad_schedules_are_rejected_with_the_reason(kind, options, message):
    with pytest.raises(ValueError, match=message):
        make_schedule(kind, 0.1, epochs=1, steps_per_epoch=1, **options)
