"""Which names share memory in the eager NumPy run, so that `x op= ...` can be checked.

The IR has no mutation: `h -= 1.0` becomes `h = h - 1.0`. NumPy writes the new values
into h's buffer instead, which every view (`v = h[1:]`, `h.T`, `reshape(h, ...)`) and
every other name of the same array (`g = h`, a helper's parameter) sees. Where such a name
exists the two semantics differ, and the front end refuses the update. `Views` tracks the
buffer each value reads: a value's root is the tensor it was sliced, transposed or
reshaped from (recursively), or, for an unstored value, the value itself.
"""
from __future__ import annotations

from .values import Value

ARGUMENT_ROLES = ("param", "data", "index")
# Library functions whose NumPy reference returns a view of their argument `x` (or x
# itself: atleast_1d of a vector, asarray of an array); split and its kin return a tuple
# of views.
VIEW_FUNCTIONS = ("transpose", "reshape", "asarray", "ravel", "squeeze", "expand_dims",
                  "atleast_1d", "atleast_2d", "atleast_3d", "broadcast_to", "diagonal", "split",
                  "array_split", "hsplit", "vsplit", "dsplit")


def viewed_argument(fname, arguments):
    """The argument a library call's NumPy result is a view of, or None."""
    if fname == "diag":     # a matrix's diagonal is a view; a vector's matrix is new
        v = arguments["v"]
        return v if isinstance(v, Value) and v.rank == 2 else None
    return arguments["x"] if fname in VIEW_FUNCTIONS else None


class Views:
    def __init__(self, tensors):
        self.tensors = tensors          # the builder's tensors (name -> Tensor)
        self._of_value = {}             # id(value) -> (value, root): unstored views
        self._of_tensor = {}            # tensor name -> root, for stored views

    def snapshot(self):
        return dict(self._of_value), dict(self._of_tensor)

    def restore(self, state):
        self._of_value, self._of_tensor = dict(state[0]), dict(state[1])

    def root(self, v):
        """The buffer `v` reads in NumPy: a key shared by every view and alias of it."""
        if id(v) in self._of_value:
            return self._of_value[id(v)][1]
        if v.tensor:
            return self._of_tensor.get(v.tensor, v.tensor)
        return ("value", id(v))

    def note_view(self, result, of):
        """`result` is a NumPy view of `of`."""
        if isinstance(result, Value) and isinstance(of, Value) and result is not of:
            self._of_value[id(result)] = (result, self.root(of))
        return result

    def stored(self, lazy: Value, stored: Value) -> None:
        """`lazy` was materialized as `stored`: a view stays a view."""
        if id(lazy) in self._of_value:
            self._of_tensor[stored.tensor] = self._of_value[id(lazy)][1]

    def is_array(self, v: Value) -> bool:
        """Whether `v` is a mutable ndarray in NumPy: any tensor, and 0-d arguments and
        their views (a rank-0 result such as sum(x) is an immutable NumPy scalar)."""
        if v.rank:
            return True
        root = self.root(v)
        return isinstance(root, str) and self.tensors[root].role in ARGUMENT_ROLES

    def sharing(self, v: Value, envs, skip: str) -> list:
        """Names bound in `envs` (innermost last) that share `v`'s buffer, except `skip`
        in the innermost scope."""
        key, found = self.root(v), []

        def walk(name, x):
            if isinstance(x, tuple):
                for item in x:
                    walk(name, item)
            elif isinstance(x, Value) and x.kind != "bool" and self.root(x) == key:
                found.append(name)
        for depth, env in enumerate(envs):
            for name, x in env.items():
                if not (depth == len(envs) - 1 and name == skip):
                    walk(name, x)
        return list(dict.fromkeys(found))
