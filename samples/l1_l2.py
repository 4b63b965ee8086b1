"""A linear model with both L1 and L2 (elastic net) penalties and a squared loss."""
from adc.lang import Data, Param, dim, mse, sum, abs

N = dim("N")
D, K = 10, 2


def loss(X: Data[N, D], Y: Data[N, K], W: Param[D, K], b: Param[K],
         l1: float = 1e-3, l2: float = 1e-3):
    pred = X @ W + b
    return mse(pred, Y) + l1 * sum(abs(W)) + l2 * sum(W * W)
