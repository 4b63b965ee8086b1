"""Linear regression with the mean squared error."""
from adc.lang import Data, Param, dim, mse

N = dim("N")
D = 10


def loss(X: Data[N, D], y: Data[N], w: Param[D], b: Param[()]):
    pred = X @ w + b
    return mse(pred, y)
