"""Binary logistic regression with the logistic loss on logits."""
from adc.lang import Data, Param, dim, binary_cross_entropy_with_logits

N = dim("N")
D = 30


def loss(X: Data[N, D], y: Data[N], w: Param[D], b: Param[()]):
    z = X @ w + b
    return binary_cross_entropy_with_logits(z, y)
