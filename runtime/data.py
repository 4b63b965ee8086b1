"""Training data: load arrays, match them to a model's arguments, split, standardise, batch.

Arrays are matched to the loss's `Data`/`Index` arguments by name. Sources:

- a built-in dataset (`digits`, `iris`, `breast_cancer`, `wine`; scikit-learn, no network):
  `X` (float, one row per sample) and `y` (integer class labels), with a fixed stratified
  80/20 train/test split (`random_state=0`);
- an `.npz` file: each array under its argument's name; arrays named `NAME_test` form a
  test split;
- a `.csv` file with a header row: a column named like a 1-D argument (say `y`) becomes
  that array, and all other columns, in file order, become the one remaining feature
  argument (say `X`).

A feature array whose rows hold the right number of values is reshaped to the declared
shape, so a flat (N, 64) digits `X` feeds a conv net declared `Data[N, 1, 8, 8]`.
Everything is checked before training starts: a file that cannot be read (truncated,
corrupt, not UTF-8, ragged rows) and `check_arrays` raise `DataError` naming the file or
array and the problem (missing, no rows, wrong shape, non-finite values, labels out of
range).
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass

import numpy as np

from .checkpoint import load_npz, os_error_text
from .errors import DataError

BUILTIN = ("digits", "iris", "breast_cancer", "wine")
TEST_SUFFIX = "_test"


# ---- what the model expects ----

@dataclass
class ModelSpec:
    """The entry point's arguments as the runtime needs them (from SIGNATURES)."""

    fname: str
    args: dict          # name -> {"role", "shape", "dtype", ("bound")}
    params: list        # Param names, in signature order
    inputs: list        # Data and Index names, in signature order

    @classmethod
    def from_module(cls, module, fname: str) -> "ModelSpec":
        sigs = module.SIGNATURES
        if fname not in sigs:
            raise DataError(f"the model has no entry point '{fname}' (entry points: "
                            f"{', '.join(sigs)}); choose one with --function")
        sig = sigs[fname]
        if not hasattr(module, f"{fname}_value_and_grad"):
            raise DataError(f"entry point '{fname}' does not return a scalar, so it cannot "
                            "be trained as a loss; choose another with --function")
        args = sig["args"]
        return cls(fname, args, list(sig["wrt"]),
                   [n for n, a in args.items() if a["role"] in ("data", "index")])

    def declared(self, name: str) -> str:
        arg = self.args[name]
        dims = ", ".join(str(s) for s in arg["shape"]) or "()"
        return f"{arg['role'].capitalize()}[{dims}]"


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


# ---- loading ----

def load_builtin(name: str) -> tuple[dict, dict]:
    """(train, test) arrays of a scikit-learn dataset, split 80/20, stratified, fixed."""
    try:
        from sklearn import datasets
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise DataError(f"the built-in dataset '{name}' needs scikit-learn: "
                        "pip install 'adc[datasets]'") from None
    loader = getattr(datasets, f"load_{name}")
    bunch = loader()
    X, y = bunch.data.astype(np.float64), bunch.target.astype(np.int64)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0)
    return {"X": X_train, "y": y_train}, {"X": X_test, "y": y_test}


def _load_npz(path: str) -> tuple[dict, dict | None]:
    arrays = load_npz(path, "a readable .npz data file", DataError)
    test = {k[:-len(TEST_SUFFIX)]: v for k, v in arrays.items() if k.endswith(TEST_SUFFIX)}
    train = {k: v for k, v in arrays.items() if not k.endswith(TEST_SUFFIX)}
    return train, test or None


def _read_csv_rows(path: str) -> list:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return list(csv.reader(f))
    except OSError as exc:
        raise DataError(f"cannot read {path}: {os_error_text(exc)}") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc})") from None


def _csv_table(path: str, rows: list) -> np.ndarray:
    """The data rows as floats (an empty value is NaN); line numbers count the header."""
    width = len(rows[0])
    table = []
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != width:
            raise DataError(f"{path}, line {line}: {len(row)} values, but the header has "
                            f"{width} (is the file truncated?)")
        try:
            table.append([float(v) if v.strip() else np.nan for v in row])
        except ValueError as exc:
            raise DataError(f"{path}, line {line}: every value must be a number "
                            f"({exc})") from None
    if not table:
        raise DataError(f"{path}: a CSV file needs a header row and at least one data row")
    return np.array(table, dtype=np.float64)


def _load_csv(path: str, spec: ModelSpec) -> dict:
    rows = _read_csv_rows(path)
    if not rows:
        raise DataError(f"{path}: a CSV file needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    table = _csv_table(path, rows)
    arrays = {h: table[:, j] for j, h in enumerate(header) if h in spec.inputs}
    rest = [j for j, h in enumerate(header) if h not in spec.inputs]
    unmatched = [n for n in spec.inputs if n not in arrays]
    if rest and len(unmatched) == 1:
        arrays[unmatched[0]] = table[:, rest]
    return arrays


def load_data(source: str, spec: ModelSpec) -> tuple[dict, dict | None]:
    """(arrays, test arrays or None) from a built-in dataset name or an .npz/.csv file."""
    if source in BUILTIN:
        return load_builtin(source)
    if not os.path.lexists(source):
        raise DataError(f"no data file '{source}' and no built-in dataset of that name "
                        f"(built-in: {', '.join(BUILTIN)})")
    ext = os.path.splitext(source)[1].lower()
    if os.path.isdir(source):
        raise DataError(f"{source} is a folder, not a data file")
    if ext == ".npz":
        try:
            return _load_npz(source)
        except FileNotFoundError:     # a dangling link
            raise DataError(f"cannot read {source}: no such file") from None
    if ext == ".csv":
        return _load_csv(source, spec), None
    raise DataError(f"{source}: data files must be .npz or .csv, got '{ext or 'no extension'}'")


# ---- checking and converting ----

def _conform_shape(name, array, expected, spec, sizes, where):
    """Reshape rows to the declared trailing shape if the counts agree; bind size names."""
    fixed = [s for s in expected[1:] if isinstance(s, int)]
    if array.ndim != len(expected) and array.ndim >= 1 and len(fixed) == len(expected) - 1 \
            and int(np.prod(array.shape[1:])) == int(np.prod(fixed)):
        array = array.reshape((array.shape[0],) + tuple(fixed))
    ok = array.ndim == len(expected)
    for d, e in enumerate(expected):
        if not ok:
            break
        if isinstance(e, str):
            ok = sizes.setdefault(e, array.shape[d]) == array.shape[d]
        else:
            ok = array.shape[d] == e
    if not ok:
        bound = ", ".join(f"{k}={v}" for k, v in sizes.items())
        raise DataError(f"{where}: array '{name}' has shape {_shape_text(array.shape)}, but "
                        f"the model declares {name}: {spec.declared(name)}"
                        + (f" (with {bound})" if bound else ""))
    return array


def _first_bad(mask) -> str:
    where = [int(i) for i in np.argwhere(mask)[0]]
    rest = where[1:]
    return f"row {where[0]}" + (f", column {rest[0]}" if len(rest) == 1 else
                                f", position {tuple(rest)}" if rest else "")


def _check_finite(name, array, where):
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        bad = ~np.isfinite(array)
        kind = "NaN" if np.isnan(array[bad]).any() else "infinite values"
        raise DataError(f"{where}: array '{name}' contains {kind} "
                        f"({int(bad.sum())} entries, first at {_first_bad(bad)})")


def _as_labels(name, array, arg, where):
    if array.dtype.kind == "f":
        fractional = array != np.round(array)
        if fractional.any():
            raise DataError(f"{where}: array '{name}' must hold integer class labels (the "
                            f"model declares it Index), found {float(array[fractional][0])}")
        array = array.astype(np.int64)
    elif array.dtype.kind in "iub":
        array = array.astype(np.int64)
    else:
        raise DataError(f"{where}: array '{name}' must hold integer class labels, "
                        f"got dtype {array.dtype}")
    bound = arg.get("bound")
    if isinstance(bound, int) and array.size and (array.min() < 0 or array.max() >= bound):
        bad = array[(array < 0) | (array >= bound)][0]
        raise DataError(f"{where}: array '{name}' has label {bad} out of range; the model "
                        f"expects 0 <= {name} < {bound}")
    return array


def check_arrays(arrays: dict, spec: ModelSpec, where="data") -> dict:
    """The model's inputs from `arrays`, converted (float64 / int64), shaped and checked.

    Raises DataError naming the array: missing, not numeric, non-finite, no rows, wrong shape,
    labels that are not integers or out of range, or a number of rows that disagrees
    with another array's (both are shapes bound to the same size name).
    """
    out, sizes = {}, {}
    for name in spec.inputs:
        arg = spec.args[name]
        if name not in arrays:
            have = ", ".join(sorted(arrays)) or "nothing"
            raise DataError(f"{where}: no array named '{name}' (the model's argument "
                            f"{name}: {spec.declared(name)}); found: {have}")
        array = np.asarray(arrays[name])
        if array.dtype.kind not in "fiub":
            raise DataError(f"{where}: array '{name}' must be numeric, got dtype {array.dtype}")
        _check_finite(name, array, where)
        if arg["role"] == "index":
            array = _as_labels(name, array, arg, where)
        else:
            array = array.astype(np.float64)
        array = _conform_shape(name, array, arg["shape"], spec, sizes, where)
        _check_has_rows(name, array, arg["shape"], where)
        out[name] = np.ascontiguousarray(array)
    return out


def _check_has_rows(name, array, declared, where):
    """A per-sample array (first size symbolic, like N) needs at least one row."""
    if declared and isinstance(declared[0], str) and array.shape[0] == 0:
        raise DataError(f"{where}: array '{name}' has no rows (shape "
                        f"{_shape_text(array.shape)}); training needs at least one sample")


def n_samples(arrays: dict) -> int:
    return next(a.shape[0] for a in arrays.values() if a.ndim)


# ---- splitting, standardising, batching ----

def take(arrays: dict, idx) -> dict:
    """The rows `idx` of every per-sample array."""
    return {k: (v[idx] if v.ndim else v) for k, v in arrays.items()}


def split_validation(arrays: dict, fraction: float, seed: int, stratify=None):
    """(train, val): a seeded share `fraction` of the rows, per class when `stratify`
    names an integer label array. `fraction == 0` gives (arrays, None)."""
    if not 0 <= fraction < 1:
        raise DataError(f"the validation split must be in [0, 1), got {fraction}")
    n = n_samples(arrays)
    if fraction == 0:
        return arrays, None
    rng = np.random.default_rng([seed, 7919])  # its own stream: batch order is separate
    labels = arrays.get(stratify) if stratify else None
    if labels is not None and labels.dtype.kind in "iu" and labels.ndim == 1:
        groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    else:
        groups = [np.arange(n)]
    val = np.concatenate([rng.permutation(g)[:int(round(fraction * len(g)))] for g in groups])
    if len(val) == 0 or len(val) == n:
        raise DataError(f"a validation split of {fraction} leaves an empty split "
                        f"of {n} samples")
    keep = np.ones(n, bool)
    keep[val] = False
    return take(arrays, np.flatnonzero(keep)), take(arrays, np.sort(val))


@dataclass
class Standardizer:
    """Per-feature mean/std of float inputs, fitted on the training split only.

    Rank-2 arrays are standardised per column; images (N, C, H, W) per channel. A
    feature that is constant in training keeps std 1 (it is only centred).
    """

    mean: dict
    std: dict

    @classmethod
    def fit(cls, arrays: dict, names) -> "Standardizer":
        mean, std = {}, {}
        for name in names:
            a = arrays[name]
            axes = (0,) if a.ndim == 2 else (0,) + tuple(range(2, a.ndim))
            mean[name] = a.mean(axis=axes, keepdims=True)
            s = a.std(axis=axes, keepdims=True)
            std[name] = np.where(s > 1e-12, s, 1.0)
        return cls(mean, std)

    def apply(self, arrays: dict | None) -> dict | None:
        if arrays is None:
            return None
        out = dict(arrays)
        for name in self.mean:
            out[name] = np.ascontiguousarray((arrays[name] - self.mean[name]) / self.std[name])
        return out


def feature_names(spec: ModelSpec, target: str | None) -> list:
    """The inputs to standardise: float Data arguments of rank >= 2, never the target."""
    return [n for n in spec.inputs if spec.args[n]["role"] == "data"
            and len(spec.args[n]["shape"]) >= 2 and n != target]


def batch_indices(n: int, batch_size: int, seed: int, epoch: int) -> list:
    """The row indices of each mini-batch of `epoch`: a permutation drawn from
    (seed, epoch) alone, so a resumed run sees the same batches."""
    order = np.random.default_rng([seed, epoch]).permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]
