"""The CUDA runtime every generated module with `--target cuda|all` carries (plain text).

Copied into the module like checks_template.CHECKS, so the module stays standalone:
argument checks and transfers for the GPU, launch helpers, and the kernels all entry
points share (tiled GEMM, zero fill, scalar device functions), built per float type.
"""

CUDA_RUNTIME = '''
_CUDA_THREADS = 128   # threads per block of elementwise kernels
_TILE = 16            # GEMM tile: 16 x 16 threads, two 16 x 16 shared-memory tiles
_REALS = {np.dtype(np.float32): float32, np.dtype(np.float64): float64}


def _grid(n):
    """Launch configuration with one thread per element of an n-element loop nest."""
    return (max(1, (n + _CUDA_THREADS - 1) // _CUDA_THREADS), _CUDA_THREADS)


def _zeros(kernels, shape, dtype):
    array = cuda.device_array(shape, dtype)
    flat = array.reshape(array.size)
    kernels.fill_zero[_grid(array.size)](flat)
    return array


def _gemm(kernels, C, A, ta, B, tb, accumulate):
    """C (+)= op(A) @ op(B); a 1-D B and C are used as one-column matrices."""
    if B.ndim == 1:
        B = B.reshape(B.shape[0], 1)
        C = C.reshape(C.shape[0], 1)
    rows, cols = C.shape
    blocks = ((cols + _TILE - 1) // _TILE, (rows + _TILE - 1) // _TILE)
    kernels.gemm[blocks, (_TILE, _TILE)](A, B, C, ta, tb, accumulate)


def _device_view(value):
    """A Numba device array for a GPU value (Numba, CuPy, torch: no copy); None for host."""
    if getattr(value, "__cuda_ndarray__", False):
        return value
    if hasattr(value, "__cuda_array_interface__"):
        return cuda.as_cuda_array(value)
    return None


def _prepare_cuda(fname, values):
    """(arguments, sizes, dtype, on_device): checked like the CPU path; device arrays stay."""
    on_device = any(_device_view(v) is not None for v in values)
    args, sizes, dtype = _prepare(fname, values, _device_view)
    return args, sizes, dtype, on_device


def _check_index_cuda(fname, name, array, bound, wrap):
    """_check_index for host or device index arrays (a device array is checked on a host
    copy; negative entries are replaced on the device)."""
    if isinstance(array, np.ndarray):
        return _check_index(fname, name, array, bound, wrap)
    host = array.copy_to_host()
    checked = _check_index(fname, name, host, bound, wrap)
    return array if checked is host else cuda.to_device(checked)


def _upload(args):
    """Copy the host arrays among the (checked) arguments to the GPU."""
    return [cuda.to_device(a) if isinstance(a, np.ndarray) else a for a in args]


def _cotangent_cuda(fname, value, want, dtype):
    """A fresh device array holding the cotangent: the backward pass accumulates into it."""
    view = _device_view(value)
    if view is None:
        return cuda.to_device(_cotangent(fname, value, want, dtype))
    want = tuple(want)
    if view.shape != want or view.dtype != dtype:
        raise ValueError(f"{fname}: the cotangent is a {view.dtype} device array of shape "
                         f"{_shape_text(view.shape)}, expected {dtype} of shape "
                         f"{_shape_text(want)} (the output's shape)")
    seed = cuda.device_array(max(view.size, 1), dtype)
    seed.copy_to_device(view.reshape(view.size) if view.ndim else view.reshape(1))
    return seed.reshape(view.shape) if view.ndim else seed


def _from_device(array, on_device, scalar=False):
    """A result: left on the GPU when the inputs were, else copied to a NumPy array
    (a rank-0 result is stored as one element: a NumPy scalar, like the CPU functions)."""
    if on_device:
        return array.reshape(()) if scalar else array
    host = array.copy_to_host()
    return host[0] if scalar else host


def _cotangents_cuda(fname, cotangent, shapes, dtype):
    """One device seed per output (see _cotangents)."""
    if len(shapes) == 1:
        return [_cotangent_cuda(fname, cotangent, shapes[0], dtype)]
    if not isinstance(cotangent, (tuple, list)) or len(cotangent) != len(shapes):
        raise ValueError(f"{fname}_vjp_cuda: cotangent must be a tuple of {len(shapes)} "
                         "arrays, one per output")
    return [_cotangent_cuda(fname, c, s, dtype) for c, s in zip(cotangent, shapes)]


def _tangents_cuda(fname, keyword, given, args, dtype):
    """Tangent arrays on the device (host arrays are checked by _tangents first)."""
    if isinstance(given, dict):
        views = {n: _device_view(v) for n, v in given.items()}
        host = {n: (v.copy_to_host() if views[n] is not None else v) for n, v in given.items()}
    else:
        host = given
    return [cuda.to_device(t) for t in _tangents(fname, keyword, host, args, dtype)]


_KERNEL_CACHE = {}


def _cuda_kernels(factory, args):
    """The kernels `factory` builds for the float type of `args` (built once per type)."""
    dtypes = [np.dtype(a.dtype) for a in args if hasattr(a, "dtype") and
              np.dtype(a.dtype).kind == "f"]
    real = _REALS[dtypes[0] if dtypes else np.dtype(np.float64)]
    key = (factory.__name__, real)
    if key not in _KERNEL_CACHE:
        _KERNEL_CACHE[key] = factory(real)
    return _KERNEL_CACHE[key]
'''
