"""A softmax classifier: cross-entropy on linear scores with an L2 penalty."""
from adc.lang import Data, Param, Index, dim, cross_entropy, sum

N = dim("N")
D, C = 20, 4


def loss(X: Data[N, D], y: Index[N], W: Param[D, C], b: Param[C], reg: float = 1e-3):
    scores = X @ W + b
    return cross_entropy(scores, y) + 0.5 * reg * sum(W * W)
