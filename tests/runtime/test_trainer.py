"""The Trainer on a real model (softmax regression on iris): reproducibility bit for bit,
resume == uninterrupted, early stopping restores the best weights, checkpoints that do
not fit are refused, divergence is reported, L-BFGS, the `logits` convention, the plot."""
from __future__ import annotations

import math
import os
import textwrap
from types import SimpleNamespace

import matplotlib.image
import numpy as np
import pytest

import adc
from adc.runtime import data
from adc.runtime.checkpoint import CheckpointError
from adc.runtime.initializers import init_params
from adc.runtime.optimizers import make_optimizer
from adc.runtime.plotting import plot_history
from adc.runtime.schedules import make_schedule
from adc.runtime.trainer import Trainer, TrainingError, accuracy_of, predict_function

from rt_support import compiled_sample, sample_path


@pytest.fixture(scope="module")
def iris(build_dir):
    module = compiled_sample("iris_softmax", build_dir)
    spec = data.ModelSpec.from_module(module, "loss")
    predict, target = predict_function(module, sample_path("iris_softmax"), spec)
    arrays, test = data.load_builtin("iris")
    arrays = data.check_arrays(arrays, spec)
    train, val = data.split_validation(arrays, 0.2, seed=0, stratify=target)
    scaler = data.Standardizer.fit(train, ["X"])
    return SimpleNamespace(module=module, spec=spec, predict=predict, target=target,
                           train=scaler.apply(train), val=scaler.apply(val))


def params_for(iris, seed=0):
    shapes = {n: tuple(iris.spec.args[n]["shape"]) for n in iris.spec.params}
    return init_params(shapes, "xavier_uniform", seed)


def trainer_for(iris, **options):
    settings = dict(optimizer=make_optimizer("adam"), lr=0.05, epochs=6, batch_size=16,
                    seed=0, predict=iris.predict, target=iris.target)
    settings.update(options)
    return Trainer(iris.module, "loss", **settings)


def fit(iris, params=None, resume=False, **options):
    params = params if params is not None else params_for(iris)
    result = trainer_for(iris, **options).fit(params, iris.train, iris.val, resume=resume)
    return result, params


def test_the_logits_helper_makes_iris_a_classifier_with_target_y(iris):
    assert iris.target == "y"
    result, _ = fit(iris)
    row = result.history[-1]
    assert set(row) == {"epoch", "lr", "train_loss", "train_accuracy", "val_loss",
                        "val_accuracy"}
    assert [r["epoch"] for r in result.history] == [1, 2, 3, 4, 5, 6]
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.history[-1]["val_accuracy"] > result.history[0]["val_accuracy"]


def test_same_seed_same_history_bit_for_bit(iris):
    first, p1 = fit(iris, seed=3)
    second, p2 = fit(iris, seed=3)
    assert first.history == second.history            # floats compared exactly
    for n in p1:
        assert np.array_equal(p1[n], p2[n])
    other, _ = fit(iris, seed=4)                       # another batch order
    assert [r["train_loss"] for r in other.history] != [r["train_loss"] for r in first.history]


class Interrupted(Exception):
    pass


def cosine_interrupted_at(step, iris, epochs=7):
    """A warm-up + cosine schedule that raises at `step`, as a Ctrl-C would mid-epoch."""
    steps = math.ceil(data.n_samples(iris.train) / 16)
    rule = make_schedule("cosine", 0.05, epochs, steps, warmup=1)

    def rate(t):
        if t == step:
            raise Interrupted
        return rule(t)
    return rate, steps


def test_resume_after_epoch_k_equals_an_uninterrupted_run(iris, tmp_path):
    options = dict(patience=10, weight_decay=1e-3, epochs=7)
    schedule, steps = cosine_interrupted_at(-1, iris)
    whole, p_whole = fit(iris, checkpoint=str(tmp_path / "whole.npz"), schedule=schedule,
                         **options)
    part = str(tmp_path / "part.npz")
    schedule, _ = cosine_interrupted_at(3 * steps + 2, iris)   # in epoch 4, after 3 saved
    with pytest.raises(Interrupted):
        fit(iris, checkpoint=part, schedule=schedule, **options)
    # a fresh process starts from other weights: the checkpoint must overwrite them
    schedule, _ = cosine_interrupted_at(-1, iris)
    resumed, p_resumed = fit(iris, params=params_for(iris, seed=99), resume=True,
                             checkpoint=part, schedule=schedule, **options)
    assert len(resumed.history) == 7
    assert resumed.history == whole.history
    for n in p_whole:
        assert np.array_equal(p_whole[n], p_resumed[n])


def test_resume_refuses_a_checkpoint_of_a_different_run(iris, tmp_path):
    path = str(tmp_path / "c.npz")
    fit(iris, checkpoint=path, epochs=1)
    with pytest.raises(CheckpointError, match="optimizer was 'adam', now 'sgd'"):
        fit(iris, checkpoint=path, resume=True, optimizer=make_optimizer("sgd"))


def test_resume_without_a_checkpoint_is_a_clear_error(iris, tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at .* to resume from"):
        fit(iris, checkpoint=str(tmp_path / "none.npz"), resume=True)


def explode_after(epochs, steps_per_epoch, lr=0.05, then=50.0):
    """A schedule whose rate jumps to `then` after `epochs` epochs (validation gets worse)."""
    return lambda t: lr if t < epochs * steps_per_epoch else then


def test_early_stopping_stops_and_restores_the_best_weights(iris):
    steps = math.ceil(data.n_samples(iris.train) / 16)
    trainer = trainer_for(iris, schedule=explode_after(4, steps), epochs=30, patience=2,
                          optimizer=make_optimizer("sgd"))
    params = params_for(iris)
    result = trainer.fit(params, iris.train, iris.val)
    assert result.stopped_early
    assert len(result.history) == result.best_epoch + 2 < 30
    best = result.history[result.best_epoch - 1]
    assert best["val_loss"] == min(r["val_loss"] for r in result.history)
    assert trainer.evaluate(params, iris.val)["loss"] == best["val_loss"]   # restored
    assert result.final == best


def test_weight_decay_shrinks_the_weights(iris):
    _, plain = fit(iris, epochs=4)
    _, decayed = fit(iris, epochs=4, weight_decay=0.5)
    assert np.linalg.norm(decayed["W"]) < 0.7 * np.linalg.norm(plain["W"])


def test_divergence_stops_training_with_advice(iris):
    steps = math.ceil(data.n_samples(iris.train) / 16)
    with pytest.raises(TrainingError, match=f"training diverged at epoch 2, step {steps + 1}: "
                       "parameter 'W' has 12 NaN or infinite values after the update "
                       r"\(also 'b': 3\); try a smaller learning rate"):
        fit(iris, schedule=explode_after(1, steps, then=float("nan")))


def test_lbfgs_trains_full_batch_one_run_per_epoch(iris):
    result, params = fit(iris, optimizer=make_optimizer("lbfgs", iterations=10), epochs=3)
    assert [r["lr"] for r in result.history] == [None, None, None]
    losses = [r["train_loss"] for r in result.history]
    assert losses[2] < losses[0]
    assert result.history[-1]["val_accuracy"] >= 0.9


def test_evaluate_gives_the_mean_loss_and_accuracy(iris):
    params = params_for(iris)
    scores = trainer_for(iris).evaluate(params, iris.val)
    assert scores["loss"] == pytest.approx(float(iris.module.loss(**iris.val, **params)))
    logits = iris.val["X"] @ params["W"] + params["b"]
    assert scores["accuracy"] == np.mean(np.argmax(logits, 1) == iris.val["y"])


# ---- the `logits` convention: eager helper or compiled entry point ----

COMPILED_LOGITS = textwrap.dedent('''
    from adc.lang import Data, Param, Index, dim, cross_entropy
    N = dim("N")

    def logits(X: Data[N, 4], W: Param[4, 3], b: Param[3]):
        return X @ W + b

    def loss(X: Data[N, 4], y: Index[N], W: Param[4, 3], b: Param[3]):
        return cross_entropy(X @ W + b, y)
''')


def test_a_compiled_logits_entry_point_predicts_like_the_eager_helper(iris, tmp_path):
    path = tmp_path / "compiled_logits.py"
    path.write_text(COMPILED_LOGITS)
    module = adc.compile(str(path), str(tmp_path / "compiled_logits_adc.py"))
    spec = data.ModelSpec.from_module(module, "loss")
    predict, target = predict_function(module, str(path), spec)
    assert target == "y"
    params = params_for(iris)
    np.testing.assert_allclose(predict(iris.val, params), iris.predict(iris.val, params),
                               rtol=1e-12)


def test_a_regression_is_scored_by_its_rmse(build_dir):
    module = compiled_sample("linear_regression", build_dir)
    spec = data.ModelSpec.from_module(module, "loss")
    predict, target = predict_function(module, sample_path("linear_regression"), spec)
    assert predict.metric == "rmse" and target == "y"


def test_accuracy_of_multiclass_and_binary_scores():
    assert accuracy_of(np.array([[0.1, 2.0], [3.0, 1.0], [0.0, 1.0]]), np.array([1, 0, 0])) == 2
    assert accuracy_of(np.array([2.0, -1.0, 0.5]), np.array([1.0, 0.0, 0.0])) == 2


def test_learning_curve_png_decodes_to_the_expected_size(tmp_path):
    history = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e,
                "train_accuracy": 1 - 0.5 / e, "val_accuracy": 1 - 0.6 / e} for e in (1, 2, 3)]
    path = str(tmp_path / "curve.png")
    assert plot_history(history, path, "test") == path
    image = matplotlib.image.imread(path)
    assert image.shape[:2] == (400, 1000)
    assert image.std() > 0.05          # not a blank canvas: lines, labels, ticks
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
