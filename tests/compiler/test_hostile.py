"""Files at the edges of what Python accepts: a located error or correct code, never a
traceback, a RecursionError or "this is a compiler bug"."""
from __future__ import annotations

import numpy as np
import pytest

from adc.compiler.errors import CompileError

from conftest import compile_to, write_model

HEAD = "from adc.lang import *\n"
F = "def f(x: Param[3]):\n    return "

LOCATED = {
    # name: (source, line, words in the message)
    "huge power constant": (HEAD + "K = 10 ** 5000\n" + F + "sum(x) * K\n", 2, "too large"),
    "int beyond 64 bits": (HEAD + F + "sum(x) * 2 ** 64\n", 3, "does not fit in 64 bits"),
    "constant beyond 64 bits": (HEAD + "K = 2 ** 63\n" + F + "sum(x) + K\n", 4, "64 bits"),
    "modulo by zero": (HEAD + F + "sum(x) * (7 % 0)\n", 3, "division by zero"),
    "floor division by zero": (HEAD + F + "sum(x) * (1 // 0)\n", 3, "division by zero"),
    "module constant division by zero": (HEAD + "A = 1.0 / 0\n" + F + "sum(x)\n", 2,
                                         "cannot compute this constant"),
    "float overflow": (HEAD + F + "sum(x) * 2.0 ** 2000\n", 3, "overflows"),
    "axis of a scalar": (HEAD + "def f(w: Param[()]):\n    return sum(w, axis=0)\n", 3,
                         "a scalar has no axes"),
    "tensor as a reshape size": (HEAD + "def f(x: Param[6], y: Param[2]):\n"
                                 "    return sum(reshape(x, (y, 3)))\n", 3, "a tensor"),
    "empty arange": (HEAD + F + "sum(x * arange(-3))\n", 3, "(3,) and (0,) do not broadcast"),
    "nul byte": (HEAD + F + "sum(x)\x00\n", 3, "NUL byte"),
    "nested too deeply for Python": (HEAD + F + "sum(" + "-" * 10000 + "x)\n", 3,
                                     "nested too deeply"),
}


@pytest.mark.parametrize("name", LOCATED)
def test_located_error(tmp_path, name):
    source, line, words = LOCATED[name]
    with pytest.raises(CompileError) as err:
        compile_to(write_model(tmp_path, source), str(tmp_path))
    e = err.value
    assert e.line == line and e.col >= 1 and e.source_line, e.format()
    assert words in e.message and "compiler bug" not in e.format(), e.format()


def test_a_3000_term_sum_compiles_and_is_right(tmp_path):
    source = HEAD + F + "sum(" + " + ".join(["x"] * 3000) + ")\n"
    module = compile_to(write_model(tmp_path, source), str(tmp_path))
    x = np.array([0.5, 1.0, -2.0])
    assert module.f(x) == pytest.approx(3000 * x.sum())
    np.testing.assert_allclose(module.f_grad(x).x, np.full(3, 3000.0))


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.py"
    path.write_bytes(("\ufeff" + HEAD + F + "sum(x * x)\n").encode("utf-8"))
    module = compile_to(str(path), str(tmp_path))
    assert module.f(np.ones(3)) == 3.0


def test_outer_flattens_like_numpy(tmp_path):
    from conftest import check_against_eager
    check_against_eager(tmp_path, HEAD + "def f(a: Param[2, 2], b: Param[3]):\n"
                        "    return outer(a, b) ** 2\n")
