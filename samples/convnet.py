"""A small conv net on 8x8 images: conv2d, ReLU, 2x2 max-pool, linear, cross-entropy."""
from adc.lang import Data, Param, Index, dim, conv2d, relu, max_pool2d, reshape, cross_entropy

N = dim("N")
F = 4       # number of 3x3 filters
FLAT = 64   # F * 4 * 4: features after pooling 8x8 down to 4x4
C = 10      # classes


def loss(X: Data[N, 1, 8, 8], y: Index[N], K: Param[F, 1, 3, 3],
         W: Param[FLAT, C], b: Param[C]):
    h = relu(conv2d(X, K, padding=1))        # (N, 4, 8, 8)
    h = max_pool2d(h, 2, 2)                  # (N, 4, 4, 4)
    h = reshape(h, (X.shape[0], FLAT))       # (N, 64)
    logits = h @ W + b
    return cross_entropy(logits, y)
