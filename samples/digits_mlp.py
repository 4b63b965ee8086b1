"""An MLP 64-128-10 with ReLU for scikit-learn's 8x8 digits (`adc train ... --data digits`)."""
from adc.lang import Data, Param, Index, dim, relu, cross_entropy

N = dim("N")
D, H, C = 64, 128, 10  # 8x8 pixels, hidden units, digit classes


def logits(X, W1, b1, W2, b2):
    # Not annotated, so a helper: `loss` inlines it and `adc train` runs it eagerly
    # (NumPy) to turn scores into accuracy.
    h = relu(X @ W1 + b1)
    return h @ W2 + b2


def loss(X: Data[N, D], y: Index[N], W1: Param[D, H], b1: Param[H],
         W2: Param[H, C], b2: Param[C]):
    return cross_entropy(logits(X, W1, b1, W2, b2), y)
