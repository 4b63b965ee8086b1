"""Seeded mutants of the samples' sources, and what must happen to each of them.

`mutant(seed)` takes one `samples/*.py` file and applies one or two mutations: an
operator swapped, a function call renamed, a statement deleted or duplicated, an
annotation's role or shape changed, a size constant changed, unsupported syntax
inserted (`while`, `lambda`, a comprehension, `try`, ...), the file truncated, junk
bytes inserted, an expression nested very deeply.

`check_mutant(m, workdir, run)` compiles it with the `adc compile` command (in-process,
under a time limit). The outcome must be one of
- "rejected": exit code 1 and a `file:line:col: error:` message, no traceback;
- "compiled": the module imports, the eager run of the mutant works on random inputs
  (a mutant Python cannot run is not a model, and should have been rejected), and, when
  `run` is true, the compiled values and gradients agree with the eager run
  (oracle.check_module);
- "invalid-input": compiled and eager-valid, but not finite at the drawn point (nothing
  to compare); "too-large": compiled, with arrays too large to draw;
  "too-deep-for-python": compiled, and CPython cannot import the mutant (3000 nested
  operators; adc compiles those on a deep stack, as tests/compiler/test_hostile.py checks).
Anything else raises oracle.Failure.
"""
from __future__ import annotations

import ast
import contextlib
import copy
import glob
import os
import random
import re
import signal
from dataclasses import dataclass

import numpy as np
from click.testing import CliRunner

import oracle
from adc.cli.main import main as adc_main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLES = sorted(glob.glob(os.path.join(ROOT, "samples", "*.py")))
TIME_LIMIT = 30       # seconds for one compile of a sample (they take 1-3 s): a hang
RUN_TIME_LIMIT = 180  # seconds to JIT, run and check one compiled mutant


@dataclass
class Mutant:
    sample: str      # the sample's file name
    how: str         # the mutations applied, in words
    source: bytes    # the mutant's bytes (junk may not be UTF-8)
    seed: int


# -- AST mutations --------------------------------------------------------------------------
BINOPS = [ast.Add, ast.Sub, ast.Mult, ast.Div, ast.MatMult, ast.Pow, ast.FloorDiv, ast.Mod]
SWAP_CALLS = ["relu", "tanh", "sigmoid", "exp", "log", "sqrt", "abs", "softplus", "sum",
              "mean", "max", "min", "logsumexp", "var", "softmax", "log_softmax",
              "cross_entropy", "mse", "multiclass_hinge", "binary_cross_entropy_with_logits",
              "transpose", "dot", "outer", "square", "batch_norm", "layer_norm", "print",
              "len", "range", "undefined_fn", "np.exp", "math.exp", "np.linalg.norm"]
UNSUPPORTED = [
    "while {x} is not None:\n    {x} = {x} * 2",
    "g_ = lambda v: v * 2",
    "zs_ = [{x} * k for k in range(3)]",
    "zs_ = {{k: {x} for k in range(2)}}",
    "try:\n    {x} = {x} * 2\nexcept Exception:\n    pass",
    "with open('f') as fh:\n    pass",
    "global G_",
    "assert {x} is not None",
    "del {x}",
    "print({x})",
    "import os",
    "{x} = {x}.sum()",
    "{x} = {x}[None]",
    "{x} = {x}[...]",
    "{x} = {x}[{x} > 0]",
    "if {x}.sum() > 0:\n    {x} = {x} * 2",
    "{x} = {x} if {x} else {x}",
    "{x} = (y_ := {x})",
    "{x} = f'{{{x}}}'",
    "{x}[0] = 1.0",
    "{x}.shape = (2, 3)",
    "{x} = {x}.reshape(-1)",
    "yield {x}",
    "raise ValueError('no')",
    "{x} = not {x}",
    "{x} = {x} and {x}",
    "{x} = ~{x}",
    "{x} = {x} @ {x} @ {x}",
    "{x} = [{x}, {x}]",
    "{x} = {{{x}}}",
    "{x} = None",
    "{x} = 'text'",
    "{x} = {x}[::-1]",
    "{x} = {x}[1:0]",
    "{x} = {x}[100]",
    "{x} = {x}.T.T",
    "{x} = {x}.shape[5]",
    "{x} = sum({x}, axis=7)",
    "{x} = sum({x}, keepdims=3)",
    "for k_ in range(3):\n    {x} = {x} + k_",
    "for k_ in range(-2):\n    {x} = {x} * 2",
    "for k_ in range(10 ** 6):\n    pass",
    "for k_ in {x}:\n    pass",
    "{x} = {x} ** {x}",
    "{x} = {x} / 0",
    "{x} = {x} // 2",
    "{x} = {x} % 2",
    "{x} = {x} < {x}",
    "{x} = exp({x}, {x})",
    "{x} = reshape({x}, (-1, -1))",
    "{x} = reshape({x}, (7, -1))",
    "{x} = concatenate([{x}, {x}], axis=9)",
    "{x} = where({x} > 0, {x})",
    "{x} = clip({x}, 1.0)",
    "{x} = {x}[arange(3)]",
    "{x} = einsum('ij->', {x})",
    "{x} = einsum('ij,jk->ik', {x})",
]
ROLES = ["Param", "Data", "Index", "float", "int", "Param[()]", "Param[0]", "Param[-1]",
         "Param[N, N, N, N, N]", "Data[2.5]", "Index[N, 3]", "Param['N']", "list", "Param[D]"]


def _function_defs(tree):
    return [n for n in tree.body if isinstance(n, ast.FunctionDef)]


def _names_in(fn):
    return sorted({n.id for n in ast.walk(fn) if isinstance(n, ast.Name)
                   and isinstance(n.ctx, ast.Store)} | {a.arg for a in fn.args.args})


def _statements(tree):
    """(list, index) for every statement inside a function body (also nested bodies)."""
    out = []
    for node in ast.walk(tree):
        for attr in ("body", "orelse"):
            body = getattr(node, attr, None)
            if isinstance(body, list) and node is not tree and body and \
                    isinstance(body[0], ast.stmt):
                out += [(body, i) for i in range(len(body))]
    return out


def mutate_ast(tree, rng) -> str:
    """Apply one AST mutation in place; returns its description."""
    fns = _function_defs(tree)
    kind = rng.choice(["binop", "call", "delete", "duplicate", "annotation", "shape",
                       "constant", "unsupported", "name", "keyword", "args", "number",
                       "slice", "return", "rename", "attribute"])
    nodes = list(ast.walk(tree))
    if kind == "binop":
        ops = [n for n in nodes if isinstance(n, (ast.BinOp, ast.AugAssign))]
        if ops:
            n = rng.choice(ops)
            new = rng.choice(BINOPS)
            n.op = new()
            return f"operator -> {new.__name__}"
    if kind == "call":
        calls = [n for n in nodes if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
        if calls:
            n = rng.choice(calls)
            new = rng.choice(SWAP_CALLS)
            old = n.func.id
            n.func = ast.parse(new, mode="eval").body
            return f"call {old} -> {new}"
    if kind in ("delete", "duplicate"):
        stmts = [(b, i) for b, i in _statements(tree)]
        if stmts:
            body, i = rng.choice(stmts)
            if kind == "delete":
                what = ast.unparse(body[i]).split("\n")[0]
                del body[i]
                if not body:
                    body.append(ast.Pass())
                return f"deleted `{what}`"
            body.insert(i, copy.deepcopy(body[i]))
            return f"duplicated `{ast.unparse(body[i]).splitlines()[0]}`"
    if kind in ("annotation", "shape") and fns:
        args = [a for f in fns for a in f.args.args + f.args.kwonlyargs if a.annotation]
        if args:
            a = rng.choice(args)
            if kind == "annotation":
                new = rng.choice(ROLES)
                a.annotation = ast.parse(new, mode="eval").body
                return f"annotation of {a.arg} -> {new}"
            ann = a.annotation
            if isinstance(ann, ast.Subscript):
                dims = ann.slice.elts if isinstance(ann.slice, ast.Tuple) else [ann.slice]
                dims = list(dims)
                r = rng.random()
                if r < 0.3 and dims:
                    dims.pop(rng.randrange(len(dims)))
                elif r < 0.6:
                    dims.insert(rng.randint(0, len(dims)), ast.Constant(rng.randint(1, 7)))
                elif dims:
                    dims[rng.randrange(len(dims))] = ast.Constant(rng.choice([1, 2, 3, 7, 0]))
                ann.slice = ast.Tuple(dims, ast.Load()) if len(dims) != 1 else dims[0]
                return f"shape of {a.arg} -> {ast.unparse(ann)}"
    if kind == "constant":
        consts = [n for n in tree.body if isinstance(n, ast.Assign)]
        if consts:
            n = rng.choice(consts)
            new = rng.choice(["1", "0", "-1", "7", "2.5", "'N'", "dim('Q')", "dim(3)",
                              "(2, 3)", "N", "None", "D * 2", "10 ** 9"])
            n.value = ast.parse(new, mode="eval").body
            return f"module constant {ast.unparse(n.targets[0])} = {new}"
    if kind == "unsupported" and fns:
        fn = rng.choice(fns)
        names = _names_in(fn) or ["x"]
        snippet = rng.choice(UNSUPPORTED).format(x=rng.choice(names))
        try:
            stmts = ast.parse(snippet).body
        except SyntaxError:
            stmts = []
        if stmts:
            pos = rng.randint(0, max(len(fn.body) - 1, 0))
            fn.body[pos:pos] = stmts
            return f"inserted `{snippet.splitlines()[0]}`"
    if kind == "name":
        loads = [n for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]
        if loads and fns:
            n = rng.choice(loads)
            pool = sorted({m.id for m in loads}) + ["undefined_name", "np", "N", "D", "pi",
                                                     "e", "True", "None"]
            new = rng.choice(pool)
            old, n.id = n.id, new
            return f"name {old} -> {new}"
    if kind == "keyword":
        calls = [n for n in nodes if isinstance(n, ast.Call)]
        if calls:
            n = rng.choice(calls)
            kw = rng.choice(["axis", "keepdims", "eps", "slope", "alpha", "margin", "bogus",
                             "stride", "padding"])
            val = rng.choice(["0", "1", "-1", "5", "(0, 1)", "True", "None", "0.1", "'x'",
                              "(0, 0)"])
            n.keywords = [k for k in n.keywords if k.arg != kw] + \
                [ast.keyword(kw, ast.parse(val, mode="eval").body)]
            return f"keyword {kw}={val} on `{ast.unparse(n)[:40]}`"
    if kind == "args":
        calls = [n for n in nodes if isinstance(n, ast.Call) and n.args]
        if calls:
            n = rng.choice(calls)
            r = rng.random()
            if r < 0.4:
                n.args.pop(rng.randrange(len(n.args)))
                return "dropped a call argument"
            if r < 0.7:
                n.args.append(copy.deepcopy(rng.choice(n.args)))
                return "added a call argument"
            rng.shuffle(n.args)
            return "shuffled call arguments"
    if kind == "number":
        nums = [n for n in nodes if isinstance(n, ast.Constant)
                and isinstance(n.value, (int, float)) and not isinstance(n.value, bool)]
        if nums:
            n = rng.choice(nums)
            old = n.value
            n.value = rng.choice([0, 1, -1, 2, 0.0, 1e-300, 1e300, 3, 100, -0.5])
            return f"number {old} -> {n.value}"
    if kind == "slice":
        subs = [n for n in nodes if isinstance(n, ast.Subscript)
                and isinstance(n.value, ast.Name) and not _is_annotation(n, tree)]
        names = [n for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
                 and n.id not in ("Param", "Data", "Index")]
        if subs and rng.random() < 0.5:
            n = rng.choice(subs)
            new = rng.choice(["0", "1:", ":2", "::2", "-1", ":, 0", "0, 0", "1:3, :",
                              ":, :2", "..., 0", "None", ":, None", "::-1"])
            n.slice = ast.parse(f"x[{new}]", mode="eval").body.slice
            return f"subscript -> [{new}]"
        if names:
            n = rng.choice(names)
            new = rng.choice(["[:2]", "[1:]", "[0]", "[:, :2]", "[:, 1:]", ".T", "[::2]",
                              "[:-1]", "[:, ::2]", "[2:, :3]"])
            parent = _parent(tree, n)
            if parent is not None:
                repl = ast.parse(n.id + new, mode="eval").body
                _replace(parent, n, repl)
                return f"{n.id} -> {n.id}{new}"
    if kind == "return" and fns:
        rets = [n for n in nodes if isinstance(n, ast.Return) and n.value is not None]
        if rets:
            n = rng.choice(rets)
            if rng.random() < 0.5:
                n.value = ast.Tuple([n.value, copy.deepcopy(n.value)], ast.Load())
                return "return doubled into a tuple"
            loads = [m for m in ast.walk(rng.choice(fns)) if isinstance(m, ast.Name)
                     and isinstance(m.ctx, ast.Store)]
            if loads:
                n.value = ast.Name(rng.choice(loads).id, ast.Load())
                return f"return {n.value.id}"
    if kind == "rename" and fns:
        fn = rng.choice(fns)
        old = fn.name
        fn.name = rng.choice(["relu", "sigmoid", "sum", "f_grad", "value", "np", "main",
                              "_private", "loss_vjp", "Param", "exp"])
        return f"function {old} -> {fn.name}"
    if kind == "attribute":
        names = [n for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]
        if names:
            n = rng.choice(names)
            parent = _parent(tree, n)
            attr = rng.choice([".shape[0]", ".shape[1]", ".shape", ".T", ".ndim", ".size",
                               ".dtype", ".mean()", ".shape[-1]"])
            if parent is not None:
                _replace(parent, n, ast.parse(n.id + attr, mode="eval").body)
                return f"{n.id} -> {n.id}{attr}"
    return "no-op"


def _is_annotation(sub, tree):
    for fn in _function_defs(tree):
        for a in fn.args.args + fn.args.kwonlyargs:
            if a.annotation is not None and any(s is sub for s in ast.walk(a.annotation)):
                return True
    return False


def _parent(tree, target):
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            if child is target:
                return node
    return None


def _replace(parent, old, new):
    for field, value in ast.iter_fields(parent):
        if value is old:
            setattr(parent, field, new)
            return
        if isinstance(value, list):
            for i, v in enumerate(value):
                if v is old:
                    value[i] = new
                    return


# -- text mutations -------------------------------------------------------------------------
def truncate(text: bytes, rng) -> tuple[bytes, str]:
    cut = rng.randrange(len(text))
    return text[:cut], f"truncated at byte {cut}"


def junk(text: bytes, rng) -> tuple[bytes, str]:
    pos = rng.randrange(len(text) + 1)
    r = rng.random()
    if r < 0.25:
        bad = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    elif r < 0.5:
        bad = rng.choice([b"\x00", b"\xff\xfe", b"\t", b"\r", b"\x0c", b"\\", b"\xe2\x80\x8b",
                          b"\xc3\xa9", b"#", b"'", b'"""', b"(", b")", b":", b"\n    ", b";",
                          b"\x1b[31m", b"\r\n", b"\xef\xbb\xbf"])
    else:
        bad = bytes(rng.choice(b"()[]{}:;,.@+-*/=<>!#'\"\\ \t\nabcxyz0123456789_")
                    for _ in range(rng.randint(1, 6)))
    return text[:pos] + bad + text[pos:], f"junk {bad!r} at byte {pos}"


def deep_nesting(text: bytes, rng) -> tuple[bytes, str]:
    """Nest a returned expression deeply (in the text: the ast module itself recurses):
    unary minuses, parentheses, a long + chain, or nested tanh calls."""
    lines = text.decode().split("\n")
    rets = [i for i, l in enumerate(lines) if l.strip().startswith("return ")]
    if not rets:
        return text, "no-op"
    i = rng.choice(rets)
    indent, expr = lines[i].split("return ", 1)
    depth = rng.choice([50, 150, 199, 400, 1000, 3000])
    r = rng.random()
    if r < 0.3:
        expr, how = "- " * depth + f"({expr})", f"{depth} nested unary minuses"
    elif r < 0.5:
        expr, how = "(" * depth + expr + ")" * depth, f"{depth} nested parentheses"
    elif r < 0.8:
        expr, how = f"({expr})" + " + 0.0" * depth, f"a chain of {depth} additions"
    else:
        d = depth // 5
        expr, how = "tanh(" * d + expr + ")" * d, f"{d} nested tanh calls"
    lines[i] = f"{indent}return {expr}"
    return "\n".join(lines).encode(), how


def mutant(seed: int) -> Mutant:
    """The mutant for `seed` (deterministic)."""
    rng = random.Random(seed)
    path = SAMPLES[rng.randrange(len(SAMPLES))]
    with open(path, "rb") as f:
        text = f.read()
    r = rng.random()
    if r < 0.08:
        data, how = truncate(text, rng)
    elif r < 0.16:
        data, how = junk(text, rng)
    elif r < 0.22:
        data, how = deep_nesting(text, rng)
    else:
        tree = ast.parse(text)
        hows = [mutate_ast(tree, rng) for _ in range(rng.choice([1, 1, 2]))]
        ast.fix_missing_locations(tree)
        data, how = (ast.unparse(tree) + "\n").encode(), "; ".join(hows)
    return Mutant(os.path.basename(path), how, data, seed)


# -- running a mutant -------------------------------------------------------------------------
class TimeLimit(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds):
    def handler(signum, frame):
        raise TimeLimit()
    old = signal.signal(signal.SIGALRM, handler)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


LOCATED = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): error: ", re.M)


def cli_compile(path: str, out: str):
    """`adc compile path -o out` in-process: "compiled" or "rejected" (else Failure)."""
    try:
        with time_limit(TIME_LIMIT):
            result = CliRunner().invoke(adc_main, ["compile", path, "-o", out])
    except TimeLimit:
        raise Failure("hang", f"adc compile took more than {TIME_LIMIT}s") from None
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        exc = result.exception
        raise Failure("compile-crash", oracle.last_frame(exc)) from exc
    text = result.output + (result.stderr if result.stderr_bytes is not None else "")
    if "Traceback" in text:
        raise Failure("traceback", text.strip().splitlines()[-1][:200])
    if result.exit_code == 0:
        return "compiled"
    if result.exit_code != 1:
        raise Failure("exit-code", f"exit code {result.exit_code}: {text.strip()[:200]}")
    first = result.stderr.strip().splitlines()[0] if result.stderr.strip() else ""
    m = LOCATED.match(first)
    if not m or m.group("path") != path:
        raise Failure("unlocated-error", first[:200] or "(no message)")
    if "adc cannot lower this expression" in first:
        raise Failure("compile-internal", first[len(m.group(0)):][:200])
    return "rejected"


Failure = oracle.Failure


def inputs_from_signature(module, entry, seed):
    """ArgSpecs for an entry point from the generated module's SIGNATURES."""
    rng = np.random.default_rng(seed)
    spec = module.SIGNATURES[entry]["args"]
    sizes = {}
    for arg in spec.values():
        for s in arg["shape"]:
            if isinstance(s, str) and s.isidentifier():
                sizes.setdefault(s, int(rng.integers(3, 6)))
    out = []
    for name, arg in spec.items():
        shape = tuple(s if isinstance(s, int) else _eval_size(s, sizes) for s in arg["shape"])
        role = {"param": "Param", "data": "Data", "index": "Index"}.get(arg["role"], arg["role"])
        bound = arg.get("bound", 2)
        bound = bound if isinstance(bound, int) else _eval_size(bound, sizes)
        value = None
        if role in ("float", "int") and "default" not in arg:
            value = 0.5 if role == "float" else 2
        out.append(oracle.ArgSpec(name, role, shape, "normal", bound, value))
    return out


def _eval_size(text, sizes):
    return int(eval(str(text), {"__builtins__": {}}, dict(sizes)))


def check_mutant(m: Mutant, workdir: str, run: bool = False) -> str:
    """The outcome of one mutant (see the module docstring); Failure when it is wrong."""
    tag = f"mut_{m.seed}"
    path = os.path.join(workdir, f"{tag}.py")
    out = os.path.join(workdir, f"{tag}_adc.py")
    with open(path, "wb") as f:
        f.write(m.source)
    outcome = cli_compile(path, out)
    if outcome == "rejected":
        return outcome
    try:
        module = oracle.import_file(out, f"{tag}_adc")
    except Exception as exc:
        raise Failure("import-error", oracle.last_frame(exc)) from exc
    try:
        with time_limit(30):
            eager = oracle.import_file(path, f"eager_{tag}")
    except RecursionError:
        # 3000 nested operators: CPython gives up at its default limits, adc compiles it
        # on a deep stack (tests/compiler/test_hostile.py checks those values): no oracle
        return "too-deep-for-python"
    except Exception as exc:
        raise Failure("accepted-invalid", f"compiled, but importing the model raises "
                      f"{oracle.last_frame(exc)}") from exc
    result = "compiled"
    for entry in module.SIGNATURES:
        if not hasattr(eager, entry):
            raise Failure("accepted-invalid", f"entry point {entry} is not in the model")
        specs = inputs_from_signature(module, entry, m.seed)
        if any(int(np.prod(s.shape)) > 10 ** 5 for s in specs):
            result = "too-large"      # e.g. a size constant mutated to 10 ** 9
            continue
        values = oracle.draw_inputs(specs, m.seed)
        try:
            oracle.eager_run(getattr(eager, entry), values)
        except oracle.InvalidProgram as exc:
            if "not finite" in str(exc):
                result = "invalid-input"
                continue
            raise Failure("accepted-invalid", f"compiled, but the {exc}") from exc
        if run:
            try:
                oracle.in_child(lambda: oracle.check_module(
                    module, getattr(eager, entry), entry, specs, values, m.seed),
                    RUN_TIME_LIMIT)
            except oracle.NearKink:
                pass
            except oracle.InvalidProgram:
                result = "invalid-input"
    return result
