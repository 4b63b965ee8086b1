"""The course's first example: the gate f = (x + y) * z on scalars.

At x = -2, y = 5, z = -4 the value is -12 and the gradients are
df/dx = -4, df/dy = -4, df/dz = 3.
"""
from adc.lang import Param


def f(x: Param[()], y: Param[()], z: Param[()]):
    q = x + y
    return q * z
