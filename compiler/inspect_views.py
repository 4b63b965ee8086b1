"""Human views of a compiled entry point: IR, adjoint program, formulas, graph (DOT)."""
from __future__ import annotations

import sympy as sp

from . import cost as cost_model
from . import names as naming
from .formulas import formulas as course_formulas
from .cse import Let, Reduction, cse
from .ir import accesses, format_program, format_stmt, reads
from .schedule import Gemm, schedule

# The passes whose result `adc inspect --after PASS` prints, in pipeline order.
PASSES = ("frontend", "inline", "rewrite", "vjp", "jvp", "hvp", "names", "schedule", "cse")


def ir(c) -> str:
    """The indexed assignments after inlining (what autodiff and the backends see)."""
    return format_program(c.program)


def _derived(prog, title, skip_forward=True, returns=None) -> str:
    """The statements a transform added (all statements with skip_forward=False)."""
    lines = [title]
    last = None
    for st in prog.stmts:
        if skip_forward and st.phase == "forward":
            continue
        if st.origin and (st.origin.line, st.phase) != last:
            lines.append(f"# line {st.origin.line} ({st.phase}): {st.origin.text}")
            last = (st.origin.line, st.phase)
        lines.append(format_stmt(st))
    lines.append("return " + (returns or ", ".join(prog.outputs)))
    return "\n".join(lines)


def grad(c) -> str:
    """The adjoint program: one `+=` statement per (forward statement, input) pair."""
    p, v = c.program, c.vjp
    cts = [a.ident for a in v.args if a.role == "cotangent"]
    seeds = ", ".join(f"{ct} = cotangent of {o}" for ct, o in zip(cts, p.outputs))
    grads = v.outputs[len(p.outputs):]
    mapping = ", ".join(f"{w} -> {g}" for w, g in zip(p.wrt, grads))
    return _derived(v, f"# gradient program of {p.name} (after its forward statements): "
                    f"{seeds}", returns=mapping)


def jvp(c) -> str:
    """The tangent program: each statement followed by its tangent (forward mode)."""
    j = c.programs["jvp"]
    ts = ", ".join(a.ident for a in j.args if a.role == "tangent")
    return _derived(j, f"# tangent program of {c.program.name}: inputs {ts}", False)


def hvp(c) -> str:
    """forward-over-reverse: the gradient program and its tangents."""
    if "hvp" not in c.programs:
        return f"# {c.program.name}: no Hessian-vector product (the output is not a scalar)"
    return _derived(c.programs["hvp"], f"# Hessian-vector program of {c.program.name} "
                    "(after its forward statements)")


def rewrites(c) -> str:
    """Each rule the rewrite pass applied, with the source line it applied to."""
    applied = list(c.program.rewrites) + [a for a in c.vjp.rewrites
                                          if a not in c.program.rewrites]
    lines = [f"# rewrites in {c.program.name}: {len(applied)}"]
    for a in applied:
        lines.append(f"line {a.line}: {a.rule}: {a.before}  ->  {a.after}"
                     + (f"    ({a.text})" if a.text else ""))
    return "\n".join(lines)


def cost(c, sizes=None) -> str:
    """Flops, bytes and memory of each mode; which mode computes a Jacobian cheaper."""
    return cost_model.report(c, sizes)


def after(c, pass_name: str, kind: str = "vjp") -> str:
    """The IR right after one pass (`names`, `schedule`, `cse` of the `kind` program)."""
    if pass_name == "frontend":
        return format_program(c.lowered)
    if pass_name == "inline":
        from .inline import inline_elementwise
        return format_program(inline_elementwise(c.lowered))
    if pass_name == "rewrite":
        return format_program(c.program)
    if pass_name in ("vjp", "jvp", "hvp"):
        if pass_name not in c.programs:
            return f"# {c.program.name}: no {pass_name} program (the output is not a scalar)"
        return format_program(c.programs[pass_name])
    prog = c.programs.get(kind)
    if prog is None:
        return f"# {c.program.name}: no {kind} program (the output is not a scalar)"
    renamed = naming.kernel_names(prog, c.entry.helpers.values())
    if pass_name == "names":
        return format_program(renamed)
    sched = schedule(renamed)
    return format_schedule(sched if pass_name == "schedule" else cse(sched))


def format_schedule(sched) -> str:
    """Blocks one per paragraph: `gemm` lines, and nests with their items and temporaries."""
    p = sched.program
    lines = [f"# {p.name}: {len(sched.blocks)} blocks; allocations: "
             + ", ".join(f"{n} {how}" for n, how in sched.alloc.items())]
    for block in sched.blocks:
        if isinstance(block, Gemm):
            a = block.a + (".T" if block.ta else "")
            b = block.b + (".T" if block.tb else "")
            lines.append(f"gemm  {block.target} {'+=' if block.accumulate else '='} {a} @ {b}")
            continue
        loops = ", ".join(f"{s}<{e}" for s, e in block.loops) or "once"
        lines.append(f"nest  for {loops}:")
        for item in block.items:
            if isinstance(item, Let):
                lines.append(f"        {item.symbol} = {item.expr}")
            elif isinstance(item, Reduction):
                for let in item.lets:
                    lines.append(f"          {let.symbol} = {let.expr}")
                lines.append(f"      {format_stmt(item.stmt)}")
            else:
                lines.append(f"      {format_stmt(item)}")
    return "\n".join(lines)


def formulas(c) -> str:
    """The course's view: the forward pass as written, then every gradient (formulas.py)."""
    return course_formulas(c)


def graph(c) -> str:
    """The computational graph as Graphviz DOT: tensors are nodes, reads are edges.

    Arguments are boxes (parameters shaded), outputs have a double border, and each edge
    is labelled with the operation that reads its source, e.g. `sum(W1*X)`.
    """
    p = c.program
    out = [f'digraph "{p.name}" {{', "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for name, t in p.tensors.items():
        shape = "box" if t.role in ("param", "data", "index") else "ellipse"
        style = ', style=filled, fillcolor="#dde8ff"' if t.role == "param" else ""
        border = ", peripheries=2" if name in p.outputs else ""
        dims = ", ".join(str(s) for s in t.shape)
        out.append(f'  "{name}" [shape={shape}, label="{name}\\n[{dims}]"{style}{border}];')
    for st in p.stmts:
        label = _dot_escape(_op_label(st))
        for src in sorted(reads(st)):
            out.append(f'  "{src}" -> "{st.target}" [label="{label}"];')
            if st.argmax:   # the index of the extremum is computed from the same inputs
                out.append(f'  "{src}" -> "{st.argmax}" [label="arg{st.reduce}"];')
    out.append("}")
    return "\n".join(out)


def _op_label(st, width=32) -> str:
    """The statement's body with tensors by name (`relu(b1 + mm)`), or a short op name."""
    if isinstance(st.body, sp.Indexed) and st.reduce == "none" and not st.rloops:
        return "copy"
    body = st.body.xreplace({a: sp.Symbol(str(a.base)) for a in accesses(st.body)})
    text = str(body)
    if st.reduce != "none" or st.rloops:
        text = f"{st.reduce if st.reduce != 'none' else 'sum'}({text})"
    return text if len(text) <= width else _op_name(st)


def _op_name(st) -> str:
    names = sorted({type(f).__name__.lower() for f in st.body.atoms(sp.Function)})
    top = type(st.body).__name__.lower()
    name = ", ".join(names) if names else top
    return f"{st.reduce}({name})" if st.reduce != "none" else name


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


__all__ = ["ir", "grad", "jvp", "hvp", "cost", "rewrites", "after", "formulas", "graph",
           "PASSES"]
