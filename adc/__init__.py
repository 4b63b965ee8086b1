"""adc: a symbolic differentiation compiler for a small subset of Python."""

__version__ = "0.1.0"
