"""The scikit-learn style estimators: learning, labels, saving, padding, parameters, errors."""

from __future__ import annotations

import doctest
import json
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from rnnkit import estimators
from rnnkit.estimators import Classifier, NotFittedError, Regressor
from rnnkit.runs import RunDirError

pytestmark = pytest.mark.usefixtures("one_thread")


def sequences(n: int, seed: int, margin: float = 0.25) -> list[np.ndarray]:
    """Variable-length (T_i, 1) sequences, lengths 3-12; those whose mean is within
    ``margin`` of 0 are dropped so the sign of the mean is a learnable, unambiguous label."""
    rng = np.random.default_rng(seed)
    X = [rng.normal(size=(t, 1)).astype(np.float32) for t in rng.integers(3, 13, size=n)]
    return [x for x in X if abs(x.mean()) > margin]


def sign_labels(X: list[np.ndarray]) -> np.ndarray:
    return np.array(["pos" if x.sum() > 0 else "neg" for x in X])


@pytest.fixture(scope="module")
def toy() -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray], np.ndarray]:
    X, X_test = sequences(256, seed=0), sequences(200, seed=1)
    return X, sign_labels(X), X_test, sign_labels(X_test)


@pytest.fixture(scope="module")
def fitted(toy) -> Iterator[Classifier]:
    X, y, _, _ = toy
    threads = torch.get_num_threads()  # module-scoped: `one_thread` is not active yet
    torch.set_num_threads(1)
    try:
        # a sum's sign: the last state of one direction learns it fastest
        yield Classifier(
            cell="lstm", hidden_size=16, epochs=20, lr=1e-2, bidirectional=False, pooling="last"
        ).fit(X, y)
    finally:
        torch.set_num_threads(threads)


# ---------------------------------------------------------------------- learning
def test_classifier_learns_sign_of_variable_length_sequences(fitted, toy):
    _, _, X_test, y_test = toy
    assert fitted.score(X_test, y_test) >= 0.95  # unseen sequences
    # one row an epoch; early stopping may end it (here at a perfect validation accuracy)
    assert [row["epoch"] for row in fitted.history_] == list(range(1, len(fitted.history_) + 1))
    assert fitted.history_[-1]["train_loss"] < fitted.history_[0]["train_loss"]
    assert fitted.n_features_in_ == 1


def test_string_labels_are_kept_and_returned(fitted, toy):
    _, _, X_test, _ = toy
    assert fitted.classes_.tolist() == ["neg", "pos"]
    predicted = fitted.predict(X_test)
    assert predicted.shape == (len(X_test),)
    assert set(predicted.tolist()) == {"neg", "pos"}


def test_labels_of_any_hashable_type_round_trip():
    X = sequences(64, seed=2)
    y = np.array([7 if x.sum() > 0 else -3 for x in X])
    clf = Classifier(hidden_size=8, epochs=2).fit(X, y)
    assert clf.classes_.tolist() == [-3, 7]
    assert set(clf.predict(X).tolist()) <= {-3, 7}


def test_predict_proba_rows_sum_to_one_and_match_predict(fitted, toy):
    _, _, X_test, _ = toy
    probs = fitted.predict_proba(X_test)
    assert probs.shape == (len(X_test), 2)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-6)
    assert (probs >= 0).all()
    np.testing.assert_array_equal(fitted.classes_[probs.argmax(1)], fitted.predict(X_test))


def test_regressor_learns_the_mean_of_each_sequence():
    X, X_test = sequences(256, seed=0, margin=0), sequences(200, seed=1, margin=0)
    y = np.array([x.mean() for x in X])
    y_test = np.array([x.mean() for x in X_test])
    reg = Regressor(cell="gru", hidden_size=16, epochs=20, pooling="mean").fit(X, y)
    assert reg.predict(X_test).shape == (len(X_test),)
    assert reg.score(X_test, y_test) > 0.9


def test_regressor_two_dimensional_targets_keep_their_shape_and_scale():
    X = sequences(128, seed=3, margin=0)
    # Columns of very different scales: the standardization must be undone in predict.
    y = np.array([[x.mean(), 100.0 * x.max()] for x in X])
    reg = Regressor(cell="gru", hidden_size=16, epochs=20, lr=1e-2, pooling="last").fit(X, y)
    predicted = reg.predict(X)
    assert predicted.shape == (len(X), 2)
    assert reg.n_outputs_ == 2
    assert abs(predicted[:, 1].mean() - y[:, 1].mean()) < 0.2 * y[:, 1].std()
    assert reg.score(X, y) > 0.5


def test_r2_matches_its_definition():
    X = sequences(40, seed=4, margin=0)
    y = np.array([x.mean() for x in X])
    reg = Regressor(hidden_size=8, epochs=1).fit(X, y)
    predicted = reg.predict(X)
    expected = 1 - ((y - predicted) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert reg.score(X, y) == pytest.approx(expected, abs=1e-6)  # y is float32


def test_three_dimensional_array_equals_list_of_arrays(fitted):
    X = np.random.default_rng(5).normal(size=(6, 4, 1)).astype(np.float32)
    np.testing.assert_allclose(
        fitted.predict_proba(X), fitted.predict_proba(list(X)), rtol=0, atol=1e-6
    )
    np.testing.assert_allclose(
        fitted.predict_proba(torch.from_numpy(X)), fitted.predict_proba(X), rtol=0, atol=1e-6
    )


# ---------------------------------------------------------------------- padding
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_does_not_change_a_prediction(pooling, bidirectional):
    X = sequences(32, seed=6)
    clf = Classifier(
        cell="gru", hidden_size=8, epochs=1, pooling=pooling, bidirectional=bidirectional
    ).fit(X, sign_labels(X))
    rng = np.random.default_rng(7)
    short = rng.normal(size=(3, 1)).astype(np.float32)
    longer = [rng.normal(size=(t, 1)).astype(np.float32) for t in (9, 12, 5)]
    alone = clf.predict_proba([short])
    in_batch = clf.predict_proba([longer[0], short, *longer[1:]])
    np.testing.assert_allclose(in_batch[1], alone[0], rtol=0, atol=1e-6)


# ---------------------------------------------------------------------- save and load
def test_save_load_gives_identical_predictions(fitted, toy, tmp_path):
    _, _, X_test, _ = toy
    run = fitted.save(tmp_path / "clf")
    assert run.weights_path.is_file()
    assert not list((tmp_path / "clf").rglob("*.pt"))  # safetensors and JSON, no pickle
    config = run.read_config()
    assert config["params"] == fitted.get_params()
    assert config["fitted"]["classes_"] == ["neg", "pos"]
    loaded = Classifier.load(tmp_path / "clf")
    assert loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(loaded.classes_, fitted.classes_)
    np.testing.assert_array_equal(loaded.predict(X_test), fitted.predict(X_test))
    np.testing.assert_array_equal(loaded.predict_proba(X_test), fitted.predict_proba(X_test))
    assert loaded.history_ == fitted.history_
    assert loaded.n_features_in_ == 1


def test_regressor_save_load_gives_identical_predictions(tmp_path):
    X = sequences(48, seed=8, margin=0)
    y = np.array([[x.mean(), x.max()] for x in X]) * 10.0
    reg = Regressor(hidden_size=8, epochs=2, bidirectional=True).fit(X, y)
    reg.save(tmp_path / "reg")
    loaded = Regressor.load(tmp_path / "reg")
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))


def test_save_refuses_a_non_empty_directory_unless_overwrite(fitted, tmp_path):
    fitted.save(tmp_path / "clf")
    with pytest.raises(RunDirError, match=r"clf: exists and is not empty; save\(\.\.\., overwrite"):
        fitted.save(tmp_path / "clf")
    fitted.save(tmp_path / "clf", overwrite=True)
    assert Classifier.load(tmp_path / "clf").classes_.tolist() == ["neg", "pos"]


def test_load_refuses_another_kind_of_estimator(fitted, tmp_path):
    fitted.save(tmp_path / "clf")
    with pytest.raises(ValueError, match="not a saved Regressor"):
        Regressor.load(tmp_path / "clf")


# ---------------------------------------------------------------------- parameters
def test_get_params_set_params_round_trip():
    clf = Classifier(cell="gru", hidden_size=12, patience=None, clip_norm=None)
    params = clf.get_params()
    assert params["cell"] == "gru" and params["hidden_size"] == 12 and params["clip_norm"] is None
    assert set(params) == {
        "cell", "hidden_size", "num_layers", "bidirectional", "dropout", "pooling", "epochs",
        "batch_size", "lr", "optimizer", "clip_norm", "seed", "validation_fraction",
        "patience", "min_updates", "normalize", "device",
    }  # fmt: skip
    other = Regressor().set_params(**params)
    assert other.get_params() == params
    assert clf.set_params(hidden_size=5, lr=0.5) is clf
    assert clf.get_params() == {**params, "hidden_size": 5, "lr": 0.5}
    with pytest.raises(ValueError, match="invalid parameter 'hidden'"):
        clf.set_params(hidden=3)


def test_constructor_stores_values_unchanged_and_sklearn_can_clone():
    base = pytest.importorskip("sklearn.base")
    weird = Classifier(hidden_size=-1, cell="nope")  # checked at fit, not here
    assert weird.hidden_size == -1 and weird.cell == "nope"
    clone = base.clone(Classifier(cell="gru", epochs=3))
    assert clone.get_params() == Classifier(cell="gru", epochs=3).get_params()
    assert repr(clone) == "Classifier(cell='gru', epochs=3)"


def test_same_seed_gives_identical_predictions(toy):
    X, y, X_test, _ = toy
    first = Classifier(hidden_size=8, epochs=3, seed=11, dropout=0.2, num_layers=2).fit(X, y)
    second = Classifier(hidden_size=8, epochs=3, seed=11, dropout=0.2, num_layers=2).fit(X, y)
    np.testing.assert_array_equal(first.predict_proba(X_test), second.predict_proba(X_test))
    third = Classifier(hidden_size=8, epochs=3, seed=12, dropout=0.2, num_layers=2).fit(X, y)
    assert not np.array_equal(first.predict_proba(X_test), third.predict_proba(X_test))


def test_validation_fraction_and_patience(toy):
    X, y, _, _ = toy
    clf = Classifier(hidden_size=8, epochs=30, lr=0.05, validation_fraction=0.25, patience=1)
    clf.fit(X, y)
    assert all("valid_loss" in row for row in clf.history_)
    assert len(clf.history_) < 30  # lr 0.05 overshoots quickly; patience 1 stops it


def test_bad_hyper_parameters_fail_at_fit(toy):
    X, y, _, _ = toy
    with pytest.raises(ValueError, match="batch_size"):
        Classifier(batch_size=0).fit(X, y)
    with pytest.raises(ValueError, match="validation_fraction"):
        Classifier(validation_fraction=1.0).fit(X, y)
    with pytest.raises(ValueError, match="patience needs validation"):
        Classifier(patience=2, validation_fraction=0).fit(X, y)
    with pytest.raises(ValueError, match="patience must be"):
        Classifier(patience=0).fit(X, y)
    with pytest.raises(ValueError, match="epochs must be"):
        Classifier(epochs="many").fit(X, y)
    with pytest.raises(ValueError, match="min_updates"):
        Classifier(min_updates=-1).fit(X, y)
    with pytest.raises(ValueError, match="normalize"):
        Classifier(normalize="yes").fit(X, y)
    with pytest.raises(ValueError, match="optimizer"):
        Classifier(optimizer="rmsprop").fit(X, y)
    with pytest.raises(ValueError, match="pooling"):
        Classifier(pooling="median").fit(X, y)


# ---------------------------------------------------------------------- input errors
def test_wrong_rank_of_x_names_x():
    y = np.array([0, 1])
    with pytest.raises(ValueError, match=r"X must be 3-D .* shape \(2, 5\)"):
        Classifier().fit(np.zeros((2, 5)), y)
    with pytest.raises(ValueError, match=r"X\[1\] must be a 2-D"):
        Classifier().fit([np.zeros((3, 1)), np.zeros(4)], y)
    with pytest.raises(ValueError, match=r"X\[1\] has 2 features"):
        Classifier().fit([np.zeros((3, 1)), np.zeros((4, 2))], y)
    with pytest.raises(ValueError, match="X is empty"):
        Classifier().fit([], [])


def test_feature_size_mismatch_at_predict(fitted):
    with pytest.raises(ValueError, match="X has 3 features per step, but this Classifier"):
        fitted.predict([np.zeros((4, 3), dtype=np.float32)])


def test_x_y_length_mismatch():
    X = sequences(20, seed=9)
    with pytest.raises(ValueError, match="X and y have different lengths"):
        Classifier().fit(X, sign_labels(X)[:-1])
    with pytest.raises(ValueError, match="X and y have different lengths"):
        Regressor().fit(X, np.zeros(len(X) + 1))


def test_trailing_nan_in_an_array_is_padding_as_in_the_ucr_archive(fitted, toy):
    _, _, X_test, _ = toy
    longest = max(len(x) for x in X_test)
    padded = np.full((len(X_test), longest, 1), np.nan, dtype=np.float32)
    for i, x in enumerate(X_test):
        padded[i, : len(x)] = x
    np.testing.assert_allclose(fitted.predict_proba(padded), fitted.predict_proba(X_test),
                               atol=1e-6)  # fmt: skip
    padded[0, 0, 0] = np.nan  # before the end: missing, not padding
    with pytest.raises(ValueError, match="X contains NaN"):
        fitted.predict(padded)


def test_nan_in_x_is_refused():
    X = sequences(20, seed=10)
    y = sign_labels(X)
    X[3] = X[3].copy()
    X[3][1, 0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        Classifier().fit(X, y)
    with pytest.raises(ValueError, match="X contains NaN"):
        Classifier().fit(np.full((2, 3, 1), np.inf), [0, 1])


def test_series_a_row_get_a_hint_to_add_the_feature_axis():
    import pandas as pd

    table = np.zeros((6, 5), dtype=np.float32)
    y = [0, 1] * 3
    with pytest.raises(
        ValueError, match=r"shape \(6, 5\) \(one feature a step: X\[\.\.\., None\]\)"
    ):
        Classifier().fit(table, y)
    with pytest.raises(ValueError, match=r"X\[0\] .* shape \(5,\) \(one feature a step"):
        Classifier().fit(list(table), y)
    frame = pd.DataFrame(table, columns=[f"t{i}" for i in range(5)])
    with pytest.raises(ValueError, match=r"X is a DataFrame: .*X\.to_numpy\(\)\[\.\.\., None\]"):
        Classifier().fit(frame, y)


def test_bad_targets_are_refused():
    X = sequences(20, seed=11)
    with pytest.raises(ValueError, match="y must be 1-D"):
        Classifier().fit(X, np.zeros((len(X), 2)))
    with pytest.raises(ValueError, match="at least 2 classes"):
        Classifier().fit(X, ["a"] * len(X))
    with pytest.raises(ValueError, match=r"not whole \(continuous\).*rnnkit.Regressor"):
        Classifier().fit(X, np.linspace(0, 1, len(X)))
    with pytest.raises(ValueError, match="y contains NaN"):
        Regressor().fit(X, np.full(len(X), np.nan))
    with pytest.raises(ValueError, match=r"y must be 1-D .* or 2-D"):
        Regressor().fit(X, np.zeros((len(X), 1, 1)))


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score", "save"])
def test_use_before_fit_raises_not_fitted(method, tmp_path):
    args = {
        "predict": ([np.zeros((3, 1))],),
        "predict_proba": ([np.zeros((3, 1))],),
        "score": ([np.zeros((3, 1))], ["a"]),
        "save": (tmp_path / "never",),
    }[method]
    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(Classifier(), method)(*args)
    assert issubclass(NotFittedError, ValueError)
    assert not (tmp_path / "never").exists()


def test_a_failed_refit_leaves_the_estimator_unfitted():
    X = sequences(20, seed=12)
    clf = Classifier(hidden_size=4, epochs=1).fit(X, sign_labels(X))
    with pytest.raises(ValueError, match="optimizer"):
        clf.set_params(optimizer="rmsprop").fit(X, np.where(sign_labels(X) == "pos", 1, 0))
    with pytest.raises(NotFittedError):
        clf.predict(X)  # not the old model with the new classes_


def test_regressor_predict_before_fit():
    with pytest.raises(NotFittedError):
        Regressor().predict(np.zeros((1, 3, 1)))


def test_docstring_examples_run():
    result = doctest.testmod(estimators, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


# ---------------------------------------------------------------------- defaults
def test_auto_budget_grows_with_a_small_training_set_and_keeps_given_values():
    """``"auto"`` epochs and patience start from 30 and 5 and grow to ``min_updates``
    updates (and a sixth of them); given ones are kept, and there is no patience without
    validation data."""
    X = sequences(60, seed=3)  # about 50 sequences: 45 train, 2 batches an epoch
    y = sign_labels(X)
    clf = Classifier(hidden_size=4, min_updates=120).fit(X, y)
    n_train = len(X) - max(round(len(X) * 0.1), 1)
    updates = -(-n_train // 32)
    assert (clf.epochs_, clf.patience_) == (max(30, -(-120 // updates)), -(-120 // (6 * updates)))
    assert clf.patience_ > 5
    assert 1 <= len(clf.history_) <= clf.epochs_
    assert all("valid_accuracy" in row for row in clf.history_)
    given = Classifier(hidden_size=4, epochs=3, patience=None, min_updates=10_000).fit(X, y)
    assert (given.epochs_, given.patience_, len(given.history_)) == (3, None, 3)
    unvalidated = Classifier(hidden_size=4, epochs=2, validation_fraction=0).fit(X, y)
    assert unvalidated.patience_ is None


def test_the_kept_epoch_is_the_best_validation_accuracy():
    X = sequences(120, seed=4)
    clf = Classifier(hidden_size=4, epochs=8, patience=None, lr=0.05).fit(X, sign_labels(X))
    accuracies = [row["valid_accuracy"] for row in clf.history_]
    losses = [row["valid_loss"] for row in clf.history_]
    best = max(range(len(accuracies)), key=lambda i: (accuracies[i], -losses[i]))
    # the held-out sequences are the first of the seeded order: score them with the model kept
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    held = [X[i] for i in order[: max(round(len(X) * 0.1), 1)]]
    assert clf.score(held, sign_labels(held)) == pytest.approx(accuracies[best])


def test_normalize_makes_predictions_independent_of_the_features_scale():
    X = sequences(64, seed=5)
    y = sign_labels(X)
    shifted = [1000.0 * x + 50.0 for x in X]
    plain = Classifier(hidden_size=4, epochs=3).fit(X, y)
    scaled = Classifier(hidden_size=4, epochs=3).fit(shifted, y)
    np.testing.assert_allclose(
        plain.predict_proba(X), scaled.predict_proba(shifted), rtol=0, atol=1e-4
    )
    raw = Classifier(hidden_size=4, epochs=3, normalize=False).fit(shifted, y)
    assert not np.allclose(raw.predict_proba(shifted), scaled.predict_proba(shifted), atol=1e-2)


def test_an_estimator_saved_before_normalize_loads_as_it_was_fitted(tmp_path):
    """Estimators saved before ``normalize`` and ``min_updates`` existed had neither: they
    load with ``normalize=False`` and predict from the features as given."""
    X = sequences(40, seed=6)
    old = Classifier(hidden_size=4, epochs=2, normalize=False).fit(X, sign_labels(X))
    run = old.save(tmp_path / "old")
    config = run.read_config()
    for name in ("normalize", "min_updates"):
        del config["params"][name]
    (tmp_path / "old" / "config.json").write_text(json.dumps(config))
    loaded = Classifier.load(tmp_path / "old")
    assert loaded.normalize is False and loaded.min_updates == 0
    np.testing.assert_array_equal(loaded.predict_proba(X), old.predict_proba(X))


# ---------------------------------------------------------------------- scikit-learn's tools
def test_scikit_learn_tools_see_a_classifier_and_a_regressor(toy):
    """scikit-learn >= 1.6 reads ``__sklearn_tags__``: without it ``is_classifier``,
    ``cross_val_score`` and ``GridSearchCV`` stopped with an AttributeError. A grid of NumPy
    integers (``np.arange``) is a grid of hyper-parameters like any other."""
    base = pytest.importorskip("sklearn.base")
    selection = pytest.importorskip("sklearn.model_selection")
    assert base.is_classifier(Classifier()) and base.is_regressor(Regressor())
    assert not base.is_regressor(Classifier()) and not base.is_classifier(Regressor())
    X, y, _, _ = toy
    X, y = X[:60], y[:60]
    quick = {"hidden_size": 4, "epochs": 2, "min_updates": 0, "validation_fraction": 0}
    scores = selection.cross_val_score(Classifier(**quick), X, y, cv=2)
    assert scores.shape == (2,) and ((0 <= scores) & (scores <= 1)).all()
    grid = {"hidden_size": np.arange(4, 9, 4), "epochs": np.array([1])}
    search = selection.GridSearchCV(Classifier(**quick), grid, cv=2).fit(X, y)
    assert search.best_params_["hidden_size"] in (4, 8)
    targets = np.array([x.mean() for x in X])
    assert selection.cross_val_score(Regressor(**quick), X, targets, cv=2).shape == (2,)


def test_a_seeded_fit_leaves_the_global_generators_as_they_were(toy):
    """Before, every fit seeded Python's, NumPy's and torch's global generators with its
    ``seed``: a user's draws after each fit repeated."""
    import random

    X, y, _, _ = toy

    def draws() -> tuple[float, float, float]:
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    expected = draws(), draws()
    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    got = [draws()]
    Classifier(hidden_size=4, epochs=1, min_updates=0, seed=3).fit(X[:40], y[:40])
    got.append(draws())
    assert got == list(expected)


def test_a_column_vector_of_labels_is_read_with_a_warning(toy):
    X, y, _, _ = toy
    quick = {"hidden_size": 4, "epochs": 1, "min_updates": 0}
    with pytest.warns(UserWarning, match=r"y is a column vector \(N, 1\)") as caught:
        clf = Classifier(**quick).fit(X[:40], y[:40].reshape(-1, 1))
    assert caught[0].filename == __file__  # the warning points at the caller's line
    assert clf.classes_.tolist() == ["neg", "pos"]
    with pytest.warns(UserWarning, match="column vector"):
        assert 0 <= clf.score(X[:40], y[:40].reshape(-1, 1)) <= 1


def test_save_after_set_params_writes_the_fitted_model_and_its_params(toy, tmp_path):
    """set_params takes effect at the next fit; save wrote the new values beside the old
    weights (a load error for hidden_size, a silently different model for pooling)."""
    X, y, X_test, _ = toy
    clf = Classifier(hidden_size=8, epochs=2, seed=0).fit(X[:64], y[:64])
    expected = clf.predict_proba(X_test)
    clf.set_params(hidden_size=16, pooling="last")
    loaded = Classifier.load(clf.save(tmp_path / "clf").path)
    assert (loaded.hidden_size, loaded.pooling) == (8, "max")
    np.testing.assert_array_equal(loaded.predict_proba(X_test), expected)
    np.testing.assert_array_equal(clf.predict_proba(X_test), expected)  # until the next fit


def test_score_refuses_labels_of_another_type_and_a_failed_fit_is_not_fitted(fitted, toy):
    """score gave 0.0 for y as numbers against string classes (scikit-learn raises), and a
    fit that failed after reading y left check_is_fitted saying "fitted"."""
    from sklearn.exceptions import NotFittedError as SklearnNotFitted
    from sklearn.utils.validation import check_is_fitted

    _, _, X_test, y_test = toy
    numbers = (y_test == "pos").astype(int)
    with pytest.raises(ValueError, match=r"y's labels are numbers but the classes fitted are"):
        fitted.score(X_test, numbers)
    clf = Classifier(hidden_size=4, epochs=1, validation_fraction=0.99)
    with pytest.raises(ValueError, match="leaves no training sequences"):
        clf.fit(X_test[:3], y_test[:3])
    with pytest.raises(SklearnNotFitted):
        check_is_fitted(clf)


def test_a_regressor_refuses_string_targets():
    """'1'...'9' were read as numbers; scikit-learn refuses them, they are labels."""
    X = [np.ones((3, 1), np.float32)] * 4
    with pytest.raises(ValueError, match="y holds strings: a regressor's targets are numbers"):
        Regressor(epochs=1).fit(X, ["1", "2", "3", "4"])
