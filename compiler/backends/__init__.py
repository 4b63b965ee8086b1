"""Code generation backends: numba_cpu, numpy reference."""
