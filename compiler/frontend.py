"""Frontend: a model file's Python `ast` -> one IR `Program` per entry point.

The file is parsed, never imported or executed. Names resolve the way Python would
resolve them when the file runs eagerly; everything outside the language is a
`CompileError` with file:line:col, the source line, a caret and a hint.
"""
from __future__ import annotations

import ast
import operator

import sympy as sp

from . import library
from .errors import CompileError, Located
from .ir import Arg, Origin, Program
from .values import Builder, Value, as_value, elementwise, to_expr

LANG_MODULES = ("adc.lang",)
BUILTIN_TRAPS = ("sum", "max", "min", "abs")
ROLES = {"Param": "param", "Data": "data", "Index": "index"}

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.Pow: operator.pow, ast.FloorDiv: operator.floordiv,
           ast.Mod: operator.mod}
_CMPOPS = {ast.Gt: (operator.gt, sp.StrictGreaterThan), ast.GtE: (operator.ge, sp.GreaterThan),
           ast.Lt: (operator.lt, sp.StrictLessThan), ast.LtE: (operator.le, sp.LessThan),
           ast.Eq: (operator.eq, sp.Eq), ast.NotEq: (operator.ne, sp.Ne)}
_UNSUPPORTED = {
    ast.While: "while loops are not supported; use `for i in range(K)` with a constant K",
    ast.Try: "try/except is not supported in a model",
    ast.With: "with-blocks are not supported in a model",
    ast.Global: "global is not supported; pass the value as an argument",
    ast.Nonlocal: "nonlocal is not supported; pass the value as an argument",
    ast.Lambda: "lambda is not supported; define a helper function with def",
    ast.ListComp: "comprehensions are not supported; use tensor operations or a for loop",
    ast.SetComp: "comprehensions are not supported; use tensor operations or a for loop",
    ast.DictComp: "comprehensions are not supported; use tensor operations or a for loop",
    ast.GeneratorExp: "comprehensions are not supported; use tensor operations or a for loop",
    ast.ClassDef: "classes are not supported; write functions",
    ast.Delete: "del is not supported",
    ast.Assert: "assert is not supported in a model",
    ast.Raise: "raise is not supported in a model",
    ast.IfExp: "conditional expressions are not supported; use where(cond, a, b)",
    ast.JoinedStr: "f-strings are not supported in a model",
    ast.AsyncFunctionDef: "async functions are not supported",
    ast.Dict: "dicts are not supported in a model",
    ast.Set: "sets are not supported in a model",
    ast.NamedExpr: "assignment expressions (:=) are not supported; use a plain assignment",
}


class LangName:
    """A name that resolves to a language function or constant (`adc.lang.x`, `np.x`)."""

    def __init__(self, name):
        self.name = library.ALIASES.get(name, name)


class ModuleRef:
    """An imported module: adc.lang, numpy or math."""

    def __init__(self, kind):
        self.kind = kind


class Helper:
    """A function of the same file, inlined at each call."""

    def __init__(self, node):
        self.node = node


class Context:
    """What the whole file defines: constants, dims, imports, functions."""

    def __init__(self, path, source, tree):
        self.path = path
        self.lines = source.splitlines()
        self.tree = tree
        self.globals: dict = {}
        self.functions: dict[str, ast.FunctionDef] = {}
        self.reserved = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        self.reserved |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments)
                          for a in n.args + n.kwonlyargs}

    def error(self, node, message, hint=""):
        line = getattr(node, "lineno", 0)
        col = getattr(node, "col_offset", 0) + 1
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return CompileError(message, path=self.path, line=line, col=col, source_line=text,
                            hint=hint)


# -- module level ---------------------------------------------------------------------
def parse_module(path: str, source: str) -> Context:
    """Check the top level of a model file and collect its definitions."""
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        lines = source.splitlines()
        text = lines[exc.lineno - 1] if exc.lineno and exc.lineno <= len(lines) else ""
        raise CompileError(f"invalid Python syntax: {exc.msg}", path=path, line=exc.lineno or 0,
                           col=exc.offset or 0, source_line=text,
                           hint="a model file must be valid Python") from None
    ctx = Context(path, source, tree)
    for node in tree.body:
        _module_statement(ctx, node)
    return ctx


def _module_statement(ctx: Context, node):
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        _import(ctx, node)
    elif isinstance(node, ast.FunctionDef):
        ctx.functions[node.name] = node
        ctx.globals[node.name] = Helper(node)
    elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
            and isinstance(node.value.value, str):
        return  # docstring
    elif isinstance(node, ast.If) and _is_main_guard(node.test):
        return  # `if __name__ == "__main__":` is for eager runs; never compiled
    elif isinstance(node, (ast.Assign, ast.AnnAssign)):
        _module_assign(ctx, node)
    else:
        raise ctx.error(node, "only imports, constants, dims and function definitions are "
                        "allowed at the top level of a model file",
                        "move this code into a function, or out of the model file")


def _is_main_guard(test) -> bool:
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
            and test.left.id == "__name__")


def _import(ctx: Context, node):
    allowed = {"adc.lang": "lang", "numpy": "numpy", "math": "math"}
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name not in allowed:
                raise ctx.error(node, f"cannot import '{alias.name}' in a model file",
                                "only adc.lang, numpy and math may be imported")
            if alias.asname is None and alias.name == "adc.lang":
                ctx.globals["adc"] = ModuleRef("adc")
            else:
                ctx.globals[alias.asname or alias.name] = ModuleRef(allowed[alias.name])
        return
    mod = node.module or ""
    if mod == "adc" and all(a.name == "lang" for a in node.names):
        for a in node.names:
            ctx.globals[a.asname or a.name] = ModuleRef("lang")
        return
    if mod not in allowed:
        raise ctx.error(node, f"cannot import from '{mod}' in a model file",
                        "only adc.lang, numpy and math may be imported")
    for a in node.names:
        if a.name == "*":
            if mod != "adc.lang":
                raise ctx.error(node, "star imports are only allowed from adc.lang")
            for name in list(library.FUNCTIONS) + list(library.CONSTANTS) + \
                    ["Param", "Data", "Index", "dim"]:
                ctx.globals[name] = LangName(name)
            continue
        ctx.globals[a.asname or a.name] = LangName(a.name)


def _module_assign(ctx: Context, node):
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    if node.value is None:
        raise ctx.error(node, "a module-level annotation needs a value")
    value = _const_eval(ctx, node.value)
    for target in targets:
        _bind_const(ctx, target, value)


def _bind_const(ctx, target, value):
    if isinstance(target, ast.Name):
        ctx.globals[target.id] = value
    elif isinstance(target, ast.Tuple) and isinstance(value, tuple) \
            and len(target.elts) == len(value):
        for t, v in zip(target.elts, value):
            _bind_const(ctx, t, v)
    else:
        raise ctx.error(target, "cannot unpack this module-level assignment")


def _const_eval(ctx: Context, node):
    """A compile-time constant: numbers, tuples, dim("N"), arithmetic of constants."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)):
        return node.value
    if isinstance(node, ast.Tuple):
        return tuple(_const_eval(ctx, e) for e in node.elts)
    if isinstance(node, ast.Name) and node.id in ctx.globals:
        v = ctx.globals[node.id]
        if isinstance(v, (int, float, sp.Expr, tuple)):
            return v
        if isinstance(v, LangName) and v.name in library.CONSTANTS:
            return float(library.CONSTANTS[v.name])
    if isinstance(node, ast.Call) and _call_name(ctx, node.func) == "dim":
        if len(node.args) == 1 and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str) and node.args[0].value.isidentifier():
            return sp.Symbol(node.args[0].value, integer=True, positive=True)
        raise ctx.error(node, "dim() takes one name, e.g. N = dim(\"N\")")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_const_eval(ctx, node.operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        a, b = _const_eval(ctx, node.left), _const_eval(ctx, node.right)
        return _BINOPS[type(node.op)](a, b)
    if isinstance(node, ast.Attribute):
        v = _attr_const(ctx, node)
        if v is not None:
            return v
    raise ctx.error(node, "a module-level value must be a compile-time constant",
                    "use int/float literals, tuples, or dim(\"NAME\") for a symbolic size")


def _attr_const(ctx, node):
    if isinstance(node.value, ast.Name) and isinstance(ctx.globals.get(node.value.id), ModuleRef):
        if node.attr in library.CONSTANTS:
            return float(library.CONSTANTS[node.attr])
    return None


def _call_name(ctx, func):
    if isinstance(func, ast.Name):
        v = ctx.globals.get(func.id)
        return v.name if isinstance(v, LangName) else None
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
            and isinstance(ctx.globals.get(func.value.id), ModuleRef):
        return func.attr
    return None


# -- entry points ----------------------------------------------------------------------
def entry_points(ctx: Context) -> list[ast.FunctionDef]:
    """Public functions whose arguments are all annotated."""
    out = []
    for name, fn in ctx.functions.items():
        args = fn.args.args + fn.args.kwonlyargs
        if not name.startswith("_") and args and all(a.annotation is not None for a in args):
            out.append(fn)
    return out


def _annotation(ctx: Context, arg: ast.arg):
    ann = arg.annotation
    if isinstance(ann, ast.Name) and ann.id in ("float", "int"):
        return ann.id, ()
    if isinstance(ann, ast.Subscript) and isinstance(ann.value, ast.Name):
        kind = ctx.globals.get(ann.value.id)
        if isinstance(kind, LangName) and kind.name in ROLES:
            elts = ann.slice.elts if isinstance(ann.slice, ast.Tuple) else [ann.slice]
            return ROLES[kind.name], tuple(_dim(ctx, e) for e in elts)
    raise ctx.error(ann or arg, f"argument '{arg.arg}' has an annotation adc does not know",
                    "annotate with Param[...], Data[...], Index[...] (imported from adc.lang), "
                    "float or int")


def _dim(ctx: Context, node):
    value = _const_eval(ctx, node)
    if isinstance(value, bool) or not (isinstance(value, int) or
                                       (isinstance(value, sp.Expr) and value.is_integer)):
        raise ctx.error(node, "a size must be an int, an int constant or a dim(\"NAME\")")
    if isinstance(value, int) and value < 1:
        raise ctx.error(node, f"a size must be positive, got {value}")
    return sp.sympify(value)


def lower_function(ctx: Context, fn: ast.FunctionDef, wrt=()) -> Program:
    """Lower one entry point to an IR program."""
    builder = Builder(ctx.reserved)
    env, args = {}, []
    defaults = _defaults(fn)
    for a in fn.args.args + fn.args.kwonlyargs:
        role, shape = _annotation(ctx, a)
        default = defaults.get(a.arg)
        if default is not None and role in ROLES.values():
            raise ctx.error(default, f"tensor argument '{a.arg}' cannot have a default")
        dval = _const_eval(ctx, default) if default is not None else None
        args.append(Arg(a.arg, role, shape, dval, default is not None))
        if role in ("float", "int"):
            env[a.arg] = as_value(sp.Symbol(a.arg, integer=True) if role == "int"
                                  else sp.Symbol(a.arg))
            continue
        t = builder.add_tensor(a.arg, shape, "int" if role == "index" else "float", role)
        env[a.arg] = builder.view(t)
    for name in wrt:
        if not any(a.name == name for a in args):
            raise ctx.error(fn, f"--wrt {name}: '{fn.name}' has no argument '{name}'")
    lowerer = _Lowerer(ctx, builder)
    result = lowerer.run_body(fn.body, env, fn)
    outputs = lowerer.outputs(result, fn)
    dims = {}
    for a in args:
        for s in a.shape:
            for sym in sorted(s.free_symbols, key=str):
                dims.setdefault(str(sym), sym)
    wrt_list = [a.name for a in args if a.role == "param" or (a.name in wrt)]
    for name in wrt:
        a = next(a for a in args if a.name == name)
        if a.role not in ("param", "data"):
            raise ctx.error(fn, f"--wrt {name}: only Param and Data arguments can be "
                            "differentiated")
    return Program(fn.name, args, builder.tensors, builder.stmts, outputs, dims, wrt_list,
                   list(dict.fromkeys(builder.index_bounds)), fn.lineno, ctx.path)


def _defaults(fn):
    pos = fn.args.args
    out = dict(zip([a.arg for a in pos[len(pos) - len(fn.args.defaults):]], fn.args.defaults))
    for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults):
        if d is not None:
            out[a.arg] = d
    return out


class _Return(Exception):
    def __init__(self, value):
        self.value = value


class _Lowerer:
    """Walks statements and expressions of one entry point (helpers inlined)."""

    def __init__(self, ctx: Context, builder: Builder):
        self.ctx = ctx
        self.b = builder
        self.depth = 0

    # -- statements --------------------------------------------------------------
    def run_body(self, body, env, fn):
        try:
            for stmt in body:
                self.statement(stmt, env)
        except _Return as r:
            return r.value
        raise self.ctx.error(fn, f"function '{fn.name}' does not return a value",
                             "end it with a return statement")

    def statement(self, node, env):
        self.b.origin = Origin(node.lineno, self.ctx.lines[node.lineno - 1].strip())
        if type(node) in _UNSUPPORTED:
            raise self.ctx.error(node, _UNSUPPORTED[type(node)])
        if isinstance(node, ast.Assign):
            value = self.expr(node.value, env)
            for target in node.targets:
                self.assign(target, value, env)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            self.assign(node.target, self.expr(node.value, env), env)
        elif isinstance(node, ast.AugAssign):
            if not isinstance(node.target, ast.Name):
                raise self.ctx.error(node, "augmented assignment needs a plain name on the left")
            current = self.expr(node.target, env)
            value = self.binop(node, current, self.expr(node.value, env), node.op)
            self.assign(node.target, value, env)
        elif isinstance(node, ast.Return):
            if node.value is None:
                raise self.ctx.error(node, "return needs a value")
            raise _Return(self.expr(node.value, env))
        elif isinstance(node, ast.For):
            self.for_loop(node, env)
        elif isinstance(node, ast.If):
            cond = self.expr(node.test, env)
            if isinstance(cond, Value) or isinstance(cond, sp.Basic) and cond.free_symbols:
                raise self.ctx.error(node.test, "data-dependent `if`: the condition is not "
                                     "known at compile time",
                                     "use where(cond, a, b) to choose between tensors")
            for s in (node.body if cond else node.orelse):
                self.statement(s, env)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            return
        elif isinstance(node, ast.Pass):
            return
        elif isinstance(node, ast.Expr):
            raise self.ctx.error(node, "an expression statement has no effect in a model",
                                 "assign the result to a name or return it")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            raise self.ctx.error(node, "imports belong at the top of the model file")
        elif isinstance(node, ast.FunctionDef):
            raise self.ctx.error(node, "nested functions are not supported",
                                 "define helper functions at the top level of the file")
        else:
            raise self.ctx.error(node, f"`{type(node).__name__}` statements are not supported "
                                 "in a model", "use assignments, for-range loops, if on "
                                 "constants, and return")

    def for_loop(self, node, env):
        it = node.iter
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name)
                and it.func.id == "range" and not isinstance(env.get("range"), Value)):
            raise self.ctx.error(it, "only `for NAME in range(K)` loops are supported")
        if node.orelse:
            raise self.ctx.error(node, "for-else is not supported")
        bounds = [self.expr(a, env) for a in it.args]
        for a, v in zip(it.args, bounds):
            if isinstance(v, bool) or not isinstance(v, int):
                raise self.ctx.error(a, "the loop bound must be a compile-time int",
                                     "use an int literal or module-level int constant; "
                                     "loops are unrolled")
        if not isinstance(node.target, ast.Name):
            raise self.ctx.error(node.target, "the loop variable must be a plain name")
        for k in range(*bounds):
            env[node.target.id] = k
            for s in node.body:
                self.statement(s, env)

    def assign(self, target, value, env):
        if isinstance(target, ast.Name):
            if isinstance(value, Value) and not value.tensor and value.kind != "bool":
                value = self.b.materialize(value, target.id)
            env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            if not isinstance(value, tuple) or len(value) != len(target.elts):
                raise self.ctx.error(target, "cannot unpack: the right side is not a tuple of "
                                     f"{len(target.elts)} values")
            for t, v in zip(target.elts, value):
                self.assign(t, v, env)
        else:
            raise self.ctx.error(target, "only names can be assigned to",
                                 "tensors are immutable: build a new one with where(), "
                                 "concatenate() or stack()")

    def outputs(self, result, fn):
        values = result if isinstance(result, tuple) else (result,)
        names = []
        for k, v in enumerate(values):
            if not isinstance(v, (Value, int, float, sp.Expr)):
                raise self.ctx.error(fn, "an entry point must return tensors or numbers")
            v = as_value(v)
            hint = "out" if len(values) == 1 else f"out{k}"
            force = v.tensor is None or self.b.tensors[v.tensor].role != "temp" \
                or v.tensor in names
            names.append(self.b.materialize(v, hint, force=force).tensor)
        return names

    # -- expressions ---------------------------------------------------------------
    def expr(self, node, env):
        if type(node) in _UNSUPPORTED:
            raise self.ctx.error(node, _UNSUPPORTED[type(node)])
        method = getattr(self, "expr_" + type(node).__name__, None)
        if method is None:
            raise self.ctx.error(node, f"`{type(node).__name__}` expressions are not supported "
                                 "in a model")
        try:
            return method(node, env)
        except Located as exc:
            raise self.ctx.error(node, exc.message, exc.hint) from None

    def expr_Constant(self, node, env):
        if isinstance(node.value, (int, float, str, bool)) or node.value is None:
            return node.value
        raise self.ctx.error(node, f"constant {node.value!r} is not supported")

    def expr_Name(self, node, env):
        if node.id in env:
            return env[node.id]
        g = self.ctx.globals.get(node.id)
        if g is not None:
            if isinstance(g, LangName) and g.name in library.CONSTANTS:
                return library.CONSTANTS[g.name]
            return g
        if node.id in BUILTIN_TRAPS:
            raise self.ctx.error(node, f"the builtin `{node.id}` is Python's, not adc's",
                                 f"import it: `from adc.lang import {node.id}` (Python's "
                                 f"builtin {node.id} of a matrix is not what you want)")
        if node.id in ("range", "len", "float", "int", "tuple"):
            return node.id
        raise self.ctx.error(node, f"unknown name '{node.id}'",
                             "define it, pass it as an argument, or import it from adc.lang")

    def expr_Tuple(self, node, env):
        return tuple(self.expr(e, env) for e in node.elts)

    expr_List = expr_Tuple

    def expr_Attribute(self, node, env):
        base = self.expr(node.value, env)
        if isinstance(base, ModuleRef):
            if base.kind == "adc" and node.attr == "lang":
                return ModuleRef("lang")
            if node.attr in library.CONSTANTS:
                return library.CONSTANTS[node.attr]
            name = library.ALIASES.get(node.attr, node.attr)
            if name in library.FUNCTIONS or name in ROLES or name == "dim":
                return LangName(name)
            raise self.ctx.error(node, f"'{node.attr}' is not a function adc supports",
                                 "see the language reference for the supported functions")
        if isinstance(base, Value):
            if node.attr == "T":
                return library.transpose(self.b, base)
            if node.attr == "shape":
                return tuple(int(s) if s.is_Integer else s for s in base.shape)
            if node.attr == "ndim":
                return base.rank
        raise self.ctx.error(node, f"attribute '.{node.attr}' is not supported",
                             "only .T and .shape (and np./math. functions) are allowed")

    def expr_Subscript(self, node, env):
        base = self.expr(node.value, env)
        index = self.expr(node.slice, env)
        if isinstance(base, tuple):
            if isinstance(index, int):
                return base[index]
            raise self.ctx.error(node, "a tuple can only be indexed with an int constant")
        if isinstance(base, Value):
            from .indexing import subscript
            return subscript(self.b, base, index)
        raise self.ctx.error(node, "this value cannot be indexed")

    def expr_Slice(self, node, env):
        parts = [self.expr(p, env) if p is not None else None
                 for p in (node.lower, node.upper, node.step)]
        return slice(*parts)

    def expr_UnaryOp(self, node, env):
        v = self.expr(node.operand, env)
        if isinstance(node.op, ast.USub):
            return -v if not isinstance(v, Value) else elementwise(lambda x: -x, v)
        if isinstance(node.op, ast.UAdd):
            return v
        if isinstance(node.op, ast.Not) and not isinstance(v, Value):
            return not v
        raise self.ctx.error(node, "this unary operator is not supported on tensors")

    def expr_BinOp(self, node, env):
        return self.binop(node, self.expr(node.left, env), self.expr(node.right, env), node.op)

    def binop(self, node, a, b, op):
        if isinstance(op, ast.MatMult):
            return library.matmul(self.b, a, b)
        if type(op) not in _BINOPS:
            raise self.ctx.error(node, f"operator {type(op).__name__} is not supported")
        fn = _BINOPS[type(op)]
        if not isinstance(a, Value) and not isinstance(b, Value):
            if isinstance(a, (int, float, sp.Expr)) and isinstance(b, (int, float, sp.Expr)):
                return _const_binop(fn, a, b)
            raise self.ctx.error(node, "unsupported operand types for this operator")
        if type(op) in (ast.FloorDiv, ast.Mod):
            raise self.ctx.error(node, "// and % are only supported on compile-time ints")
        return elementwise(lambda x, y: fn(x, y), a, b)

    def expr_Compare(self, node, env):
        if len(node.ops) != 1:
            raise self.ctx.error(node, "chained comparisons are not supported")
        a, b = self.expr(node.left, env), self.expr(node.comparators[0], env)
        op = type(node.ops[0])
        if op not in _CMPOPS:
            raise self.ctx.error(node, "this comparison is not supported")
        py, sym = _CMPOPS[op]
        if not isinstance(a, Value) and not isinstance(b, Value):
            return py(a, b)
        return elementwise(lambda x, y: sym(x, y), a, b, kind="bool")

    def expr_BoolOp(self, node, env):
        values = [self.expr(v, env) for v in node.values]
        if any(isinstance(v, Value) for v in values):
            raise self.ctx.error(node, "and/or work only on compile-time values",
                                 "combine tensor conditions with nested where()")
        return all(values) if isinstance(node.op, ast.And) else any(values)

    def expr_Call(self, node, env):
        func = self.expr(node.func, env)
        args = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise self.ctx.error(a, "*args in calls is not supported")
            args.append(self.expr(a, env))
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise self.ctx.error(kw, "**kwargs in calls is not supported")
            kwargs[kw.arg] = self.expr(kw.value, env)
        if isinstance(func, Helper):
            return self.inline(node, func.node, args, kwargs)
        if isinstance(func, LangName):
            if func.name not in library.FUNCTIONS:
                raise self.ctx.error(node, f"'{func.name}' cannot be called inside a function")
            try:
                return library.FUNCTIONS[func.name](self.b, *args, **kwargs)
            except TypeError as exc:
                raise self.ctx.error(node, f"bad arguments to {func.name}(): {exc}") from None
        if func == "len" and len(args) == 1 and isinstance(args[0], Value):
            s = args[0].shape[0]
            return int(s) if s.is_Integer else s
        if func in ("float", "int") and len(args) == 1 and not isinstance(args[0], Value):
            return (float if func == "float" else int)(args[0])
        if func == "range":
            raise self.ctx.error(node, "range() can only be used in `for i in range(K)`")
        raise self.ctx.error(node, "this is not a function adc can call",
                             "call language functions from adc.lang or functions of this file")

    def inline(self, node, fn: ast.FunctionDef, args, kwargs):
        if self.depth > 20:
            raise self.ctx.error(node, f"helper '{fn.name}' calls itself too deeply",
                                 "recursion is not supported")
        params = [a.arg for a in fn.args.args]
        if len(args) > len(params):
            raise self.ctx.error(node, f"{fn.name}() takes {len(params)} arguments, "
                                 f"{len(args)} given")
        env = dict(zip(params, args))
        defaults = _defaults(fn)
        for name in params + [a.arg for a in fn.args.kwonlyargs]:
            if name in kwargs:
                env[name] = kwargs.pop(name)
            elif name not in env:
                if name not in defaults:
                    raise self.ctx.error(node, f"{fn.name}() is missing argument '{name}'")
                env[name] = self.expr(defaults[name], {})
        if kwargs:
            raise self.ctx.error(node, f"{fn.name}() got unexpected argument "
                                 f"'{next(iter(kwargs))}'")
        saved = self.b.origin
        self.depth += 1
        try:
            return self.run_body(fn.body, env, fn)
        finally:
            self.depth -= 1
            self.b.origin = saved


def _const_binop(fn, a, b):
    if isinstance(a, sp.Expr) or isinstance(b, sp.Expr):
        if fn is operator.floordiv:
            return sp.floor(sp.sympify(a) / b)
        if fn is operator.truediv:
            return to_expr(a) / to_expr(b)
        return fn(to_expr(a), to_expr(b))
    return fn(a, b)
