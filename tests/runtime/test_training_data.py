"""Data: loading by name, checks that name the array and the problem, splits,
standardisation fitted on train only, seeded batches, built-in datasets."""
from __future__ import annotations

import numpy as np
import pytest

from adc.runtime import data
from adc.runtime.data import DataError, ModelSpec

# The shape of a classifier's loss(X: Data[N, 4], y: Index[N], W: Param[4, 3], b: Param[3])
ARGS = {"X": {"role": "data", "shape": ("N", 4), "dtype": "float"},
        "y": {"role": "index", "shape": ("N",), "dtype": "int", "bound": 3},
        "W": {"role": "param", "shape": (4, 3), "dtype": "float"},
        "b": {"role": "param", "shape": (3,), "dtype": "float"}}
SPEC = ModelSpec("loss", ARGS, ["W", "b"], ["X", "y"])
IMAGES = ModelSpec("loss", {"X": {"role": "data", "shape": ("N", 1, 2, 2), "dtype": "float"},
                            "y": ARGS["y"]}, [], ["X", "y"])


def good_arrays(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return {"X": rng.standard_normal((n, 4)), "y": np.arange(n) % 3}


def save_npz(tmp_path, name="d.npz", **arrays):
    path = str(tmp_path / name)
    np.savez(path, **arrays)
    return path


# ---- rejection before training: the message names the array and the problem ----

@pytest.mark.parametrize("change, message", [
    (lambda a: a.pop("y"), r"no array named 'y' \(the model's argument y: Index\[N\]\); "
                           r"found: X"),
    (lambda a: a.update(X=a["X"][:, :3]), r"array 'X' has shape \(12, 3\), but the model "
                                          r"declares X: Data\[N, 4\]"),
    (lambda a: a.update(y=a["y"][:10]), r"array 'y' has shape \(10,\), but the model "
                                        r"declares y: Index\[N\] \(with N=12\)"),
    (lambda a: a["y"].__setitem__(5, 3), r"array 'y' has label 3 out of range; the model "
                                         r"expects 0 <= y < 3"),
    (lambda a: a["y"].__setitem__(0, -1), r"array 'y' has label -1 out of range"),
    (lambda a: a.update(y=a["y"] + 0.5), r"array 'y' must hold integer class labels"),
    (lambda a: a["X"].__setitem__((4, 2), np.nan), r"array 'X' contains NaN \(1 entries, "
                                                   r"first at row 4, column 2\)"),
    (lambda a: a["X"].__setitem__((0, 0), np.inf), r"array 'X' contains infinite values"),
    (lambda a: a.update(X=np.array([["a"] * 4] * 12)), r"array 'X' must be numeric"),
])
def test_bad_arrays_are_rejected_naming_the_array(change, message):
    arrays = good_arrays()
    change(arrays)
    with pytest.raises(DataError, match=message):
        data.check_arrays(arrays, SPEC, where="d.npz")


def test_good_arrays_are_converted_to_the_kernel_dtypes():
    arrays = good_arrays()
    arrays["X"] = arrays["X"].astype(np.float32)
    arrays["y"] = arrays["y"].astype(np.float64)       # integral floats are fine labels
    out = data.check_arrays(arrays, SPEC)
    assert out["X"].dtype == np.float64 and out["y"].dtype == np.int64
    assert np.array_equal(out["y"], np.arange(12) % 3)


def test_flat_rows_are_reshaped_to_declared_image_shape_only_when_sizes_agree():
    out = data.check_arrays({"X": np.arange(24.0).reshape(6, 4), "y": np.zeros(6, int)}, IMAGES)
    assert out["X"].shape == (6, 1, 2, 2)
    assert out["X"][1, 0, 1, 0] == 6.0
    with pytest.raises(DataError, match=r"array 'X' has shape \(6, 5\)"):
        data.check_arrays({"X": np.zeros((6, 5)), "y": np.zeros(6, int)}, IMAGES)


# ---- files ----

def test_npz_arrays_named_NAME_test_form_the_test_split(tmp_path):
    a, t = good_arrays(12), good_arrays(6, seed=1)
    path = save_npz(tmp_path, X=a["X"], y=a["y"], X_test=t["X"], y_test=t["y"], extra=np.ones(2))
    train, test = data.load_data(path, SPEC)
    assert np.array_equal(train["X"], a["X"]) and np.array_equal(test["y"], t["y"])
    assert set(test) == {"X", "y"}


def test_csv_columns_map_by_name_and_the_rest_form_the_features(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("f1,f2,y,f3,f4\n1,2,0,3,4\n5,6,2,7,8\n")
    arrays = data.check_arrays(data.load_data(str(path), SPEC)[0], SPEC)
    assert np.array_equal(arrays["X"], [[1, 2, 3, 4], [5, 6, 7, 8]])
    assert np.array_equal(arrays["y"], [0, 2])


def test_csv_with_a_missing_value_is_reported_as_nan(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,c,d,y\n1,2,,4,0\n")
    with pytest.raises(DataError, match="array 'X' contains NaN"):
        data.check_arrays(data.load_data(str(path), SPEC)[0], SPEC, where="d.csv")


@pytest.mark.parametrize("source, message", [
    ("nosuch.npz", "no data file 'nosuch.npz' and no built-in dataset of that name"),
    ("mnist", "built-in: digits, iris, breast_cancer, wine"),
])
def test_unknown_sources_are_named(source, message):
    with pytest.raises(DataError, match=message):
        data.load_data(source, SPEC)


def test_unreadable_npz_is_a_data_error(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"not a zip file")
    with pytest.raises(DataError, match="bad.npz is not a readable .npz data file: not an "
                                        ".npz"):
        data.load_data(str(path), SPEC)


# ---- built-in datasets ----

@pytest.mark.parametrize("name, n, features, classes", [
    ("digits", 1797, 64, 10), ("iris", 150, 4, 3), ("breast_cancer", 569, 30, 2),
    ("wine", 178, 13, 3)])
def test_builtin_datasets_have_a_fixed_stratified_80_20_split(name, n, features, classes):
    train, test = data.load_builtin(name)
    again, _ = data.load_builtin(name)
    assert np.array_equal(train["X"], again["X"])            # fixed, not reshuffled
    assert len(test["y"]) == pytest.approx(0.2 * n, abs=1)
    assert len(train["y"]) + len(test["y"]) == n
    assert train["X"].shape[1] == features and len(np.unique(train["y"])) == classes
    share_train = np.bincount(train["y"]) / len(train["y"])
    share_test = np.bincount(test["y"]) / len(test["y"])
    assert np.abs(share_train - share_test).max() < 0.03     # stratified


# ---- splits, standardisation, batches ----

def test_validation_split_is_seeded_disjoint_and_stratified():
    arrays = {"X": np.arange(100.0)[:, None], "y": np.repeat([0, 1], [80, 20])}
    train, val = data.split_validation(arrays, 0.1, seed=3, stratify="y")
    again, _ = data.split_validation(arrays, 0.1, seed=3, stratify="y")
    other, _ = data.split_validation(arrays, 0.1, seed=4, stratify="y")
    assert np.bincount(val["y"]).tolist() == [8, 2]
    assert set(train["X"][:, 0]).isdisjoint(val["X"][:, 0])
    assert len(train["X"]) + len(val["X"]) == 100
    assert np.array_equal(train["X"], again["X"]) and not np.array_equal(train["X"], other["X"])


def test_zero_validation_split_keeps_everything_for_training():
    arrays = good_arrays()
    train, val = data.split_validation(arrays, 0.0, seed=0)
    assert val is None and train is arrays


def test_standardisation_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    train = {"X": rng.normal(5.0, 2.0, (500, 3)), "y": np.zeros(500, int)}
    val = {"X": rng.normal(-3.0, 9.0, (50, 3)), "y": np.zeros(50, int)}
    scaler = data.Standardizer.fit(train, ["X"])
    t, v = scaler.apply(train), scaler.apply(val)
    np.testing.assert_allclose(t["X"].mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(t["X"].std(0), 1, atol=1e-12)
    expected = (val["X"] - train["X"].mean(0)) / train["X"].std(0)
    np.testing.assert_allclose(v["X"], expected, rtol=1e-12)
    assert v["y"] is val["y"]                                  # labels are left alone


def test_images_are_standardised_per_channel_and_constant_features_only_centred():
    X = np.zeros((10, 2, 3, 3))
    X[:, 1] = np.arange(10.0)[:, None, None]
    out = data.Standardizer.fit({"X": X}, ["X"]).apply({"X": X})["X"]
    assert np.array_equal(out[:, 0], X[:, 0])                 # constant channel: std 1
    np.testing.assert_allclose(out[:, 1].std(), 1.0)


def test_feature_names_exclude_labels_and_the_target():
    assert data.feature_names(SPEC, target="y") == ["X"]
    regression = ModelSpec("loss", {"X": ARGS["X"], "t": {"role": "data", "shape": ("N",)}},
                           [], ["X", "t"])
    assert data.feature_names(regression, target="t") == ["X"]


def test_batches_partition_the_rows_and_depend_on_seed_and_epoch_only():
    batches = data.batch_indices(10, 4, seed=1, epoch=2)
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))
    same = data.batch_indices(10, 4, seed=1, epoch=2)
    assert all(np.array_equal(a, b) for a, b in zip(batches, same))
    assert not np.array_equal(np.concatenate(batches),
                              np.concatenate(data.batch_indices(10, 4, seed=1, epoch=3)))
