"""Initialisers: the published scales, and defaults by rank and following activation."""
from __future__ import annotations

import numpy as np
import pytest

from adc.runtime.initializers import fans, follow_activations, init_params, initialise

from rt_support import sample_path


def draw(rule, shape, seed=0):
    return initialise(rule, shape, np.random.default_rng(seed))


def test_fans_of_a_dense_weight_and_a_conv_kernel():
    assert fans((64, 128)) == (64, 128)
    assert fans((8, 3, 5, 5)) == (3 * 25, 8 * 25)


def test_xavier_uniform_stays_within_its_bound_and_fills_it():
    w = draw("xavier_uniform", (200, 300))
    bound = np.sqrt(6 / 500)
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.99 * bound
    assert w.std() == pytest.approx(bound / np.sqrt(3), rel=0.02)


@pytest.mark.parametrize("rule, shape, std", [
    ("xavier_normal", (200, 300), np.sqrt(2 / 500)),
    ("he_normal", (200, 300), np.sqrt(2 / 200)),
    ("he_normal", (16, 8, 3, 3), np.sqrt(2 / 72)),
    ("normal", (200, 300), 0.01),
])
def test_gaussian_rules_have_the_published_standard_deviation(rule, shape, std):
    w = draw(rule, shape)
    assert abs(w.mean()) < 0.05 * std
    assert w.std() == pytest.approx(std, rel=0.03)


def test_same_seed_same_values():
    assert np.array_equal(draw("he_normal", (5, 4), 3), draw("he_normal", (5, 4), 3))
    assert not np.array_equal(draw("he_normal", (5, 4), 3), draw("he_normal", (5, 4), 4))


def test_fan_based_rules_refuse_a_bias():
    with pytest.raises(ValueError, match="rank >= 2"):
        draw("xavier_uniform", (5,))


def roles_of(sample):
    with open(sample_path(sample)) as f:
        return follow_activations(f.read(), "loss")


def test_activation_after_each_weight_is_read_through_helpers():
    roles = roles_of("digits_mlp")           # relu(X @ W1 + b1) inside the logits helper
    assert roles.get("W1") == "relu"
    assert "W2" not in roles                 # the output layer is linear
    assert roles_of("mlp2_tanh").get("W1") == "tanh"
    assert roles_of("mlp_mnist").get("W2") == "relu"   # relu(_dense(h1, W2, b2))


def test_auto_defaults_he_after_relu_xavier_before_output_zero_biases():
    shapes = {"W1": (64, 128), "b1": (128,), "W2": (128, 10), "b2": (10,)}
    params = init_params(shapes, "auto", seed=0, roles=roles_of("digits_mlp"))
    assert params["W1"].std() == pytest.approx(np.sqrt(2 / 64), rel=0.05)      # He
    assert np.abs(params["W2"]).max() <= np.sqrt(6 / 138)                       # Xavier U
    assert params["W2"].std() == pytest.approx(np.sqrt(6 / 138) / np.sqrt(3), rel=0.05)
    assert not params["b1"].any() and not params["b2"].any()


def test_normaliser_scale_starts_at_one():
    roles = roles_of("batch_norm_mlp")
    params = init_params({"gamma": (8,), "beta": (8,), "W1": (6, 8)}, "normal", 0, roles)
    assert np.array_equal(params["gamma"], np.ones(8))
    assert np.array_equal(params["beta"], np.zeros(8))
    assert params["W1"].std() == pytest.approx(0.01, rel=0.5)   # the chosen rule, weights only


def test_init_params_is_reproducible_and_float64():
    shapes = {"W": (4, 3), "b": (3,), "s": ()}
    a, b = init_params(shapes, seed=7), init_params(shapes, seed=7)
    for n in shapes:
        assert a[n].dtype == np.float64 and a[n].shape == shapes[n]
        assert np.array_equal(a[n], b[n])
