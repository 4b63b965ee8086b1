"""A scalar function with a constant and a sine: f = 5*x1 + sin(x2 + pi)."""
from adc.lang import Param, sin, pi


def f(x1: Param[()], x2: Param[()]):
    return 5 * x1 + sin(x2 + pi)
