"""The input checks every generated module carries (plain Python, run before compiled code).

This text is copied verbatim into each generated module so that the module stays
standalone (NumPy and Numba only). It reads the module's own SIGNATURES table.
"""

CHECKS = '''
def _shape_text(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _float_dtype(fname, values):
    """The common float dtype of the float arrays among the arguments (float64 if none)."""
    spec = SIGNATURES[fname]["args"]
    kinds = [np.dtype(values[n].dtype) for n, a in spec.items()
             if a["role"] in ("param", "data") and hasattr(values[n], "dtype")
             and hasattr(values[n], "shape") and np.dtype(values[n].dtype).kind == "f"]
    dtype = np.result_type(*kinds) if kinds else np.dtype(np.float64)
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)


def _bind_shape(fname, name, array, expected, sizes):
    """Check `array.shape` against `expected` (ints and size names), binding the names."""
    want = []
    ok = array.ndim == len(expected)
    for d, e in enumerate(expected):
        if isinstance(e, str):
            if ok and e not in sizes:
                sizes[e] = array.shape[d]
            want.append(f"{e}={sizes[e]}" if e in sizes else e)
            ok = ok and sizes.get(e) == array.shape[d]
        else:
            want.append(str(e))
            ok = ok and array.shape[d] == e
    if not ok:
        raise ValueError(f"{fname}: argument '{name}' has shape {_shape_text(array.shape)}, "
                         f"expected {_shape_text(want)}")


def _prepare(fname, values, device_view=None):
    """Validate and convert the arguments of `fname`; return (kernel arguments, sizes).

    `device_view(value)` (CUDA only) gives a device array used as it is, or None for a
    host value, which is converted here.
    """
    spec = SIGNATURES[fname]["args"]
    dtype = _float_dtype(fname, values)
    sizes, out = {}, []
    for name, arg in spec.items():
        value, role = values[name], arg["role"]
        if role in ("float", "int"):
            out.append(_scalar_arg(fname, name, role, value))
            continue
        array = device_view(value) if device_view else None
        if array is not None:
            _check_device_dtype(fname, name, role, array, dtype)
        elif role == "index":
            array = np.asarray(value)
            if array.dtype.kind not in "iu":
                raise ValueError(f"{fname}: argument '{name}' is an Index and must be an "
                                 f"integer array, got dtype {array.dtype}")
            array = np.asarray(array, dtype=np.int64, order="C")
        else:
            array = np.asarray(value)
            scalar = not isinstance(value, np.ndarray) and isinstance(value, (int, float))
            if array.dtype.kind != "f" and not scalar:
                raise ValueError(f"{fname}: argument '{name}' is a {role.capitalize()} "
                                 f"and must be a float array, got dtype {array.dtype}")
            array = np.asarray(array, dtype=dtype, order="C")
        _bind_shape(fname, name, array, arg["shape"], sizes)
        out.append(array.reshape(1) if array.ndim == 0 else array)
    return out, sizes


def _scalar_arg(fname, name, role, value):
    """A `float` or `int` hyper-parameter as a Python number."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if not isinstance(value, (int, float, np.integer, np.floating)) or \\
            isinstance(value, bool) or (role == "int" and not
                                        isinstance(value, (int, np.integer))):
        raise ValueError(f"{fname}: argument '{name}' must be a Python {role}, "
                         f"got {type(value).__name__}")
    return float(value) if role == "float" else int(value)


def _check_device_dtype(fname, name, role, array, dtype):
    """Device arrays are used without a copy, so their dtype must already be right."""
    want = np.dtype(np.int64) if role == "index" else dtype
    if array.dtype != want:
        raise ValueError(f"{fname}: argument '{name}' is a {role.capitalize()} device array "
                         f"and must have dtype {want}, got dtype {array.dtype}")


def _check_index(fname, name, array, bound):
    """Every entry of an Index argument must address an element: 0 <= value < bound."""
    if array.size and (array.min() < 0 or array.max() >= bound):
        bad = array[(array < 0) | (array >= bound)][0]
        raise ValueError(f"{fname}: argument '{name}' has index {bad} out of range; "
                         f"expected 0 <= {name} < {bound}")


def _cotangent(fname, value, want, dtype):
    """A cotangent (seed) of the output's shape `want`, as a fresh kernel array: the
    backward pass accumulates into it, so it is never the caller's array."""
    array = np.asarray(value)
    if array.dtype.kind not in "fiu":
        raise ValueError(f"{fname}: the cotangent must be a float array, got {array.dtype}")
    array = np.array(array, dtype=dtype, order="C", copy=True)
    if array.shape != tuple(want):
        raise ValueError(f"{fname}: the cotangent has shape {_shape_text(array.shape)}, "
                         f"expected {_shape_text(want)} (the output's shape)")
    return array.reshape(1) if array.ndim == 0 else array
'''
