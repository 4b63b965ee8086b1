"""Common-subexpression elimination over the bodies of one fused loop nest."""
from __future__ import annotations

import sympy as sp


def _worth_naming(expr) -> bool:
    """Name only subexpressions that cost something (not a bare access or negation)."""
    return not (isinstance(expr, (sp.Indexed, sp.Symbol, sp.Number))
                or (expr.is_Mul and len(expr.args) == 2 and expr.args[0] == -1
                    and isinstance(expr.args[1], (sp.Indexed, sp.Symbol))))


def cse_block(bodies):
    """(temporaries, reduced bodies): `sympy.cse` shared by all bodies, canonical order.

    Temporaries are named tmp0, tmp1, ... in order of definition, so that the same
    statements always give the same code.
    """
    bodies = [sp.sympify(b) for b in bodies]
    temps, reduced = sp.cse(bodies, symbols=sp.numbered_symbols("tmp"), order="canonical",
                            ignore=(), list=True)
    keep, subs = [], {}
    for sym, expr in temps:
        expr = expr.xreplace(subs)
        if _worth_naming(expr):
            keep.append((sym, expr))
        else:
            subs[sym] = expr
    renamed = {}
    out_temps = []
    for k, (sym, expr) in enumerate(keep):
        new = sp.Symbol(f"tmp{k}")
        renamed[sym] = new
        out_temps.append((new, expr.xreplace(renamed)))
    reduced = [r.xreplace(subs).xreplace(renamed) for r in reduced]
    return out_temps, reduced
