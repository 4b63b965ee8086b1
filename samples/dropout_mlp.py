"""An MLP with (inverted) dropout on the hidden layer; the mask is passed as data."""
from adc.lang import Data, Param, Index, dim, relu, dropout, cross_entropy

N = dim("N")
D, H, C = 6, 8, 3


def loss(X: Data[N, D], y: Index[N], mask: Data[N, H], W1: Param[D, H], b1: Param[H],
         W2: Param[H, C], b2: Param[C], p: float = 0.5):
    h = relu(X @ W1 + b1)
    h = dropout(h, mask, p)
    logits = h @ W2 + b2
    return cross_entropy(logits, y)
