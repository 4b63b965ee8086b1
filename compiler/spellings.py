"""The `np.X` / `math.X` names a model may use, what each means, and the nearest one to a
name that is not among them (for the frontend's errors and the docs' table).

`np.X` is accepted when NumPy has X and X (or its alias) is a language function or
constant: the eager run then calls that very NumPy function. `math.X` is accepted for the
elementwise primitives (and `pow`) only: math's other names with a language twin mean
something else (`math.remainder` rounds the quotient to nearest, `math.prod` multiplies
the rows of a matrix).
"""
from __future__ import annotations

import difflib
import math

import numpy

from . import library, prims

MATH_EXTRA = {"pow"}                 # math.pow(x, p) is x ** p
MATH_NOT = {"remainder"}             # IEEE remainder, not np.remainder (= mod)
# np.linalg is a module of its own: only its `library.LINALG_NAMES` (norm) are accepted
MODULES = {"numpy": numpy, "math": math, "numpy.linalg": numpy.linalg}
PREFIXES = {"numpy": "np", "math": "math", "numpy.linalg": "np.linalg"}


def _language_name(attr: str) -> str:
    return library.ALIASES.get(attr, attr)


def _means(kind: str, attr: str) -> str | None:
    name = _language_name(attr)
    if not hasattr(MODULES[kind], attr) or attr.startswith("_"):
        return None
    if kind == "numpy.linalg":
        return name if name in library.LINALG_NAMES else None
    if attr in library.CONSTANTS:
        return attr
    if kind == "math" and (attr in MATH_NOT or not (name in prims.BY_NAME or attr in MATH_EXTRA)):
        return None
    return name if name in library.FUNCTIONS else None


def accepted(kind: str) -> dict:
    """attr -> the language name `np.attr` (kind 'numpy') or `math.attr` means."""
    names = set(library.FUNCTIONS) | set(library.ALIASES) | set(library.CONSTANTS)
    return {a: n for a in sorted(names) if (n := _means(kind, a)) is not None}


def resolve(kind: str, attr: str) -> str | None:
    """The language name `np.attr` / `math.attr` means, or None."""
    return _means(kind, attr)


def nearest(kind: str, attr: str) -> list:
    """The accepted names closest to a misspelt or unsupported one (np.arcsinhh)."""
    return difflib.get_close_matches(attr, accepted(kind), n=3, cutoff=0.6)


def docs_table() -> str:
    """docs/language.md's table: each language function with its NumPy and math names."""
    by_name: dict = {}
    for kind, prefix in PREFIXES.items():
        for attr, name in accepted(kind).items():
            by_name.setdefault(name, ([], []))[kind == "math"].append(f"`{prefix}.{attr}`")
    rows = ["| language | NumPy | math |", "| --- | --- | --- |"]
    for name in sorted(by_name):
        np_names, math_names = by_name[name]
        rows.append(f"| `{name}` | {', '.join(np_names) or '-'} | {', '.join(math_names) or '-'} |")
    return "\n".join(rows)


__all__ = ["accepted", "resolve", "nearest", "docs_table", "MATH_EXTRA", "MATH_NOT"]
