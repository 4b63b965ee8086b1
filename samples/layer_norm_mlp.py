"""An MLP with layer normalisation: linear, layer_norm, ReLU, linear, cross-entropy."""
from adc.lang import Data, Param, Index, dim, layer_norm, relu, cross_entropy

N = dim("N")
D, H, C = 6, 8, 3


def loss(X: Data[N, D], y: Index[N], W1: Param[D, H], b1: Param[H],
         gamma: Param[H], beta: Param[H], W2: Param[H, C], b2: Param[C]):
    a = X @ W1 + b1
    h = relu(layer_norm(a, gamma, beta))
    logits = h @ W2 + b2
    return cross_entropy(logits, y)
