"""A maxout network: the hidden unit is the maximum of two linear pieces."""
from adc.lang import Data, Param, Index, dim, maximum, cross_entropy

N = dim("N")
D, H, C = 6, 8, 3


def loss(X: Data[N, D], y: Index[N], W1a: Param[D, H], b1a: Param[H],
         W1b: Param[D, H], b1b: Param[H], W2: Param[H, C], b2: Param[C]):
    h = maximum(X @ W1a + b1a, X @ W1b + b1b)
    logits = h @ W2 + b2
    return cross_entropy(logits, y)
