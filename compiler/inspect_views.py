"""Human views of a compiled entry point: IR, adjoint program, formulas, graph (DOT)."""
from __future__ import annotations

import numpy as np
import sympy as sp

from . import cost as cost_model
from . import names as naming
from .formulas import formulas as course_formulas
from .cse import Let, Reduction, cse
from .ir import accesses, format_program, format_stmt, reads, tensor_name
from .schedule import Gemm, ScanEnd, ScanStart, schedule

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
        if isinstance(block, ScanStart):
            down = "" if block.direction > 0 else ", downwards"
            lines.append(f"scan  for {block.step}<{block.count}{down}:")
            continue
        if isinstance(block, ScanEnd):
            lines.append("end scan")
            continue
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


def graph(c, at=None, sizes=None) -> str:
    """The computational graph as Graphviz DOT: tensors are nodes, reads are edges.

    Arguments are boxes (parameters shaded), outputs have a double border, and each edge
    is labelled with the operation that reads its source, e.g. `sum(W1*X)`. With `at`
    (argument name -> number) every node also shows its forward value and, in red, the
    gradient of the output there (the course's figures): the arguments named in `at`
    take that value (arrays are filled with it), the others standard-normal draws of
    seed 0, symbolic sizes `sizes` (default 3). The numbers come from the NumPy
    reference backend running the gradient program.
    """
    p = c.program
    numbers = _graph_numbers(c, at, sizes) if at is not None else None
    out = [f'digraph "{p.name}" {{', "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for name, t in p.tensors.items():
        shape = "box" if t.role in ("param", "data", "index") else "ellipse"
        style = ', style=filled, fillcolor="#dde8ff"' if t.role == "param" else ""
        border = ", peripheries=2" if name in p.outputs else ""
        dims = ", ".join(str(s) for s in t.shape)
        label = f'"{name}\n[{dims}]"' if numbers is None else _numbered_label(name, t, numbers)
        out.append(f'  "{name}" [shape={shape}, label={label}{style}{border}];')
    for st in p.stmts:
        label = _dot_escape(_op_label(st))
        for src in sorted(reads(st)):
            out.append(f'  "{src}" -> "{st.target}" [label="{label}"];')
            if st.argmax:   # the index of the extremum is computed from the same inputs
                out.append(f'  "{src}" -> "{st.argmax}" [label="arg{st.reduce}"];')
    out.append("}")
    return "\n".join(out)


def _graph_numbers(c, at: dict, sizes=None):
    """(values, gradients): name -> array, from the reference backend at the point `at`."""
    from .backends import numpy_ref
    p = c.program
    if len(p.outputs) != 1 or p.tensors[p.outputs[0]].rank != 0:
        raise ValueError("--at: the graph's numbers need a function with one scalar output")
    known = {a.name for a in p.args}
    for name in at:
        if name not in known:
            raise ValueError(f"--at {name}=...: '{p.name}' has no argument named '{name}' "
                             f"(its arguments: {', '.join(a.name for a in p.args)})")
    dims = {sym: (sizes or {}).get(str(sym), 3) for a in p.args for sym in
            (d for d in a.shape if isinstance(d, sp.Symbol))}
    rng = np.random.default_rng(0)
    values = {}
    for a in p.args:
        shape = tuple(int(sp.sympify(d).xreplace(dims)) for d in a.shape)
        if a.name in at:
            values[a.name] = np.full(shape, float(at[a.name])) if shape else float(at[a.name])
        elif a.role == "index":
            values[a.name] = np.zeros(shape, dtype=np.int64)
        elif a.role in ("float", "int"):
            values[a.name] = a.default if a.has_default else 0.5
        else:
            values[a.name] = rng.standard_normal(shape)
    reverse = c.programs["vjp"]
    cotangent = next(a.name for a in reverse.args if a.role == "cotangent")
    env = numpy_ref.environment(reverse, {**values, cotangent: 1.0})
    grads = {name: env[adj] for name, adj in reverse.adjoints.items() if adj in env}
    grads[p.outputs[0]] = np.ones(1)
    return env, grads


def _numbered_label(name, t, numbers) -> str:
    """An HTML label: the name, the value, the gradient in red (scalars as numbers,
    tensors as their shape with mean and largest magnitude)."""
    env, grads = numbers
    rows = [f"<b>{_html(name)}</b>"]
    if name in env:
        rows.append(_html(_summary(env[name], t)))
    if name in grads:
        rows.append(f'<font color="#c0392b">grad {_html(_summary(grads[name], t))}</font>')
    return "<" + "<br/>".join(rows) + ">"


def _summary(array, t) -> str:
    a = np.asarray(array, dtype=np.float64)
    if t.rank == 0 or a.size == 1:
        return f"{float(a.reshape(-1)[0]):.4g}"
    return (f"[{', '.join(str(s) for s in a.shape)}] mean {a.mean():.3g}, "
            f"max |.| {np.abs(a).max():.3g}")


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _op_label(st, width=32) -> str:
    """The statement's body with tensors by name (`relu(b1 + mm)`), or a short op name."""
    if isinstance(st.body, sp.Indexed) and st.reduce == "none" and not st.rloops:
        return "copy"
    body = st.body.xreplace({a: sp.Symbol(tensor_name(a)) for a in accesses(st.body)})
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
