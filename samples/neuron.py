"""A 2-D sigmoid neuron f = 1 / (1 + exp(-(w0*x0 + w1*x1 + w2))) on scalars.

At w0 = 2, x0 = -1, w1 = -3, x1 = -2, w2 = -3 the value is 0.73 and the
gradients are w0 -0.20, x0 0.39, w1 -0.39, x1 -0.59, w2 0.20.
"""
from adc.lang import Param, exp


def f(w0: Param[()], x0: Param[()], w1: Param[()], x1: Param[()], w2: Param[()]):
    dot = w0 * x0 + w1 * x1 + w2
    return 1 / (1 + exp(-dot))
