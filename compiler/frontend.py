"""Frontend: a model file's Python `ast` -> one IR `Program` per entry point.

The file is parsed, never imported or executed. Names resolve the way Python would
resolve them when the file runs eagerly; everything outside the language is a
`CompileError` with file:line:col, the source line, a caret and a hint.
"""
from __future__ import annotations

import ast
import difflib
import inspect
import operator
import re
from dataclasses import replace

import sympy as sp

from . import library, loops, spellings
from .aliasing import ARGUMENT_ROLES, Views, viewed_argument
from .errors import AdcError, CompileError, Located
from .ir import Arg, Origin, Program, reads
from .names import CALL_KEYWORDS
from .values import Builder, ListLiteral, Value, as_value, elementwise, same_size, to_expr

LANG_MODULES = ("adc.lang",)
_KEYWORD_OWNER = {"cotangent": "vjp", "tangents": "jvp", "vector": "hvp"}
BUILTIN_TRAPS = ("sum", "max", "min", "abs")
ROLES = {"Param": "param", "Data": "data", "Index": "index"}

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.Pow: operator.pow, ast.FloorDiv: operator.floordiv,
           ast.Mod: operator.mod}
_CMPOPS = {ast.Gt: (operator.gt, sp.StrictGreaterThan), ast.GtE: (operator.ge, sp.GreaterThan),
           ast.Lt: (operator.lt, sp.StrictLessThan), ast.LtE: (operator.le, sp.LessThan),
           ast.Eq: (operator.eq, sp.Eq), ast.NotEq: (operator.ne, sp.Ne)}
_COMPREHENSION = ("comprehensions are not supported",
                  "use tensor operations (broadcasting, sum(..., axis=...), stack) or a "
                  "`for i in range(K)` loop")
# Constructs outside the language: (message, what to write instead).
_UNSUPPORTED = {
    ast.While: ("while loops are not supported",
                "use `for i in range(K)` with a compile-time K"),
    ast.Try: ("try/except is not supported in a model",
              "remove it: a model cannot catch errors; check shapes with annotations"),
    ast.With: ("with-blocks are not supported in a model",
               "remove the with-statement and keep its body"),
    ast.Global: ("global is not supported",
                 "read module-level constants directly, or pass the value as an argument"),
    ast.Nonlocal: ("nonlocal is not supported", "pass the value as an argument"),
    ast.Lambda: ("lambda is not supported", "define a helper function with def"),
    ast.ListComp: _COMPREHENSION,
    ast.SetComp: _COMPREHENSION,
    ast.DictComp: _COMPREHENSION,
    ast.GeneratorExp: _COMPREHENSION,
    ast.ClassDef: ("classes are not supported in a model",
                   "write plain functions at the top level of the file"),
    ast.Delete: ("del is not supported",
                 "remove it; give the next value a new name instead"),
    ast.Assert: ("assert is not supported in a model",
                 "state shapes in the annotations (Param[N, D]); they are checked at call time"),
    ast.Raise: ("raise is not supported in a model",
                "state shapes in the annotations; the generated code checks its inputs"),
    ast.IfExp: ("conditional expressions (a if c else b) are not supported",
                "use where(cond, a, b), or an `if` statement on a compile-time condition"),
    ast.JoinedStr: ("f-strings are not supported in a model", "remove the string"),
    ast.AsyncFunctionDef: ("async functions are not supported", "use a plain def"),
    ast.Dict: ("dicts are not supported in a model",
               "use separate names, or a tuple of tensors"),
    ast.Set: ("sets are not supported in a model", "use a tuple"),
    ast.NamedExpr: ("assignment expressions (:=) are not supported",
                    "assign with a separate `name = value` statement"),
    ast.Yield: ("yield is not supported: a model function is not a generator",
                "return the value (or a tuple of values)"),
    ast.YieldFrom: ("yield is not supported: a model function is not a generator",
                    "return the value (or a tuple of values)"),
    ast.Await: ("await is not supported in a model", "call the function directly"),
}


class LangName:
    """A name that resolves to a language function or constant (`adc.lang.x`, `np.x`)."""

    def __init__(self, name, module="adc.lang"):
        self.name = library.ALIASES.get(name, name)
        self.module = module


class ModuleRef:
    """An imported module: adc.lang, numpy or math."""

    def __init__(self, kind):
        self.kind = kind


class BoundMethod:
    """`x.sum` before its call: an entry of library.METHODS with its tensor."""

    def __init__(self, name, base):
        self.name = name
        self.base = base


class IndexTrick:
    """np.r_ / np.c_: NumPy's concatenations written as subscripts (np.r_[a, b])."""

    def __init__(self, name):
        self.name = name


class Helper:
    """A function of the same file, inlined at each call."""

    def __init__(self, node):
        self.node = node


class Context:
    """What the whole file defines: constants, dims, imports, functions."""

    def __init__(self, path, source, tree):
        self.path = path
        self.lines = source_lines(source)
        self.tree = tree
        self.globals: dict = {}
        self.functions: dict[str, ast.FunctionDef] = {}
        self.reserved = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        self.reserved |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments)
                          for a in n.args + n.kwonlyargs}

    def error(self, node, message, hint=""):
        """A CompileError at `node` (an ast node or a `Where`), caret under its first char."""
        line = getattr(node, "lineno", 0) or 0
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        col = _char_column(text, getattr(node, "col_offset", 0) or 0) + 1
        return CompileError(message, path=self.path, line=line, col=col, source_line=text,
                            hint=hint)


class Where:
    """A source position that is not an ast node (an operator, an attribute's name)."""

    def __init__(self, lineno, col_offset):
        self.lineno = lineno
        self.col_offset = col_offset


def source_lines(source: str) -> list[str]:
    """The lines as Python numbers them: only \\n, \\r\\n and \\r end a line.

    (str.splitlines also breaks at form feeds and other separators, which would shift
    every later line number.)
    """
    return re.split(r"\r\n|\r|\n", source)


def _char_column(text: str, byte_offset: int) -> int:
    """ast columns count UTF-8 bytes; a caret needs characters."""
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))


def _operator_position(ctx: Context, left, right):
    """Where the operator between two operands is: the first character after `left` that
    is not a space, a closing parenthesis or a comment; None when it cannot be found."""
    line, col = left.end_lineno, left.end_col_offset
    while line is not None and line <= right.lineno:
        data = ctx.lines[line - 1].encode("utf-8") if 0 < line <= len(ctx.lines) else b""
        stop = right.col_offset if line == right.lineno else len(data)
        for k in range(col, stop):
            ch = data[k:k + 1]
            if ch == b"#":
                break
            if ch not in (b" ", b"\t", b")", b"\\"):
                return Where(line, k)
        line, col = line + 1, 0
    return None


# -- module level ---------------------------------------------------------------------
def parse_module(path: str, source: str) -> Context:
    """Check the top level of a model file and collect its definitions."""
    if "\x00" in source:
        before = source[:source.index("\x00")]
        line = before.count("\n") + 1
        col = len(before) - (before.rfind("\n") + 1) + 1
        text = source_lines(source)[line - 1]
        raise CompileError("the model file contains a NUL byte", path=path, line=line,
                           col=col, source_line=text.replace("\x00", " "),
                           hint="remove it: a model file must be Python text")
    try:
        tree = ast.parse(source, filename=path)
    except (MemoryError, RecursionError):
        lines = source_lines(source)
        line = max(range(len(lines)), key=lambda k: len(lines[k])) + 1
        raise CompileError("this file is nested too deeply for Python's parser (Python "
                           "itself cannot compile it)", path=path, line=line, col=1,
                           source_line=lines[line - 1][:200],
                           hint="split the expression into several statements") from None
    except SyntaxError as exc:
        lines = source_lines(source)
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
        _check_def(ctx, node)
        ctx.functions[node.name] = node
        ctx.globals[node.name] = Helper(node)
    elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
            and isinstance(node.value.value, str):
        return  # docstring
    elif isinstance(node, ast.If) and _is_main_guard(node.test):
        return  # `if __name__ == "__main__":` is for eager runs; never compiled
    elif isinstance(node, (ast.Assign, ast.AnnAssign)):
        _module_assign(ctx, node)
    elif isinstance(node, (ast.ClassDef, ast.AsyncFunctionDef)):
        raise ctx.error(node, *_UNSUPPORTED[type(node)])
    else:
        # The compiler never runs the file, so top-level code would silently not
        # happen at compile time; reject it instead of ignoring it.
        raise ctx.error(node, "top-level code is not allowed in a model file: only imports, "
                        "constants, dims and function definitions (adc never runs the file)",
                        "move this code into a function, or under `if __name__ == "
                        "\"__main__\":` for eager runs")


def _check_def(ctx: Context, fn: ast.FunctionDef):
    """Function features the inliner and the entry-point wrappers cannot honour."""
    if fn.decorator_list:
        raise ctx.error(fn.decorator_list[0], "decorators are not supported in a model",
                        "remove the decorator; adc compiles the plain function")
    args = fn.args
    if args.vararg or args.kwarg:
        star = args.vararg or args.kwarg
        stars = "*" if star is args.vararg else "**"
        raise ctx.error(star, f"{stars}{star.arg} is not supported in a model function",
                        "list every argument by name")
    if args.posonlyargs:
        raise ctx.error(args.posonlyargs[0], "positional-only arguments (/) are not supported",
                        "remove the `/` from the argument list")


def _is_main_guard(test) -> bool:
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
            and test.left.id == "__name__")


_IMPORTABLE = {"adc.lang": "lang", "numpy": "numpy", "math": "math"}
_IMPORT_HINT = ("a model file may import only adc.lang, numpy and math (and the compiler "
                "never runs the file); move other code out of the model")


def _import(ctx: Context, node):
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name not in _IMPORTABLE:
                raise ctx.error(alias, f"cannot import '{alias.name}' in a model file",
                                _IMPORT_HINT)
            if alias.asname is None and alias.name == "adc.lang":
                ctx.globals["adc"] = ModuleRef("adc")
            else:
                ctx.globals[alias.asname or alias.name] = ModuleRef(_IMPORTABLE[alias.name])
        return
    mod = "." * node.level + (node.module or "")
    if mod == "adc" and all(a.name == "lang" for a in node.names):
        for a in node.names:
            ctx.globals[a.asname or a.name] = ModuleRef("lang")
        return
    if mod not in _IMPORTABLE:
        raise ctx.error(node, f"cannot import from '{mod}' in a model file", _IMPORT_HINT)
    for a in node.names:
        if a.name == "*":
            if mod != "adc.lang":
                raise ctx.error(a, f"star imports are only allowed from adc.lang, not {mod}",
                                f"import {mod} by name (import {mod}) or list the names")
            for name in list(library.FUNCTIONS) + list(library.CONSTANTS) + \
                    ["Param", "Data", "Index", "dim"]:
                ctx.globals[name] = LangName(name)
            continue
        if mod == "adc.lang" and not _lang_has(a.name):
            raise ctx.error(a, f"adc.lang has no name '{a.name}'",
                            "see the language reference for the functions adc.lang provides")
        ctx.globals[a.asname or a.name] = LangName(a.name, mod)


def _lang_has(name) -> bool:
    import adc.lang  # our own NumPy reference module: importing it runs no user code
    return (library.ALIASES.get(name, name) in library.FUNCTIONS or name in library.CONSTANTS
            or name in ROLES or name == "dim" or hasattr(adc.lang, name))


def _module_assign(ctx: Context, node):
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    if node.value is None:
        raise ctx.error(node, "a module-level annotation needs a value",
                        "give it a value, e.g. D: int = 64")
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
    elif isinstance(target, (ast.Tuple, ast.List)):
        n = f"{len(value)} values" if isinstance(value, tuple) else "not a tuple"
        raise ctx.error(target, f"cannot unpack: {len(target.elts)} names on the left, but "
                        f"the right side is {n}",
                        "use as many names as the right side has values")
    else:
        raise ctx.error(target, "only plain names can be assigned at module level",
                        "e.g. D = 64 or N = dim(\"N\")")


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
        return _dim_symbol(ctx, node)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _const_eval(ctx, node.operand)
        if isinstance(value, (str, tuple)):
            raise ctx.error(node, f"cannot negate {_article(_kind_name(value))}",
                            "only numbers can be negated")
        return -value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        a, b = _const_eval(ctx, node.left), _const_eval(ctx, node.right)
        if isinstance(node.op, ast.Pow) and isinstance(a, int) and isinstance(b, int) \
                and not isinstance(a, bool) and abs(a) > 1 and b > 64:
            raise ctx.error(_operator_position(ctx, node.left, node.right) or node,
                            f"{a} ** {b} is too large: adc computes with 64-bit integers",
                            "use a float if you need a large number")
        try:
            return _BINOPS[type(node.op)](a, b)
        except (ArithmeticError, TypeError) as exc:
            raise ctx.error(_operator_position(ctx, node.left, node.right) or node,
                            f"cannot compute this constant: {exc}",
                            "module-level values must be numbers, tuples or sizes") from None
    if isinstance(node, ast.Attribute):
        v = _attr_const(ctx, node)
        if v is not None:
            return v
    if isinstance(node, ast.Name) and node.id not in ctx.globals:
        raise ctx.error(node, f"unknown name '{node.id}' in a compile-time constant",
                        f"define it above at module level, e.g. {node.id} = 16 or "
                        f"{node.id} = dim(\"{node.id}\")")
    raise ctx.error(node, "this value must be a compile-time constant (adc does not run "
                    "the file to compute it)",
                    "use int/float literals, tuples, or dim(\"NAME\") for a symbolic size")


def _dim_symbol(ctx, node):
    """dim("N") or dim(name="N"): a positive integer size."""
    for kw in node.keywords:
        if kw.arg != "name":
            raise ctx.error(kw, f"dim() has no argument '{kw.arg}'" if kw.arg else
                            "dim() takes one name as a string", "e.g. N = dim(\"N\")")
    args = node.args + [kw.value for kw in node.keywords]
    if len(args) == 1 and isinstance(args[0], ast.Constant) \
            and isinstance(args[0].value, str) and args[0].value.isidentifier():
        return sp.Symbol(args[0].value, integer=True, positive=True)
    raise ctx.error(node, "dim() takes one name as a string", "e.g. N = dim(\"N\")")


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
    """Public functions whose arguments are all annotated.

    When there is none but a public function has some annotations, the user most likely
    forgot one: point at it rather than report an empty file.
    """
    out = []
    for name, fn in ctx.functions.items():
        args = fn.args.args + fn.args.kwonlyargs
        if not name.startswith("_") and args and all(a.annotation is not None for a in args):
            out.append(fn)
    if not out:
        for name, fn in ctx.functions.items():
            args = fn.args.args + fn.args.kwonlyargs
            missing = [a for a in args if a.annotation is None]
            if not name.startswith("_") and missing and len(missing) < len(args):
                raise ctx.error(missing[0], f"no entry point: argument '{missing[0].arg}' of "
                                f"'{name}' has no annotation",
                                "a public function is an entry point when every argument is "
                                "annotated with Param[...], Data[...], Index[...], float or int")
    return out


_ANNOTATION_HINT = ("annotate with Param[...], Data[...], Index[...] (imported from "
                    "adc.lang), float or int; e.g. W: Param[D, H], y: Index[N], lr: float")


def _role_of(ctx: Context, node):
    """'Param'/'Data'/'Index' when `node` names one of them (bare or as lang.Param)."""
    if isinstance(node, ast.Name):
        v = ctx.globals.get(node.id)
        return v.name if isinstance(v, LangName) and v.name in ROLES else None
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
            and isinstance(ctx.globals.get(node.value.id), ModuleRef) and node.attr in ROLES:
        return node.attr
    return None


def _annotation(ctx: Context, arg: ast.arg):
    ann = arg.annotation
    if isinstance(ann, ast.Name) and ann.id in ("float", "int"):
        return ann.id, ()
    if isinstance(ann, ast.Subscript) and _role_of(ctx, ann.value):
        role = _role_of(ctx, ann.value)
        if isinstance(ann.slice, ast.Slice):
            raise ctx.error(ann.slice, f"{role}[...] takes sizes, not a slice",
                            f"write the sizes separated by commas, e.g. {role}[N, 3]")
        elts = ann.slice.elts if isinstance(ann.slice, ast.Tuple) else [ann.slice]
        return ROLES[role], tuple(_dim(ctx, e) for e in elts)
    text = ast.unparse(ann)
    if _role_of(ctx, ann) or isinstance(ann, ast.Call) and _role_of(ctx, ann.func):
        role = _role_of(ctx, ann) or _role_of(ctx, ann.func)
        raise ctx.error(ann, f"argument '{arg.arg}': {role} needs its shape in square "
                        f"brackets", f"write {role}[N, D], or {role}[()] for a scalar")
    base = ann.value if isinstance(ann, ast.Subscript) else ann
    if isinstance(base, ast.Name) and base.id in ROLES and base.id not in ctx.globals:
        raise ctx.error(ann, f"argument '{arg.arg}': {base.id} is not imported",
                        f"add `from adc.lang import {base.id}` at the top of the file")
    raise ctx.error(ann, f"argument '{arg.arg}' has annotation `{text}`, which adc does not "
                    "know", _ANNOTATION_HINT)


def _dim(ctx: Context, node):
    if isinstance(node, (ast.List, ast.Tuple)):
        raise ctx.error(node, "a size cannot be a list or tuple",
                        "write the sizes directly, separated by commas: Param[N, 3]")
    value = _const_eval(ctx, node)
    if isinstance(value, bool) or not (isinstance(value, int) or
                                       (isinstance(value, sp.Expr) and value.is_integer)):
        raise ctx.error(node, f"a size must be an int, an int constant or a dim(\"NAME\"), "
                        f"not {value!r}", "e.g. Param[N, 3] with N = dim(\"N\")")
    if isinstance(value, int) and value < 1:
        raise ctx.error(node, f"a size must be positive, got {value}",
                        "use Param[()] for a scalar")
    return sp.sympify(value)


def _default_value(ctx: Context, arg: ast.arg, role, node):
    """The compile-time default of a float/int argument (tensors have none)."""
    if role in ROLES.values():
        raise ctx.error(node, f"tensor argument '{arg.arg}' cannot have a default",
                        "remove the default; the caller passes the array")
    value = _const_eval(ctx, node)
    ok = (isinstance(value, (int, float)) if role == "float" else isinstance(value, int)) \
        and not isinstance(value, bool)
    if not ok:
        raise ctx.error(node, f"the default of {role} argument '{arg.arg}' must be "
                        f"{'a number' if role == 'float' else 'an int'}, not {value!r}",
                        f"e.g. {arg.arg}: {role} = {'0.5' if role == 'float' else '2'}")
    return value


# The losses whose first argument is the model's prediction (f_predict).
PREDICTING_LOSSES = ("cross_entropy", "binary_cross_entropy_with_logits", "multiclass_hinge",
                     "mse")


class _Prediction(Exception):
    """Raised when lowering for f_predict reaches the loss: its prediction argument."""

    def __init__(self, value, loss, target):
        super().__init__(loss)
        self.value, self.loss, self.target = value, loss, target


def lower_prediction(ctx: Context, fn: ast.FunctionDef, scan=True):
    """`f_predict`: the entry point lowered up to its loss call, returning the loss's
    first argument, with only the arguments that it reads (the targets drop out).
    None when the entry point calls none of PREDICTING_LOSSES."""
    if not any(_calls_a_predicting_loss(f) for f in ctx.functions.values()):
        return None                     # without lowering the whole body once more
    return lower_function(ctx, fn, predicting=True, scan=scan)


def _calls_a_predicting_loss(fn) -> bool:
    for node in ast.walk(fn):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else getattr(f, "attr", None)
            if name in PREDICTING_LOSSES:
                return True
    return False


def lower_function(ctx: Context, fn: ast.FunctionDef, wrt=(), predicting=False,
                   scan=True) -> Program:
    """Lower one entry point to an IR program (see lower_prediction for `predicting`;
    `scan=False` unrolls every loop, see loops.py). A loop kept as a loop changes what
    later statements see (a carried float is a tensor after it): if the entry point
    then fails to lower, it is lowered again with every loop unrolled, and an error is
    the unrolled lowering's, as if scans did not exist."""
    if scan:
        try:
            return _lower_function(ctx, fn, wrt, predicting, True)
        except CompileError as exc:
            if not 0 < getattr(exc, "scanned_steps", 0) <= RETRY_STEPS:
                raise     # no loop was kept (the same error again), or too long to unroll
    return _lower_function(ctx, fn, wrt, predicting, False)


# The longest kept loops (steps in all) an entry point is lowered again unrolled for, to
# report an error as the unrolled lowering would: beyond, the scanned lowering's error.
RETRY_STEPS = 2000


def _lower_function(ctx: Context, fn: ast.FunctionDef, wrt, predicting, scan) -> Program:
    builder = Builder(ctx.reserved)
    try:
        return _lower_with(ctx, fn, wrt, predicting, scan, builder)
    except CompileError as exc:
        exc.scanned_steps = builder.scanned_steps
        raise


def _lower_with(ctx, fn, wrt, predicting, scan, builder) -> Program:
    builder.predicting = predicting
    builder.scan_loops = scan
    env, args = {}, []
    defaults = _defaults(fn)
    kwonly = {a.arg for a in fn.args.kwonlyargs}
    for a in fn.args.args + fn.args.kwonlyargs:
        if a.arg in CALL_KEYWORDS:
            raise ctx.error(a, f"an entry point's argument cannot be named '{a.arg}': the "
                            f"generated {fn.name}_{_KEYWORD_OWNER[a.arg]} takes a keyword "
                            f"argument of that name", f"rename it, e.g. {a.arg}_")
        role, shape = _annotation(ctx, a)
        default = defaults.get(a.arg)
        dval = _default_value(ctx, a, role, default) if default is not None else None
        ident = a.arg
        if role in ("float", "int"):
            arg = Arg(a.arg, role, shape, dval, default is not None, a.arg in kwonly, ident)
            env[a.arg] = replace(as_value(arg.symbol()), number=True)
        else:
            t = builder.add_tensor(a.arg, shape, "int" if role == "index" else "float", role)
            env[a.arg] = builder.view(t)
            arg = Arg(a.arg, role, shape, dval, default is not None, a.arg in kwonly, t.name)
        args.append(arg)
    for name in wrt:
        if not any(a.name == name for a in args):
            raise ctx.error(fn, f"--wrt {name}: '{fn.name}' has no argument '{name}'",
                            "name a Data argument of the entry point")
    lowerer = _Lowerer(ctx, builder)
    try:
        result = lowerer.run_body(fn.body, env, fn)
    except _Prediction as found:
        return _prediction_program(ctx, fn, builder, args, found)
    if predicting:
        return None
    outputs = lowerer.outputs(result, fn)
    dims = {}
    for a in args:
        for s in a.shape:
            for sym in sorted(s.free_symbols, key=str):
                dims.setdefault(str(sym), sym)
    alone = {s for a in args for s in a.shape if isinstance(s, sp.Symbol)}
    for node, a in zip(fn.args.args + fn.args.kwonlyargs, args):
        for s in a.shape:
            missing = sorted((str(d) for d in s.free_symbols if d not in alone))
            if missing:
                raise ctx.error(node.annotation, f"size {missing[0]} appears only inside "
                                f"the expression {s}, so a call cannot tell its value",
                                f"give some argument an axis of size {missing[0]} itself, "
                                f"e.g. x: Data[{missing[0]}, ...]")
    wrt_list = [a.name for a in args if a.role == "param" or (a.name in wrt)]
    for a in fn.args.args + fn.args.kwonlyargs:
        if a.arg in wrt_list and a.arg.startswith("_"):
            raise ctx.error(a, f"a differentiated argument cannot be named '{a.arg}': its "
                            f"gradient is the field {a.arg} of the named tuple "
                            f"{fn.name}_Grads, and named-tuple fields cannot start with '_'",
                            f"rename it, e.g. {a.arg.lstrip('_') or 'x'}")
    for name in wrt:
        a = next(a for a in args if a.name == name)
        if a.role not in ("param", "data"):
            raise ctx.error(fn, f"--wrt {name}: only Param and Data arguments can be "
                            "differentiated", "name a Data argument of the entry point")
    return Program(fn.name, args, builder.tensors, builder.stmts, outputs, dims, wrt_list,
                   list(dict.fromkeys(builder.index_bounds)), fn.lineno, ctx.path)


def _prediction_program(ctx, fn, builder, args, found) -> Program:
    """The statements the prediction needs, and the arguments they read (or size)."""
    needed, stmts = {found.value}, []
    for st in reversed(builder.stmts):
        if st.target in needed or st.argmax in needed:
            stmts.append(st)
            needed |= reads(st) | {st.target} | ({st.argmax} if st.argmax else set())
    stmts.reverse()
    symbols = set().union(*(sp.sympify(st.body).free_symbols for st in stmts)) if stmts \
        else set()
    for st in stmts:
        for _, e in st.all_loops:
            symbols |= sp.sympify(e).free_symbols
    kept = [a for a in args if (a.ident in needed if a.is_tensor else a.symbol() in symbols)]
    for dim in sorted(symbols, key=str):      # a size must come from some argument
        if dim.is_integer and dim.is_positive and not any(dim in a.shape for a in kept):
            binder = next((a for a in args if dim in a.shape), None)
            if binder is not None:
                kept.append(binder)
    kept = [a for a in args if a in kept]
    tensors = {n: t for n, t in builder.tensors.items()
               if n in needed or any(n == a.ident for a in kept)}
    dims = {str(sym): sym for a in kept for s in a.shape for sym in s.free_symbols}
    wrt = [a.name for a in kept if a.role == "param"]
    bounds = [(t, b) for t, b in dict.fromkeys(builder.index_bounds) if t in tensors]
    target = next((a.name for a in args if a.ident == found.target), None)
    return Program(f"{fn.name}_predict", kept, tensors, stmts, [found.value], dims, wrt,
                   bounds, fn.lineno, ctx.path,
                   predicts={"of": fn.name, "loss": found.loss, "target": target})


def _defaults(fn):
    pos = fn.args.args
    out = dict(zip([a.arg for a in pos[len(pos) - len(fn.args.defaults):]], fn.args.defaults))
    for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults):
        if d is not None:
            out[a.arg] = d
    return out


class _Return(Exception):
    def __init__(self, value, node):
        self.value = value
        self.node = node


_PY_NAMES = ("range", "len", "float", "int", "tuple")
_LISTED = "docs/language.md lists the NumPy and math names adc accepts"


def _signature_text(name, fn) -> str:
    """`sum(x, axis=None, keepdims=False)`: a library function as the user calls it."""
    params = list(inspect.signature(fn).parameters.values())[1:]  # drop the builder
    return f"{name}({', '.join(str(p) for p in params)})"


def _method_params(spec) -> list:
    """The function's parameters that a method's arguments fill (after x and `fixed`)."""
    params = inspect.signature(library.FUNCTIONS[spec.function]).parameters
    return list(params)[2 + len(spec.fixed):]


def _method_usage(name, spec) -> str:
    """`x.sum(axis=None, keepdims=False)`: a method as the user calls it."""
    params = inspect.signature(library.FUNCTIONS[spec.function]).parameters
    shown, defaults = {new: old for old, new in spec.keywords}, dict(spec.defaults)
    params = [params[p].replace(name=shown.get(p, p), default=defaults.get(p, params[p].default))
              for p in _method_params(spec)]
    text = f"x.{name}({', '.join(str(p) for p in params)})"
    return text + (f" or x.{name}(d0, d1, ...)" if spec.packs else "")


def _helper_signature(fn: ast.FunctionDef) -> str:
    return f"{fn.name}({ast.unparse(fn.args)})"


def _shape_text(v) -> str:
    shape = tuple(v.shape) if isinstance(v, Value) else ()
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


class _Lowerer:
    """Walks statements and expressions of one entry point (helpers inlined)."""

    MAX_DEPTH = 20

    def __init__(self, ctx: Context, builder: Builder):
        self.ctx = ctx
        self.b = builder
        self.depth = 0
        self.calls: list[str] = []     # helpers being inlined, outermost first
        self.return_node = None        # the `return` that produced run_body's value
        self.envs: list[dict] = []     # the scopes being run, innermost last
        self.views = Views(builder.tensors)

    def error(self, node, message, hint=""):
        return self.ctx.error(node, message, hint)

    # -- statements --------------------------------------------------------------
    def run_body(self, body, env, fn):
        self.envs.append(env)
        try:
            for stmt in body:
                self.statement(stmt, env)
        except _Return as r:
            self.return_node = r.node
            return r.value
        finally:
            self.envs.pop()
        raise self.error(fn, f"function '{fn.name}' does not return a value",
                         "end it with a return statement")

    def statement(self, node, env):
        self.b.origin = Origin(node.lineno, self.ctx.lines[node.lineno - 1].strip())
        if type(node) in _UNSUPPORTED:
            raise self.error(node, *_UNSUPPORTED[type(node)])
        try:
            self._statement(node, env)
        except Located as exc:   # raised outside any expression (assignment, augmented op)
            raise self.error(node, exc.message, exc.hint) from None

    def _statement(self, node, env):
        if isinstance(node, ast.Assign):
            value = self.expr(node.value, env)
            for target in node.targets:
                self.assign(target, value, env)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            self.assign(node.target, self.expr(node.value, env), env)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Subscript):
            current = self.expr(node.target, env)      # y[k] += v is y[k] = y[k] + v
            value = self.binop(node, current, self.expr(node.value, env), node.op,
                               node.target, node.value)
            self.assign_item(node.target, value, env)
        elif isinstance(node, ast.AugAssign):
            if not isinstance(node.target, ast.Name):
                raise self.error(node.target, "augmented assignment needs a name or an "
                                 "indexed name on the left", "write y = y + ..., or "
                                 "y[i] += ... into an array of your own")
            current = self.expr(node.target, env)
            value = self.binop(node, current, self.expr(node.value, env), node.op,
                               node.target, node.value)
            if isinstance(current, Value) and self.views.is_array(current):
                self.check_in_place(node, current, value, env)
            self.assign(node.target, value, env)
        elif isinstance(node, ast.Return):
            if node.value is None:
                raise self.error(node, "return needs a value",
                                 "return a tensor, a number, or a tuple of them")
            raise _Return(self.expr(node.value, env), node)
        elif isinstance(node, ast.For):
            self.for_loop(node, env)
        elif isinstance(node, ast.If):
            self.if_statement(node, env)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            return
        elif isinstance(node, ast.Pass):
            return
        elif isinstance(node, ast.Expr) and self._is_add_at(node.value, env):
            self.add_at(node.value, env)
        elif isinstance(node, ast.Expr):
            if type(node.value) in _UNSUPPORTED:
                raise self.error(node.value, *_UNSUPPORTED[type(node.value)])
            raise self.error(node, "an expression statement has no effect in a model "
                             "(nothing is printed or stored)",
                             "assign the result to a name or return it")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            raise self.error(node, "imports belong at the top of the model file",
                             "move the import to the top level (only adc.lang, numpy, math)")
        elif isinstance(node, ast.FunctionDef):
            raise self.error(node, "nested functions are not supported",
                             "define helper functions at the top level of the file")
        else:
            raise self.error(node, f"`{type(node).__name__}` statements are not supported "
                             "in a model", "use assignments, for-range loops, if on "
                             "constants, and return")

    def check_in_place(self, node, current, value, env):
        """`x op= ...` writes into x's NumPy array: refuse what the eager run would do
        differently from `x = x op ...` (a write seen through another name, a new shape)."""
        name, op = node.target.id, _OP_SYMBOLS.get(type(node.op), "op")
        instead = f"write `{name} = {name} {op} ...` to make a new array"
        others = self.views.sharing(current, self.envs, name)
        if others:
            shown = ", ".join(f"'{o}'" for o in others)
            raise self.error(node, f"`{name} {op}= ...` changes {name}'s array in place, and "
                             f"in NumPy {shown} would change with it (a view or another "
                             "name of the same array); adc does not model writes through "
                             "views", instead)
        value = as_value(value)
        if value.rank != current.rank or \
                not all(same_size(a, b) for a, b in zip(value.shape, current.shape)):
            raise self.error(node, f"`{name} {op}= ...` would change the shape of {name} from "
                             f"{_shape_text(current)} to {_shape_text(value)}, which NumPy "
                             "cannot do in place", instead)

    def if_statement(self, node, env):
        cond = self.expr(node.test, env)
        if isinstance(cond, Value):
            raise self.error(node.test, "data-dependent `if`: the condition depends on "
                             "argument values, which are not known at compile time",
                             "use where(cond, a, b) to choose between values elementwise")
        if isinstance(cond, sp.Basic) and cond.free_symbols:
            names = ", ".join(sorted(str(x) for x in cond.free_symbols))
            raise self.error(node.test, "data-dependent `if`: the condition depends on "
                             f"{names}, known only when the function is called",
                             "use where(cond, a, b) to choose between values; `if` needs "
                             "a compile-time condition (constants, shapes, loop counters)")
        try:
            taken = bool(cond)
        except TypeError:
            raise self.error(node.test, "this `if` condition cannot be decided at compile "
                             "time", "use where(cond, a, b)") from None
        for s in (node.body if taken else node.orelse):
            self.statement(s, env)

    def for_loop(self, node, env):
        it = node.iter
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name)
                and it.func.id == "range" and not isinstance(env.get("range"), Value)):
            raise self.error(it, "only `for NAME in range(K)` loops are supported",
                             "loop over indices: for i in range(K), with a compile-time K")
        if node.orelse:
            raise self.error(node.orelse[0], "for-else is not supported",
                             "move the else-block after the loop")
        if not 1 <= len(it.args) <= 3 or it.keywords:
            raise self.error(it, "range() takes 1 to 3 positional arguments",
                             "range(stop), range(start, stop) or range(start, stop, step)")
        bounds = [self.expr(a, env) for a in it.args]
        for a, v in zip(it.args, bounds):
            if isinstance(v, bool) or not isinstance(v, int):
                why = ("it is known only when the function is called"
                       if isinstance(v, sp.Basic) and v.free_symbols or isinstance(v, Value)
                       else f"got {type(v).__name__}")
                raise self.error(a, f"the loop bound `{ast.unparse(a)}` must be a "
                                 f"compile-time int ({why})",
                                 "use an int literal or a module-level int constant: the "
                                 "number of steps is fixed at compile time")
        if len(bounds) == 3 and bounds[2] == 0:
            raise self.error(it.args[2], "range() step must not be zero",
                             "use a positive or negative int step")
        if not isinstance(node.target, ast.Name):
            raise self.error(node.target, "the loop variable must be a plain name",
                             "for i in range(K): unpacking is not supported")
        if loops.try_scan(self, node, env, range(*bounds)):
            return
        for k in range(*bounds):
            env[node.target.id] = k
            for s in node.body:
                self.statement(s, env)

    def assign(self, target, value, env):
        if isinstance(target, ast.Name):
            if isinstance(value, Value) and not value.tensor and value.kind != "bool":
                stored = replace(self.b.materialize(value, target.id), number=value.number)
                self.views.stored(value, stored)
                value = stored
            env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, Value) and value.rank >= 1:
                value = self._unpack(target, value)
            if not isinstance(value, tuple) or len(value) != len(target.elts):
                got = f"{len(value)} values" if isinstance(value, tuple) else "not a tuple"
                raise self.error(target, f"cannot unpack: {len(target.elts)} names on the "
                                 f"left, but the right side is {got}",
                                 "use as many names as the right side has values")
            for t, v in zip(target.elts, value):
                self.assign(t, v, env)
        elif isinstance(target, ast.Subscript):
            self.assign_item(target, value, env)
        else:
            raise self.error(target, "only names and indexed names can be assigned to",
                             "assign to a name (y = ...) or into an array of your own "
                             "(y[i] = ...)")

    def assign_item(self, target: ast.Subscript, value, env):
        """`y[key] = value`: y's name is bound to the array NumPy would hold afterwards."""
        if not isinstance(target.value, ast.Name):
            raise self.error(target.value, "assign into a named array: y[...] = v",
                             "give the array a name first (y = ...), then assign into it")
        name = target.value.id
        y = self.expr(target.value, env)
        if not isinstance(y, Value) or y.number or y.rank == 0:
            raise self.error(target.value, f"`{name}` is not an array that can be "
                             "assigned into (a number, a 0-d value or a tuple)",
                             f"rebind it instead: {name} = ...")
        if y.kind != "float":
            raise self.error(target.value, f"`{name}` holds integers or booleans: NumPy "
                             "would truncate the floats written into it",
                             "assign into a float array (zeros(shape), x.copy(), ...)")
        self._check_writable(target, name, y)
        index = self._index_of(target, env)
        value = as_value(value)
        if value.kind == "bool":
            raise self.error(target, "a comparison is not a number to store",
                             "use where(cond, a, b)")
        from .assignment import assign_item
        env[name] = assign_item(self.b, y, index, value, name)

    def _is_add_at(self, call, env) -> bool:
        """`np.add.at(...)`: NumPy's unbuffered in-place scatter-add."""
        f = call.func if isinstance(call, ast.Call) else None
        if not (isinstance(f, ast.Attribute) and f.attr == "at"
                and isinstance(f.value, ast.Attribute) and f.value.attr == "add"
                and isinstance(f.value.value, ast.Name)):
            return False
        module = env.get(f.value.value.id, self.ctx.globals.get(f.value.value.id))
        return isinstance(module, ModuleRef) and module.kind == "numpy"

    def add_at(self, call, env):
        """`np.add.at(y, index, v)` rebinds y to index_add(y, index, v), y being an array
        of the model's own (NumPy adds into it in place)."""
        if call.keywords or len(call.args) != 3:
            raise self.error(call, "np.add.at takes three positional arguments",
                             "np.add.at(y, index, v): y[index] += v, repeated indices "
                             "adding up")
        target = call.args[0]
        if not isinstance(target, ast.Name):
            raise self.error(target, "np.add.at adds into a named array",
                             "give the array a name first (y = ...), then np.add.at(y, ...)")
        y = self.expr(target, env)
        if not isinstance(y, Value) or y.number or y.rank == 0 or y.kind != "float":
            raise self.error(target, f"`{target.id}` is not a float array np.add.at can add "
                             "into", "add into a float array (zeros(shape), x.copy(), ...)")
        self._check_writable(call, target.id, y)
        index, v = (self.expr(a, env) for a in call.args[1:])
        try:
            env[target.id] = library.FUNCTIONS["index_add"](self.b, y, index, v)
        except Located as exc:
            raise self.error(call, exc.message.replace("index_add", "np.add.at"),
                             exc.hint) from None

    def _check_writable(self, target, name, y):
        """NumPy writes into y's buffer: refuse where that buffer is not y's alone."""
        root = self.views.root(y)
        if isinstance(root, str) and self.b.tensors[root].role in ARGUMENT_ROLES:
            raise self.error(target, f"`{name}[...] = ...` would write into the array the "
                             f"caller passed as `{root}`",
                             f"copy it first: {name} = {root}.copy() (or np.array({root})), "
                             "then assign into the copy")
        others = self.views.sharing(y, self.envs, name)
        if others:
            shown = ", ".join(f"'{o}'" for o in others)
            raise self.error(target, f"`{name}[...] = ...` writes into {name}'s array, and in "
                             f"NumPy {shown} would change with it (a view or another name "
                             "of the same array); adc does not model writes through views",
                             f"assign into a copy: {name} = {name}.copy() first")

    def _index_of(self, node: ast.Subscript, env):
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if any(isinstance(it, ast.List) for it in items):
            raise self.error(node.slice, "assignment through a list of indices is not "
                             "supported", "assign with ints and slices (y[2] = ..., "
                             "y[:, 1:3] = ...)")
        return self.expr(node.slice, env)

    def _unpack(self, target, value: Value) -> tuple:
        """`a, b, c = x`: the rows of x along its first axis, as NumPy iterates it."""
        from .indexing import subscript
        n = value.shape[0]
        if not n.is_Integer:
            raise self.error(target, f"cannot unpack a tensor whose first axis has the "
                             f"run-time size {n}", "index it instead: x[0], x[1], ...")
        if int(n) != len(target.elts):
            raise self.error(target, f"cannot unpack: {len(target.elts)} names on the left, "
                             f"but the tensor has {n} rows", "use as many names as rows")
        return tuple(subscript(self.b, value, k) for k in range(int(n)))

    def outputs(self, result, fn):
        where = self.return_node or fn
        values = result if isinstance(result, tuple) else (result,)
        names = []
        for k, v in enumerate(values):
            if isinstance(v, Value) and v.kind == "bool":
                raise self.error(where, "an entry point cannot return a comparison",
                                 "return where(cond, 1.0, 0.0) for a 0/1 tensor")
            if isinstance(v, bool) or not isinstance(v, (Value, int, float, sp.Expr)):
                what = "a nested tuple" if isinstance(v, tuple) else _article(_kind_name(v))
                raise self.error(where, "an entry point must return tensors or numbers "
                                 f"(or a flat tuple of them), not {what}",
                                 "return a tensor, or a tuple such as `return loss, logits`")
            v = as_value(v)
            hint = "out" if len(values) == 1 else f"out{k}"
            force = v.tensor is None or self.b.tensors[v.tensor].role != "temp" \
                or v.tensor in names
            try:
                names.append(self.b.materialize(v, hint, force=force).tensor)
            except Located as exc:
                raise self.error(where, exc.message, exc.hint) from None
        return names

    # -- expressions ---------------------------------------------------------------
    def expr(self, node, env):
        if type(node) in _UNSUPPORTED:
            raise self.error(node, *_UNSUPPORTED[type(node)])
        method = getattr(self, "expr_" + type(node).__name__, None)
        if method is None:
            raise self.error(node, f"`{type(node).__name__}` expressions are not supported "
                             "in a model", "see the language reference for the expressions "
                             "adc supports")
        try:
            return method(node, env)
        except Located as exc:
            raise self.error(node, exc.message, exc.hint) from None
        except (AdcError, _Return, _Prediction):
            raise
        except Exception as exc:
            # Never a raw traceback for a model: say where lowering failed. The cause stays
            # chained (`from exc`) for whoever debugs the compiler.
            raise self.error(node, f"adc cannot lower this expression ({type(exc).__name__}: "
                             f"{exc})", "check the operand types and shapes; if they look "
                             "right, this is a compiler bug: please report it") from exc

    def expr_Constant(self, node, env):
        if isinstance(node.value, (int, float, str, bool)) or node.value is None \
                or node.value is Ellipsis:
            return node.value
        raise self.error(node, f"constant {node.value!r} is not supported",
                         "use int or float numbers")

    def expr_Name(self, node, env):
        if node.id in env:
            return env[node.id]
        g = self.ctx.globals.get(node.id)
        if g is not None:
            if isinstance(g, LangName) and g.name in library.CONSTANTS:
                return library.CONSTANTS[g.name]
            return g
        if node.id in BUILTIN_TRAPS:
            raise self.error(node, f"`{node.id}` is Python's builtin here: import it from "
                             f"adc.lang", f"add `from adc.lang import {node.id}` (Python's "
                             f"builtin {node.id} of a matrix is not a scalar)")
        if node.id in _PY_NAMES:
            return node.id
        if library.ALIASES.get(node.id, node.id) in library.FUNCTIONS \
                or node.id in library.CONSTANTS:
            raise self.error(node, f"unknown name '{node.id}': it is not imported",
                             f"add `from adc.lang import {node.id}` at the top of the file")
        raise self.error(node, f"unknown name '{node.id}'",
                         "define it, pass it as an argument, or import it from adc.lang")

    def expr_Tuple(self, node, env):
        return tuple(self.expr(e, env) for e in node.elts)

    def expr_List(self, node, env):
        return ListLiteral(self.expr(e, env) for e in node.elts)

    def _attr_where(self, node):
        """The position of `.attr`'s name, for a caret under it."""
        if node.end_lineno is None:
            return node
        line = self.ctx.lines[node.end_lineno - 1].encode("utf-8") \
            if 0 < node.end_lineno <= len(self.ctx.lines) else b""
        col = node.end_col_offset - len(node.attr.encode("utf-8"))
        return Where(node.end_lineno, col) if line[col:node.end_col_offset] == \
            node.attr.encode("utf-8") else node

    def expr_Attribute(self, node, env):
        return self.attribute(node, self.attribute_base(node, env))

    def attribute_base(self, node, env):
        """What `node.attr` is taken of; `np.linalg.inv` is an error naming all of it."""
        inner = node.value
        if isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name) \
                and inner.value.id not in env:
            outer = self.ctx.globals.get(inner.value.id)
            if isinstance(outer, ModuleRef) and outer.kind in spellings.MODULES and \
                    f"{outer.kind}.{inner.attr}" not in spellings.MODULES and \
                    inspect.ismodule(getattr(spellings.MODULES[outer.kind], inner.attr, None)):
                raise self.submodule_error(node, inner, outer.kind)
        return self.expr(inner, env)

    def attribute(self, node, base, called=False):
        """`base.attr`; `called`: it is the function of a call (`x.sum(...)`)."""
        if isinstance(base, ModuleRef) and base.kind == "numpy" and node.attr in ("r_", "c_"):
            return IndexTrick(node.attr)
        if isinstance(base, ModuleRef) and base.kind in spellings.MODULES:
            return self.module_attribute(node, base.kind)
        if isinstance(base, ModuleRef):
            if base.kind == "adc" and node.attr == "lang":
                return ModuleRef("lang")
            if node.attr in library.CONSTANTS:
                return library.CONSTANTS[node.attr]
            name = library.ALIASES.get(node.attr, node.attr)
            other_linalg = base.kind == "numpy.linalg" and name not in library.LINALG_NAMES
            if not other_linalg and (name in library.FUNCTIONS or name in ROLES or
                                     name == "dim"):
                return LangName(name)
            raise self.error(self._attr_where(node), f"`{ast.unparse(node)}` is not a "
                             "function adc supports",
                             "see the language reference for the supported functions")
        if isinstance(base, Value) and base.number:
            raise self.error(self._attr_where(node), f"`{ast.unparse(node.value)}` is a "
                             f"Python number here (a float or int argument): it has no "
                             f"attribute '.{node.attr}'", "use it as a number; declare it as "
                             "Param[()] or Data[()] for a 0-d array")
        if isinstance(base, Value):
            if node.attr in library.METHODS:
                return BoundMethod(node.attr, base)
            if node.attr == "T":
                return self.views.note_view(library.transpose(self.b, base), base)
            if node.attr == "shape":
                return tuple(int(s) if s.is_Integer else s for s in base.shape)
            if node.attr == "ndim":
                return base.rank
            if node.attr == "size":
                n = sp.Mul(*base.shape)
                return int(n) if n.is_Integer else n
            raise self.error(self._attr_where(node), *_no_attribute(node.attr, called))
        raise self.error(self._attr_where(node), f"attribute '.{node.attr}' is not supported",
                         "only tensors have attributes (.T, .shape, ...), and modules "
                         "(np., math.) functions")

    def module_attribute(self, node, kind):
        """`np.X` / `math.X`: a language function or constant (compiler/spellings.py)."""
        if node.attr == "newaxis" and kind == "numpy":
            return None
        if f"{kind}.{node.attr}" in spellings.MODULES:      # np.linalg
            return ModuleRef(f"{kind}.{node.attr}")
        name = spellings.resolve(kind, node.attr)
        if name in library.CONSTANTS:
            return library.CONSTANTS[name]
        if name is not None:
            return LangName(name)
        raise self.unsupported_attribute(node, kind)

    def unsupported_attribute(self, node, kind):
        """Why `np.X` / `math.X` is not accepted, and the nearest name that is."""
        text, attr, module = ast.unparse(node), node.attr, getattr(spellings.MODULES[kind],
                                                                   node.attr, None)
        where = self._attr_where(node)
        if inspect.ismodule(module):
            return self.submodule_error(node, node, kind)
        if attr in spellings.MATH_NOT and kind == "math":
            return self.error(where, f"`{text}` rounds the quotient to the nearest integer "
                              "(IEEE remainder), unlike np.remainder",
                              "use mod(x, y) (np.mod: the sign of y) or fmod(x, y) (the "
                              "sign of x)")
        if kind == "numpy.linalg":
            return self.error(self._attr_where(node.value), f"`{text}`: adc has no functions "
                              "of numpy.linalg but norm", "compute it outside the model and "
                              f"pass it as Data, or write it with the language's functions "
                              f"({_LISTED})")
        name = library.ALIASES.get(attr, attr)
        if name in library.FUNCTIONS and module is None:
            return self.error(where, f"`{text}` is not {kind}'s: {name} is adc.lang's",
                              f"add `from adc.lang import {name}` and call {name}(...)")
        close = spellings.nearest(kind, attr)
        prefix = ast.unparse(node.value)
        guess = f"did you mean {' or '.join(f'`{prefix}.{c}`' for c in close)}? " \
            if close else ""
        return self.error(where, f"`{text}` is not a {'NumPy' if kind == 'numpy' else kind} "
                          "function adc accepts", f"{guess}{_LISTED}")

    def submodule_error(self, node, sub, kind):
        """`np.linalg.inv`, `np.random.rand`: NumPy's submodules are not in the language."""
        what = f"{kind}.{sub.attr}"
        return self.error(self._attr_where(sub), f"`{ast.unparse(node)}`: adc has no "
                          f"functions of {what}",
                          "random numbers are inputs: draw them outside the model and pass "
                          "them as Data" if what == "numpy.random" else
                          "compute it outside the model and pass it as Data, or write it "
                          f"with the language's functions ({_LISTED})")

    def expr_Subscript(self, node, env):
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        base = self.expr(node.value, env)
        if isinstance(base, IndexTrick):
            index = self.expr(node.slice, env)
            lower = library.r_ if base.name == "r_" else library.c_
            return lower(self.b, index if isinstance(node.slice, ast.Tuple) else (index,))
        if isinstance(base, Value) and any(isinstance(it, ast.List) for it in items):
            # a list of ints gathers, as in NumPy (x[[0, 2, 2]]), never a tuple of indices
            index = tuple(self._index_list(it, env) if isinstance(it, ast.List)
                          else self.expr(it, env) for it in items)
            index = index if isinstance(node.slice, ast.Tuple) else index[0]
        else:
            index = self.expr(node.slice, env)
        if isinstance(base, tuple):
            if isinstance(index, int) and not isinstance(index, bool):
                if not -len(base) <= index < len(base):
                    raise self.error(node.slice, f"index {index} is out of range for a tuple "
                                     f"of {len(base)} values",
                                     f"use an index from 0 to {len(base) - 1}")
                return base[index]
            raise self.error(node, "a tuple can only be indexed with an int constant",
                             "e.g. x.shape[0]")
        if isinstance(base, Value) and base.number:
            raise self.error(node, f"`{ast.unparse(node.value)}` is a Python number here (a "
                             "float or int argument, or arithmetic of them): it cannot be "
                             "indexed", "use it as a number; declare it as Param[()] or "
                             "Data[()] for a 0-d array")
        if isinstance(base, Value):
            from .indexing import subscript
            result = subscript(self.b, base, index)
            items = index if isinstance(index, tuple) else (index,)
            gather = any(isinstance(it, Value) for it in items)
            element = result.rank == 0 and all(isinstance(it, (int, sp.Expr)) for it in items)
            if not gather and not element:
                self.views.note_view(result, base)   # basic indexing: a view in NumPy
            return result
        raise self.error(node, f"{_article(_kind_name(base))} cannot be indexed",
                         "only tensors, tuples and .shape can be indexed")

    def _index_list(self, node, env) -> Value:
        """`[0, 2, -1]` as an index: a constant integer vector."""
        values = [self.expr(e, env) for e in node.elts]
        if not values or any(isinstance(v, bool) or not isinstance(v, int) for v in values):
            raise self.error(node, "a list used as an index must hold int constants",
                             "e.g. x[[0, 2, 2]]; pass computed indices as an Index[...] "
                             "argument")
        return Value((sp.Integer(len(values)),), "int",
                     lambda idx: constant_vector(values, idx[0]), constant=tuple(values))

    def expr_Slice(self, node, env):
        parts = [self.expr(p, env) if p is not None else None
                 for p in (node.lower, node.upper, node.step)]
        return slice(*parts)

    def expr_UnaryOp(self, node, env):
        v = self.expr(node.operand, env)
        if isinstance(v, bool) and not isinstance(node.op, ast.Not):
            v = int(v)   # -True is -1 in Python
        if isinstance(node.op, (ast.USub, ast.UAdd)) and \
                not isinstance(v, (Value, int, float, sp.Expr)):
            raise self.error(node, f"cannot negate {_article(_kind_name(v))}",
                             "only tensors and numbers have a sign")
        if isinstance(node.op, ast.USub):
            if not isinstance(v, Value):
                return -v
            return replace(elementwise(lambda x: -x, v), number=v.number)
        if isinstance(node.op, ast.UAdd):   # +x is a copy in NumPy
            if not isinstance(v, Value):
                return v
            return replace(elementwise(lambda x: x, v, kind=v.kind), number=v.number)
        if isinstance(node.op, ast.Not) and not isinstance(v, Value):
            return _decided(sp.Not(_as_condition(v))) if _symbolic(v) else not v
        raise self.error(node, "this unary operator is not supported on tensors",
                         "use where(cond, a, b) for logic on tensors")

    def expr_BinOp(self, node, env):
        return self.binop(node, self.expr(node.left, env), self.expr(node.right, env), node.op,
                          node.left, node.right)

    def binop(self, node, a, b, op, left, right):
        """a OP b; errors point at the operator (the operands may be long)."""
        where = _operator_position(self.ctx, left, right) or node
        try:
            return self._binop(a, b, op)
        except Located as exc:
            message = exc.message
            if isinstance(op, ast.MatMult):
                message = f"cannot compute {_shape_text(a)} @ {_shape_text(b)}: {message}"
            raise self.error(where, message, exc.hint) from None
        except _OperatorError as exc:
            raise self.error(where, exc.message, exc.hint) from None

    def _binop(self, a, b, op):
        symbol = _OP_SYMBOLS.get(type(op), type(op).__name__)
        if type(op) not in _BINOPS and not isinstance(op, ast.MatMult):
            raise _OperatorError(f"operator {symbol} is not supported",
                                 "use + - * / ** @ (and where() for conditions)")
        a, b = (int(v) if isinstance(v, bool) else v for v in (a, b))  # True is 1 in NumPy
        for v in (a, b):
            if isinstance(v, Value) and v.kind == "bool":
                raise _OperatorError(f"a comparison is not a number: it cannot be an operand "
                                     f"of {symbol}", "use where(cond, a, b) to turn a "
                                     "condition into numbers")
            if not isinstance(v, (Value, int, float, sp.Expr)):
                raise _OperatorError(f"unsupported operand for {symbol}: "
                                     f"{_kind_name(v)}",
                                     "operands must be tensors or numbers")
        if isinstance(op, ast.MatMult):
            return library.matmul(self.b, a, b)
        fn = _BINOPS[type(op)]
        if not isinstance(a, Value) and not isinstance(b, Value):
            return _const_binop(fn, a, b)
        if isinstance(op, ast.FloorDiv):
            raise _OperatorError(f"{symbol} is only supported on compile-time ints",
                                 "use floor(x / y) for tensors")
        if isinstance(op, ast.Pow):
            result = library.power(self.b, a, b)
        elif isinstance(op, ast.Mod):   # NumPy's % of arrays is np.mod
            result = library.FUNCTIONS["mod"](self.b, a, b)
        else:
            result = elementwise(lambda x, y: fn(x, y), a, b)
        number = all(v.number if isinstance(v, Value) else True for v in (a, b))
        return replace(result, number=number) if number else result

    def expr_Compare(self, node, env):
        if len(node.ops) != 1:
            raise self.error(node, "chained comparisons are not supported",
                             "compare one pair at a time, e.g. where(x > 0, where(x < 1, ...))")
        for side in (node.left, node.comparators[0]) if len(node.ops) == 1 and \
                isinstance(node.ops[0], (ast.Eq, ast.NotEq)) else ():
            if isinstance(side, ast.Name) and side.id not in env \
                    and isinstance(self.ctx.globals.get(side.id), sp.Symbol):
                raise self.error(side, f"`{side.id}` is a dim() object here: in NumPy it "
                                 "equals no number (the comparison is always False)",
                                 f"compare the size itself, e.g. x.shape[0] for an axis of "
                                 f"size {side.id}")
        a, b = self.expr(node.left, env), self.expr(node.comparators[0], env)
        op = type(node.ops[0])
        if op not in _CMPOPS:
            raise self.error(node, "this comparison is not supported",
                             "use < <= > >= == !=")
        py, sym = _CMPOPS[op]
        if not isinstance(a, Value) and not isinstance(b, Value):
            if isinstance(a, tuple) and isinstance(b, tuple) and op in (ast.Eq, ast.NotEq) \
                    and any(_symbolic(v) for v in a + b):
                # `X.shape == Y.shape` with sizes: equal where every size is equal
                same = len(a) == len(b) and _decided(sp.And(*[
                    sp.Eq(sp.sympify(u), sp.sympify(v)) for u, v in zip(a, b)]))
                return same if op is ast.Eq else _decided(sp.Not(same))
            if _symbolic(a) or _symbolic(b):
                # a loop step or a size: `t == 0` is a condition, never Python's
                # structural equality of two expressions (always False)
                return _decided(sym(sp.sympify(a), sp.sympify(b)))
            return py(a, b)
        return elementwise(lambda x, y: sym(x, y), a, b, kind="bool")

    def expr_BoolOp(self, node, env):
        values = [self.expr(v, env) for v in node.values]
        if any(isinstance(v, Value) for v in values):
            raise self.error(node, "and/or work only on compile-time values",
                             "combine tensor conditions with nested where()")
        if any(_symbolic(v) for v in values):
            combine = sp.And if isinstance(node.op, ast.And) else sp.Or
            return _decided(combine(*[_as_condition(v) for v in values]))
        return all(values) if isinstance(node.op, ast.And) else any(values)

    def expr_Call(self, node, env):
        f = node.func
        if isinstance(f, ast.Name) and f.id not in env and f.id not in self.ctx.globals \
                and f.id not in BUILTIN_TRAPS and f.id not in _PY_NAMES \
                and library.ALIASES.get(f.id, f.id) not in library.FUNCTIONS:
            raise self.error(f, f"unknown function '{f.id}'",
                             "define it with def at the top level of this file, or import "
                             "it from adc.lang")
        if isinstance(f, ast.Attribute):     # a method: x.sum() (or a module's np.sum())
            func = self.attribute(f, self.attribute_base(f, env), called=True)
        else:
            func = self.expr(f, env)
        args = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise self.error(a, "*args in calls is not supported",
                                 "pass the arguments one by one")
            args.append(self.expr(a, env))
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise self.error(kw, "**kwargs in calls is not supported",
                                 "pass the keyword arguments one by one")
            kwargs[kw.arg] = self.expr(kw.value, env)
        if isinstance(func, Helper):
            return self.inline(node, func.node, args, kwargs)
        if isinstance(func, LangName):
            return self.call_library(node, func, args, kwargs)
        if isinstance(func, BoundMethod):
            return self.call_method(node, func, args, kwargs)
        if func in ("len", "float", "int") and (len(args) != 1 or kwargs or
                                                (func == "len") != isinstance(args[0], Value)):
            raise self.error(node, f"{func}() is only supported as "
                             + ("len(tensor)" if func == "len" else f"{func}(number)"),
                             "len(x) is x.shape[0]" if func == "len" else
                             "tensors are float already; use where() or a comparison for "
                             "tests")
        if func == "len":
            if args[0].rank == 0:
                raise self.error(node, "len() of a scalar", "len(x) is x.shape[0]; x has "
                                 "no axes")
            s = args[0].shape[0]
            return int(s) if s.is_Integer else s
        if func in ("float", "int"):
            try:
                return (float if func == "float" else int)(args[0])
            except TypeError:
                raise self.error(node, f"{func}() of a size known only at run time",
                                 "use the size directly") from None
        if func == "range":
            raise self.error(node, "range() can only be used in `for i in range(K)`",
                             "use arange(n) for a vector of indices")
        raise self.error(node, f"`{ast.unparse(node.func)}` is not a function adc can call "
                         f"(it is {_article(_kind_name(func))})",
                         "call language functions from adc.lang or functions of this file")

    def call_method(self, node, method: BoundMethod, args, kwargs):
        """`x.name(...)`: the function of library.METHODS[name] with x first, arguments
        passed through (NumPy's spellings of them mapped onto the function's)."""
        name, spec = method.name, library.METHODS[method.name]
        usage = _method_usage(name, spec)
        arg_nodes = [node.func.value] + list(node.args)
        if spec.packs and len(args) > 1:
            args, arg_nodes = [tuple(args)], [node.func.value, node]
        elif len(args) > spec.positional:
            n = spec.positional
            raise self.error(node.args[n], f".{name}() takes "
                             + (f"at most {n} positional argument{'s' if n != 1 else ''}"
                                if n else "no positional arguments") + f", {len(args)} given",
                             f"pass the others by keyword: {usage}" if n else
                             f"call it as {usage}")
        renames = dict(spec.keywords)
        for kw in node.keywords:
            if kw.arg in set(renames.values()) - set(renames):
                raise self.error(kw, f".{name}() has no argument '{kw.arg}'",
                                 f"call it as {usage}")
        kwargs = {renames.get(k, k): v for k, v in kwargs.items()}
        params = _method_params(spec)
        for k, default in spec.defaults:
            if k not in kwargs and params.index(k) >= len(args):
                kwargs[k] = default
        return self.call_library(node, LangName(spec.function),
                                 [method.base, *spec.fixed, *args], kwargs, shown=f".{name}",
                                 usage=usage, arg_nodes=arg_nodes, view=spec.view)

    def call_library(self, node, func: LangName, args, kwargs, shown=None, usage=None,
                     arg_nodes=None, view=True):
        """A language function; a method call (call_method) names itself `shown` in
        messages, with `arg_nodes` the nodes of its arguments, x first."""
        if func.name not in library.FUNCTIONS:
            if func.name in ROLES or func.name == "dim":
                raise self.error(node, f"{func.name} is for annotations and module-level "
                                 "sizes; it cannot be called inside a function",
                                 f"annotate arguments instead: x: {func.name}[N, D]"
                                 if func.name in ROLES else "define sizes at module level")
            raise self.error(node, f"'{func.name}' (from {func.module}) is not a function "
                             "adc supports",
                             "see the language reference for the supported functions")
        lower = library.FUNCTIONS[func.name]
        shown = shown or func.name
        usage = usage or _signature_text(func.name, lower)
        if getattr(self.b, "predicting", False) and func.name in PREDICTING_LOSSES and args \
                and isinstance(args[0], Value):
            self._predicted(node, func.name, args)
        try:
            bound = inspect.signature(lower).bind(None, *args, **kwargs)
        except TypeError as exc:
            raise self._bad_call(node, shown, str(exc), usage, len(args)) from None
        self._no_comparisons(node, shown, bound, node.args if arg_nodes is None else arg_nodes)
        try:
            result = lower(self.b, *args, **kwargs)
            operands = bound.arguments.get("operands", ())
            viewed = viewed_argument(func.name, bound.arguments) if view else None
            if viewed is not None:              # NumPy returns a view of the argument
                for part in result if isinstance(result, tuple) else (result,):
                    self.views.note_view(part, viewed)
            elif func.name == "einsum" and len(operands) == 1:
                self.views.note_view(result, operands[0])
            return result
        except Located as exc:
            # Library messages say what is wrong; add what was passed when they lack a hint.
            given = [f"{name} of shape {_shape_text(v)}"
                     for name, v in list(bound.arguments.items())[1:] if isinstance(v, Value)]
            hint = exc.hint or (f"{shown}() was given {', '.join(given)}; " if given
                                else "") + f"call it as {usage}"
            raise self.error(node, exc.message, hint) from None
        except TypeError as exc:
            raise self.error(node, f"bad arguments to {shown}(): {exc}",
                             f"call it as {usage}") from None

    def _no_comparisons(self, node, fname, bound, arg_nodes):
        """A comparison is a number only as where()'s condition."""
        names = list(bound.signature.parameters)[1:]          # drop the builder
        where = dict(zip(names, arg_nodes))
        where.update({k.arg: k.value for k in node.keywords})
        for name, v in list(bound.arguments.items())[1:]:
            items = v if isinstance(v, tuple) else (v,)
            if fname == "where" and name == "cond":
                continue
            if any(isinstance(x, Value) and x.kind == "bool" for x in items):
                raise self.error(where.get(name, node), "a comparison is not a number: it "
                                 f"cannot be an argument of {fname}()", "use where(cond, a, "
                                 "b) to turn a condition into numbers")

    def _predicted(self, node, loss, args):
        """Stop lowering at the loss: its first argument is the prediction."""
        value = args[0]
        target = args[1].tensor if len(args) > 1 and isinstance(args[1], Value) else None
        if value.kind == "bool":
            return
        stored = self.b.materialize(value, "prediction", force=not value.tensor or
                                    self.b.tensors[value.tensor].role != "temp")
        raise _Prediction(stored.tensor, loss, target)

    def _bad_call(self, node, name, reason, usage, n_given):
        """A call whose arguments do not fit the signature: point at the culprit."""
        bad_kw = re.search(r"unexpected keyword argument '(\w+)'", reason)
        if bad_kw:
            kw = next(k for k in node.keywords if k.arg == bad_kw.group(1))
            return self.error(kw, f"{name}() has no argument '{kw.arg}'", f"call it as {usage}")
        if "too many positional" in reason or "takes" in reason:
            n_ok = n_given - 1
            m = re.search(r"takes (\d+)", reason)
            if m:
                n_ok = int(m.group(1)) - 1     # minus the builder
            first_extra = node.args[min(max(n_ok, 0), len(node.args) - 1)]
            return self.error(first_extra, f"{name}() takes at most {n_ok} positional "
                              f"argument{'s' if n_ok != 1 else ''}, {n_given} given",
                              f"call it as {usage}")
        missing = re.search(r"missing a required argument: '(\w+)'", reason)
        if missing:
            return self.error(node, f"{name}() is missing its argument '{missing.group(1)}'",
                              f"call it as {usage}")
        multiple = re.search(r"multiple values for argument '(\w+)'", reason)
        if multiple:
            return self.error(node, f"{name}() got two values for '{multiple.group(1)}'",
                              f"call it as {usage}")
        return self.error(node, f"bad arguments to {name}(): {reason}", f"call it as {usage}")

    def inline(self, node, fn: ast.FunctionDef, args, kwargs):
        usage = _helper_signature(fn)
        if self.depth >= self.MAX_DEPTH:
            chain = self.calls
            if fn.name not in chain:
                raise self.error(node, f"helpers nest more than {self.MAX_DEPTH} calls deep",
                                 "helpers are inlined at compile time; flatten the calls")
            start = len(chain) - 1 - chain[::-1].index(fn.name)
            cycle = " -> ".join(chain[start:] + [fn.name])
            raise self.error(node, f"helper '{fn.name}' calls itself ({cycle}): recursion "
                             "is not supported",
                             "helpers are inlined at compile time; write the repetition "
                             "as a `for i in range(K)` loop")
        params = [a.arg for a in fn.args.args]
        if len(args) > len(params):
            raise self.error(node.args[len(params)], f"{fn.name}() takes {len(params)} "
                             f"positional argument{'s' if len(params) != 1 else ''}, "
                             f"{len(args)} given", f"call it as {usage}")
        env = dict(zip(params, args))
        defaults = _defaults(fn)
        for name in params + [a.arg for a in fn.args.kwonlyargs]:
            if name in kwargs:
                if name in env:
                    raise self.error(node, f"{fn.name}() got two values for '{name}'",
                                     f"call it as {usage}")
                env[name] = kwargs.pop(name)
            elif name not in env:
                if name not in defaults:
                    raise self.error(node, f"{fn.name}() is missing its argument '{name}'",
                                     f"call it as {usage}")
                env[name] = self.expr(defaults[name], {})
        if kwargs:
            kw = next(k for k in node.keywords if k.arg in kwargs)
            raise self.error(kw, f"{fn.name}() has no argument '{kw.arg}'",
                             f"call it as {usage}")
        saved = self.b.origin
        self.depth += 1
        self.calls.append(fn.name)
        try:
            return self.run_body(fn.body, env, fn)
        finally:
            self.depth -= 1
            self.calls.pop()
            self.b.origin = saved


class _OperatorError(Exception):
    """An operator misuse found in `_binop`; `binop` locates it at the operator."""

    def __init__(self, message, hint=""):
        super().__init__(message)
        self.message = message
        self.hint = hint


_OP_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
               ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.BitAnd: "&",
               ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>"}


def _symbolic(x) -> bool:
    """A compile-time expression with symbols in it (a size, a loop kept as a loop's
    step): its truth is known only per call or per step."""
    return isinstance(x, sp.Basic) and bool(x.free_symbols)


def _as_condition(x):
    """x as a SymPy condition: an expression is true where it is non-zero (Python)."""
    if isinstance(x, sp.Basic) and not isinstance(x, sp.Expr):
        return x
    return sp.Ne(sp.sympify(x), 0)


def _decided(cond):
    """A Python bool where SymPy decides the condition, else the condition itself (an
    `if` on it is then a located error; where() takes it)."""
    if cond is sp.true or cond is sp.false:
        return bool(cond)
    return cond


# What to write instead of NumPy methods and attributes the language does not have.
_INSTEAD = {"astype": "tensors are float already (Index arguments are ints): remove "
                      ".astype(...)",
            "tolist": "a model computes with tensors: index them (x[0]) instead",
            "item": "a one-element tensor is a number already: use x[0] or sum(x)"}


def _no_attribute(attr, called):
    """(message, hint) for `x.attr` that is neither an attribute nor a method of adc's."""
    message = (f"`.{attr}()` is not a method adc supports" if called
               else f"attribute '.{attr}' is not supported")
    names = [f".{m}()" for m in library.METHODS] + [f".{a}" for a in library.ATTRIBUTES]
    near = difflib.get_close_matches(f".{attr}()" if called else f".{attr}", names,
                                     n=len(names), cutoff=0)
    hint = f"tensors have {', '.join(near)} (nearest first)"
    if attr in _INSTEAD:
        hint = f"{_INSTEAD[attr]}; {hint}"
    elif library.ALIASES.get(attr, attr) in library.FUNCTIONS:
        hint = f"call the function instead: {attr}(x, ...) from adc.lang; {hint}"
    return message, hint


def _article(noun: str) -> str:
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def _kind_name(v) -> str:
    if isinstance(v, Value):
        return "tensor"
    if isinstance(v, (Helper, LangName)):
        return "function"
    if isinstance(v, BoundMethod):
        return "method"
    if isinstance(v, IndexTrick):
        return f"np.{v.name}"
    if isinstance(v, ModuleRef):
        return "module"
    if isinstance(v, str) and v in _PY_NAMES:
        return f"builtin {v}()"
    if isinstance(v, (int, float, sp.Basic)) and not isinstance(v, bool):
        return "number"
    return {str: "string", tuple: "tuple", type(None): "None", bool: "bool",
            slice: "slice"}.get(type(v), type(v).__name__)


def constant_vector(values, i):
    """The element i of a constant int vector, as an expression of the index i."""
    expr = sp.Integer(values[-1])
    for k in range(len(values) - 2, -1, -1):
        expr = sp.Piecewise((sp.Integer(values[k]), sp.Eq(i, k)), (expr, True))
    return expr


def _const_binop(fn, a, b):
    if isinstance(a, sp.Expr) or isinstance(b, sp.Expr):
        if fn is operator.floordiv:
            return sp.floor(sp.sympify(a) / b)
        if fn is operator.truediv:
            return to_expr(a) / to_expr(b)
        return fn(to_expr(a), to_expr(b))
    try:
        return fn(a, b)
    except ZeroDivisionError:
        raise _OperatorError("division by zero in a compile-time expression",
                             "these numbers are computed when the model is compiled") from None
    except OverflowError:
        raise _OperatorError("a compile-time number overflows (it does not fit in a float)",
                             "use smaller constants") from None
