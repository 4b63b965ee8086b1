"""Predictions without conventions: a model with no `logits` helper is scored through the
compiled `<loss>_predict` the compiler derives from its loss call: accuracy for
cross_entropy, binary_cross_entropy_with_logits and multiclass_hinge, RMSE for mse;
`adc train` prints them (test_accuracy=, test_rmse=)."""
from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from adc.cli.main import main
from adc.runtime import data
from adc.runtime.trainer import predict_function

from conftest import compile_to, write_model
from rt_support import compiled_sample, sample_path

MLP = '''from adc.lang import *
N = dim("N")
D, H, C = 64, 64, 10

def loss(X: Data[N, D], y: Index[N], W1: Param[D, H], b1: Param[H], W2: Param[H, C],
         b2: Param[C]):
    return {loss}(relu(X @ W1 + b1) @ W2 + b2, y)
'''
DIGITS = ["--epochs", "20", "--lr", "3e-3", "--batch-size", "16", "--seed", "0", "--quiet"]


def adc_train(*args):
    return CliRunner().invoke(main, ["train", *args])


def summary_of(result) -> dict:
    line = result.output.strip().splitlines()[-1]
    return dict(part.split("=", 1) for part in line.split())


@pytest.mark.parametrize("loss, minimum", [("cross_entropy", 0.97),
                                           ("multiclass_hinge", 0.95)])
def test_a_digits_classifier_without_logits_reports_its_accuracy(tmp_path, loss, minimum):
    """The same MLP with either loss (the hinge MLP overfits a little more: ~0.96)."""
    path = write_model(tmp_path, MLP.format(loss=loss), f"digits_{loss}")
    result = adc_train(path, "--data", "digits", *DIGITS, "--out", str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    summary = summary_of(result)
    assert float(summary["test_accuracy"]) >= minimum, summary
    assert "val_accuracy" in summary and "train_accuracy" in summary


def test_a_binary_classifier_without_logits_reports_its_accuracy(tmp_path):
    result = adc_train(sample_path("logistic_regression"), "--data", "breast_cancer",
                       "--epochs", "30", "--lr", "1e-2", "--seed", "0", "--quiet",
                       "--out", str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    assert float(summary_of(result)["test_accuracy"]) >= 0.95


def test_a_regression_reports_its_rmse(tmp_path):
    """y = X w + b + noise of std 0.1: the RMSE on the test rows comes down to the noise,
    and it is the RMSE of the trained parameters' predictions."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 10))
    y = X @ rng.standard_normal(10) + 0.5 + 0.1 * rng.standard_normal(400)
    source = tmp_path / "regression.npz"
    np.savez(source, X=X, y=y)
    result = adc_train(sample_path("linear_regression"), "--data", str(source),
                       "--epochs", "60", "--lr", "0.05", "--seed", "0", "--quiet",
                       "--out", str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    summary = summary_of(result)
    assert "accuracy" not in " ".join(summary)
    assert 0.05 < float(summary["val_rmse"]) < 0.2, summary


def test_the_compiled_prediction_is_the_loss_argument(build_dir):
    module = compiled_sample("linear_regression", build_dir)
    spec = data.ModelSpec.from_module(module, "loss")
    predict, target = predict_function(module, sample_path("linear_regression"), spec)
    assert target == "y" and predict.metric == "rmse" and predict.source == "loss_predict"
    rng = np.random.default_rng(1)
    arrays = {"X": rng.standard_normal((5, 10)), "y": np.zeros(5)}
    params = {"w": rng.standard_normal(10), "b": np.array(0.25)}
    np.testing.assert_allclose(predict(arrays, params), arrays["X"] @ params["w"] + 0.25,
                               rtol=1e-12)


def test_a_logits_helper_stays_the_override(build_dir):
    module = compiled_sample("iris_softmax", build_dir)
    spec = data.ModelSpec.from_module(module, "loss")
    predict, target = predict_function(module, sample_path("iris_softmax"), spec)
    assert predict.source == "logits" and predict.metric == "accuracy" and target == "y"


# a squared error written by hand: no loss call the compiler derives a prediction from
UNSCORED = '''from adc.lang import *
N = dim("N")

def loss(X: Data[N, 3], y: Data[N], w: Param[3]):
    return mean((X @ w - y) ** 2)
'''


def test_a_loss_with_no_recognisable_prediction_has_no_score(tmp_path):
    path = write_model(tmp_path, UNSCORED, "by_hand")
    module = compile_to(path, str(tmp_path))
    spec = data.ModelSpec.from_module(module, "loss")
    assert predict_function(module, path, spec) == (None, None)


def test_the_run_says_why_it_has_no_score(tmp_path):
    path = write_model(tmp_path, UNSCORED, "unscored")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    np.savez(tmp_path / "data.npz", X=X, y=X @ np.array([1.0, -2.0, 0.5]))
    result = adc_train(path, "--data", str(tmp_path / "data.npz"), "--epochs", "2",
                       "--seed", "0", "--quiet", "--out", str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    assert "note: no accuracy or RMSE: 'loss' calls none of cross_entropy" in result.output
    assert "'logits'" in result.output
    summary = summary_of(result)
    assert not any(k.endswith(("accuracy", "rmse")) for k in summary), summary


def test_the_prediction_takes_the_loss_float_arguments(build_dir):
    """dropout_mlp's prediction reads its mask and rate p: p takes its default, or the
    value a run sets."""
    module = compiled_sample("dropout_mlp", build_dir)
    spec = data.ModelSpec.from_module(module, "loss")
    predict, target = predict_function(module, sample_path("dropout_mlp"), spec)
    assert target == "y" and "p" in predict.names
    sig = module.SIGNATURES["loss"]["args"]
    rng = np.random.default_rng(0)
    shapes = {n: tuple(4 if isinstance(d, str) else d for d in a["shape"])
              for n, a in sig.items() if a["role"] in ("param", "data")}
    values = {n: rng.standard_normal(s) for n, s in shapes.items()}
    values["mask"] = (rng.random(shapes["mask"]) > 0.5).astype(float)
    params = {n: values.pop(n) for n in spec.params}
    default = predict(values, params)
    np.testing.assert_allclose(default, module.loss_predict(**values, **params, p=0.5))
    assert not np.allclose(predict(values, {**params, "p": 0.1}), default)
