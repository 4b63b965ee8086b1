"""The input checks every generated module carries (plain Python, run before compiled code).

This text is copied verbatim into each generated module so that the module stays
standalone (NumPy and Numba only). It reads the module's own SIGNATURES table. Each
entry point's private functions call these with the argument values as a tuple in
signature order, so no user argument name can shadow anything here.
"""

CHECKS = '''
def _shape_text(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _float_dtype(fname, spec, values):
    """The common float dtype of the float arrays among the arguments (float64 if none)."""
    kinds = []
    for (name, arg), value in zip(spec.items(), values):
        if arg["role"] in ("param", "data") and hasattr(value, "dtype") and \\
                hasattr(value, "shape") and np.dtype(value.dtype).kind == "f":
            if np.dtype(value.dtype) not in (np.float32, np.float64):
                raise ValueError(f"{fname}: argument '{name}' has dtype {np.dtype(value.dtype)}; "
                                 "adc computes in float32 or float64: convert it with "
                                 ".astype(np.float32) or .astype(np.float64)")
            kinds.append(np.dtype(value.dtype))
    return np.result_type(*kinds) if kinds else np.dtype(np.float64)


def _bind_shape(fname, name, array, expected, sizes, origin):
    """Check `array.shape` against `expected` (ints and size names), binding the names.

    Sizes written as expressions ("2*N") are checked by the entry point's own code once
    every name is bound. `origin` records which argument bound each name, for messages.
    """
    ok = array.ndim == len(expected)
    for d, e in enumerate(expected):
        if isinstance(e, str) and e.isidentifier():
            if ok and e not in sizes:
                sizes[e] = array.shape[d]
                origin[e] = f"{name}.shape[{d}]"
            ok = ok and sizes.get(e) == array.shape[d]
        elif not isinstance(e, str):
            ok = ok and array.shape[d] == e
    if not ok:
        want = [f"{e}={sizes[e]}" if isinstance(e, str) and e in sizes else str(e)
                for e in expected]
        bound = [f"{e} = {sizes[e]} from {origin[e]}" for e in expected
                 if isinstance(e, str) and e in origin and origin[e].split(".")[0] != name]
        where = f" ({'; '.join(dict.fromkeys(bound))})" if bound else ""
        raise ValueError(f"{fname}: argument '{name}' has shape {_shape_text(array.shape)}, "
                         f"expected {_shape_text(want)}{where}")


def _prepare(fname, values, device_view=None):
    """Validate and convert the arguments of `fname`: (kernel arguments, sizes, dtype).

    `values` are the call's arguments in signature order. `device_view(value)` (CUDA only)
    gives a device array used as it is, or None for a host value, converted here.
    """
    spec = (SIGNATURES.get(fname) or PREDICTIONS[fname])["args"]
    dtype = _float_dtype(fname, spec, values)
    sizes, origin, out = {}, {}, []
    for (name, arg), value in zip(spec.items(), values):
        role = arg["role"]
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
        _bind_shape(fname, name, array, arg["shape"], sizes, origin)
        out.append(array.reshape(1) if array.ndim == 0 else array)
    return out, sizes, dtype


# what each entry point's `_f_ready` compares with `is` (NumPy's dtypes of these kinds are
# singletons; a dtype equal but not identical takes the converting path, never a wrong one)
_NDARRAY = np.ndarray
_F64, _F32, _I64 = np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.int64)


def _check_size(fname, name, axis, actual, expected, text):
    """An axis whose size is an expression of other sizes, e.g. 2*N."""
    if actual != expected:
        raise ValueError(f"{fname}: argument '{name}' has size {actual} on axis {axis}, "
                         f"expected {text} = {expected}")


def _check_in_range(fname, margin, what, sizes):
    """A condition on the sizes the compiler could not prove for every size (an index
    stays inside its axis, a max has something to reduce): `margin` >= 0 must hold."""
    if margin < 0:
        shown = ", ".join(f"{k} = {v}" for k, v in sizes.items())
        raise ValueError(f"{fname}: {what}, which fails with {shown}")


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


def _check_index(fname, name, array, bound, wrap=True):
    """Every entry of an Index argument must address an element: -bound <= value < bound,
    negative values counting from the end as in NumPy (`wrap`), else 0 <= value < bound."""
    if not array.size:
        return array
    low = -bound if wrap else 0
    lo, hi = array.min(), array.max()
    if lo < low or hi >= bound:
        bad = array[(array < low) | (array >= bound)][0]
        rule = f"-{bound} <= {name} < {bound}" if wrap else f"0 <= {name} < {bound}"
        hint = "" if wrap else (" (negative indices are not accepted here: this Index "
                                "addresses axes of different sizes)")
        raise ValueError(f"{fname}: argument '{name}' has index {bad} out of range; "
                         f"expected {rule}{hint}")
    return np.where(array < 0, array + bound, array) if lo < 0 else array


def _cotangent(fname, value, want, dtype):
    """A cotangent (seed) of the output's shape `want`, as a fresh kernel array: the
    backward pass may accumulate into it, so it is never the caller's array."""
    array = np.asarray(value)
    if array.dtype.kind not in "fiu":
        raise ValueError(f"{fname}: the cotangent must be a float array, got {array.dtype}")
    array = np.array(array, dtype=dtype, order="C", copy=True)
    if array.shape != tuple(want):
        raise ValueError(f"{fname}: the cotangent has shape {_shape_text(array.shape)}, "
                         f"expected {_shape_text(want)} (the output's shape)")
    return array.reshape(1) if array.ndim == 0 else array


def _cotangents(fname, cotangent, shapes, dtype):
    """One seed array per output: a single array, or a tuple for several outputs."""
    if len(shapes) == 1:
        return [_cotangent(fname, cotangent, shapes[0], dtype)]
    if not isinstance(cotangent, (tuple, list)) or len(cotangent) != len(shapes):
        raise ValueError(f"{fname}_vjp: cotangent must be a tuple of {len(shapes)} arrays, "
                         "one per output")
    return [_cotangent(fname, c, s, dtype) for c, s in zip(cotangent, shapes)]


def _tangents(fname, keyword, given, args, dtype):
    """One array per differentiated argument from a dict name -> array (missing: zero)."""
    spec = SIGNATURES[fname]
    names = list(spec["args"])
    if not isinstance(given, dict):
        raise ValueError(f"{fname}: {keyword} must be a dict from argument name to array, "
                         f"got {type(given).__name__}")
    unknown = [n for n in given if n not in spec["wrt"]]
    if unknown:
        raise ValueError(f"{fname}: {keyword} has an entry for '{unknown[0]}', which is not "
                         f"a differentiated argument (those are: {', '.join(spec['wrt'])})")
    out = []
    for name in spec["wrt"]:
        like = args[names.index(name)]
        want = like.shape if spec["args"][name]["shape"] else ()
        if name not in given:
            out.append(np.zeros(like.shape, dtype))
            continue
        array = np.asarray(given[name])
        if array.dtype.kind not in "fiu":
            raise ValueError(f"{fname}: {keyword}['{name}'] must be a float array, "
                             f"got {array.dtype}")
        if array.shape != tuple(want):
            raise ValueError(f"{fname}: {keyword}['{name}'] has shape "
                             f"{_shape_text(array.shape)}, expected {_shape_text(want)} "
                             f"(the shape of argument '{name}')")
        out.append(np.array(array, dtype=dtype, order="C").reshape(like.shape))
    return out


_UNIT_SEEDS = {_F64: np.ones(1, _F64), _F32: np.ones(1, _F32)}


def _unit_seed(dtype):
    """The cotangent 1 of a scalar output: a vjp of it is the gradient (a copy: a kernel
    may accumulate into its seed; copying is 4x as fast as np.ones)."""
    return _UNIT_SEEDS[dtype].copy()


# a kernel call with less work than this (elements of its largest threaded loop nest)
# stays on one thread: starting the others would cost more than they save
THREADS_FROM = 65536


# a call whose largest matrix product has more multiply-adds than this stays on one
# thread too: BLAS runs such a product on its own threads, which spin after the call and
# would stall the threaded loops between products (compiler/threads.py)
BLAS_ALONE = 262144


def _threaded(work, products=0):
    """Whether a kernel call with this much work runs on all of Numba's threads (the
    threaded kernel agrees with the serial one to rounding, and gives the same bits on
    any number of threads); THREADS_FROM = 0 always threads."""
    if get_num_threads() < 2:
        return False
    return THREADS_FROM == 0 or (work >= THREADS_FROM and products <= BLAS_ALONE)


def _jacobian(fname, jvp, vjp, args, dtype, out_shapes, grads):
    """Jacobian of every output with respect to the differentiated arguments, from n JVPs
    (forward mode, n = parameter elements) or m VJPs (reverse, m = output elements),
    whichever is fewer. One `grads` named tuple per output, arrays out.shape + arg.shape."""
    spec = SIGNATURES[fname]
    names = list(spec["args"])
    params = [args[names.index(n)] for n in spec["wrt"]]
    shapes = [p.shape if spec["args"][n]["shape"] else () for p, n in
              zip(params, spec["wrt"])]
    n = sum(p.size for p in params)
    m = sum(int(np.prod(s, dtype=np.int64)) for s in out_shapes)
    jac = [[np.zeros(tuple(o) + tuple(s), dtype) for s in shapes] for o in out_shapes]
    nout = len(out_shapes)
    if n <= m:
        for k, p in enumerate(params):
            for e in range(p.size):
                tangents = [np.zeros(q.shape, dtype) for q in params]
                tangents[k].reshape(-1)[e] = 1
                results = jvp(*args, *tangents)
                for o in range(nout):
                    col = results[nout + o]
                    jac[o][k].reshape(-1, p.size)[:, e] = col.reshape(-1)
    else:
        for o, shape in enumerate(out_shapes):
            size = int(np.prod(shape, dtype=np.int64))
            for e in range(size):
                seeds = [np.zeros(max(1, int(np.prod(s, dtype=np.int64))), dtype).reshape(
                    tuple(s) or (1,)) for s in out_shapes]
                seeds[o].reshape(-1)[e] = 1
                results = vjp(*args, *seeds)
                for k, p in enumerate(params):
                    jac[o][k].reshape(size, -1)[e, :] = results[nout + k].reshape(-1)
    out = [grads(*[j.reshape(tuple(o) + tuple(s)) for j, s in zip(row, shapes)])
           for row, o in zip(jac, out_shapes)]
    return out[0] if nout == 1 else tuple(out)


_HESSIAN_MAX = 4096


def _hessian(fname, hvp, args, dtype):
    """The dense Hessian of a scalar output over the flattened differentiated arguments
    (signature order), one Hessian-vector product per column."""
    spec = SIGNATURES[fname]
    names = list(spec["args"])
    params = [args[names.index(n)] for n in spec["wrt"]]
    total = sum(p.size for p in params)
    if total > _HESSIAN_MAX:
        raise ValueError(f"{fname}_hessian: {total} parameters would make a {total} x {total} "
                         f"matrix; the limit is {_HESSIAN_MAX}: use {fname}_hvp for "
                         "Hessian-vector products")
    hessian = np.empty((total, total), dtype)
    column = 0
    k = len(params)
    for j, p in enumerate(params):
        for e in range(p.size):
            vector = [np.zeros(q.shape, dtype) for q in params]
            vector[j].reshape(-1)[e] = 1
            results = hvp(*args, _unit_seed(dtype), *vector)
            hessian[:, column] = np.concatenate([r.reshape(-1) for r in results[-k:]])
            column += 1
    return hessian
'''
