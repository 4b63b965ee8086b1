"""Bad model programs: each is a CompileError at the exact line and column, showing the
source line with a caret under that column, saying what is wrong and what to do instead.

Columns are 1-based and count characters (compiler/errors.py, LANGUAGE.md section 1).
Every source below starts with HEADER (2 lines), so a body's first line is line 3.
"""
from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from adc.cli.main import main as adc_main
from adc.compiler import driver
from adc.compiler.errors import CompileError

HEADER = ("from adc.lang import Param, Data, Index, dim, sum, exp, reshape\n"
          "N = dim(\"N\")\n")
STAR = "from adc.lang import *\nN = dim(\"N\")\n"     # two lines too
PATH = "bad_model.py"


def compile_error(source: str) -> CompileError:
    """The CompileError that compiling `source` raises (any other outcome fails)."""
    with pytest.raises(CompileError) as info:
        driver.compile_source(PATH, source)
    return info.value


def assert_located(err: CompileError, source: str, line: int, col: int):
    """file:line:col first, then the source line, then a caret under column `col`."""
    assert (err.line, err.col) == (line, col), f"reported {err.line}:{err.col}\n{err.format()}"
    text = err.format().split("\n")
    assert text[0].startswith(f"{PATH}:{line}:{col}: error: "), text[0]
    source_line = source.replace("\r\n", "\n").split("\n")[line - 1].rstrip()
    assert text[1] == "    " + source_line, f"wrong source line:\n{err.format()}"
    assert text[2] == "    " + " " * (col - 1) + "^", f"caret not at column {col}:\n{err.format()}"
    assert text[-1].startswith("hint: "), f"no hint saying what to do:\n{err.format()}"


# (id, source, line, col, words in the message, words in the hint)
CASES = [
    # -- statements outside the language ---------------------------------------------
    ("while", HEADER + "def f(x: Param[3]):\n    while True:\n        x = x * 2\n"
     "    return sum(x)\n", 4, 5, ["while loops are not supported"], ["for i in range(K)"]),
    ("try", HEADER + "def f(x: Param[3]):\n    try:\n        y = x\n    except Exception:\n"
     "        y = x\n    return sum(y)\n", 4, 5, ["try/except"], ["remove it"]),
    ("with", HEADER + "def f(x: Param[3]):\n    with x:\n        y = x\n    return sum(y)\n",
     4, 5, ["with-blocks"], ["keep its body"]),
    ("lambda", HEADER + "def f(x: Param[3]):\n    g = lambda v: v * 2\n    return sum(x)\n",
     4, 9, ["lambda is not supported"], ["helper function with def"]),
    ("list comprehension", HEADER + "def f(x: Param[3]):\n    ys = [x * k for k in range(3)]\n"
     "    return sum(x)\n", 4, 10, ["comprehensions are not supported"], ["range(K)"]),
    ("global", HEADER + "K = 3\ndef f(x: Param[3]):\n    global K\n    return sum(x)\n",
     5, 5, ["global is not supported"], ["pass the value as an argument"]),
    ("nonlocal", HEADER + "def f(x: Param[3]):\n    nonlocal K\n    return sum(x)\n",
     4, 5, ["nonlocal is not supported"], ["pass the value as an argument"]),
    ("del", HEADER + "def f(x: Param[3]):\n    y = x * 2\n    del y\n    return sum(x)\n",
     5, 5, ["del is not supported"], ["new name"]),
    ("class at top level", HEADER + "class Model:\n    pass\n", 3, 1,
     ["classes are not supported"], ["plain functions"]),
    ("class in a function", HEADER + "def f(x: Param[3]):\n    class M:\n        pass\n"
     "    return sum(x)\n", 4, 5, ["classes are not supported"], ["plain functions"]),
    ("conditional expression", HEADER + "def f(x: Param[3]):\n    y = x if 1 else -x\n"
     "    return sum(y)\n", 4, 9, ["conditional expressions"], ["where(cond, a, b)"]),
    ("yield", HEADER + "def f(x: Param[3]):\n    yield x\n", 4, 5,
     ["yield is not supported"], ["return the value"]),
    ("print in a function", HEADER + "def f(x: Param[3]):\n    print(x)\n    return sum(x)\n",
     4, 5, ["expression statement has no effect"], ["assign the result", "return it"]),
    ("assignment to an attribute", HEADER + "def f(x: Param[3]):\n    x.T = x\n"
     "    return sum(x)\n", 4, 5, ["only names and indexed names can be assigned"],
     ["y[i] = ..."]),
    ("assignment into a slice of an expression", HEADER + "def f(x: Param[3, 2]):\n"
     "    x.T[0] = 1.0\n    return sum(x)\n", 4, 5, ["assign into a named array"],
     ["give the array a name"]),
    ("decorator", HEADER + "import numpy as np\n@np.vectorize\ndef f(x: Param[3]):\n"
     "    return sum(x)\n", 4, 2, ["decorators are not supported"], ["remove the decorator"]),
    ("syntax error", HEADER + "def f(x: Param[3]):\n    return sum(x\n", 4, 15,
     ["invalid Python syntax", "never closed"], ["valid Python"]),

    # -- names -------------------------------------------------------------------------
    ("unknown name", HEADER + "def f(x: Param[3]):\n    y = x + z\n    return sum(y)\n",
     4, 13, ["unknown name 'z'"], ["pass it as an argument", "import it from adc.lang"]),
    ("language function not imported", HEADER + "def f(x: Param[3]):\n"
     "    return sum(where(x > 0, x, 0.0))\n", 4, 16,
     ["unknown name 'where'", "not imported"], ["from adc.lang import where"]),
    ("undefined helper", HEADER + "def f(x: Param[3]):\n    y = helper(x)\n    return sum(y)\n",
     4, 9, ["unknown function 'helper'"], ["define it with def"]),
    ("non-ASCII name before the error", HEADER + "def f(x: Param[3]):\n    α = x * 2\n"
     "    y = α + z\n    return sum(y)\n", 5, 13, ["unknown name 'z'"], ["argument"]),

    # -- shapes ------------------------------------------------------------------------
    ("shape mismatch in +", HEADER + "def f(x: Param[3], w: Param[4]):\n    y = x + w\n"
     "    return sum(y)\n", 4, 11, ["(3,) and (4,)", "do not broadcast", "3 vs 4"],
     ["make the sizes equal"]),
    ("shape mismatch in +=", HEADER + "def f(x: Param[3], w: Param[4]):\n    y = x * 2\n"
     "    y += w\n    return sum(y)\n", 5, 7, ["do not broadcast"], ["make the sizes equal"]),
    ("shape mismatch across lines", HEADER + "def f(x: Param[3], w: Param[4]):\n"
     "    y = (x *\n         2.0\n         + w)\n    return sum(y)\n", 6, 10,
     ["(3,) and (4,)"], ["make the sizes equal"]),
    ("shape mismatch in @", HEADER + "def f(x: Param[3, 4], w: Param[5, 2]):\n    y = x @ w\n"
     "    return sum(y)\n", 4, 11, ["(3, 4) @ (5, 2)", "4 vs 5"], ["same length"]),
    ("@ of a scalar", HEADER + "def f(x: Param[()], w: Param[3]):\n    return sum(x @ w)\n",
     4, 18, ["rank 1 or more"], ["use * for scalars"]),
    ("comparison used as a number", HEADER + "def f(x: Param[3]):\n"
     "    return sum((x > 0) * x)\n", 4, 24, ["comparison is not a number"], ["where("]),
    ("reshape to the wrong total size", HEADER + "def f(x: Param[3, 4]):\n"
     "    y = reshape(x, (5, 2))\n    return sum(y)\n", 4, 9,
     ["cannot reshape", "(3, 4)", "(5, 2)"], ["x of shape (3, 4)", "reshape(x, shape)"]),
    ("axis out of range", HEADER + "def f(x: Param[3, 4]):\n    return sum(sum(x, axis=2))\n",
     4, 16, ["axis=2 is out of range", "rank 2"], ["sum(x, axis=None, keepdims=False)"]),

    # -- annotations -------------------------------------------------------------------
    ("list annotation", HEADER + "def f(x: list):\n    return sum(x)\n", 3, 10,
     ["argument 'x'", "`list`"], ["Param[...]", "Data[...]", "Index[...]"]),
    ("unknown annotation", HEADER + "def f(x: Tensor[3]):\n    return sum(x)\n", 3, 10,
     ["`Tensor[3]`"], ["Param[...]"]),
    ("Param without a shape", HEADER + "def f(x: Param):\n    return sum(x)\n", 3, 10,
     ["Param needs its shape in square brackets"], ["Param[()] for a scalar"]),
    ("Param with a list of sizes", HEADER + "def f(x: Param[[N, 3]]):\n    return sum(x)\n",
     3, 16, ["a size cannot be a list"], ["Param[N, 3]"]),
    ("Param with a float size", HEADER + "def f(x: Param[N, 2.5]):\n    return sum(x)\n",
     3, 19, ["a size must be an int", "not 2.5"], ["dim(\"N\")"]),
    ("Param with a zero size", HEADER + "def f(x: Param[0]):\n    return sum(x)\n", 3, 16,
     ["a size must be positive, got 0"], ["Param[()]"]),
    ("Param with an unknown size", HEADER + "def f(x: Param[N, M]):\n    return sum(x)\n",
     3, 19, ["unknown name 'M'"], ["M = dim(\"M\")"]),
    ("Param not imported", "from adc.lang import sum\n\ndef f(x: Param[3]):\n"
     "    return sum(x)\n", 3, 10, ["Param is not imported"], ["from adc.lang import Param"]),
    ("argument without annotation", HEADER + "def f(x: Param[3], w):\n    return sum(x * w)\n",
     3, 20, ["no entry point", "argument 'w'", "no annotation"], ["every argument"]),
    ("tensor argument with a default", HEADER + "def f(x: Param[3] = 1.0):\n"
     "    return sum(x)\n", 3, 21, ["cannot have a default"], ["remove the default"]),
    ("*args", HEADER + "def f(x: Param[3], *rest: Param[3]):\n    return sum(x)\n", 3, 21,
     ["*rest is not supported"], ["every argument by name"]),

    # -- loops and conditions ----------------------------------------------------------
    ("loop bound is an argument", HEADER + "def f(x: Param[3], n: int):\n"
     "    for i in range(n):\n        x = x * 2\n    return sum(x)\n", 4, 20,
     ["loop bound `n`", "compile-time int", "only when the function is called"],
     ["module-level int constant", "fixed at compile time"]),
    ("loop over something else than range", HEADER + "def f(x: Param[3]):\n"
     "    for v in (x, x):\n        x = x * v\n    return sum(x)\n", 4, 14,
     ["only `for NAME in range(K)`"], ["for i in range(K)"]),
    ("if on tensor values", HEADER + "def f(x: Param[3]):\n    if sum(x) > 0:\n"
     "        x = x * 2\n    return sum(x)\n", 4, 8, ["data-dependent `if`"],
     ["where(cond, a, b)"]),
    ("if on a symbolic size", HEADER + "def f(x: Param[N]):\n    if N > 3:\n"
     "        x = x * 2\n    return sum(x)\n", 4, 8,
     ["data-dependent `if`", "depends on N"], ["where(cond, a, b)"]),
    ("a dim object compared", HEADER + "from adc.lang import where\ndef f(x: Param[N]):\n"
     "    return sum(where(N == 3, x, 2.0 * x))\n", 5, 22,
     ["`N` is a dim() object here", "always False"], ["x.shape[0]"]),
    ("shapes compared in an if", HEADER + "M = dim(\"M\")\ndef f(x: Param[N], y: Param[M]):\n"
     "    if x.shape == y.shape:\n        x = x * 2\n    return sum(x)\n", 5, 8,
     ["data-dependent `if`", "depends on M, N"], ["where(cond, a, b)"]),

    # -- imports -----------------------------------------------------------------------
    ("import os", HEADER + "import os\ndef f(x: Param[3]):\n    return sum(x)\n", 3, 8,
     ["cannot import 'os'"], ["only adc.lang, numpy and math"]),
    ("from subprocess import", HEADER + "from subprocess import run\n", 3, 1,
     ["cannot import from 'subprocess'"], ["only adc.lang, numpy and math"]),
    ("import inside a function", HEADER + "def f(x: Param[3]):\n    import math\n"
     "    return sum(x)\n", 4, 5, ["imports belong at the top"], ["top level"]),
    ("misspelt adc.lang name", "from adc.lang import Param, sum, relux\n", 1, 34,
     ["adc.lang has no name 'relux'"], ["language reference"]),

    # -- attributes --------------------------------------------------------------------
    ("attribute beyond .T/.shape", HEADER + "def f(x: Param[3]):\n    y = x.real\n"
     "    return sum(y)\n", 4, 11, ["attribute '.real' is not supported"], [".T", ".shape"]),
    ("unknown method", HEADER + "def f(x: Param[3]):\n    return x.argsort()\n", 4, 14,
     ["`.argsort()` is not a method adc supports"], [".sum()", ".reshape()", "nearest first"]),
    ("misspelt method: nearest first", HEADER + "def f(x: Param[3]):\n"
     "    return sum(x.reshap(3, 1))\n", 4, 18, ["`.reshap()` is not a method"],
     ["tensors have .reshape(), "]),
    ("astype", HEADER + "def f(x: Param[3]):\n    return sum(x.astype(float))\n", 4, 18,
     ["`.astype()` is not a method"], ["float already", ".sum()"]),
    ("a function that is not a method", HEADER + "def f(x: Param[3]):\n"
     "    return sum(x.exp())\n", 4, 18, ["`.exp()` is not a method"],
     ["call the function instead: exp(x, ...)"]),
    ("method: dtype by position", HEADER + "def f(x: Param[3, 2]):\n"
     "    return x.sum(0, float)\n", 4, 21,
     [".sum() takes at most 1 positional argument, 2 given"],
     ["by keyword", "x.sum(axis=None, keepdims=False)"]),
    ("method: NumPy keyword adc lacks", HEADER + "def f(x: Param[3, 2]):\n"
     "    return x.mean(dtype=1)\n", 4, 19, [".mean() has no argument 'dtype'"],
     ["x.mean(axis=None, keepdims=False)"]),
    ("method: the function's keyword", HEADER + "def f(x: Param[3]):\n"
     "    return sum(x.clip(lo=0.0))\n", 4, 23, [".clip() has no argument 'lo'"],
     ["x.clip(min=None, max=None)"]),
    ("flatten takes no order", HEADER + "def f(x: Param[3, 2]):\n"
     "    return sum(x.flatten('F'))\n", 4, 26, [".flatten() takes no positional arguments"],
     ["x.flatten()"]),
    ("method of a number", HEADER + "def f(x: Param[3], s: float):\n"
     "    return sum(x) * s.sum()\n", 4, 23, ["a Python number here", ".sum"], ["Param[()]"]),
    ("array: a ragged list", HEADER + "import numpy as np\ndef f(x: Param[3]):\n"
     "    return sum(np.array([[x[0], x[1]], [x[2]]]))\n", 5, 16,
     ["the element at [1] has shape (1,), the first (2,)", "ragged list"], ["same length"]),
    ("array: mixed shapes", HEADER + "import numpy as np\ndef f(x: Param[3]):\n"
     "    return sum(np.array([x, x[0]]))\n", 5, 16,
     ["the element at [1] has shape ()", "the first (3,)"], ["same shape"]),
    ("array: a list beside a number", HEADER + "import numpy as np\ndef f(x: Param[3]):\n"
     "    return sum(np.array([[x[0], x[1]], x[2]]))\n", 5, 16,
     ["the element at [1] has shape (), the first (2,)"], ["same shape"]),
    ("np.r_ of a slice", HEADER + "import numpy as np\ndef f(x: Param[3]):\n"
     "    return sum(np.r_[x, 1:3])\n", 5, 16, ["not slices or strings"], ["arange(n)"]),
    ("np.r_ of a vector and a matrix", HEADER + "import numpy as np\n"
     "def f(x: Param[3], W: Param[2, 3]):\n    return sum(np.r_[x, W])\n", 5, 16,
     ["np.r_: shapes [(3,), (2, 3)] differ"], ["same shape off the joined axis"]),
    ("np.c_ of different lengths", HEADER + "import numpy as np\n"
     "def f(x: Param[3], y: Param[2]):\n    return sum(np.c_[x, y])\n", 5, 16,
     ["np.c_: shapes [(3, 1), (2, 1)] differ"], ["vectors as columns"]),
    ("stack of different shapes", HEADER + "from adc.lang import stack\n"
     "def f(x: Param[3], y: Param[1]):\n    return sum(stack([x, y]))\n", 5, 16,
     ["stack: all tensors must have one shape", "(3,), (1,)"], ["shapes equal"]),
    ("array: empty", HEADER + "import numpy as np\ndef f(x: Param[3]):\n"
     "    return sum(x) + sum(np.array([]))\n", 5, 25, ["array of an empty list"],
     ["at least one element"]),
    ("array: a comparison", HEADER + "import numpy as np\ndef f(x: Param[3]):\n"
     "    return sum(np.array([x > 0, x]))\n", 5, 25, ["comparison is not a number"],
     ["where"]),
    ("numpy submodule", HEADER + "import numpy as np\ndef f(x: Param[3]):\n"
     "    return np.linalg.inv(x)\n", 5, 15,
     ["`np.linalg.inv`: adc has no functions of numpy.linalg"],
     ["pass it as Data", "docs/language.md lists the NumPy and math names"]),
    ("numpy.random", HEADER + "import numpy\ndef f(x: Param[3]):\n"
     "    return sum(x * numpy.random.rand(3))\n", 5, 26,
     ["`numpy.random.rand`: adc has no functions of numpy.random"], ["pass them as Data"]),
    ("np.fft", HEADER + "import numpy as np\ndef f(x: Param[4]):\n"
     "    return sum(np.fft.fft(x))\n", 5, 19, ["`np.fft.fft`: adc has no functions of numpy.fft"],
     ["pass it as Data"]),
    ("misspelt numpy name", HEADER + "import numpy as np\ndef f(x: Param[3]):\n"
     "    return sum(np.arcsinhh(x))\n", 5, 19,
     ["`np.arcsinhh` is not a NumPy function adc accepts"], ["did you mean `np.arcsinh`"]),
    ("numpy name outside the language", HEADER + "import numpy as np\ndef f(x: Param[3]):\n"
     "    return np.nanmean(x)\n", 5, 15, ["`np.nanmean` is not a NumPy function adc accepts"],
     ["did you mean `np.mean`", "docs/language.md"]),
    ("math name outside the language", HEADER + "import math\ndef f(x: Param[3]):\n"
     "    return sum(math.prod(x))\n", 5, 21, ["`math.prod` is not a math function adc accepts"],
     ["docs/language.md"]),
    ("math.remainder", HEADER + "import math\ndef f(x: Param[3]):\n"
     "    return sum(math.remainder(x, 2.0))\n", 5, 21, ["IEEE remainder", "np.remainder"],
     ["mod(x, y)", "fmod(x, y)"]),
    ("adc.lang name spelt np.", HEADER + "import numpy as np\ndef f(x: Param[3]):\n"
     "    return sum(np.sigmoid(x))\n", 5, 19, ["`np.sigmoid` is not numpy's"],
     ["from adc.lang import sigmoid"]),
    ("floor division of tensors", HEADER + "def f(x: Param[3]):\n    return sum(x // 2.0)\n",
     4, 18, ["// is only supported on compile-time ints"], ["floor(x / y)"]),
    ("numpy.linalg beyond norm", HEADER + "import numpy as np\ndef f(x: Param[3, 3]):\n"
     "    return sum(np.linalg.inv(x) @ x)\n", 5, 19,
     ["`np.linalg.inv`: adc has no functions of numpy.linalg"], ["pass it as Data"]),

    # -- calls -------------------------------------------------------------------------
    ("too many arguments", HEADER + "def f(x: Param[3]):\n    return sum(exp(x, x))\n",
     4, 23, ["exp() takes at most 1 positional argument, 2 given"], ["call it as exp(x)"]),
    ("missing argument", HEADER + "def f(x: Param[3]):\n    return sum(exp())\n", 4, 16,
     ["exp() is missing its argument 'x'"], ["call it as exp(x)"]),
    ("unknown keyword", HEADER + "def f(x: Param[3, 2]):\n    return sum(x, axes=0)\n",
     4, 19, ["sum() has no argument 'axes'"], ["sum(x, axis=None, keepdims=False)"]),
    ("helper with too many arguments", HEADER + "def _double(v):\n    return v * 2\n"
     "def f(x: Param[3]):\n    return sum(_double(x, x))\n", 6, 27,
     ["_double() takes 1 positional argument, 2 given"], ["call it as _double(v)"]),
    ("helper with an unknown keyword", HEADER + "def _double(v):\n    return v * 2\n"
     "def f(x: Param[3]):\n    return sum(_double(x, scale=3))\n", 6, 27,
     ["_double() has no argument 'scale'"], ["call it as _double(v)"]),
    ("helper calls itself", HEADER + "def _g(v):\n    return _g(v * 2)\n"
     "def f(x: Param[3]):\n    return sum(_g(x))\n", 4, 12,
     ["helper '_g' calls itself", "recursion is not supported"], ["range(K)"]),
    ("helpers call each other", HEADER + "def _a(v):\n    return _b(v)\ndef _b(v):\n"
     "    return _a(v)\ndef f(x: Param[3]):\n    return sum(_a(x))\n", 6, 12,
     ["calls itself", "_a -> _b -> _a"], ["range(K)"]),
    ("shape mismatch inside a helper", HEADER + "def _add(u, v):\n    return u + v\n"
     "def f(x: Param[3], w: Param[4]):\n    return sum(_add(x, w))\n", 4, 14,
     ["do not broadcast"], ["make the sizes equal"]),

    # -- returns -----------------------------------------------------------------------
    ("entry point without return", HEADER + "def f(x: Param[3]):\n    y = x * 2\n", 3, 1,
     ["function 'f' does not return a value"], ["return statement"]),
    ("bare return", HEADER + "def f(x: Param[3]):\n    y = x * 2\n    return\n", 5, 5,
     ["return needs a value"], ["tuple"]),
    ("nested tuple returned", HEADER + "def f(x: Param[3]):\n"
     "    return sum(x), (sum(x), sum(x))\n", 4, 5, ["nested tuple"], ["return loss, logits"]),
    ("comparison returned", HEADER + "def f(x: Param[3]):\n    return x > 0\n", 4, 5,
     ["cannot return a comparison"], ["where(cond, 1.0, 0.0)"]),
    ("string returned", HEADER + "def f(x: Param[3]):\n    return 'done'\n", 4, 5,
     ["tensors or numbers", "not a string"], ["return a tensor"]),

    # -- indexing ----------------------------------------------------------------------
    ("too many indices", HEADER + "def f(x: Param[3, 4]):\n    y = x[0, 1, 2]\n"
     "    return y\n", 4, 9, ["too many indices (3)", "rank 2"], ["at most 2 indices"]),
    ("index out of range", HEADER + "def f(x: Param[3, 4]):\n    return sum(x[5])\n", 4, 16,
     ["index 5 is out of range", "size 3"], ["from 0 to 2"]),
    ("float index", HEADER + "def f(x: Param[3]):\n    return x[1.5]\n", 4, 12,
     ["unsupported index 1.5"], ["Index[...]"]),
    ("Data used as indices", HEADER + "def f(x: Param[3], i: Data[3]):\n    return sum(x[i])\n",
     4, 16, ["only integer tensors"], ["Index[...]"]),
    ("slice bound known only at run time", HEADER + "def f(x: Param[3], k: int):\n"
     "    return sum(x[0:k])\n", 4, 16, ["slice bounds must be compile-time"], ["gather"]),
    ("tuple index out of range", HEADER + "def f(x: Param[3, 4]):\n"
     "    return sum(x) * x.shape[2]\n", 4, 29, ["index 2 is out of range", "2 values"],
     ["0 to 1"]),

    # -- top level ---------------------------------------------------------------------
    ("top-level call", HEADER + "print('loading')\ndef f(x: Param[3]):\n    return sum(x)\n",
     3, 1, ["top-level code is not allowed", "never runs the file"],
     ["if __name__ == \"__main__\":"]),
    ("non-constant module value", HEADER + "K = len('abc')\n", 3, 5,
     ["compile-time constant"], ["int/float literals"]),
    ("line numbers ignore form feeds in comments", HEADER + "def f(x: Param[3]):\n"
     "    # page break \x0c here\n    y = x + z\n    return sum(y)\n", 5, 13,
     ["unknown name 'z'"], ["argument"]),
    ("CRLF line endings", (HEADER + "def f(x: Param[3]):\n    y = x + z\n    return sum(y)\n")
     .replace("\n", "\r\n"), 4, 13, ["unknown name 'z'"], ["argument"]),
    # -- diagonals, shape helpers and reductions of shapes.py / library.py -------------
    ("trace of a vector", STAR + "def f(x: Param[3]):\n    return trace(x)\n", 4, 12,
     ["trace needs a matrix", "(3,)"], ["diag(v)"]),
    ("diag offset out of range", STAR + "def f(x: Param[3, 4]):\n    return sum(diag(x, 4))\n",
     4, 16, ["offset 4 is out of range", "(3, 4)"], ["-3 < k < 4"]),
    ("diagonal of symbolic size", STAR + "def f(x: Param[N, 4]):\n    return trace(x)\n",
     4, 12, ["known only at run time"], ["offset 0 on a square matrix"]),
    ("squeeze an axis that is not 1", STAR + "def f(x: Param[3, 1]):\n"
     "    return sum(squeeze(x, axis=0))\n", 4, 16, ["axis 0", "size 3, not 1"],
     ["only axes of size 1"]),
    ("broadcast_to a shape that does not fit", STAR + "def f(x: Param[3, 2]):\n"
     "    return sum(broadcast_to(x, (4, 3)))\n", 4, 16, ["(3, 2) does not broadcast to (4, 3)"],
     ["equal the target's or be 1"]),
    ("expand_dims with a repeated axis", STAR + "def f(x: Param[3]):\n"
     "    return sum(expand_dims(x, (0, 0)))\n", 4, 16, ["names an axis twice"],
     ["expand_dims(x, axis)"]),
    ("ddof as large as the count", STAR + "def f(x: Param[3, 4]):\n"
     "    return sum(var(x, axis=0, ddof=3))\n", 4, 16, ["ddof=3", "3 values"], ["ddof < 3"]),
    ("norm of an unsupported order", STAR + "def f(x: Param[3, 4]):\n"
     "    return norm(x, ord=2)\n", 4, 12, ["matrix order ord=2"], ["SVD"]),
    ("conv2d 'same' with a stride", STAR + "def f(x: Param[1, 2, 5, 5], w: Param[1, 2, 3, 3]):\n"
     "    return sum(conv2d(x, w, stride=2, padding='same'))\n", 4, 16,
     ["padding='same' needs stride 1"], ["padding as numbers"]),
    ("conv2d groups that do not divide", STAR + "def f(x: Param[1, 4, 5, 5], "
     "w: Param[3, 2, 3, 3]):\n    return sum(conv2d(x, w, groups=2))\n", 4, 16,
     ["groups=2 must divide", "3 output"], []),
    ("conv2d padding string", STAR + "def f(x: Param[1, 2, 5, 5], w: Param[1, 2, 3, 3]):\n"
     "    return sum(conv2d(x, w, padding='full'))\n", 4, 16, ["'valid' and 'same'"], []),
    ("pool padding above half the kernel", STAR + "def f(x: Param[1, 2, 5, 5]):\n"
     "    return sum(max_pool2d(x, 2, padding=2))\n", 4, 16, ["more than half the kernel"],
     ["every window"]),
    ("a dilated window that does not fit", STAR + "def f(x: Param[1, 2, 5, 5], "
     "w: Param[1, 2, 3, 3]):\n    return sum(conv2d(x, w, dilation=3))\n", 4, 16,
     ["reaching 7", "length 5"], ["smaller kernel"]),
    ("item assignment into an argument", STAR + "def f(x: Param[3, 4]):\n"
     "    x[0] = 1.0\n    return sum(x)\n", 4, 5, ["write into the array the caller passed"],
     ["x.copy()"]),
    ("item assignment seen through a view", STAR + "def f(x: Param[3, 4]):\n"
     "    y = x * 2.0\n    r = y[0]\n    y[0] = 1.0\n    return sum(y) + sum(r)\n", 6, 5,
     ["'r' would change with it"], ["y.copy()"]),
    ("item assignment through an index array", STAR + "def f(x: Param[3, 4], i: Index[2]):\n"
     "    y = x * 2.0\n    y[i] = 1.0\n    return sum(y)\n", 5, 5,
     ["through an index array"], ["ints and slices"]),
    ("item assignment through a list", STAR + "def f(x: Param[3, 4]):\n"
     "    y = x * 2.0\n    y[[0, 2]] = 1.0\n    return sum(y)\n", 5, 7,
     ["a list of indices"], ["ints and slices"]),
    ("item assignment of the wrong shape", STAR + "def f(x: Param[3, 4]):\n"
     "    y = zeros((3, 4))\n    y[0] = x[:, 0]\n    return sum(y)\n", 5, 5,
     ["shape (3,)", "selection of shape (4,)"], ["broadcast"]),
    ("item assignment into integers", STAR + "def f(x: Param[3]):\n"
     "    y = arange(3)\n    y[0] = x[0]\n    return sum(x)\n", 5, 5, ["integers"],
     ["float array"]),
    ("np.add.at into an argument", STAR + "import numpy as np\n"
     "def f(x: Param[3, 4], i: Index[2], v: Param[2, 4]):\n"
     "    np.add.at(x, i, v)\n    return sum(x)\n", 5, 5,
     ["write into the array the caller passed"], ["copy"]),
    ("zeros_like of integers", STAR + "def f(x: Param[3]):\n"
     "    y = zeros_like(arange(3))\n    return sum(y * x)\n", 4, 9,
     ["zeros_like of an integer"], ["zeros(a.shape)"]),
    ("split into unequal parts", STAR + "def f(x: Param[5, 2]):\n"
     "    return sum(split(x, 2)[0])\n", 4, 16, ["5 elements", "2 equal parts"],
     ["array_split"]),
    ("tensordot of axes that differ", STAR + "def f(x: Param[2, 3], y: Param[4, 2]):\n"
     "    return sum(tensordot(x, y, 1))\n", 4, 16, ["size mismatch"], ["same length"]),
    ("vstack of shapes that differ", STAR + "def f(x: Param[3], y: Param[4]):\n"
     "    return sum(vstack((x, y)))\n", 4, 16, ["differ off the joined axis"],
     ["vstack(tup)"]),
]


@pytest.mark.parametrize("source, line, col, message_words, hint_words",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_program_is_a_located_compile_error(source, line, col, message_words, hint_words):
    err = compile_error(source)
    assert_located(err, source, line, col)
    for word in message_words:
        assert word in err.message, f"{word!r} not in the message:\n{err.format()}"
    for word in hint_words:
        assert word in err.hint, f"{word!r} not in the hint:\n{err.format()}"


def test_cases_cover_at_least_24_programs():
    assert len({c[0] for c in CASES}) == len(CASES) >= 24


@pytest.mark.parametrize("builtin, call", [("sum", "sum(x)"), ("max", "max(x)"),
                                           ("min", "min(x)"), ("abs", "x[0] * abs(x)")])
def test_bare_builtin_says_to_import_it_from_adc_lang(builtin, call):
    """Python's builtin sum of a matrix is not a scalar: LANGUAGE.md makes it an error."""
    source = f"from adc.lang import Param\n\ndef f(x: Param[3, 2]):\n    return {call}\n"
    err = compile_error(source)
    assert_located(err, source, 4, 12 + call.index(builtin))
    assert "import it from adc.lang" in err.message
    assert f"from adc.lang import {builtin}" in err.hint


def test_tuple_return_is_allowed():
    """LANGUAGE.md allows `return` of a tuple: one output per element (no error)."""
    source = HEADER + "def f(x: Param[3]):\n    return sum(x), x * 2\n"
    (program,) = driver.lower(PATH, source)
    assert len(program.outputs) == 2


def test_error_is_raised_before_any_later_mistake():
    """The first mistake in source order is the one reported."""
    source = HEADER + "def f(x: Param[3]):\n    y = x + z\n    while True:\n        pass\n"
    err = compile_error(source)
    assert (err.line, err.col) == (4, 13)


def test_error_message_keeps_a_compiler_failure_as_its_cause():
    """A user mistake is a CompileError, never a bare Python exception from a pass."""
    source = HEADER + "def f(x: Param[()]):\n    return x * len(x)\n"
    err = compile_error(source)
    assert_located(err, source, 4, 16)
    assert "len() of a scalar" in err.message


BAD_MODEL = HEADER + "def loss(x: Param[3], w: Param[4]):\n    return sum(x + w)\n"


def test_cli_compile_reports_the_error_without_traceback(tmp_path):
    model = tmp_path / "bad.py"
    model.write_text(BAD_MODEL)
    proc = subprocess.run([sys.executable, "-m", "adc.cli.main", "compile", str(model)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "Traceback" not in output
    assert f"{model}:4:18: error: shapes (3,) and (4,) do not broadcast" in proc.stderr
    assert "    return sum(x + w)" in proc.stderr
    assert "hint: " in proc.stderr
    assert not (tmp_path / "bad_adc.py").exists(), "no module is written for a bad model"


@pytest.mark.parametrize("command", ["compile", "inspect", "check"])
def test_every_cli_command_exits_1_on_a_bad_model(tmp_path, command):
    model = tmp_path / "bad.py"
    model.write_text(BAD_MODEL)
    result = CliRunner().invoke(adc_main, [command, str(model)])
    # An uncaught exception would also give exit code 1: insist on a clean exit.
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "4:18: error: shapes (3,) and (4,) do not broadcast" in result.stderr
