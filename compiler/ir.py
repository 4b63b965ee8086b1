"""The IR: a program is a list of indexed assignments over named tensors.

A statement reads

    target[target_index] (= | +=) reduce_{rloops} body

where `loops` are the free loop indices (with extents), `rloops` the reduced ones, and
`body` a small scalar SymPy expression whose leaves are tensor accesses
(`sympy.Indexed`) and scalar symbols. Rank-0 tensors are accessed as `t[0]`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace

import sympy as sp

REDUCTIONS = ("none", "sum", "max", "min")


@dataclass(frozen=True)
class Origin:
    """Where a statement came from in the model file."""

    line: int
    text: str


@dataclass(frozen=True)
class Tensor:
    """A named array: its shape (SymPy size expressions), element kind and role."""

    name: str
    shape: tuple
    kind: str = "float"          # 'float' | 'int'
    role: str = "temp"           # 'param' | 'data' | 'index' | 'temp' | 'grad' | 'argmax'
    zero_init: bool = False      # written piecewise: the buffer must start at zero

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def base(self) -> sp.IndexedBase:
        return tensor_base(self.name)


def tensor_name(acc: sp.Indexed) -> str:
    """The name of the tensor an access reads (`str(acc.base)` runs SymPy's printer)."""
    return acc.base.label.name


@functools.lru_cache(maxsize=None)
def tensor_base(name: str) -> sp.IndexedBase:
    """The IndexedBase of tensor `name`. Elements are real: SymPy then never splits
    tanh(tanh(x)) into real and imaginary parts (exponential in the nesting depth)."""
    return sp.IndexedBase(name, real=True)


@dataclass(frozen=True)
class Scan:
    """A statement's place in a loop kept as a loop: its first free loop is the step,
    run sequentially upwards (+1, the forward pass) or downwards (-1, its adjoint)."""

    direction: int
    origin: Origin | None = None     # the `for` line
    loop: int = 0                    # which lowered loop: a helper's loop, called twice,
    #                                  is two loops on one line

    def reversed(self) -> "Scan":
        return replace(self, direction=-self.direction)


@dataclass(frozen=True)
class Stmt:
    """One indexed assignment (see the module docstring)."""

    target: str
    target_index: tuple
    loops: tuple                 # ((Symbol, extent), ...) free loops, outermost first
    body: sp.Expr
    reduce: str = "none"
    rloops: tuple = ()           # ((Symbol, extent), ...) reduced loops
    accumulate: bool = False
    argmax: str | None = None    # max/min: int tensor receiving the flat arg index
    no_grad: bool = False        # a shift such as logsumexp's max: no gradient flows
    origin: Origin | None = None
    phase: str = "forward"       # 'forward' | 'backward' | 'tangent' | 'backward tangent'
    composite: str | None = None # the statements of one library function with its own
    custom: tuple | None = None  # reverse-mode rule (set on its last statement: see vjp)
    scan: "Scan | None" = None   # one step of a loop kept as a loop (see `scan_runs`)

    @property
    def all_loops(self) -> tuple:
        return self.loops + self.rloops

    def with_(self, **changes) -> "Stmt":
        return replace(self, **changes)


@dataclass(frozen=True)
class Arg:
    """An argument of a program: the user's, or a cotangent/tangent a transform adds.

    `name` is the public name (the wrapper's parameter); `ident` the tensor or scalar
    symbol that stands for it inside the program (the kernel's parameter).
    """

    name: str
    role: str                    # 'param' | 'data' | 'index' | 'float' | 'int'
    #                              | 'cotangent' | 'tangent' (added by vjp / jvp)
    shape: tuple = ()
    default: object = None
    has_default: bool = False
    kwonly: bool = False
    ident: str = ""

    def __post_init__(self):
        if not self.ident:
            object.__setattr__(self, "ident", self.name)

    @property
    def is_tensor(self) -> bool:
        return self.role not in ("float", "int")

    def symbol(self) -> sp.Symbol:
        """The SymPy symbol of a scalar argument."""
        return sp.Symbol(self.ident, integer=True) if self.role == "int" \
            else sp.Symbol(self.ident, real=True)


@dataclass
class Program:
    """One entry point, lowered: arguments, tensors, statements and outputs."""

    name: str
    args: list
    tensors: dict
    stmts: list
    outputs: list                # tensor names, one per returned value
    dims: dict = field(default_factory=dict)          # dim name -> Symbol
    wrt: list = field(default_factory=list)           # differentiated argument names
    index_bounds: list = field(default_factory=list)  # (index arg, size expr) to check
    line: int = 0
    source_file: str = ""
    predicts: dict | None = None  # f_predict: {"of": loss entry, "loss": fn, "target": arg}
    rewrites: list = field(default_factory=list)      # rewrite.Applied, in order
    adjoints: dict = field(default_factory=dict)      # vjp: tensor -> its adjoint tensor

    def tensor(self, name: str) -> Tensor:
        return self.tensors[name]

    def with_stmts(self, stmts, tensors=None) -> "Program":
        return replace(self, stmts=list(stmts), tensors=dict(tensors or self.tensors))


def accesses(expr) -> list:
    """Tensor accesses in an expression, in a deterministic order."""
    return list(_accesses(expr))


@functools.lru_cache(maxsize=65536)
def _accesses(expr) -> tuple:
    # cached: every pass asks for the accesses of the same bodies, and sorting them by
    # SymPy's sort key is the cost
    return tuple(sorted(nodes_of(expr, sp.Indexed), key=sp.default_sort_key))


def nodes_of(expr, kinds) -> set:
    """The subexpressions of `expr` that are instances of `kinds` (`expr.atoms(kinds)`
    visits the tree, and a derivative's body is a DAG whose shared subtrees a tree walk
    visits once per path: this visits each once)."""
    found, seen, todo = set(), set(), [expr]
    while todo:
        e = todo.pop()
        if isinstance(e, kinds):
            found.add(e)
        for a in e.args:
            if a.args and a not in seen:
                seen.add(a)
                todo.append(a)
            elif isinstance(a, kinds):
                found.add(a)
    return found


def scan_key(stmt: Stmt):
    """(step symbol, count, direction, for-line origin, loop number) of a scan
    statement, None for others."""
    if not stmt.scan:
        return None
    sym, count = stmt.loops[0]
    return sym, count, stmt.scan.direction, stmt.scan.origin, stmt.scan.loop


def scan_runs(stmts) -> list:
    """Consecutive statements grouped as [(key, [stmts])]: key None for ordinary ones,
    else `scan_key`. A run with a key is one sequential loop over its step symbol whose
    body runs the statements in order with that loop removed (`step_body`)."""
    out = []
    for st in stmts:
        key = scan_key(st)
        if out and out[-1][0] == key:
            out[-1][1].append(st)
        else:
            out.append((key, [st]))
    return out


def step_body(stmt: Stmt) -> Stmt:
    """A scan statement as one step of its loop: the step loop removed."""
    return stmt.with_(loops=stmt.loops[1:], scan=None)


def tensor_args(prog: "Program") -> list:
    """The arguments that are arrays, in signature order."""
    return [a for a in prog.args if a.is_tensor]


def reads(stmt: Stmt) -> set:
    """Names of the tensors a statement reads (index tensors inside indices included)."""
    names = {tensor_name(a) for a in accesses(stmt.body)}
    for ix in stmt.target_index:
        names |= {tensor_name(a) for a in accesses(sp.sympify(ix))}
    return names


def is_plain_target(stmt: Stmt) -> bool:
    """True when the target index is exactly the free loop symbols, in order."""
    return tuple(stmt.target_index) == tuple(s for s, _ in stmt.loops)


def access(tensor: Tensor, index) -> sp.Indexed:
    """`tensor[index]`, with rank-0 tensors stored as one-element arrays."""
    return _indexed(tensor.name, (0,) if tensor.rank == 0 else tuple(index))


@functools.lru_cache(maxsize=65536)
def _indexed(name: str, index: tuple) -> sp.Indexed:
    # cached: building an Indexed checks its indices' assumptions, and passes build the
    # same accesses (a tangent, an adjoint) over and over
    return tensor_base(name)[index]


def format_stmt(stmt: Stmt) -> str:
    """One line of index notation, e.g. `h[i, j] = relu(t[i, j] + b[j])`."""
    idx = ", ".join(str(i) for i in stmt.target_index) if stmt.target_index else "0"
    op = "+=" if stmt.accumulate else "="
    red = ""
    if stmt.reduce != "none" or stmt.rloops:
        kind = stmt.reduce if stmt.reduce != "none" else "sum"
        red = f"{kind}_{{{', '.join(f'{s}<{e}' for s, e in stmt.rloops)}}} "
    loops = ", ".join(f"{s}<{e}" for s, e in stmt.loops)
    over = f"    for {loops}" if loops else ""
    tag = "  [no grad]" if stmt.no_grad else ""
    if stmt.scan:
        tag += f"  [step {stmt.loops[0][0]} {'up' if stmt.scan.direction > 0 else 'down'}]"
    arg = f"  (argmax -> {stmt.argmax})" if stmt.argmax else ""
    return f"{stmt.target}[{idx}] {op} {red}{stmt.body}{over}{tag}{arg}"


def format_program(prog: Program) -> str:
    """The whole program as readable index notation, one statement a line."""
    lines = [f"# {prog.name}({', '.join(a.ident for a in prog.args)})"]
    for a in prog.args:
        if a.is_tensor:
            lines.append(f"#   {a.role:5s} {a.ident}{list(a.shape)}")
    last = None
    for st in prog.stmts:
        if st.origin and (st.origin.line, st.phase) != last:
            tag = "" if st.phase == "forward" else f" ({st.phase})"
            lines.append(f"# line {st.origin.line}{tag}: {st.origin.text}")
            last = (st.origin.line, st.phase)
        lines.append(format_stmt(st))
    lines.append(f"return {', '.join(prog.outputs)}")
    return "\n".join(lines)
