"""A multiclass SVM (CS231n hinge loss) with an L2 penalty on the weights."""
from adc.lang import Data, Param, Index, dim, multiclass_hinge, sum

N = dim("N")
D, C = 20, 4


def loss(X: Data[N, D], y: Index[N], W: Param[D, C], b: Param[C], reg: float = 1e-3):
    scores = X @ W + b
    return multiclass_hinge(scores, y) + reg * sum(W * W)
