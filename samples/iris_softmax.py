"""Softmax regression for scikit-learn's iris flowers (`adc train ... --data iris`)."""
from adc.lang import Data, Param, Index, dim, cross_entropy

N = dim("N")
D, C = 4, 3   # measurements per flower, species


def logits(X, W, b):
    # A helper (no annotations): the loss inlines it, `adc train` runs it for accuracy.
    return X @ W + b


def loss(X: Data[N, D], y: Index[N], W: Param[D, C], b: Param[C]):
    return cross_entropy(logits(X, W, b), y)
