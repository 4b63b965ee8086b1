"""An MNIST-sized MLP 784-256-256-10 with ReLU, built from a helper function."""
from adc.lang import Data, Param, Index, dim, relu, cross_entropy, sum

N = dim("N")
D, H, C = 784, 256, 10


def _dense(x, W, b):
    # A helper: no annotations, inlined at every call site.
    return x @ W + b


def loss(X: Data[N, D], y: Index[N], W1: Param[D, H], b1: Param[H],
         W2: Param[H, H], b2: Param[H], W3: Param[H, C], b3: Param[C],
         lam: float = 1e-4):
    h1 = relu(_dense(X, W1, b1))
    h2 = relu(_dense(h1, W2, b2))
    logits = _dense(h2, W3, b3)
    return cross_entropy(logits, y) + lam * (sum(W1 * W1) + sum(W2 * W2) + sum(W3 * W3))
