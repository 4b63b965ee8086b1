"""Optimisers: each matches a hand-written NumPy version of its published rule step by
step, updates the parameters in place, and decreases a convex loss."""
from __future__ import annotations

import numpy as np
import pytest

from adc.runtime import optimizers
from adc.runtime.optimizers import make_optimizer

from rt_support import compiled_sample

# ---- NumPy references, written from the papers / CS231n notes ----
# Each takes (p, g, state, t, lr, l2) and returns the new p; `state` is per parameter.


def ref_sgd(p, g, state, t, lr, l2):
    return p - lr * (g + l2 * p)


def ref_momentum(p, g, state, t, lr, l2, mu=0.9):
    v = state.get("v", np.zeros_like(p))
    state["v"] = mu * v - lr * (g + l2 * p)
    return p + state["v"]


def ref_nesterov(p, g, state, t, lr, l2, mu=0.9):
    v_prev = state.get("v", np.zeros_like(p))
    v = mu * v_prev - lr * (g + l2 * p)
    state["v"] = v
    return p - mu * v_prev + (1 + mu) * v


def ref_adagrad(p, g, state, t, lr, l2, eps=1e-8):
    g = g + l2 * p
    state["cache"] = state.get("cache", np.zeros_like(p)) + g * g
    return p - lr * g / (np.sqrt(state["cache"]) + eps)


def ref_rmsprop(p, g, state, t, lr, l2, rho=0.99, eps=1e-8):
    g = g + l2 * p
    state["cache"] = rho * state.get("cache", np.zeros_like(p)) + (1 - rho) * g * g
    return p - lr * g / (np.sqrt(state["cache"]) + eps)


def ref_adam(p, g, state, t, lr, l2, b1=0.9, b2=0.999, eps=1e-8, wd=0.0):
    g = g + l2 * p
    state["m"] = b1 * state.get("m", np.zeros_like(p)) + (1 - b1) * g
    state["v"] = b2 * state.get("v", np.zeros_like(p)) + (1 - b2) * g * g
    m_hat = state["m"] / (1 - b1 ** t)
    v_hat = state["v"] / (1 - b2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps) - lr * wd * p


def ref_adamw(p, g, state, t, lr, l2):
    return ref_adam(p, g, state, t, lr, l2, wd=0.05)


REFERENCES = {
    "sgd": (ref_sgd, {}),
    "momentum": (ref_momentum, {"momentum": 0.9}),
    "nesterov": (ref_nesterov, {"momentum": 0.9}),
    "adagrad": (ref_adagrad, {}),
    "rmsprop": (ref_rmsprop, {"rho": 0.99}),
    "adam": (ref_adam, {}),
    "adamw": (ref_adamw, {"weight_decay": 0.05}),
}

# A separable quadratic with different curvatures: grad = A * p - b.
SHAPES = {"W": (3, 4), "b": (4,), "s": ()}


def quadratic_grads(params, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for name, p in params.items():
        a = rng.uniform(0.5, 5.0, p.shape)
        target = rng.standard_normal(p.shape)
        out[name] = a * p - target
    return out


def initial_params(seed=1):
    rng = np.random.default_rng(seed)
    return {n: np.asarray(rng.standard_normal(s)) for n, s in SHAPES.items()}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_update_matches_numpy_reference_over_several_steps(name):
    ref, hyper = REFERENCES[name]
    opt = make_optimizer(name, **hyper)
    params = initial_params()
    expected = {n: p.copy() for n, p in params.items()}
    ref_state = {n: {} for n in params}
    l2 = {"W": 0.01}                    # the weight is decayed, the others are not
    for t in range(1, 7):
        lr = 0.05 * (1 + 0.1 * t)       # a changing rate, as a schedule gives
        opt.step(params, quadratic_grads(params), lr, l2)
        grads = quadratic_grads(expected)
        for n in expected:
            expected[n] = ref(expected[n], grads[n], ref_state[n], t, lr, l2.get(n, 0.0))
        for n in params:
            np.testing.assert_allclose(params[n], expected[n], rtol=1e-12, atol=1e-14,
                                       err_msg=f"{name}, step {t}, parameter {n}")


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_step_updates_the_given_arrays_in_place(name):
    opt = make_optimizer(name)
    params = initial_params()
    arrays = dict(params)
    before = {n: p.copy() for n, p in params.items()}
    opt.step(params, quadratic_grads(params), 0.1)
    for n in params:
        assert params[n] is arrays[n]
        assert not np.array_equal(params[n], before[n]), f"{name} did not move {n}"


def test_step_accepts_a_generated_modules_named_tuple_of_grads(build_dir):
    module = compiled_sample("linear_regression", build_dir)
    X, y, params = linear_problem()
    _, grads = module.loss_value_and_grad(X, y, **params)
    expected = {n: params[n] - 0.1 * getattr(grads, n) for n in params}
    make_optimizer("sgd").step(params, grads, 0.1)
    for n in params:
        np.testing.assert_allclose(params[n], expected[n], rtol=1e-14)


def test_state_dict_round_trip_continues_identically():
    straight, resumed = make_optimizer("adam"), make_optimizer("adam")
    p1, p2 = initial_params(), initial_params()
    for _ in range(3):
        straight.step(p1, quadratic_grads(p1), 0.1)
        resumed.step(p2, quadratic_grads(p2), 0.1)
    copy = make_optimizer("adam")
    copy.load_state_dict({k: v.copy() for k, v in resumed.state_dict().items()})
    for _ in range(3):
        straight.step(p1, quadratic_grads(p1), 0.1)
        copy.step(p2, quadratic_grads(p2), 0.1)
    for n in p1:
        assert np.array_equal(p1[n], p2[n])


def test_update_loops_are_numba_compiled_with_a_disk_cache():
    kernels = [getattr(optimizers, n) for n in dir(optimizers) if n.endswith("_kernel")]
    rules = [getattr(optimizers, n) for n in dir(optimizers) if n.endswith("_rule")]
    assert len(kernels) == len(rules) == 6
    for kernel in kernels + rules:
        assert type(kernel._cache).__name__ != "NullCache", f"{kernel} is not cached"


def test_unknown_optimizer_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown optimizer 'adamax'.*sgd"):
        make_optimizer("adamax")


# ---- every optimiser decreases a convex loss (linear least squares) ----

def linear_problem(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((64, 10))
    y = X @ rng.standard_normal(10) + 0.5 + 0.1 * rng.standard_normal(64)
    return X, y, {"w": np.zeros(10), "b": np.zeros(())}


CONVEX_LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.5,
             "rmsprop": 0.05, "adam": 0.05, "adamw": 0.05}


@pytest.mark.parametrize("name", sorted(CONVEX_LR))
def test_each_optimizer_decreases_a_convex_loss(name, build_dir):
    module = compiled_sample("linear_regression", build_dir)
    X, y, params = linear_problem()
    opt = make_optimizer(name)
    start = module.loss(X, y, **params)
    for _ in range(60):
        _, grads = module.loss_value_and_grad(X, y, **params)
        opt.step(params, grads, CONVEX_LR[name])
    end = module.loss(X, y, **params)
    assert end < 0.05 * start, f"{name}: loss {start:.3f} -> {end:.3f}"


def test_lbfgs_minimises_a_convex_loss_with_the_compiled_gradient(build_dir):
    module = compiled_sample("linear_regression", build_dir)
    X, y, params = linear_problem()
    opt = make_optimizer("lbfgs", iterations=50)
    final = opt.minimize(lambda p: module.loss_value_and_grad(X, y, **p), params)
    # the least-squares optimum, from NumPy, with an intercept column
    A = np.hstack([X, np.ones((len(X), 1))])
    coef = np.linalg.lstsq(A, y, rcond=None)[0]
    np.testing.assert_allclose(params["w"], coef[:10], atol=1e-5)
    np.testing.assert_allclose(params["b"], coef[10], atol=1e-5)
    assert final == pytest.approx(module.loss(X, y, **params))
    assert params["b"].shape == ()
