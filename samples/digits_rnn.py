"""A recurrent net reading each 8x8 digit row by row: h = tanh(x_t Wx + h Wh + b), 8 steps."""
from adc.lang import Data, Param, Index, dim, tanh, cross_entropy

N = dim("N")
T = 8          # steps: one image row each
D = 8          # pixels per row
H = 32         # hidden units
C = 10         # digit classes


def loss(X: Data[N, T, D], y: Index[N], Wx: Param[D, H], Wh: Param[H, H], b: Param[H],
         Wo: Param[H, C], bo: Param[C]):
    # `adc train` reshapes the flat 64-pixel rows of `--data digits` to (N, 8, 8).
    # The loop stays a loop in the generated code (one step, run T times; its gradient
    # runs the steps backwards): compile time does not depend on T.
    h = tanh(X[:, 0] @ Wx + b)
    for t in range(1, T):
        h = tanh(X[:, t] @ Wx + h @ Wh + b)
    return cross_entropy(h @ Wo + bo, y)
