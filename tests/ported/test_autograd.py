"""autograd's gradient tests, ported into adc's language.

Sources (HIPS/autograd, read at commit bff107b): tests/test_systematic.py (with the
shape combinations of tests/numpy_utils.py: stat_check, unary_ufunc_check,
binary_ufunc_check), tests/test_numpy.py and tests/test_scalar_ops.py. Each row says
which original test it comes from. autograd also checks second and third derivatives
(`order=2, 3`) and complex inputs; adc has neither, so every row checks the first
derivative of the real-valued function. A row whose origin says "rewritten" computes the
same function as the original in the language's own spelling (the original spelling is
then an UNSUPPORTED row too).

See ported_harness.py for the three checks of each row.
"""
from __future__ import annotations

import numpy as np
import pytest

from ported_harness import (Case, Draw, Models, build_folder, case, check_grad_fd,
                            check_grad_reference, check_unique, check_unsupported,
                            check_value, unsupported)

SYS = "autograd test_systematic.py::"
NP = "autograd test_numpy.py::"
SC = "autograd test_scalar_ops.py::"

# unary_ufunc_check / binary_ufunc_check shapes: a scalar, a vector, a matrix, a row
UFUNC_SHAPES = {"s": "()", "v": "2", "m": "3, 2", "m2": "1, 2"}


def _params(prefix, shapes):
    return ", ".join(f"{prefix}{k}: Param[{v}]" for k, v in shapes.items())


# -- test_systematic.py: unary ufuncs ------------------------------------------------------
def unary(test, fn, lims=(-2.0, 2.0), avoid=()):
    """unary_ufunc_check(np.<fn>, lims): the function on each of the four shapes."""
    args = _params("x", UFUNC_SHAPES)
    outs = ", ".join(f"np.{fn}(x{k})" for k in UFUNC_SHAPES)
    src = f"def sys_{test}({args}):\n    return {outs}\n"
    draw = Draw(lims[0], lims[1], avoid)
    return case(SYS + f"test_{test}", src, {f"x{k}": draw for k in UFUNC_SHAPES})


UNARY = [
    unary("sin", "sin"),
    unary("abs", "abs", (0.1, 4.0)),
    unary("absolute", "absolute", (0.1, 4.0)),
    unary("cos", "cos"),
    unary("exp", "exp"),
    unary("expm1", "expm1"),
    unary("fabs", "fabs", avoid=(0.0,)),
    unary("log", "log", (0.2, 2.0)),
    unary("log1p", "log1p", (0.2, 2.0)),
    unary("sqrt", "sqrt", (1.0, 3.0)),
    unary("square", "square"),
    unary("tan", "tan", (-1.1, 1.1)),
    unary("tanh", "tanh"),
]


# -- test_systematic.py: statistics (stat_check) ---------------------------------------------
STAT_SHAPES_BCD = {"B": "3", "C": "2, 3", "D": "1, 3"}
STAT_SHAPES_CD = {"C": "2, 3", "D": "1, 3"}


def stats(fn):
    """stat_check(np.<fn>): scalars; B, C, D with axis None/0; C, D with axis 1."""
    rows = [case(SYS + f"test_{fn}",
                 f"def sys_{fn}_scalars(x: Param[()], A: Param[()]):\n"
                 f"    return np.{fn}(x), np.{fn}(A)\n", {"x": 3.5})]
    for shapes, axes in ((STAT_SHAPES_BCD, (None, 0)), (STAT_SHAPES_CD, (1,))):
        for axis in axes:
            for keep in (True, False):
                args = ", ".join(f"{k}: Param[{v}]" for k, v in shapes.items())
                outs = ", ".join(f"np.{fn}({k}, axis={axis}, keepdims={keep})" for k in shapes)
                name = f"sys_{fn}_axis{axis}_{'keep' if keep else 'drop'}"
                rows.append(case(SYS + f"test_{fn}", f"def {name}({args}):\n    return {outs}\n"))
    return rows


STATS = [row for fn in ("max", "mean", "min", "sum", "var") for row in stats(fn)]


# -- test_systematic.py: binary operators (binary_ufunc_check) -------------------------------
def binary(test, op, symbol):
    """binary_ufunc_check(op.<op>): each shape of A against all four shapes of B."""
    rows = []
    for ka, va in UFUNC_SHAPES.items():
        args = f"a: Param[{va}], " + _params("b", UFUNC_SHAPES)
        outs = ", ".join(f"a {symbol} b{k}" for k in UFUNC_SHAPES)
        rows.append(case(SYS + f"test_{test}",
                         f"def sys_{test}_{ka}({args}):\n    return {outs}\n",
                         {"a": (-2.0, 2.0), **{f"b{k}": (-2.0, 2.0) for k in UFUNC_SHAPES}}))
    return rows


BINARY = binary("op_mul", "mul", "*") + binary("op_add", "add", "+") + binary("op_sub", "sub", "-")


# -- test_systematic.py: linear algebra and shape ---------------------------------------------
TRANSPOSE = [case(SYS + "test_transpose",
                  "def sys_transpose_default(x: Param[2, 3, 4]):\n    return np.transpose(x)\n")]
TRANSPOSE += [case(SYS + "test_transpose",
                   f"def sys_transpose_{''.join(map(str, axes))}(x: Param[2, 3, 4]):\n"
                   f"    return np.transpose(x, {list(axes)})\n")
              for axes in ((0, 1, 2), (0, 2, 1), (2, 0, 1), (2, 1, 0), (1, 0, 2), (1, 2, 0))]

# test_dot: [1.5, R(3), R(2, 3), R(2, 2, 3)] x [0.3, R(3), R(3, 4), R(2, 3, 4)] (real ones)
DOT_A = {"s": ("()", 1.5), "v": ("3", None), "m": ("2, 3", None), "t": ("2, 2, 3", None)}
DOT_B = {"s": ("()", 0.3), "v": ("3", None), "m": ("3, 4", None), "t": ("2, 3, 4", None)}
DOT = [case(SYS + "test_dot",
            f"def sys_dot_{ka}_{kb}(x: Param[{sa}], y: Param[{sb}]):\n    return np.dot(x, y)\n",
            {k: v for k, v in (("x", xa), ("y", xb)) if v is not None})
       for ka, (sa, xa) in DOT_A.items() for kb, (sb, xb) in DOT_B.items()]

# test_matmul: [R(3), R(2, 3), R(2, 2, 3)] x [R(3), R(3, 4), R(2, 3, 4)]; test_matmul_broadcast
MM_A = {"v": "3", "m": "2, 3", "t": "2, 2, 3"}
MM_B = {"v": "3", "m": "3, 4", "t": "2, 3, 4"}
MATMUL = [case(SYS + "test_matmul",
               f"def sys_matmul_{ka}_{kb}(x: Param[{sa}], y: Param[{sb}]):\n"
               f"    return np.matmul(x, y)\n")
          for ka, sa in MM_A.items() for kb, sb in MM_B.items()]
MATMUL += [
    case(SYS + "test_matmul_broadcast", """
        def sys_matmul_broadcast(x: Param[1, 2, 2], y: Param[3, 2, 1]):
            return np.matmul(x, y)
        """),
    case(SYS + "test_outer", """
        def sys_outer(x: Param[3], y: Param[3]):
            return np.outer(x, y)
        """),
]

# test_maximum / test_minimum: [R(1), R(1, 4), R(3, 4)] x the same
MAX_SHAPES = {"v": "1", "r": "1, 4", "m": "3, 4"}
MAXIMUM = [case(SYS + f"test_{fn}",
                f"def sys_{fn}_{ka}(a: Param[{sa}], " + _params("b", MAX_SHAPES) + "):\n"
                "    return " + ", ".join(f"np.{fn}(a, b{k})" for k in MAX_SHAPES) + "\n")
           for fn in ("maximum", "minimum") for ka, sa in MAX_SHAPES.items()]

EINSUM = [case(SYS + "test_einsum_transpose",
               f"def sys_einsum_transpose_{k}(x: Param[{s}]):\n"
               f"    return np.einsum('ij->ji', x)\n")
          for k, s in (("11", "1, 1"), ("44", "4, 4"), ("34", "3, 4"))]
EINSUM += [
    case(SYS + "test_einsum_matmult", """
        def sys_einsum_matmult(x: Param[2, 3], y: Param[3, 4]):
            return np.einsum("ij,jk->ik", x, y)
        """),
    case(SYS + "test_einsum_covsum", """
        def sys_einsum_covsum(x: Param[3, 4, 4], y: Param[4, 4, 3]):
            return np.einsum("ijk,lji->lki", x, y)
        """),
    case(SYS + "test_einsum_three_args", """
        def sys_einsum_three_args(x: Param[3, 4, 4], y: Param[4, 4, 3], z: Param[4, 4, 3]):
            return np.einsum("ijk,lji,lli->lki", x, y, z)
        """),
    case(SYS + "test_einsum_naked_sum", """
        def sys_einsum_naked_sum(x: Param[5], y: Param[10, 5]):
            return np.einsum("k,nk->", x, y)
        """),
    case(SYS + "test_einsum_naked_sum2", """
        def sys_einsum_naked_sum2(x: Param[3, 2, 3, 2]):
            return np.einsum("abcd->bd", x)
        """),
    case(SYS + "test_einsum_no_output_indices", """
        def sys_einsum_no_output_indices(x: Param[3, 4], y: Param[3]):
            return np.einsum("ij,k", x, y)
        """),
]

CONCAT = [
    case(SYS + "test_concatenate_1ist", """
        def sys_concatenate_tuple_arg(x: Param[1], y: Param[3]):
            return np.concatenate((x, y), axis=0)
        """),
    case(SYS + "test_concatenate_tuple", """
        def sys_concatenate_list_arg(x: Param[1], y: Param[3]):
            return np.concatenate([x, y], axis=0)
        """),
]
CONCAT += [case(SYS + "test_concatenate_2d",
                f"def sys_concatenate_2d_axis{a}(x: Param[2, 2], y: Param[2, 2]):\n"
                f"    return np.concatenate((x, y), axis={a})\n") for a in (0, 1)]
CONCAT += [case(SYS + "test_concatenate_3d",
                f"def sys_concatenate_3d_axis{a}(x: Param[2, 2, 2], y: Param[2, 2, 2]):\n"
                f"    return np.concatenate((x, y), axis={a})\n") for a in (0, 1, 2)]
CONCAT += [case(SYS + "test_stack_1d",
                f"def sys_stack_one_axis{a}(x: Param[2]):\n"
                f"    return np.stack((x,), axis={a})\n") for a in (0, 1)]
CONCAT += [case(SYS + "test_stack_1d",
                f"def sys_stack_two_axis{a}(x: Param[2], y: Param[2]):\n"
                f"    return np.stack((x, y), axis={a})\n") for a in (0, 1)]


# -- test_numpy.py ------------------------------------------------------------------------------
NUMPY = [
    case(NP + "test_dot", """
        def np_dot_mat_vec(x: Param[10, 11], y: Param[11]):
            return np.dot(x, y)
        """),
    case(NP + "test_dot", """
        def np_dot_mat_mat(x: Param[10, 11], y: Param[11, 10]):
            return np.dot(x, y)
        """),
    case(NP + "test_dot", """
        def np_dot_vec_mat(x: Param[10], y: Param[10, 11]):
            return np.dot(x, y)
        """),
    case(NP + "test_dot", """
        def np_dot_vec_vec(x: Param[11], y: Param[11]):
            return np.dot(x, y)
        """),
    case(NP + "test_dot_with_floats", """
        def np_dot_mat_float(x: Param[10, 11], y: Param[()]):
            return np.dot(x, y)
        """),
    case(NP + "test_dot_with_floats", """
        def np_dot_float_mat(x: Param[()], y: Param[10, 11]):
            return np.dot(x, y)
        """),
    case(NP + "test_dot_with_floats", """
        def np_dot_vec_float(x: Param[10], y: Param[()]):
            return np.dot(x, y)
        """),
    case(NP + "test_dot_with_floats", """
        def np_dot_float_vec(x: Param[()], y: Param[10]):
            return np.dot(x, y)
        """),
    case(NP + "test_outer", """
        def np_outer(x: Param[11], y: Param[11]):
            return np.outer(x, y)
        """),
    case(NP + "test_outer", """
        def np_outer_T(x: Param[11], y: Param[11]):
            return np.outer(x.T, y)
        """),
    case(NP + "test_outer", """
        def np_outer_TT(x: Param[11], y: Param[11]):
            return np.outer(x.T, y.T)
        """),
    case(NP + "test_max", """
        def np_max(x: Param[10, 11]):
            return np.max(x)
        """),
    case(NP + "test_max_axis", """
        def np_max_axis(x: Param[3, 4, 5]):
            return np.max(x, axis=1)
        """),
    case(NP + "test_max_axis_keepdims", """
        def np_max_axis_keepdims(x: Param[3, 4, 5]):
            return np.max(x, axis=1, keepdims=True)
        """),
    case(NP + "test_min", """
        def np_min(x: Param[10, 11]):
            return np.min(x)
        """),
    case(NP + "test_min_axis", """
        def np_min_axis(x: Param[3, 4, 5]):
            return np.min(x, axis=1)
        """),
    case(NP + "test_min_axis_keepdims", """
        def np_min_axis_keepdims(x: Param[3, 4, 5]):
            return np.min(x, axis=1, keepdims=True)
        """),
    case(NP + "test_sum_1", """
        def np_sum_1(x: Param[10, 11]):
            return np.sum(x)
        """),
    case(NP + "test_sum_2", """
        def np_sum_2(x: Param[10, 11]):
            return np.sum(x, axis=0)
        """),
    case(NP + "test_sum_3", """
        def np_sum_3(x: Param[10, 11]):
            return np.sum(x, axis=0, keepdims=True)
        """),
    case(NP + "test_sum_with_axis_tuple", """
        def np_sum_with_axis_tuple(x: Param[10, 11, 7]):
            return np.sum(x, axis=(1, 2))
        """),
    case(NP + "test_mean_1", """
        def np_mean_1(x: Param[10, 11]):
            return np.mean(x)
        """),
    case(NP + "test_mean_2", """
        def np_mean_2(x: Param[10, 11]):
            return np.mean(x, axis=0)
        """),
    case(NP + "test_mean_3", """
        def np_mean_3(x: Param[10, 11]):
            return np.mean(x, axis=0, keepdims=True)
        """),
    # plain NumPy reductions (numpy.sum, not autograd's) at a = 0.7; base is a constant
    case(NP + "test_plain_numpy_reductions_on_box", """
        def np_plain_sum(a: Param[()], base: Data[5]):
            return numpy.sum(np.exp(a) * base)
        """, {"a": 0.7, "base": Draw(0.5, 2.5)}),
    case(NP + "test_plain_numpy_reductions_on_box", """
        def np_plain_max(a: Param[()], base: Data[5]):
            return numpy.max(np.exp(a) * base)
        """, {"a": 0.7, "base": Draw(0.5, 2.5)}),
    case(NP + "test_plain_numpy_reductions_on_box", """
        def np_plain_min(a: Param[()], base: Data[5]):
            return numpy.min(np.exp(a) * base)
        """, {"a": 0.7, "base": Draw(0.5, 2.5)}),
    case(NP + "test_index_ints", """
        def np_index_ints(x: Param[5, 6, 4]):
            return x[3, 0, 1]
        """),
    case(NP + "test_index_lists (rewritten: the list [0, 1, 2] as an Index)", """
        def np_index_lists(x: Param[5, 6, 4], idx: Index[3]):
            return x[idx, :, :]
        """, {"idx": [0, 1, 2]}),
    case(NP + "test_index_mixed (rewritten: the list [1, 3] as an Index)", """
        def np_index_mixed(x: Param[5, 6, 4], idx: Index[2]):
            return x[3, 2:, idx]
        """, {"idx": [1, 3]}),
    case(NP + "test_vector_slice", """
        def np_vector_slice(x: Param[5]):
            return x[2:4]
        """),
    case(NP + "test_index_multiple_slices", """
        def np_index_multiple_slices(x: Param[7]):
            y = x[2:6]
            z = y[1:3]
            return z
        """),
    case(NP + "test_reshape_call", """
        def np_reshape_call(x: Param[5, 6, 4]):
            return np.reshape(x, (5 * 4, 6))
        """),
    case(NP + "test_simple_concatenate", """
        def np_simple_concatenate(A: Data[5, 6, 4], x: Param[4, 6, 4]):
            return np.concatenate((A, x))
        """),
    case(NP + "test_concatenate_axis_0", """
        def np_concatenate_axis_0(B: Data[5, 6, 4], x: Param[5, 6, 4]):
            return np.concatenate((B, x, B))
        """),
    case(NP + "test_concatenate_axis_1", """
        def np_concatenate_axis_1(B: Data[5, 6, 4], x: Param[5, 6, 4]):
            return np.concatenate((B, x, B), axis=1)
        """),
    case(NP + "test_concatenate_axis_1_unnamed", """
        def np_concatenate_axis_1_unnamed(B: Data[5, 6, 4], x: Param[5, 6, 4]):
            return np.concatenate((B, x, B), 1)
        """),
    case(NP + "test_transpose", """
        def np_transpose(x: Param[8, 8]):
            return x.T
        """),
    case(NP + "test_clip (rewritten: a_min/a_max given by position)", """
        def np_clip(x: Param[5, 5]):
            return np.clip(x, 0.1, 1.1)
        """, {"x": Draw(-2.0, 2.0, avoid=(0.1, 1.1))}),
    case(NP + "test_len (rewritten: without the assert)", """
        def np_len(x: Param[3, 2]):
            return x * len(x)
        """),
    case(NP + "test_no_relation", """
        def np_no_relation(x: Param[3, 2], c: Data[3, 2]):
            return c
        """),
    case(NP + "test_where", """
        def np_where(x: Param[4, 5], y: Param[4, 5], C: Data[4, 5]):
            return np.where(C > 0, x, y)
        """),
    case(NP + "test_expand_dims (rewritten: as x[:, :, None])", """
        def np_expand_dims(x: Param[5, 1, 4]):
            return x[:, :, None]
        """),
    case(NP + "test_multi_index (rewritten: the list [0, 0] as an Index)", """
        def np_multi_index(x: Param[3], idx: Index[2]):
            return np.sum(x[idx])
        """, {"idx": [0, 0]}),
    case(NP + "test_multi_index2 (rewritten: the list [0, 1, 0] as an Index)", """
        def np_multi_index2(x: Param[3], idx: Index[3]):
            return np.sum(x[idx])
        """, {"idx": [0, 1, 0]}),
    case(NP + "test_index_dot_slices", """
        def np_index_dot_slices(x: Param[4]):
            return np.dot(x[:2], x[2:])
        """),
    case(NP + "test_max_equal_values (rewritten: np.array([x, x]) as np.stack)", """
        def np_max_equal_values(x: Param[()]):
            return np.max(np.stack([x, x]))
        """, {"x": 1.0}),
    case(NP + "test_maximum_equal_values", """
        def np_maximum_equal_values(x: Param[()]):
            return np.maximum(x, x)
        """, {"x": 1.0}),
]


# -- test_scalar_ops.py --------------------------------------------------------------------------
def scalar(test, body, at, name=None):
    """check_grads(lambda x: <body>)(at): a scalar function of a scalar."""
    return case(SC + f"test_{test}", f"def {name or 'sc_' + test}(x: Param[()]):\n"
                f"    return {body}\n", {"x": at} if at is not None else {})


SCALAR = [
    scalar("abs", "3.0 * np.abs(x)", 1.1, "sc_abs_pos"),
    scalar("abs", "3.0 * np.abs(x)", -1.1, "sc_abs_neg"),
    scalar("abs", "3.0 * np.abs(x)", 0.0, "sc_abs_zero"),          # order=1 at the kink
    scalar("absolute", "3.0 * np.absolute(x)", 1.1, "sc_absolute_pos"),
    scalar("absolute", "3.0 * np.absolute(x)", -1.1, "sc_absolute_neg"),
    scalar("absolute", "3.0 * np.absolute(x)", 0.0, "sc_absolute_zero"),
    scalar("sin", "3.0 * np.sin(x)", None),
    scalar("exp", "3.0 * np.exp(x)", None),
    scalar("log", "3.0 * np.log(x)", Draw(0.1, 2.0)),
    scalar("log1p", "3.0 * np.log1p(x)", Draw(0.0, 2.0)),
    scalar("expm1", "3.0 * np.expm1(x)", Draw(0.0, 2.0)),
    scalar("neg", "3.0 * -x", None),
    scalar("cos", "3.0 * np.cos(x)", None),
    scalar("tan", "3.0 * np.tan(x)", Draw(-1.2, 1.2)),
    scalar("tanh", "3.0 * np.tanh(x)", None),
    scalar("sqrt", "3.0 * np.sqrt(x)", Draw(0.1, 10.0)),
    case(SC + "test_power_arg0", """
        def sc_power_arg0(x: Param[()], y: float):
            return np.power(x, y)
        """, {"x": Draw(1.0, 2.0), "y": 1.6}),
    case(SC + "test_power_arg0 (y == 0 at x == 0: grad is 0.0, c.f. autograd #116)", """
        def sc_power_arg0_zero(x: Param[()], y: float):
            return np.power(x, y)
        """, {"x": 0.0, "y": 0.0}),
    case(SC + "test_power_arg1", """
        def sc_power_arg1(y: Param[()], x: Data[()]):
            return np.power(x, y)
        """, {"x": Draw(0.2, 2.0), "y": Draw(0.0, 1.0)}),
    case(SC + "test_power_arg1_zero", """
        def sc_power_arg1_zero(y: Param[()]):
            return np.power(0.0, y)
        """, {"y": Draw(0.1, 1.0)}),
]


FAMILIES = {"ag_unary": UNARY, "ag_stats": STATS, "ag_binary": BINARY,
            "ag_linalg": TRANSPOSE + DOT + MATMUL + MAXIMUM + EINSUM + CONCAT,
            "ag_numpy": NUMPY, "ag_scalar": SCALAR}
CASES = [c for cases in FAMILIES.values() for c in cases]
check_unique(CASES)


# -- what the language does not have (LANGUAGE.md section 2 does not list it) -------------------
TAGS = {SYS: "sys", NP: "np", SC: "sc"}


def _missing_fn(origin, fn, args="x: Param[3, 2]", call=None):
    tag = next(t for prefix, t in TAGS.items() if origin.startswith(prefix))
    name = f"un_{tag}_" + origin.split("::test_")[-1].split(" ")[0]
    call = call or f"np.{fn}(x)"
    return unsupported(origin, f"np.{fn}", f"def {name}({args}):\n    return {call}\n",
                       f"`np.{fn}` is not a NumPy function adc accepts")


NOT_A_FUNCTION = "is not a NumPy function adc accepts"
EINSUM_STRING = "einsum needs a subscripts string"

UNSUPPORTED = [
    # unary ufuncs of test_systematic.py
    *[_missing_fn(SYS + f"test_{t}", f) for t, f in (
        ("arccosh", "arccosh"), ("arcsinh", "arcsinh"), ("arctanh", "arctanh"),
        ("ceil", "ceil"), ("cosh", "cosh"), ("deg2rad", "deg2rad"), ("degrees", "degrees"),
        ("exp2", "exp2"), ("floor", "floor"), ("log10", "log10"), ("log2", "log2"),
        ("rad2deg", "rad2deg"), ("radians", "radians"), ("sign", "sign"), ("sinh", "sinh"),
        ("real", "real"), ("real_ic", "real_if_close"), ("imag", "imag"), ("conj", "conj"),
        ("conjugate", "conjugate"), ("angle", "angle"))],
    # statistics
    _missing_fn(SYS + "test_prod", "prod"),
    _missing_fn(SYS + "test_std", "std"),
    # binary ufuncs
    *[_missing_fn(SYS + f"test_{t}", f, "x: Param[3, 2], y: Param[3, 2]", f"np.{f}(x, y)")
      for t, f in (("add", "add"), ("logaddexp", "logaddexp"), ("logaddexp2", "logaddexp2"),
                   ("remainder", "remainder"), ("true_divide", "true_divide"),
                   ("mod", "mod"), ("true_divide_neg", "true_divide"), ("mod_neg", "mod"),
                   ("kron", "kron"), ("inner", "inner"), ("fmax", "fmax"), ("fmin", "fmin"),
                   ("cross", "cross"))],
    *[unsupported(SYS + f"test_{t}", "% on tensors",
                  f"def un_{t}(x: Param[3, 2], y: Param[3, 2]):\n    return x % y\n",
                  "% is only supported on compile-time ints") for t in ("op_mod", "op_mod_neg")],
    # shape functions
    *[_missing_fn(SYS + f"test_{t}", f, "x: Param[2, 3, 4]", call)
      for t, f, call in (
          ("moveaxis", "moveaxis", "np.moveaxis(x, 0, 2)"),
          ("repeat", "repeat", "np.repeat(x, 2, axis=1)"),
          ("diff", "diff", "np.diff(x, axis=0)"),
          ("gradient", "gradient", "np.gradient(x)"),
          ("tile", "tile", "np.tile(x, (1, 2, 1))"),
          ("sort", "sort", "np.sort(x)"),
          ("partition", "partition", "np.partition(x, 1)"),
          ("atleast_1d", "atleast_1d", "np.atleast_1d(x)"),
          ("atleast_2d", "atleast_2d", "np.atleast_2d(x)"),
          ("atleast_3d", "atleast_3d", "np.atleast_3d(x)"),
          ("trace", "trace", "np.trace(x, offset=1)"),
          ("diag", "diag", "np.diag(x[0], k=1)"),
          ("diag_flat", "diag", "np.diag(x[0, 0], k=1)"),
          ("tril", "tril", "np.tril(x, k=1)"),
          ("triu", "triu", "np.triu(x, k=1)"),
          ("tril_3d", "tril", "np.tril(x, k=-1)"),
          ("triu_3d", "triu", "np.triu(x, k=-1)"),
          ("swapaxes", "swapaxes", "np.swapaxes(x, 0, 2)"),
          ("rollaxis", "rollaxis", "np.rollaxis(x, 2, 0)"),
          ("vsplit_2d", "vsplit", "np.vsplit(x[0], [1, 2])"),
          ("vsplit_3d", "vsplit", "np.vsplit(x, 2)"),
          ("hsplit_2d", "hsplit", "np.hsplit(x[0], [1, 2])"),
          ("hsplit_3d", "hsplit", "np.hsplit(x, [1, 2])"),
          ("dsplit_3d", "dsplit", "np.dsplit(x, 2)"),
          ("split_1d", "split", "np.split(x[0, 0], [1], axis=0)"),
          ("split_2d", "split", "np.split(x[0], [1, 2], axis=1)"),
          ("split_3d", "split", "np.split(x, 2, axis=0)"),
          ("array_split_1d", "array_split", "np.array_split(x[0, 0], 3)"),
          ("array_split_2d", "array_split", "np.array_split(x[0], [1, 2], axis=1)"),
          ("array_split_3d", "array_split", "np.array_split(x, 4, axis=2)"),
          ("vstack_1d", "vstack", "np.vstack((x[0, 0], x[0, 1]))"),
          ("vstack_2d", "vstack", "np.vstack((x[0], x[1]))"),
          ("vstack_3d", "vstack", "np.vstack((x, x))"),
          ("hstack_1d", "hstack", "np.hstack((x[0, 0], x[0, 1]))"),
          ("hstack_2d", "hstack", "np.hstack((x[0], x[1]))"),
          ("hstack_3d", "hstack", "np.hstack((x, x))"),
          ("row_stack_1d", "row_stack", "np.row_stack((x[0, 0], x[0, 1]))"),
          ("row_stack_2d", "row_stack", "np.row_stack((x[0], x[1]))"),
          ("column_stack_1d", "column_stack", "np.column_stack((x[0, 0], x[0, 1]))"),
          ("column_stack_2d", "column_stack", "np.column_stack((x[0], x[1]))"),
          ("select", "select", "np.select([x > 0, x < -1], [x, 2 * x], default=1.1)"),
          ("pad", "pad", "np.pad(x[0], ((1, 2), (3, 4)), 'constant')"))],
    *[_missing_fn(SYS + f"test_tensordot_{k}", "tensordot", "x: Param[2, 3, 4], y: Param[3, 4, 2]",
                  f"np.tensordot(x, y, axes={axes})")
      for k, axes in ((1, "[(1,), (0,)]"), (3, "[(1, 2), (0, 1)]"), (4, "2"), (5, "0"))],
    # at these shapes the contracted axes differ in size: NumPy refuses them too
    *[unsupported(SYS + f"test_tensordot_{k}", "tensordot of unequal axes",
                  f"def un_sys_tensordot_{k}(x: Param[2, 3, 4], y: Param[3, 4, 2]):\n"
                  f"    return np.tensordot(x, y, axes={axes})\n", "size mismatch for index")
      for k, axes in ((2, "[(0,), (1,)]"), (6, "[[-1], [0]]"), (7, "[-1, 0]"), (8, "[0, 1]"))],
    # einsum forms
    *[unsupported(SYS + f"test_{t}", "einsum '...'",
                  f"def un_{t}(x: Param[2, 2, 3], y: Param[2, 3, 4]):\n"
                  f"    return np.einsum('{spec}', x, y)\n",
                  "size mismatch for index")   # these shapes: NumPy refuses too
      for t, spec in (("einsum_ellipses", "...jk,...lj->...lk"),
                      ("einsum_ellipses_tail", "jk...,lj...->lk..."),
                      ("einsum_ellipses_center", "j...k,lj...->lk..."),
                      ("einsum_naked_sum_ellipsis", "...k,...nk->..."))],
    unsupported(SYS + "test_einsum_matmult_broadcast_leadzero", "zero-size arrays", """
        def un_einsum_leadzero(x: Param[0, 2, 3], y: Param[0, 3, 4]):
            return np.einsum("nij,njk->nik", x, y)
        """, "a size must be positive, got 0"),
    *[unsupported(SYS + f"test_{t}", "einsum sublist form",
                  f"def un_{t}(x: Param[2, 3], y: Param[3, 4]):\n    return np.einsum({args})\n",
                  error)
      for t, args, error in (
          ("einsum2_transpose", "x, (0, 1), (1, 0)", EINSUM_STRING),
          ("einsum2_matmult", "x, (0, 1), y, (1, 2), (0, 2)", EINSUM_STRING),
          ("einsum2_matmult_broadcast", "x, (Ellipsis, 0, 1), y, (Ellipsis, 1, 2)",
           "unknown name 'Ellipsis'"),
          ("einsum2_covsum", "x, (0, 1), y, (1, 2), (2, 0)", EINSUM_STRING),
          ("einsum2_three_args", "x, (0, 1), y, (1, 2), x, (0, 1), (0, 2)", EINSUM_STRING))],
    # test_numpy.py
    unsupported(NP + "test_plain_numpy_reductions_on_box", "np.prod", """
        def un_plain_prod(a: Param[()], base: Data[5]):
            return numpy.prod(np.exp(a) * base)
        """, NOT_A_FUNCTION),
    *[_missing_fn(NP + f"test_{t}", f, "x: Param[10, 11]", call) for t, f, call in (
        ("flipud", "flipud", None), ("fliplr", "fliplr", None), ("rot90", "rot90", None),
        ("cumsum_axis0", "cumsum", "np.cumsum(x, axis=0)"),
        ("cumsum_axis1", "cumsum", "np.cumsum(x, axis=1)"),
        ("cumsum_1d", "cumsum", "np.cumsum(x[0])"),
        ("cumsum_no_axis", "cumsum", "np.cumsum(x)"),
        ("ravel_call", "ravel", None),
        ("trace", "trace", "np.trace(x, offset=3)"),
        ("trace2", "trace", "np.trace(x.T, offset=-2)"),
        ("trace_extradims", "trace", "np.trace(np.reshape(x, (5, 2, 11)), offset=1)"),
        ("diag", "diag", None),
        ("roll", "roll", "np.roll(x, 2, axis=1)"),
        ("roll_no_axis", "roll", "np.roll(x, 2)"),
        ("triu", "triu", "np.triu(x, k=2)"),
        ("tril", "tril", "np.tril(x, k=2)"),
        ("prod_1", "prod", None),
        ("prod_2", "prod", "np.prod(x, axis=0)"),
        ("prod_3", "prod", "np.prod(x, axis=0, keepdims=True)"),
        ("prod_4", "prod", "np.prod(x[0])"),
        ("std_ddof", "std", "np.std(x, ddof=1)"),
        ("squeeze_func", "squeeze", None),
        ("repeat", "repeat", "np.repeat(x, 2, axis=1)"),
        ("repeat_axis1_rep1", "repeat", "np.repeat(x, 1, axis=1)"),
        ("repeat_axis0", "repeat", "np.repeat(x, 2, axis=0)"),
        ("repeat_1d_axis0", "repeat", "np.repeat(x[0], 2, axis=0)"),
        ("repeat_axis0_rep1", "repeat", "np.repeat(x, 1, axis=0)"),
        ("expand_dims", "expand_dims", "np.expand_dims(x, 2)"),
        ("make_diagonal", "make_diagonal", "np.make_diagonal(x, axis1=-1, axis2=-2)"),
        ("diagonal", "diagonal", "np.diagonal(x, axis1=-1, axis2=-2)"),
        ("nan_to_num", "nan_to_num", "np.sum(np.sin(np.nan_to_num(x)))"),
        ("linspace", "linspace", "np.linspace(x[0, 0], x[0, 1], 5)"),
        ("gradient", "gradient", None),
        ("simple_append_arr", "append", "np.append(x, x[0, 0])"))],
    *[unsupported(NP + f"test_{t}", "methods on tensors",
                  f"def un_{t}(x: Param[5, 6, 4]):\n    return {call}\n", error)
      for t, call, error in (
          ("reshape_method", "x.reshape((5 * 4, 6))", "methods are not supported: `.reshape`"),
          ("reshape_method_nolist", "x.reshape(5 * 4, 6)", "methods are not supported: `.reshape`"),
          ("ravel_method", "x.ravel()", "`.ravel()` is not a method adc supports"),
          ("flatten_method", "x.flatten()", "attribute '.flatten' is not supported"),
          ("squeeze_method", "x.squeeze()", "`.squeeze()` is not a method adc supports"))],
    unsupported(NP + "test_astype", "attributes other than .T/.shape", """
        def un_astype(x: Param[3]):
            return np.sum(np.sin(x.astype("float64")))
        """, "`.astype()` is not a method adc supports"),
    *[unsupported(NP + f"test_{t}", "np.array", f"def un_{t}(x: Param[()]):\n    return {call}\n",
                  "`np.array` is not a NumPy function adc accepts")
      for t, call in (("1d_array", "np.array([x, x * 1.0, x + 2.5])"),
                      ("2d_array", "np.array([[x, x * 1.0, x + 2.5], [x**2, x, x / 2.0]])"),
                      ("1d_array_fanout", "np.array([x, x * 1.0, x + 2.5]) * 2"),
                      ("2d_array_fanout", "np.array([[x, x], [x**2, x / 2.0]]) * 2"),
                      ("array_from_scalar", "np.array(x)"),
                      ("array_from_arrays", "np.array([x, x])"),
                      ("array_from_arrays_2", "np.array([[2 * x, x + 1], [x, x]])"),
                      ("max_equal_values", "np.max(np.array([x, x]))"),
                      ("max_equal_values_2d", "np.max(np.array([[x, x], [x, 0.5]]), axis=1)"),
                      ("min_3_way_equality", "np.min(np.array([[x, x, x], [x, 0.5, 0.5]]), axis=0)"),
                      ("maximum_equal_values_2d",
                       "np.maximum(np.array([x, x, 0.5]), np.array([[x, 0.5, x], [x, x, 0.5]]))"),
                      )],
    _missing_fn(NP + "test_simple_append_list", "append", "x: Param[()]",
                "np.append([1.0, 2.0, 3.0], x)"),
    _missing_fn(NP + "test_cast_to_int", "int64", "x: Param[5, 10]", "np.sum(x[np.int64(x[:, -1])])"),
    *[unsupported(NP + f"test_{t}", "np.r_ / np.c_", f"def un_{t}(x: Param[3, 2]):\n    return {call}\n",
                  error)
      for t, call, error in (
          ("r_basic", "np.r_[x]", NOT_A_FUNCTION), ("r_double", "np.r_[x, x]", NOT_A_FUNCTION),
          ("r_no_relation", "np.r_[x * 0]", NOT_A_FUNCTION),
          ("r_node_and_const", "np.r_[x, 2 * x]", NOT_A_FUNCTION),
          ("r_mixed", "np.r_[x, 2 * x, x]", NOT_A_FUNCTION),
          ("r_slicing", "np.r_[x[0], 1:10]", "np.r_ / np.c_ take tensors, numbers and lists"),
          ("c_", "np.c_[x, 2 * x, x]", NOT_A_FUNCTION),
          ("c_mixed", "np.c_[x, 2 * x, x]", NOT_A_FUNCTION))],
    unsupported(NP + "test_index_slice", "negative slice steps", """
        def un_index_slice(x: Param[5, 6, 4]):
            return x[::-1, 2:4, :]
        """, "slice steps must be positive int constants"),
    unsupported(NP + "test_index_slice_fanout", "negative slice steps", """
        def un_index_slice_fanout(x: Param[5, 6, 4]):
            y = x[::-1, 2:4, :]
            z = x[::-1, 3:5, :]
            return y + z
        """, "slice steps must be positive int constants"),
    *[unsupported(NP + f"test_{t}", "indexing with a list", f"def un_{t}(x: Param[5, 6, 4]):\n"
                  f"    return {call}\n", "indexing with a list is not supported")
      for t, call in (("index_lists", "x[[0, 1, 2], :, :]"), ("index_mixed", "x[3, 2:, [1, 3]]"),
                      ("multi_index", "np.sum(x[[0, 0]])"), ("multi_index2", "np.sum(x[[0, 1, 0]])"))],
    *[unsupported(NP + f"test_{t}", "lists of tensors as arguments",
                  f"def un_{t}(x: Param[()]):\n    return {call}\n", "got list")
      for t, call in (("non_numpy_sum", "sum([x, 2 * x])"),
                      ("mean_list_of_boxes", "np.mean([x, x + 2])"),
                      ("var_list_of_boxes", "np.var([x, x + 2])"))],
    unsupported(NP + "test_tensordot_kwargs_by_position", "tensordot of unequal axes", """
        def un_np_tensordot_kwargs_by_position(x: Param[10, 11]):
            return np.tensordot(x, x.T, 2)
        """, "size mismatch for index"),       # (10, 11) against (11, 10): NumPy refuses too
    unsupported(NP + "test_std_list_of_boxes", "lists of tensors as arguments", """
        def un_np_std_list_of_boxes(x: Param[()]):
            return np.std([x, x + 2])
        """, "got list"),
    unsupported(NP + "test_var_ddof", "var(ddof=)", """
        def un_var_ddof(x: Param[3, 4]):
            return np.var(x, axis=1, keepdims=True, ddof=1)
        """, "var() has no argument 'ddof'"),
    unsupported(NP + "test_clip", "clip(a_min=, a_max=)", """
        def un_clip(x: Param[5, 5]):
            return np.clip(x, a_min=0.1, a_max=1.1)
        """, "clip() is missing its argument 'lo'"),
    unsupported(NP + "test_scalar_array_box_attributes", "assert", """
        def un_scalar_array_box_attributes(x: Param[()]):
            assert x.shape == ()
            return x**2
        """, "assert is not supported"),
    unsupported(NP + "test_len", "assert", """
        def un_len(x: Param[3, 2]):
            assert len(x) == 3
            return x
        """, "assert is not supported"),
    # test_scalar_ops.py
    *[_missing_fn(SC + f"test_{t}", f, "x: Param[()]", f"3.0 * np.{f}(x)") for t, f in (
        ("sign", "sign"), ("log2", "log2"), ("log10", "log10"), ("exp2", "exp2"),
        ("cosh", "cosh"), ("sinh", "sinh"), ("arccos", "arccos"), ("arcsin", "arcsin"),
        ("arctan", "arctan"), ("arccosh", "arccosh"), ("arcsinh", "arcsinh"),
        ("arctanh", "arctanh"), ("rad2deg", "rad2deg"), ("deg2rad", "deg2rad"),
        ("radians", "radians"), ("degrees", "degrees"), ("sinc", "sinc"),
        ("reciprocal", "reciprocal"), ("negative", "negative"))],
    *[_missing_fn(SC + f"test_{t}", f, "x: Param[()], y: Param[()]", f"np.{f}(x, y)") for t, f in (
        ("mod_arg0", "mod"), ("mod_arg1", "mod"), ("divide_arg0", "divide"),
        ("divide_arg1", "divide"), ("multiply_arg0", "multiply"), ("multiply_arg1", "multiply"),
        ("true_divide_arg0", "true_divide"), ("true_divide_arg1", "true_divide"))],
]


# -- the tests --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def models(request, tmp_path_factory):
    return Models(build_folder(request, tmp_path_factory, "adc-ported-autograd"),
                  "test_autograd.py", FAMILIES)




# Rows that were UNSUPPORTED and compile now (primitives and NumPy forms of issue 10): the
# same sources, checked as cases (value vs eager, gradients vs FD and the NumPy reference).
NOW_SUPPORTED = {"un_sys_logaddexp", "un_sys_fmax", "un_sys_fmin", "un_index_slice",
                 "un_index_slice_fanout", "un_index_lists", "un_index_mixed", "un_multi_index",
                 "un_multi_index2"}
# Methods and np.array of lists (issue 13).
NOW_SUPPORTED |= {"un_reshape_method", "un_reshape_method_nolist", "un_flatten_method",
                  "un_1d_array", "un_2d_array", "un_1d_array_fanout", "un_2d_array_fanout",
                  "un_array_from_scalar", "un_array_from_arrays", "un_array_from_arrays_2",
                  "un_max_equal_values", "un_max_equal_values_2d", "un_min_3_way_equality",
                  "un_maximum_equal_values_2d", "un_r_basic", "un_r_double", "un_r_no_relation",
                  "un_r_node_and_const", "un_r_mixed", "un_c_", "un_c_mixed"}
# ... and issue 13's structural functions (trace, diag, tril/triu, stacks and splits, repeat,
# tile, kron, tensordot, prod, cumsum, std/var with ddof, the shape helpers)
NOW_SUPPORTED |= {
                  "un_np_cumsum_1d", "un_np_cumsum_axis0", "un_np_cumsum_axis1",
                  "un_np_cumsum_no_axis", "un_np_diag", "un_np_diagonal",
                  "un_np_expand_dims", "un_np_prod_1", "un_np_prod_2", "un_np_prod_3",
                  "un_np_prod_4", "un_np_ravel_call", "un_np_repeat",
                  "un_np_repeat_1d_axis0", "un_np_repeat_axis0",
                  "un_np_repeat_axis0_rep1", "un_np_repeat_axis1_rep1",
                  "un_np_squeeze_func", "un_np_std_ddof", "un_np_trace", "un_np_trace2",
                  "un_np_trace_extradims", "un_np_tril", "un_np_triu", "un_plain_prod",
                  "un_ravel_method", "un_squeeze_method", "un_sys_array_split_1d",
                  "un_sys_array_split_2d", "un_sys_array_split_3d", "un_sys_atleast_1d",
                  "un_sys_atleast_2d", "un_sys_atleast_3d", "un_sys_column_stack_1d",
                  "un_sys_column_stack_2d", "un_sys_diag", "un_sys_diag_flat",
                  "un_sys_hsplit_2d", "un_sys_hsplit_3d", "un_sys_hstack_1d",
                  "un_sys_hstack_2d", "un_sys_hstack_3d", "un_sys_kron", "un_sys_prod",
                  "un_sys_repeat", "un_sys_split_1d", "un_sys_split_2d",
                  "un_sys_split_3d", "un_sys_std", "un_sys_tensordot_1",
                  "un_sys_tensordot_3", "un_sys_tensordot_4", "un_sys_tensordot_5",
                  "un_sys_tile", "un_sys_trace", "un_sys_tril", "un_sys_tril_3d",
                  "un_sys_triu", "un_sys_triu_3d", "un_sys_vsplit_2d", "un_sys_vsplit_3d",
                  "un_sys_vstack_1d", "un_sys_vstack_2d", "un_sys_vstack_3d",
                  "un_var_ddof", "un_sys_sort", "un_sys_dsplit_3d"}
# ... and issue 13's elementwise functions, at inputs inside their domains, away from
# their poles and jumps (the originals' `lims`)
_POSITIVE, _OPEN = Draw(0.3, 2.0), Draw(-0.9, 0.9)
_OFF_ZERO = Draw(0.2, 2.0, signed=True)
_OFF_INTEGERS = Draw(-2.0, 2.0, avoid=(-2.0, -1.0, 0.0, 1.0, 2.0), gap=0.15)


def _off_multiples(v, rng):
    """x for mod(x, y): x / y at least 0.15 from an integer."""
    y = v["y"]
    return y * (rng.integers(-2, 2, np.shape(y)) + rng.uniform(0.15, 0.85, np.shape(y)))


_MOD = {"y": Draw(0.5, 2.0, signed=True), "x": _off_multiples}
ELEMENTWISE_NOW = {
    **{f"un_{tag}_{f}": {} for tag in ("sys", "sc")
       for f in ("arcsinh", "cosh", "sinh", "deg2rad", "degrees", "rad2deg", "radians",
                 "exp2")},
    **{f"un_{tag}_{f}": {"x": d} for tag in ("sys", "sc") for f, d in (
        ("arccosh", Draw(1.1, 3.0)), ("arctanh", _OPEN), ("log10", _POSITIVE),
        ("log2", _POSITIVE), ("sign", _OFF_ZERO))},
    **{f"un_sc_{f}": {"x": d} for f, d in (("arccos", _OPEN), ("arcsin", _OPEN),
                                           ("arctan", Draw(-3.0, 3.0)),
                                           ("reciprocal", _OFF_ZERO))},
    "un_sys_ceil": {"x": _OFF_INTEGERS}, "un_sys_floor": {"x": _OFF_INTEGERS},
    **{n: _MOD for n in ("un_sys_remainder", "un_sys_mod", "un_sys_mod_neg", "un_op_mod",
                         "un_op_mod_neg", "un_sc_mod_arg0", "un_sc_mod_arg1")},
}
NOW_SUPPORTED |= set(ELEMENTWISE_NOW)
NOW = [case(u.origin, u.source, ELEMENTWISE_NOW.get(u.name))
       for u in UNSUPPORTED if u.name in NOW_SUPPORTED] + [
    case(SYS + "test_einsum_matmult_broadcast", """
        def un_einsum_matmult_broadcast(x: Param[2, 2, 3], y: Param[2, 3, 4]):
            return np.einsum('...ij,...jk->...ik', x, y)
        """)]
FAMILIES["ag_now"] = NOW
CASES += NOW
IDS = [c.name for c in CASES]
UNSUPPORTED = [u for u in UNSUPPORTED if u.name not in NOW_SUPPORTED]
check_unique(CASES)
check_unique(UNSUPPORTED)


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
