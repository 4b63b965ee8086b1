"""Parameter initialisers, chosen per parameter by rank and the activation that follows.

Rules (fan_in/fan_out: for `X @ W` with W of shape (D, H), fan_in = D and fan_out = H;
for a conv kernel (F, C, KH, KW), fan_in = C*KH*KW and fan_out = F*KH*KW):

    zeros            0
    ones             1
    normal           N(0, 0.01**2)                         (the CS231n "small random numbers")
    xavier_uniform   U(-a, a), a = sqrt(6 / (fan_in + fan_out))   (Glorot & Bengio 2010)
    xavier_normal    N(0, 2 / (fan_in + fan_out))
    he_normal        N(0, 2 / fan_in)                      (He et al. 2015, for ReLU)

Defaults (`auto`): parameters of rank 0 or 1 (biases) start at zero, except the scale
(gamma) of batch_norm / layer_norm, which starts at one. Weights (rank >= 2) get He normal
when a ReLU-family activation (relu, leaky_relu, elu, selu: kind 'relu-like' in
compiler/prims.py) follows them in the model, and Xavier uniform otherwise (tanh, sigmoid,
softplus, gelu, ... or a linear output). `follow_activations` reads
this from the model's source (it parses it; it never runs it).
"""
from __future__ import annotations

import ast

import numpy as np

from ..compiler import prims

RULES = ("zeros", "ones", "normal", "xavier_uniform", "xavier_normal", "he_normal")
# from the one table of primitives: its `kind` column
RELU_FAMILY = prims.kind_names("relu-like")
ACTIVATIONS = RELU_FAMILY + prims.kind_names("activation")
NORMALISERS = ("batch_norm", "layer_norm")


def fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of rank >= 2."""
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[2:]))
    return shape[1] * receptive, shape[0] * receptive


def initialise(rule: str, shape, rng: np.random.Generator) -> np.ndarray:
    """A float64 array of `shape` drawn by `rule`."""
    shape = tuple(shape)
    if rule == "zeros":
        return np.zeros(shape)
    if rule == "ones":
        return np.ones(shape)
    if rule == "normal":
        return 0.01 * rng.standard_normal(shape)
    if rule not in RULES:
        raise ValueError(f"unknown initialiser '{rule}'; choose one of {', '.join(RULES)}")
    if len(shape) < 2:
        raise ValueError(f"'{rule}' needs a weight of rank >= 2, got shape {shape}")
    fan_in, fan_out = fans(shape)
    if rule == "xavier_uniform":
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-bound, bound, shape)
    if rule == "xavier_normal":
        return np.sqrt(2.0 / (fan_in + fan_out)) * rng.standard_normal(shape)
    return np.sqrt(2.0 / fan_in) * rng.standard_normal(shape)  # he_normal


def default_rule(name: str, shape, roles: dict) -> str:
    """The `auto` rule of one parameter; `roles` comes from `follow_activations`."""
    role = roles.get(name)
    if len(shape) < 2:
        return "ones" if role == "scale" else "zeros"
    return "he_normal" if role in RELU_FAMILY else "xavier_uniform"


def init_params(shapes: dict, rule: str = "auto", seed: int = 0, roles=None) -> dict:
    """Initial values for every parameter (name -> shape), in the order given.

    `rule` other than `auto` applies to the weights (rank >= 2); biases stay at their
    defaults (zeros; ones for normaliser scales), so `--init normal` does not turn a
    batch-norm gamma into noise.
    """
    rng = np.random.default_rng(seed)
    roles = roles or {}
    out = {}
    for name, shape in shapes.items():
        chosen = default_rule(name, shape, roles)
        if rule != "auto" and len(shape) >= 2:
            chosen = rule
        out[name] = initialise(chosen, shape, rng)
    return out


# ---- which activation follows each parameter (read from the model source) ----

class _Flow:
    """Abstract interpretation of a model function: which parameters reach each value
    through linear operations only, and which activation they meet first."""

    def __init__(self, functions: dict):
        self.functions = functions
        self.roles: dict = {}
        self.depth = 0

    def function(self, fn: ast.FunctionDef, args: list) -> set:
        env = {a.arg: (args[i] if i < len(args) else set())
               for i, a in enumerate(fn.args.args)}
        return self.block(fn.body, env)

    def block(self, stmts: list, env: dict) -> set:
        """Statements in program order; returns what the `return`s carry."""
        result = set()
        for stmt in stmts:
            if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                value = self.expr(stmt.value, env) if stmt.value is not None else set()
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            keep = isinstance(stmt, ast.AugAssign)
                            env[name.id] = value | (env.get(name.id, set()) if keep else set())
            elif isinstance(stmt, ast.Return) and stmt.value is not None:
                result |= self.expr(stmt.value, env)
            elif isinstance(stmt, (ast.For, ast.If)):
                result |= self.block(stmt.body, env) | self.block(stmt.orelse, env)
        return result

    def expr(self, node, env) -> set:
        if isinstance(node, ast.Name):
            return set(env.get(node.id, set()))
        if isinstance(node, ast.Call):
            return self.call(node, env)
        found = set()
        for child in ast.iter_child_nodes(node):
            found |= self.expr(child, env)
        return found

    def call(self, node: ast.Call, env) -> set:
        fname = node.func.id if isinstance(node.func, ast.Name) else \
            node.func.attr if isinstance(node.func, ast.Attribute) else ""
        args = [self.expr(a, env) for a in node.args]
        kwargs = set().union(*(self.expr(k.value, env) for k in node.keywords))
        if fname in ACTIVATIONS:
            for name in set().union(*args, kwargs):
                self.roles.setdefault(name, fname)
            return set()
        if fname in NORMALISERS and len(node.args) >= 2 and isinstance(node.args[1], ast.Name):
            for name in env.get(node.args[1].id, set()):
                self.roles.setdefault(name, "scale")
        if fname in self.functions and self.depth < 20:
            self.depth += 1
            try:
                return self.function(self.functions[fname], args)
            finally:
                self.depth -= 1
        return set().union(*args, kwargs)


def follow_activations(source: str, entry: str) -> dict:
    """{param name: first activation after it, or "scale" for a normaliser's gamma}.

    Best effort: a model the analysis does not understand just gets fewer entries (and
    so the Xavier default).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    if entry not in functions:
        return {}
    fn = functions[entry]
    flow = _Flow(functions)
    flow.function(fn, [{a.arg} for a in fn.args.args])
    return flow.roles
