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


def _zeros(k, shape, dtype):
    array = cuda.device_array(shape, dtype)
    flat = array.reshape(array.size)
    k.fill_zero[_grid(array.size)](flat)
    return array


def _gemm(k, C, A, ta, B, tb, accumulate):
    """C (+)= op(A) @ op(B); a 1-D B and C are used as one-column matrices."""
    if B.ndim == 1:
        B = B.reshape(B.shape[0], 1)
        C = C.reshape(C.shape[0], 1)
    rows, cols = C.shape
    blocks = ((cols + _TILE - 1) // _TILE, (rows + _TILE - 1) // _TILE)
    k.gemm[blocks, (_TILE, _TILE)](A, B, C, ta, tb, accumulate)


def _device_view(value):
    """A Numba device array for a GPU value (Numba, CuPy, torch: no copy); None for host."""
    if getattr(value, "__cuda_ndarray__", False):
        return value
    if hasattr(value, "__cuda_array_interface__"):
        return cuda.as_cuda_array(value)
    return None


def _prepare_cuda(fname, values):
    """(arguments, sizes, on_device): checked like the CPU path; device arrays stay put."""
    on_device = any(_device_view(v) is not None for v in values.values())
    args, sizes = _prepare(fname, values, _device_view)
    return args, sizes, on_device


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


def _from_device(array, shape, on_device):
    """A result: left on the GPU when the inputs were, else copied to a NumPy array."""
    if on_device:
        return array.reshape(shape) if array.shape != shape else array
    host = array.copy_to_host()
    return host.reshape(shape) if shape != host.shape else host


def _host_scalar(value):
    """A scalar output copied to the host is a NumPy scalar, like the CPU functions return."""
    return value[()] if isinstance(value, np.ndarray) else value


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
