"""A 3-layer ReLU MLP (two hidden layers) with cross-entropy and an L2 penalty."""
from adc.lang import Data, Param, Index, dim, relu, cross_entropy, sum

N = dim("N")
D, H1, H2, C = 8, 16, 12, 3


def loss(X: Data[N, D], y: Index[N], W1: Param[D, H1], b1: Param[H1],
         W2: Param[H1, H2], b2: Param[H2], W3: Param[H2, C], b3: Param[C],
         lam: float = 1e-4):
    h1 = relu(X @ W1 + b1)
    h2 = relu(h1 @ W2 + b2)
    logits = h2 @ W3 + b3
    penalty = sum(W1 * W1) + sum(W2 * W2) + sum(W3 * W3)
    return cross_entropy(logits, y) + lam * penalty
