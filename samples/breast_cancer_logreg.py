"""Logistic regression for scikit-learn's breast cancer data (`adc train ... --data breast_cancer`)."""
from adc.lang import Data, Param, dim, binary_cross_entropy_with_logits

N = dim("N")
D = 30   # features per tumour


def logits(X, w, b):
    # A helper (no annotations): the loss inlines it, `adc train` runs it for accuracy.
    return X @ w + b


def loss(X: Data[N, D], y: Data[N], w: Param[D], b: Param[()]):
    return binary_cross_entropy_with_logits(logits(X, w, b), y)
