"""The one place that hands out names: tensors, loop indices, adjoints, kernel locals, module names.

Two scopes need names that cannot collide:

- inside a kernel: the user's tensors, sizes, scalar arguments and loop indices live
  beside the kernel's own locals (`acc`, `dtype`, `tmp0`, ...) and the globals it calls
  (`np`, `math`, `sigmoid`, `range`): `kernel_names(program)` renames every identifier of
  a program so that all of them are distinct and none is reserved, keeping the user's
  own name wherever it is free;
- at module level: the generated functions of every entry point (`f`, `f_grad`, `_f_vjp`,
  `f_Grads`, ...), the helpers and imports. `ModuleNames` hands them out; a public name
  that two things want is a user error, a private one is renamed.
"""
from __future__ import annotations

import builtins
import keyword
import re
from dataclasses import replace

import sympy as sp

from .backends import vmath
from .ir import Program, Stmt, tensor_base

# Names a kernel (CPU or CUDA, device or host code) uses for itself.
KERNEL_LOCALS = {
    "dtype", "acc", "arg", "value", "best", "chunk", "chunks", "flat",
    # CUDA kernels and launchers
    "thread", "lane", "flat", "rem", "partial", "partial_arg", "step", "kernels", "common",
    "other", "mine",
    "sizes", "real",
}
# Globals that kernel code refers to.
KERNEL_GLOBALS = {
    "np", "math", "njit", "prange", "cuda", "float32", "float64", "int64", "SimpleNamespace",
    "namedtuple", "_grid", "_zeros", "_gemm", "_blas_dot",
} | vmath.NAMES
PYTHON_NAMES = set(keyword.kwlist) | set(dir(builtins))
# The builtins kernel code calls (printed `max(a, b)`, `abs(x)`, loops over `range`).
KERNEL_BUILTINS = {"range", "len", "max", "min", "abs", "float", "int", "bool", "round",
                   "pow", "print", "sum"}
_CSE_TEMP = re.compile(r"tmp\d*$")
# the CPU kernels' scratch rows of split reductions (backends/numba_cpu.py)
_TERMS = re.compile(r"terms\d*$")
# ... and the per-chunk partial sums of threaded nests
_PARTIALS = re.compile(r"partials\d*$")


def reserved_in_kernels(helper_names=()) -> set:
    """Every name a user identifier must not take inside a kernel."""
    return KERNEL_LOCALS | KERNEL_GLOBALS | KERNEL_BUILTINS | set(keyword.kwlist) | \
        set(helper_names)


class Namer:
    """Unique names in one scope: `fresh(hint)` is `hint` itself when free, else `hint_2`..."""

    def __init__(self, taken=(), reserved=(), patterns=(_CSE_TEMP, _TERMS, _PARTIALS)):
        self.taken = set(taken)
        self.reserved = set(reserved)
        self.patterns = tuple(patterns)
        self._next = {}

    def free(self, name: str) -> bool:
        return (name not in self.taken and name not in self.reserved
                and not any(p.match(name) for p in self.patterns))

    def fresh(self, hint: str) -> str:
        hint = hint if hint.isidentifier() else "t"
        name = hint if self.free(hint) else f"{hint}_"
        k = self._next.get(hint, 1)      # where the last search for this hint stopped
        while not self.free(name):
            k += 1
            name = f"{hint}_{k}"
        self._next[hint] = k
        self.taken.add(name)
        return name


FREE_LOOPS = ("i", "j", "k", "l", "m", "n", "o", "p")
REDUCED_LOOPS = ("r", "s", "t", "u", "v", "w", "q", "z")


def loop_symbols(rank: int, reduced=False, avoid=()) -> list:
    """Loop index symbols i, j, k, ... (r, s, t, ... for reductions), skipping `avoid`."""
    base = REDUCED_LOOPS if reduced else FREE_LOOPS
    pool = [n for n in base if n not in avoid] or [f"{base[0]}{k}" for k in range(rank)]
    names = [pool[d] if d < len(pool) else f"{pool[0]}{d}" for d in range(rank)]
    return [sp.Symbol(n, integer=True) for n in names]


# -- kernel scope ---------------------------------------------------------------------
def kernel_names(prog: Program, helper_names=()) -> Program:
    """`prog` with every tensor, size, scalar and loop index renamed to a distinct,
    unreserved identifier (the user's name where it is free).

    Arguments keep their user name in `Arg.name` (the public signature); `Arg.ident` is the
    name inside kernels. User-visible names are placed first, so they win over generated
    ones: a tensor `value` becomes `value_`, a loop index that meets a size `i` moves on.
    """
    namer = Namer(reserved=reserved_in_kernels(helper_names))
    tensors, symbols = {}, {}
    scalar_args = {a.ident: a for a in prog.args if a.role in ("float", "int")}

    def rename_symbol(sym):
        if sym not in symbols:
            symbols[sym] = sp.Symbol(namer.fresh(sym.name), **sym.assumptions0)

    for a in prog.args:     # the user's own names first
        if a.role in ("float", "int"):
            rename_symbol(a.symbol())
        else:
            tensors[a.ident] = namer.fresh(a.ident)
    for sym in sorted(prog.dims.values(), key=str):
        rename_symbol(sym)
    for name in prog.tensors:
        if name not in tensors:
            tensors[name] = namer.fresh(name)
    for st in prog.stmts:
        for sym, _ in st.all_loops:
            rename_symbol(sym)
    return _renamed(prog, tensors, symbols, scalar_args)


def _renamed(prog: Program, tensors: dict, symbols: dict, scalar_args: dict) -> Program:
    # only what changes: rebuilding an expression whose names all stay is wasted work
    mapping = {old: new for old, new in symbols.items() if old != new}
    mapping.update({tensor_base(old): tensor_base(new) for old, new in tensors.items()
                    if old != new})

    def sub(e):
        return sp.sympify(e).xreplace(mapping)

    def shape(s):
        return tuple(sub(d) for d in s)

    new_tensors = {tensors[n]: replace(t, name=tensors[n], shape=shape(t.shape))
                   for n, t in prog.tensors.items()}
    stmts = [_renamed_stmt(st, tensors, sub) for st in prog.stmts]
    args = []
    for a in prog.args:
        if a.role in ("float", "int"):
            ident = symbols[scalar_args[a.ident].symbol()].name
        else:
            ident = tensors[a.ident]
        args.append(replace(a, ident=ident, shape=shape(a.shape)))
    dims = {name: symbols.get(sym, sym) for name, sym in prog.dims.items()}
    bounds = [(tensors.get(n, n), sub(b)) for n, b in prog.index_bounds]
    return replace(prog, args=args, tensors=new_tensors, stmts=stmts,
                   outputs=[tensors[o] for o in prog.outputs], dims=dims,
                   index_bounds=bounds)


def _renamed_stmt(st: Stmt, tensors: dict, sub) -> Stmt:
    return st.with_(target=tensors[st.target],
                    target_index=tuple(sub(i) for i in st.target_index),
                    loops=tuple((sub(s), sub(e)) for s, e in st.loops),
                    rloops=tuple((sub(s), sub(e)) for s, e in st.rloops),
                    body=sub(st.body),
                    argmax=tensors[st.argmax] if st.argmax else None)


# -- module scope ---------------------------------------------------------------------
# What every generated module defines at its top level, whatever the model.
MODULE_FIXED = {"ADC_VERSION", "SOURCE_SHA256", "SIGNATURES", "PREDICTIONS", "CUDA_KERNELS",
                "math", "np",
                "njit", "prange", "get_num_threads", "namedtuple", "cuda", "float32", "float64",
                "int64", "SimpleNamespace", "_blas_dot"} | vmath.NAMES
# The keyword arguments generated functions take beside the user's arguments.
CALL_KEYWORDS = {"cotangent", "tangents", "vector"}


class ModuleNames:
    """Module-level names: public ones (the contract) must be unique, private ones are
    renamed away from every public name and every argument name of every entry point
    (a wrapper's parameter would shadow a global it calls)."""

    def __init__(self, entry_args=(), reserved=()):
        self.public: dict[str, str] = {}          # name -> what it is, for messages
        self.private = Namer(reserved=PYTHON_NAMES | MODULE_FIXED | set(entry_args)
                             | set(reserved), patterns=())

    def claim(self, name: str, what: str):
        """Take a public name; returns the description of whatever has it already."""
        if name in MODULE_FIXED or name in PYTHON_NAMES:
            return "a name the generated module itself defines or uses"
        if name in self.public:
            return self.public[name]
        self.public[name] = what
        self.private.taken.add(name)
        return None

    def fresh(self, hint: str) -> str:
        return self.private.fresh(hint)


def defined_names(*texts) -> set:
    """The top-level functions and variables a block of template source defines."""
    found = set()
    for text in texts:
        for m in re.finditer(r"^(?:def (\w+)|(\w+) =)", text, re.M):
            found.add(m.group(1) or m.group(2))
    return found


__all__ = ["Namer", "kernel_names", "ModuleNames", "defined_names", "reserved_in_kernels",
           "loop_symbols"]
