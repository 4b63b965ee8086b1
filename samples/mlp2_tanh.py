"""A 2-layer MLP with a tanh hidden layer and a cross-entropy loss."""
from adc.lang import Data, Param, Index, dim, tanh, cross_entropy

N = dim("N")
D, H, C = 4, 5, 3


def loss(X: Data[N, D], y: Index[N], W1: Param[D, H], b1: Param[H],
         W2: Param[H, C], b2: Param[C]):
    h = tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    return cross_entropy(logits, y)
