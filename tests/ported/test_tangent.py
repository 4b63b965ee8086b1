"""Tangent's corpus of functions (tests/functions.py), ported into adc's language.

Source: google/tangent, read at commit 6533e83. Tangent crosses every function of
tests/functions.py with its modes (tests/conftest.py draws the scalars a, b, c from
-2..2, vectors x of 3, 5 and 10 entries, and n from 1, 2, 3); here each function is one
row, checked at one draw: scalars uniform in +-[0.1, 2], x with 5 entries, and an `n`
(which must be a compile-time constant in adc) of 3. Helpers (functions without
annotations) are inlined, as Tangent's own calls are. The TensorFlow functions (tfe_*)
are written with the language's equivalents (tf.multiply as *, tf.reduce_sum as sum,
NHWC convolutions as NCHW conv2d); their rows say so.

See ported_harness.py for the three checks of each row.
"""
from __future__ import annotations

import pytest

from ported_harness import (Case, Draw, Models, build_folder, case, check_grad_fd,
                            check_grad_reference, check_unique, check_unsupported,
                            check_value, unsupported)

TG = "tangent functions.py::"
SCALAR = Draw(0.1, 2.0, signed=True)      # tangent's scalars: -2 .. -0.1, 0.1 .. 2
POSITIVE = Draw(0.1, 2.0)


def scalars(*names, **special):
    return {n: special.get(n, SCALAR) for n in names}


# Tangent calls these by their own names from other functions; without annotations
# they are helpers here, inlined where they are called.
HELPERS = '''
def mul(a, b):
    return a * b


def add(a, b):
    return a + b


def _inner_fn(a, b):
    return a * b


def mul_with_call(a, b):
    return _inner_fn(a, b)


n = 3
'''

BASIC = [
    case(TG + "id_", """
        def id_(a: Param[()]):
            return a
        """, scalars("a")),
    case(TG + "unary_sub", """
        def unary_sub(a: Param[()]):
            return -a
        """, scalars("a")),
    case(TG + "sum_", """
        def sum_(x: Param[N]):
            return np.sum(x)
        """, sizes={"N": 5}),
    case(TG + "overwrite_call", """
        def overwrite_call(x: Param[N]):
            x = np.sum(x)
            x = x * x
            return x
        """, sizes={"N": 5}),
    case(TG + "identity_assign", """
        def identity_assign(a: Param[()]):
            b = a
            return b
        """, scalars("a")),
    case(TG + "increment", """
        def increment(a: Param[()]):
            return a + 1
        """, scalars("a")),
    case(TG + "saxpy", """
        def saxpy(a: Param[()], b: Param[()], c: Param[()]):
            return a * b + c
        """, scalars("a", "b", "c")),
    case(TG + "mul (here a helper, tested through a wrapper)", """
        def mul_entry(a: Param[()], b: Param[()]):
            return mul(a, b)
        """, scalars("a", "b"), helpers=HELPERS),
    case(TG + "add (here a helper, tested through a wrapper)", """
        def add_entry(a: Param[()], b: Param[()]):
            return add(a, b)
        """, scalars("a", "b"), helpers=HELPERS),
    case(TG + "saxpy_call", """
        def saxpy_call(a: Param[()], b: Param[()], c: Param[()]):
            return add(mul(a, b), c)
        """, scalars("a", "b", "c"), helpers=HELPERS),
    case(TG + "saxpy_anf", """
        def saxpy_anf(a: Param[()], b: Param[()], c: Param[()]):
            t1 = a * b
            t2 = t1 + c
            return t2
        """, scalars("a", "b", "c")),
    case(TG + "saxpy_overwrite", """
        def saxpy_overwrite(a: Param[()], b: Param[()], c: Param[()]):
            t = a * b
            t = t + c
            return t
        """, scalars("a", "b", "c")),
    case(TG + "gradname_aliasing", """
        def gradname_aliasing(a: Param[()]):
            da = a * a
            return da
        """, scalars("a")),
    case(TG + "fn_multiple_return (blacklisted in Tangent's own run)", """
        def fn_multiple_return(a: Param[()]):
            return 2 * a, a
        """, scalars("a")),
    case(TG + "test_subscript1", """
        def test_subscript1(x: Param[N]):
            a = x[0]
            b = x[1]
            return a * b
        """, sizes={"N": 5}),
    case(TG + "overwrite_arg", """
        def overwrite_arg(a: Param[()]):
            a = a * 3.0
            return a
        """, scalars("a")),
    case(TG + "overwrite_non_arg", """
        def overwrite_non_arg(a: Param[()]):
            b = a
            b = b * 3.0
            return b
        """, scalars("a")),
    case(TG + "third_pow", """
        def third_pow(a: Param[()]):
            return a * a * a
        """, scalars("a")),
    case(TG + "direct_third_pow", """
        def direct_third_pow(a: Param[()]):
            return a ** 3
        """, scalars("a")),
    case(TG + "mul_with_call", """
        def mul_with_call_entry(a: Param[()], b: Param[()]):
            return _inner_fn(a, b)
        """, scalars("a", "b"), helpers=HELPERS),
    case(TG + "nested_call", """
        def nested_call(a: Param[()], b: Param[()]):
            return mul_with_call(a, b)
        """, scalars("a", "b"), helpers=HELPERS),
    case(TG + "slicing", """
        def slicing(x: Param[N]):
            return np.sum(x[1:])
        """, sizes={"N": 5}),
    case(TG + "augassign", """
        def augassign(a: Param[()]):
            x = a * a
            x *= x
            return x
        """, scalars("a")),
    case(TG + "gradgrad_pow_twice", """
        def gradgrad_pow_twice(a: Param[()]):
            a = a * a
            y = a * a
            return y
        """, scalars("a")),
    case(TG + "gradgrad_chain_of_mults", """
        def gradgrad_chain_of_mults(a: Param[()]):
            b = a
            b = a * a
            c = b * b
            d = c * c
            return d
        """, scalars("a")),
    case(TG + "gradgrad_chain_of_multcalls", """
        def gradgrad_chain_of_multcalls(a: Param[()]):
            b = mul(a, a)
            c = mul(b, b)
            d = mul(c, c)
            return d
        """, scalars("a"), helpers=HELPERS),
    case(TG + "test_list_and_subscript", """
        def test_list_and_subscript(a: Param[()]):
            x = [1.0, a, 3.0]
            return x[0] * x[1]
        """, scalars("a")),
    case(TG + "redefining_var_as_list (rewritten: without the tangent.Stack push and pop)", """
        def redefining_var_as_list(a: Param[()]):
            x = a
            x = [a]
            return a
        """, scalars("a")),
    case(TG + "extended_slice (rewritten: np.newaxis as None)", """
        def extended_slice(x: Param[N]):
            return np.sum(x[::2, None])
        """, sizes={"N": 5}),
]

# test_binop_{mul,div,sub,add}{1,2,3}
BINOPS = [case(TG + f"test_binop_{op}{k}",
               f"def test_binop_{op}{k}(a: Param[()]):\n    return {expr}\n",
               scalars("a"))
          for op, sym in (("mul", "*"), ("div", "/"), ("sub", "-"), ("add", "+"))
          for k, expr in ((1, f"a {sym} 3.0"), (2, f"3.0 {sym} a"), (3, f"a {sym} a"))]

LOOPS = [
    case(TG + "serial_for (n = 3, a module constant)", """
        def serial_for(a: Param[()]):
            for i in range(n):
                a = a * a
            a = 2.0 * a
            for i in range(n + 1):
                a = a * 3.0
            return a
        """, {"a": Draw(0.1, 1.2, signed=True)}, helpers=HELPERS),
    case(TG + "iter_third_pow1", """
        def iter_third_pow1(a: Param[()]):
            out = 1
            for i in range(3):
                out = out * a
            return out
        """, scalars("a")),
    case(TG + "iter_third_pow2", """
        def iter_third_pow2(a: Param[()]):
            out = a
            for i in range(3 - 1):
                out = out * a
            return out
        """, scalars("a")),
    case(TG + "iterpower_static", """
        def iterpower_static(a: Param[()]):
            for i in range(3):
                a = a * a
            return a
        """, scalars("a")),
    case(TG + "iterpower (n = 3, a module constant)", """
        def iterpower(a: Param[()]):
            for i in range(n):
                a = a * a
            return a
        """, scalars("a"), helpers=HELPERS),
    case(TG + "superfor_iterpower", """
        def superfor_iterpower(a: Param[()]):
            for i in range(2):
                for j in range(3):
                    a = a * a
            return a
        """, {"a": Draw(0.9, 1.05, signed=True)}),
    case(TG + "super_iterpower", """
        def super_iterpower(a: Param[()]):
            for i in range(3):
                a = a * a * a
            return a
        """, {"a": Draw(0.5, 1.2, signed=True)}),
    case(TG + "iterpower_with_call (n = 3, a module constant)", """
        def iterpower_with_call(a: Param[()]):
            for i in range(n):
                a = _inner_fn(a, a)
            return a
        """, scalars("a"), helpers=HELPERS),
]

NUMPY = [
    case(TG + "numpy_sum", """
        def numpy_sum(x: Param[N]):
            return np.sum(x)
        """, sizes={"N": 10}),
    case(TG + "numpy_mean", """
        def numpy_mean(x: Param[N]):
            return np.mean(x)
        """, sizes={"N": 10}),
    case(TG + "numpy_exp", """
        def numpy_exp(a: Param[()]):
            return np.exp(a)
        """, scalars("a")),
    case(TG + "numpy_exp2", """
        def numpy_exp2(a: Param[()]):
            return np.exp(np.exp(a))
        """, scalars("a")),
    case(TG + "numpy_cos", """
        def numpy_cos(a: Param[()]):
            return np.cos(a)
        """, scalars("a")),
    case(TG + "numpy_sin", """
        def numpy_sin(a: Param[()]):
            return np.sin(a)
        """, scalars("a")),
    case(TG + "numpy_tan", """
        def numpy_tan(a: Param[()]):
            return np.tan(a)
        """, {"a": Draw(0.1, 1.4, signed=True)}),
    case(TG + "numpy_tanh", """
        def numpy_tanh(a: Param[()]):
            return np.tanh(a)
        """, scalars("a")),
    case(TG + "logistic_regression (test_reverse_mode.py shapes; wrt W, b)", """
        def logistic_regression(input: Data[3], label: Data[5], W: Param[3, 5], b: Param[5]):
            h1 = np.dot(input, W) + b
            prediction = 0.5 * (np.tanh(h1) + 1)
            label_probabilities = prediction * label + (1 - prediction) * (1 - label)
            loss = -np.sum(np.log(label_probabilities))
            return loss
        """, {"input": Draw(0.0, 1.0), "label": [0.0, 1.0, 0.0, 0.0, 0.0]}),
    case(TG + "bilinear (test_reverse_mode.py shapes; wrt x)", """
        def bilinear(x: Param[1, 3], h: Data[1, 3], U: Data[3, 3], W: Data[3, 3], b: Data[1, 3]):
            y = np.dot(x, W)
            y = y + np.dot(h, U)
            y = y + b
            y = np.tanh(y)
            return np.sum(y)
        """),
    case(TG + "bilinear (every argument differentiated)", """
        def bilinear_all(x: Param[1, 3], h: Param[1, 3], U: Param[3, 3], W: Param[3, 3],
                         b: Param[1, 3]):
            y = np.dot(x, W)
            y = y + np.dot(h, U)
            y = y + b
            y = np.tanh(y)
            return np.sum(y)
        """),
]

# The TensorFlow functions, in the language's spelling. t, t1, t2: vectors (5);
# timage: (2, 3, 3, 3); mat1, mat2: matrices (non-square here, so a transpose that is
# dropped shows); s: a scalar broadcast against t.
T = {"N": 5}
TFE = [
    case(TG + "tfe_negative (tf.negative as -t)", """
        def tfe_negative(t: Param[N]):
            return -t
        """, sizes=T),
    case(TG + "tfe_exp", """
        def tfe_exp(t: Param[N]):
            return exp(t)
        """, sizes=T),
    case(TG + "tfe_log", """
        def tfe_log(t: Param[N]):
            return log(t)
        """, {"t": POSITIVE}, sizes=T),
    case(TG + "tfe_tanh", """
        def tfe_tanh(t: Param[N]):
            return tanh(t)
        """, sizes=T),
    case(TG + "tfe_rsqrt (tf.rsqrt as 1 / sqrt)", """
        def tfe_rsqrt(t: Param[N]):
            return 1.0 / sqrt(t)
        """, {"t": POSITIVE}, sizes=T),
    case(TG + "tfe_expand_dims_before (tf.expand_dims(t, 0) as t[None, :])", """
        def tfe_expand_dims_before(t: Param[N]):
            return t[None, :]
        """, sizes=T),
    case(TG + "tfe_expand_dims_after (tf.expand_dims(t, 1) as t[:, None])", """
        def tfe_expand_dims_after(t: Param[N]):
            return t[:, None]
        """, sizes=T),
    case(TG + "tfe_squeeze_before (squeeze(expand_dims(t, 1), 1) by indexing)", """
        def tfe_squeeze_before(t: Param[N]):
            return t[:, None][:, 0]
        """, sizes=T),
    case(TG + "tfe_reshape_flat", """
        def tfe_reshape_flat(t: Param[2, 3, 3, 3]):
            return reshape(t, (-1,))
        """),
    case(TG + "tfe_reshape_noop (tf.shape(t) as its sizes)", """
        def tfe_reshape_noop(t: Param[2, 3, 3, 3]):
            return reshape(reshape(t, (-1,)), (t.shape[0], t.shape[1], t.shape[2], t.shape[3]))
        """),
    *[case(TG + f"tfe_reduce_{fn}{suffix} (keepdims={keep})",
           f"def tfe_reduce_{fn}{suffix}_{'keep' if keep else 'drop'}(timage: Param[2, 3, 3, 3]):\n"
           f"    return {fn}(timage{axis}, keepdims={keep})\n")
      for fn in ("sum", "mean", "max")
      for suffix, axis in (("", ""), ("_axis", ", axis=(0, 1, 2)"))
      for keep in (True, False)],
    case(TG + "tfe_add", """
        def tfe_add(t1: Param[N], t2: Param[N]):
            return t1 + t2
        """, sizes=T),
    case(TG + "tfe_add_bcast", """
        def tfe_add_bcast(s: Param[()], t: Param[N]):
            return s + t
        """, sizes=T),
    case(TG + "tfe_subtract", """
        def tfe_subtract(t1: Param[N], t2: Param[N]):
            return t1 - t2
        """, sizes=T),
    case(TG + "tfe_multiply", """
        def tfe_multiply(t1: Param[N], t2: Param[N]):
            return t1 * t2
        """, sizes=T),
    case(TG + "tfe_divide", """
        def tfe_divide(t1: Param[N], t2: Param[N]):
            return t1 / t2
        """, {"t2": SCALAR}, sizes=T),
    case(TG + "tfe_maximum", """
        def tfe_maximum(t1: Param[N], t2: Param[N]):
            return maximum(t1, t2)
        """, {"t2": lambda v, rng: v["t1"] + Draw(0.1, 1.0, signed=True)(5, rng)}, sizes=T),
    case(TG + "tfe_squared_difference", """
        def tfe_squared_difference(t1: Param[N], t2: Param[N]):
            return (t1 - t2) * (t1 - t2)
        """, sizes=T),
    *[case(TG + f"tfe_matmul (transpose_a={ta}, transpose_b={tb})",
           f"def tfe_matmul_{int(ta)}{int(tb)}(mat1: Param[{s1}], mat2: Param[{s2}]):\n"
           f"    return {'mat1.T' if ta else 'mat1'} @ {'mat2.T' if tb else 'mat2'}\n")
      for ta, tb, s1, s2 in ((False, False, "3, 4", "4, 2"), (True, False, "4, 3", "4, 2"),
                             (False, True, "3, 4", "2, 4"), (True, True, "4, 3", "2, 4"))],
    *[case(TG + f"tfe_matmul_highdim (transpose_a={ta}, transpose_b={tb})",
           f"def tfe_matmul_highdim_{int(ta)}{int(tb)}(timage1: Param[2, 3, 3, 3], "
           f"timage2: Param[2, 3, 3, 3]):\n"
           f"    return {'transpose(timage1, (0, 1, 3, 2))' if ta else 'timage1'} @ "
           f"{'transpose(timage2, (0, 1, 3, 2))' if tb else 'timage2'}\n")
      for ta, tb in ((False, False), (True, False), (False, True), (True, True))],
    case(TG + "tfe_conv2d (SAME, strides 1; NHWC (2, 5, 5, 3) as NCHW)", """
        def tfe_conv2d_stride1(timage: Param[2, 3, 5, 5], tkernel: Param[2, 3, 3, 3]):
            return conv2d(timage, tkernel, stride=1, padding=1)
        """),
    case(TG + "tfe_conv2d (SAME, strides 2; NHWC (2, 5, 5, 3) as NCHW)", """
        def tfe_conv2d_stride2(timage: Param[2, 3, 5, 5], tkernel: Param[2, 3, 3, 3]):
            return conv2d(timage, tkernel, stride=2, padding=1)
        """),
    case(TG + "tfe_max_pool (SAME, size 2, strides 2: no padding on 4x4)", """
        def tfe_max_pool_2(timage: Param[2, 3, 4, 4]):
            return max_pool2d(timage, 2, 2)
        """),
    case(TG + "tfe_max_pool (size 1, strides 1)", """
        def tfe_max_pool_1(timage: Param[2, 3, 3, 3]):
            return max_pool2d(timage, 1, 1)
        """),
    case(TG + "tfe_avg_pool (SAME, size 2, strides 2: no padding on 4x4)", """
        def tfe_avg_pool_2(timage: Param[2, 3, 4, 4]):
            return avg_pool2d(timage, 2, 2)
        """),
    case(TG + "tfe_avg_pool (size 1, strides 1)", """
        def tfe_avg_pool_1(timage: Param[2, 3, 3, 3]):
            return avg_pool2d(timage, 1, 1)
        """),
    case(TG + "tfe_trace_fn / tfe_notrace_fn (tf.multiply, tf.reduce_sum)", """
        def tfe_notrace_fn(t: Param[N]):
            out = mul(t, t)
            result = sum(out)
            return result
        """, sizes=T, helpers=HELPERS),
]

# An entry point named like a language function (Tangent's `tanh`): its own model file,
# so that the name cannot shadow the language's tanh for the other rows.
NAMES = [
    case(TG + "tanh (an entry point named like a language function)", """
        def tanh(a: Param[()]):
            return np.tanh(a)
        """, scalars("a")),
]

FAMILIES = {"tg_basic": BASIC + BINOPS, "tg_loops": LOOPS, "tg_numpy": NUMPY, "tg_tfe": TFE,
            "tg_names": NAMES}
CASES = [c for cases in FAMILIES.values() for c in cases]
check_unique(CASES)


# -- what the language does not have -------------------------------------------------------------
DATA_IF = "data-dependent `if`"
NOT_A_FUNCTION = "is not a NumPy function adc accepts"
RUNTIME_N = "the loop bound `n` must be a compile-time int"


def un(name, missing, source, error, args="a: Param[()]"):
    body = "\n".join("    " + line for line in source.strip("\n").splitlines())
    return unsupported(TG + name, missing, f"def {name}({args}):\n{body}\n", error)


UNSUPPORTED = [
    un("overwrite_if", "data-dependent if", """
if a > 0:
    a = a * 3.0
else:
    a = a * 2.0
return a""", DATA_IF),
    un("nested_if", "data-dependent if", """
if a > 0:
    if a < 10:
        a = a * a
else:
    a = 3.0 * a
return a""", DATA_IF),
    un("multiarg_if", "data-dependent if", """
if a * a / 3.0 > 0:
    b = 3.0
else:
    b = 4.0
a = a * b
if a < b - a * b:
    a = a * a
elif a > b + 3.0 * a:
    if a / 2.0 < 0:
        a = a / b
    else:
        a = a * b
else:
    a = -a
return a""", DATA_IF),
    un("serial_if", "data-dependent if", """
if a > 0:
    a = a * a
a = a + a
if a < 0:
    a = 3.0 * a
return a""", DATA_IF),
    un("multivar_if", "data-dependent if", """
if a > b:
    a = a * a
else:
    a = a * b
return a""", DATA_IF, "a: Param[()], b: Param[()]"),
    un("serial_ifthenfor", "data-dependent if", """
if a > 0:
    a = a * a
a = 2.0 * a
for i in range(3):
    a = a * a
return a""", DATA_IF),
    un("serial_forthenif", "data-dependent if", """
for i in range(3):
    a = a * a
a = 2.0 * a
if a > 0:
    a = a * a
return a""", DATA_IF),
    un("devilish_nested_if", "data-dependent if", """
if a > 0:
    a = a * 3.0
    if a < 10:
        a = a * a
    else:
        a = a * 2.0
return a""", DATA_IF),
    un("overwrite_ifelse", "data-dependent if", """
if a > 0:
    a = a * 3.0
elif 0 > a:
    a = a * 2.0
else:
    a = 1.0 * a
return a""", DATA_IF),
    un("cond_iterpower1", "data-dependent if", """
for i in range(3):
    if a < 20:
        a = a * a
return a""", DATA_IF),
    un("cond_iterpower2", "data-dependent if", """
if a < 20:
    for i in range(3):
        a = a * a
return a""", DATA_IF),
    un("numpy_sqrt", "data-dependent if", """
if a >= 0:
    r = np.sqrt(a)
else:
    r = np.sqrt(-a)
return r""", DATA_IF),
    un("if_mul_with_call", "data-dependent if", """
if a > b:
    o = a * b
else:
    o = b * a
return o""", DATA_IF, "a: Param[()], b: Param[()]"),
    un("gradgrad_pow", "data-dependent if", """
if a >= 0:
    a = a ** b
else:
    a = (-a) ** b
return a""", DATA_IF, "a: Param[()], b: Param[()]"),
    un("serial_for", "runtime loop bound", """
for i in range(n):
    a = a * a
a = 2.0 * a
for i in range(n + 1):
    a = a * 3.0
return a""", RUNTIME_N, "a: Param[()], n: int"),
    un("iterpower", "runtime loop bound", """
for i in range(n):
    a = a * a
return a""", RUNTIME_N, "a: Param[()], n: int"),
    un("iterpower_with_call", "runtime loop bound", """
for i in range(n):
    a = mul(a, a)
return a""", RUNTIME_N, "a: Param[()], n: int"),
    un("cast_sum_", "np.array", "return np.sum(np.array(x))",
       "`np.array` is not a NumPy function adc accepts", "x: Param[N]"),
    un("fn_multiply", "np.multiply", "return np.multiply(a, 3.0)", NOT_A_FUNCTION),
    un("test_anf_list", "list literals", """
b = [1, a * a, 2]
return np.sum(b)""", "got list"),
    un("test_deep_anf_list", "list literals", """
b = [1, x[0] * x[1] * x[2], 3]
return np.sum(b)""", "got list", "x: Param[N]"),
    un("test_subscript2", "item assignment", """
a = x[0]
b = x[1]
x[0] = a * b
return np.sum(x)""", "would write into the array the caller passed", "x: Param[N]"),
    un("test_subscript3", "item assignment", """
y = x ** 2.0
x[0] = y[1] * y[2]
return np.sum(x * y)""", "would write into the array the caller passed", "x: Param[N]"),
    un("test_implicit_indexing", "for over a tensor", """
res = 0.0
for a in x:
    res += a
return res""", "only `for NAME in range(K)` loops are supported", "x: Param[N]"),
    *[un(f"numpy_{f}", f"np.{f}", f"return np.{f}(a)", NOT_A_FUNCTION)
      for f in ("cosh", "sinh", "arccos", "arcsin", "arctan")],
    *[un(f"numpy_atleast_{k}d", f"np.atleast_{k}d", f"return np.sum(np.atleast_{k}d(x))",
         NOT_A_FUNCTION, "x: Param[N]") for k in (1, 2, 3)],
    un("det", "np.linalg", "return np.linalg.det(sqm)", "adc has no functions of numpy.linalg",
       "sqm: Param[5, 5]"),
    un("iterpower_with_nested_def", "nested functions", """
def _fn(a, n):
    return a * n

for i in range(3):
    a = _fn(a, a)
return a""", "nested functions are not supported"),
    un("unpacking_args_saxpy", "unpacking a tensor", """
a, b, c = abc_packed_in_tuple
return a * b + c""", "cannot unpack", "abc_packed_in_tuple: Param[3]"),
    un("passthru_unpack", "unpacking a tensor", """
a, b, c = abc_packed_in_tuple
return a""", "cannot unpack", "abc_packed_in_tuple: Param[3]"),
    un("dict_saxpy", "dicts", "return val['a'] * val['b'] + val['c']", "unsupported index",
       "val: Param[3]"),
    un("dict_wrapper", "dicts", """
val = dict(a=a, b=b, c=c)
return val['a'] * val['b'] + val['c']""", "unknown function 'dict'", "a: Param[()], b: Param[()], c: Param[()]"),
    un("nested_dict", "dicts", "return p['i']['j'] * p['i']['k']", "unsupported index",
       "p: Param[3]"),
    un("passthru_pack", "runtime tuple index", """
x = a, b, c
return x[i]""", "a tuple can only be indexed with an int constant",
       "a: Param[()], b: Param[()], c: Param[()], i: int"),
    un("cart2polar", "np.arctan", """
r = np.sqrt(a**2.0 + b**2.0)
theta = np.arctan(b, a)
return r, theta""", "arctan() takes at most 1 positional argument",
       "a: Param[()], b: Param[()]"),
    un("inlining_contextmanager", "with", """
b = a * a
with insert_grad_of(a) as g:
    g = g * 0.9
c = b * a
return c""", "with-blocks are not supported"),
    un("listcomp", "comprehensions", "return np.sum([i * 3 for i in a])",
       "comprehensions are not supported", "a: Param[N]"),
    un("while_big", "while", """
while np.abs(a) > 0.1:
    a = a * 0.5
return a""", "while loops are not supported"),
    un("active_subscript", "np.zeros_like and item assignment", """
y = np.zeros_like(x)
for i in range(len(x)):
    y[i] = x[i]
return np.sum(y)""", "must be a compile-time int", "x: Param[N]"),
    un("init_array_grad_maybe_active", "np.zeros and item assignment", """
h = np.zeros((len(x), 3))
for t in range(len(h)):
    h[t] = x[t]
return np.sum(h)""", "must be a compile-time int", "x: Param[N]"),
    un("rnn", "np.zeros and item assignment", """
h = np.zeros((4, 3))
for t in range(3):
    h[t + 1] = np.dot(inputs[t], W) + h[t]
return np.sum(h[1:])""", NOT_A_FUNCTION, "inputs: Param[3, 2], W: Param[2, 3]"),
    un("stack_pushing", "tangent.Stack", """
stack = tangent.Stack()
y = a * a
tangent.push(stack, a, 'abc')
aa = tangent.pop(stack, 'abc')
z = y * aa
z = z * aa
return z""", "unknown name 'tangent'"),
    un("useless_stack_ops", "tangent.Stack", """
_stack = tangent.Stack()
b = a * a
tangent.push(_stack, b, 'abc')
b = tangent.pop(_stack, 'abc')
return a""", "unknown name 'tangent'"),
    un("redefining_var_as_list", "tangent.Stack", """
_stack = tangent.Stack()
x = a
tangent.push(_stack, x, 'abc')
x = [a]
x = tangent.pop(_stack, 'abc')
return a""", "unknown name 'tangent'"),
    un("extended_slice", "np.newaxis", "return np.sum(x[::2, np.newaxis])",
       "`np.newaxis` is not a function adc supports", "x: Param[N]"),
]
check_unique(UNSUPPORTED)


# -- the tests --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def models(request, tmp_path_factory):
    return Models(build_folder(request, tmp_path_factory, "adc-ported-tangent"),
                  "test_tangent.py", FAMILIES)


# Rows that were UNSUPPORTED and compile now (unpacking along axis 0, np.newaxis with a
# step: issue 10): the same sources, checked as cases.
# And issue 13's elementwise functions, arccos and arcsin inside (-1, 1).
NOW_INPUTS = {"numpy_arccos": {"a": Draw(0.1, 0.9, signed=True)},
              "numpy_arcsin": {"a": Draw(0.1, 0.9, signed=True)}}
NOW_SUPPORTED = {"unpacking_args_saxpy", "passthru_unpack", "extended_slice", "numpy_cosh",
                 "numpy_sinh", "numpy_arccos", "numpy_arcsin", "numpy_arctan"}
NOW_SUPPORTED |= {"cast_sum_"}      # np.array of a tensor (issue 13)
NOW_SUPPORTED |= {f"numpy_atleast_{k}d" for k in (1, 2, 3)}      # issue 13's shape helpers
NOW_SUPPORTED |= {"rnn"}          # np.zeros and item assignment (issue 13)
NOW = [case(u.origin, u.source.replace(f"def {u.name}(", f"def {u.name}_now("),
            NOW_INPUTS.get(u.name))
       for u in UNSUPPORTED if u.name in NOW_SUPPORTED]
# The two loops over len(x) above, at a size known at compile time (len(x) is then an
# int, and the loop unrolls).
NOW += [case(TG + "active_subscript", """
        def active_subscript_fixed(x: Param[5]):
            y = np.zeros_like(x)
            for i in range(len(x)):
                y[i] = x[i]
            return np.sum(y)
        """), case(TG + "init_array_grad_maybe_active", """
        def init_array_grad_maybe_active_fixed(x: Param[4, 3]):
            h = np.zeros((len(x), 3))
            for t in range(len(h)):
                h[t] = x[t]
            return np.sum(h)
        """)]
FAMILIES["tg_now"] = NOW
CASES += NOW
UNSUPPORTED = [u for u in UNSUPPORTED if u.name not in NOW_SUPPORTED]
check_unique(CASES)


IDS = [c.name for c in CASES]


@pytest.mark.parametrize("c", CASES, ids=IDS)
def test_value(c: Case, models):
    check_value(models, c)


@pytest.mark.parametrize("c", CASES, ids=IDS)
def test_grad_fd(c: Case, models):
    check_grad_fd(models, c)


@pytest.mark.parametrize("c", CASES, ids=IDS)
def test_grad_reference(c: Case, models):
    check_grad_reference(models, c)


@pytest.mark.parametrize("u", UNSUPPORTED, ids=[u.name for u in UNSUPPORTED])
def test_unsupported_is_a_located_compile_error(u, tmp_path):
    check_unsupported(str(tmp_path), u)
