"""Shrink a failing model to a few lines that fail the same way (greedy, on the AST).

    python tests/fuzz/shrink.py gen SEED              # a progen program
    python tests/fuzz/shrink.py file MODEL.py ENTRY   # any model (inputs from SIGNATURES)

A candidate is kept when the eager run of it is still valid and finite and the oracle
still raises a Failure of the same kind (and, for crashes, the same exception type).
Candidates: delete a statement, replace an expression by one of its sub-expressions or
by a constant, drop a keyword, turn a slice into `:`, drop unused arguments and helpers.
"""
from __future__ import annotations

import ast
import copy
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import oracle  # noqa: E402


def failure_of(source, entry, specs, workdir, tag):
    """The Failure the oracle raises for this source (None: passes or invalid)."""
    try:
        fn = _entry(ast.parse(source), entry)
        names = {a.arg for a in fn.args.args + fn.args.kwonlyargs}
        specs = [s for s in specs if s.name in names]
    except Exception:
        return None
    try:
        oracle.check_source(source, entry, specs, workdir, tag, tries=1)
    except oracle.Failure as exc:
        return exc
    except (oracle.InvalidProgram, SyntaxError, Exception):
        return None
    return None


def same_failure(a, b) -> bool:
    if a is None or b is None or a.kind != b.kind:
        return False
    if a.kind in ("compile-crash", "call-error", "compile-internal", "compile-reject"):
        return a.detail.split(":")[0] == b.detail.split(":")[0] or \
            _exc_type(a.detail) == _exc_type(b.detail)
    return True


def _exc_type(detail):
    words = [w for w in detail.replace(":", " ").split() if w.endswith("Error")]
    return words[0] if words else detail[:30]


def _entry(tree, name):
    return next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)


def candidates(tree, entry):
    """Smaller variants of the program, most aggressive first."""
    fn = _entry(tree, entry)
    # 1. delete statements of the entry point (not its last return)
    for i in range(len(fn.body) - 1):
        t = copy.deepcopy(tree)
        del _entry(t, entry).body[i]
        yield t
    # 2. drop helpers no one calls, and unused arguments
    for i, node in enumerate(tree.body):
        if isinstance(node, ast.FunctionDef) and node.name != entry:
            t = copy.deepcopy(tree)
            del t.body[i]
            yield t
    used = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
    for i, a in enumerate(fn.args.args):
        if a.arg not in used:
            t = copy.deepcopy(tree)
            del _entry(t, entry).args.args[i]
            yield t
    for i, a in enumerate(fn.args.kwonlyargs):
        if a.arg not in used:
            t = copy.deepcopy(tree)
            f2 = _entry(t, entry)
            del f2.args.kwonlyargs[i]
            del f2.args.kw_defaults[i]
            yield t
    # 3. replace an expression by a sub-expression, a keyword by nothing, a slice by ':'
    nodes = [n for n in ast.walk(fn) if isinstance(n, ast.expr)]
    for k, node in enumerate(nodes):
        for child in _sub_expressions(node):
            t = copy.deepcopy(tree)
            target = [n for n in ast.walk(_entry(t, entry)) if isinstance(n, ast.expr)][k]
            sub = [n for n in ast.walk(target) if ast.dump(n) == ast.dump(child)]
            if sub and _replace_node(_entry(t, entry), target, copy.deepcopy(sub[0])):
                yield t
        if isinstance(node, ast.Call) and node.keywords:
            for j in range(len(node.keywords)):
                t = copy.deepcopy(tree)
                target = [n for n in ast.walk(_entry(t, entry)) if isinstance(n, ast.expr)][k]
                del target.keywords[j]
                yield t
        if isinstance(node, ast.Slice) and (node.lower or node.upper or node.step):
            t = copy.deepcopy(tree)
            target = [n for n in ast.walk(_entry(t, entry)) if isinstance(n, ast.expr)][k]
            target.lower = target.upper = target.step = None
            yield t


def _sub_expressions(node):
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Call):
        return [a for a in node.args if not isinstance(a, ast.Constant)]
    if isinstance(node, ast.Subscript):
        return [node.value]
    if isinstance(node, ast.Attribute) and node.attr == "T":
        return [node.value]
    return []


def _replace_node(root, old, new) -> bool:
    for parent in ast.walk(root):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return True
            if isinstance(value, list):
                for i, v in enumerate(value):
                    if v is old:
                        value[i] = new
                        return True
    return False


def shrink(source, entry, specs, workdir=None, log=print):
    """The smallest source found that fails like `source` does."""
    workdir = workdir or tempfile.mkdtemp(prefix="adc-shrink-")
    counter = [0]

    def attempt(src):
        counter[0] += 1
        return failure_of(src, entry, specs, workdir, f"shrink_{os.getpid()}_{counter[0]}")
    want = attempt(source)
    if want is None:
        raise SystemExit("the program does not fail")
    log(f"failure: {want}")
    best = source
    improved = True
    while improved:
        improved = False
        tree = ast.parse(best)
        for cand in candidates(tree, entry):
            try:
                text = ast.unparse(cand) + "\n"
            except Exception:
                continue
            if len(text) >= len(best):
                continue
            got = attempt(text)
            if same_failure(got, want):
                best = text
                log(f"-- {len(best)} chars: {got}")
                improved = True
                break
    return best, attempt(best)


def main():
    import progen
    what = sys.argv[1]
    if what == "gen":
        program = progen.generate(int(sys.argv[2]))
        source, entry = program.source, program.entry
        specs = oracle.specs_of_program(program)
    else:
        import mutants
        source = open(sys.argv[2]).read()
        entry = sys.argv[3]
        workdir = tempfile.mkdtemp()
        path = os.path.join(workdir, "probe.py")
        open(path, "w").write(source)
        import adc
        module = adc.compile(path, os.path.join(workdir, "probe_adc.py"))
        specs = mutants.inputs_from_signature(module, entry, 0)
    best, failure = shrink(source, entry, specs)
    print("\n==== shrunk ====\n" + best + f"# {failure}")


if __name__ == "__main__":
    main()
