"""A small conv net for scikit-learn's 8x8 digits: conv 3x3, ReLU, 2x2 max-pool, linear."""
from adc.lang import Data, Param, Index, dim, conv2d, relu, max_pool2d, reshape, cross_entropy

N = dim("N")
F = 8          # 3x3 filters
FLAT = 128     # F * 4 * 4 features after pooling 8x8 down to 4x4
C = 10         # digit classes


def logits(X, K, c, W, b):
    # A helper (no annotations): the loss inlines it, `adc train` runs it for accuracy.
    # `adc train` reshapes the flat 64-pixel rows of `--data digits` to (N, 1, 8, 8).
    h = relu(conv2d(X, K, padding=1) + reshape(c, (1, F, 1, 1)))   # (N, F, 8, 8)
    h = max_pool2d(h, 2, 2)                                         # (N, F, 4, 4)
    h = reshape(h, (X.shape[0], FLAT))                              # (N, 128)
    return h @ W + b


def loss(X: Data[N, 1, 8, 8], y: Index[N], K: Param[F, 1, 3, 3], c: Param[F],
         W: Param[FLAT, C], b: Param[C]):
    return cross_entropy(logits(X, K, c, W, b), y)
