"""`adc inspect --show formulas`: the course's examples as golden text, each scalar
formula equal to SymPy's own derivative, and no summation index captured anywhere."""
import os
import re

import pytest
import sympy as sp
from click.testing import CliRunner

from adc.cli.main import main
from adc.compiler.formulas import assigned_names

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLES = os.path.join(ROOT, "samples")


def formulas(sample: str) -> str:
    result = CliRunner().invoke(main, ["inspect", os.path.join(SAMPLES, sample + ".py"),
                                       "--show", "formulas"])
    assert result.exit_code == 0, result.output
    return result.output


GOLDEN = {
    "gate": """\
q = x + y
f = q * z
df/dq = z
df/dx = z
df/dy = z
df/dz = q
""",
    "neuron": """\
dot = w0 * x0 + w1 * x1 + w2
f = 1 / (1 + exp(-dot))
df/ddot = f*(1 - f)
df/dw0 = f*x0*(1 - f)
df/dx0 = f*w0*(1 - f)
df/dw1 = f*x1*(1 - f)
df/dx1 = f*w1*(1 - f)
df/dw2 = f*(1 - f)
""",
    "sin_example": """\
f = 5 * x1 + sin(x2 + pi)
df/dx1 = 5
df/dx2 = -cos(x2)
""",
    "logistic_regression": """\
z = X @ w + b
loss = binary_cross_entropy_with_logits(z, y)
dloss/dz[i] = (sigmoid(z[i]) - y[i])/N
dloss/dw[i] = sum_j(X[j, i]*(sigmoid(z[j]) - y[j]))/N
dloss/db = sum_i(sigmoid(z[i]) - y[i])/N
""",
    "softmax_classifier": """\
scores = X @ W + b
loss = cross_entropy(scores, y) + 0.5 * reg * sum(W * W)
dloss/dscores[i, j] = (softmax(scores)[i, j] - onehot(y)[i, j])/N
dloss/dW[i, j] = sum_k(X[k, i]*(softmax(scores)[k, j] - onehot(y)[k, j]))/N + reg*W[i, j]
dloss/db[i] = sum_j(softmax(scores)[j, i] - onehot(y)[j, i])/N
""",
}


@pytest.mark.parametrize("sample", sorted(GOLDEN))
def test_course_formulas(sample):
    assert formulas(sample) == GOLDEN[sample]


@pytest.mark.parametrize("sample", ["gate", "neuron", "sin_example"])
def test_scalar_formulas_are_the_derivatives(sample):
    """Substituting the named values back gives SymPy's derivative of the closed form."""
    lines = formulas(sample).splitlines()
    forward = [ln for ln in lines if not ln.startswith("df/")]
    env = {"exp": sp.exp, "sin": sp.sin, "cos": sp.cos, "pi": sp.pi,
           "sigmoid": lambda z: 1 / (1 + sp.exp(-z))}
    values = {}

    def parse(text):
        local = {**env, **{n: sp.Symbol(n, real=True) for n in re.findall(r"[a-z]\w*", text)
                           if n not in env}}
        return sp.sympify(text, locals=local)
    for line in forward:            # name = expression, in the source's order
        name, text = line.split(" = ", 1)
        values[sp.Symbol(name, real=True)] = parse(text).xreplace(values)
    f = values[sp.Symbol("f", real=True)]
    for line in lines:
        if line.startswith("df/d"):
            lhs, text = line.split(" = ", 1)
            wrt = sp.Symbol(lhs[4:], real=True)
            got = parse(text).xreplace(values)
            if wrt in values:       # a named value: d f / d value, holding the rest
                continue
            assert sp.simplify(got - sp.diff(f, wrt)) == 0, line


SAMPLE_FILES = sorted(f[:-3] for f in os.listdir(SAMPLES) if f.endswith(".py"))


@pytest.mark.parametrize("sample", SAMPLE_FILES)
def test_no_summation_index_is_captured(sample):
    """No `sum_k(` binds an index the left-hand side uses, and no condition compares with
    an index where the formula has a number (a substitution that captured or replaced)."""
    for line in formulas(sample).splitlines():
        if not line.startswith("d"):
            continue
        lhs, _, rhs = line.partition(" = ")
        if not rhs:
            lhs, _, rhs = line.partition(" += ")
        free = set(re.findall(r"\b([a-z]\d*)\b", lhs.split("[", 1)[1])) if "[" in lhs \
            else set()
        bound = [v for group in re.findall(r"sum_([\w,]+)\(", rhs) for v in group.split(",")]
        assert not free & set(bound), line
        assert not re.search(r"> [a-z]\]", rhs), line


def test_assigned_names():
    assert assigned_names("z = X @ w + b") == ["z"]
    assert assigned_names("a, b = x") == ["a", "b"]
    assert assigned_names("h += 1.0") == ["h"]
    assert assigned_names("return x == y") == []
