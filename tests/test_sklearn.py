import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from daekit.data import load_dataset
from daekit.errors import DaekitError
from daekit.sklearn import DenoisingAutoencoder, SdAClassifier, StackedDenoisingAutoencoder


@pytest.fixture(scope="module")
def xy():
    d = load_dataset("digits", val_fraction=0.0)
    return d.train.flatten(1).numpy(), d.train_labels.numpy(), d.test.flatten(1).numpy(), d.test_labels.numpy()


def test_init_only_stores_and_clone_round_trips():
    est = SdAClassifier(layers=(16, 8), noise=("masking:0.1", "masking:0.2"), finetune_epochs=3)
    c = clone(est)
    assert c.get_params() == est.get_params() and c is not est
    assert not hasattr(c, "net_")
    c.set_params(finetune_epochs=5)
    assert c.finetune_epochs == 5 and est.finetune_epochs == 3


def test_dae_transformer(xy, tmp_path):
    X, _, Xt, _ = xy
    dae = DenoisingAutoencoder(hidden=32, epochs=5, lr=5e-3)
    assert dae.fit(X) is dae
    Z = dae.transform(Xt)
    assert Z.shape == (len(Xt), 32) and 0 <= Z.min() and Z.max() <= 1
    assert dae.inverse_transform(Z).shape == Xt.shape
    untrained = DenoisingAutoencoder(hidden=32, epochs=0).fit(X)
    assert dae.score(Xt) > untrained.score(Xt) + 2  # trained: reconstructs corrupted inputs better
    dae.save(tmp_path / "dae.safetensors")
    back = DenoisingAutoencoder.load(tmp_path / "dae.safetensors")
    np.testing.assert_array_equal(back.transform(Xt), Z)
    assert back.get_params() == dae.get_params()
    with pytest.raises(DaekitError, match="holds a DenoisingAutoencoder, not a SdAClassifier"):
        SdAClassifier.load(tmp_path / "dae.safetensors")


def test_stacked_transformer_in_a_pipeline_and_grid_search(xy):
    X, y, Xt, yt = xy
    pipe = Pipeline([("sda", StackedDenoisingAutoencoder(layers=(64, 32), epochs=3, lr=5e-3)), ("clf", LogisticRegression(max_iter=500))])
    pipe.fit(X, y)
    assert pipe.score(Xt, yt) > 0.8
    search = GridSearchCV(pipe, {"sda__noise": ["masking:0.1", "masking:0.3"]}, cv=2)
    search.fit(X[:400], y[:400])
    assert search.best_params_["sda__noise"] in ("masking:0.1", "masking:0.3")


def test_sda_classifier(xy, tmp_path):
    X, y, Xt, yt = xy
    labels = np.array(list("abcdefghij"))[y]  # any label type works
    clf = SdAClassifier(layers=(128, 64), pretrain_epochs=3, finetune_epochs=15)
    clf.fit(X, labels)
    assert set(clf.classes_) == set("abcdefghij")
    proba = clf.predict_proba(Xt)
    assert proba.shape == (len(Xt), 10) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert clf.score(Xt, np.array(list("abcdefghij"))[yt]) > 0.9
    clf.save(tmp_path / "clf.safetensors")
    back = SdAClassifier.load(tmp_path / "clf.safetensors")
    np.testing.assert_array_equal(back.predict(Xt), clf.predict(Xt))


def test_bad_input(xy):
    X, *_ = xy
    with pytest.raises(DaekitError, match="values must lie in"):
        DenoisingAutoencoder(epochs=1).fit(X * 255)
    with pytest.raises(DaekitError, match="Expected 2D array"):
        DenoisingAutoencoder(epochs=1).fit(X[0])
    with pytest.raises(ValueError, match="NaN"):  # an InputError is a ValueError too, as scikit-learn expects
        DenoisingAutoencoder(epochs=1).fit(np.where(X > 0.5, np.nan, X))
    with pytest.raises(DaekitError, match="Unknown label type"):
        SdAClassifier(pretrain_epochs=0, finetune_epochs=1).fit(X, np.linspace(0, 1, len(X)))
    dae = DenoisingAutoencoder(hidden=4, epochs=1).fit(X)
    with pytest.raises(DaekitError, match="fitted with 64"):
        dae.transform(X[:, :10])


CHECK_ESTIMATORS = (
    DenoisingAutoencoder(hidden=8, epochs=1),
    StackedDenoisingAutoencoder(layers=(8, 4), epochs=1),
    SdAClassifier(layers=(16,), pretrain_epochs=1, finetune_epochs=5, finetune_lr=0.03),  # passes the checks' accuracy bar
)
# Checks allowed not to pass, and why (docs/guide.md lists them too).
PIPELINE_EXPECTED = {
    # a Pipeline's `steps` hold the estimators it fits, which these two checks read as mutated parameters;
    # scikit-learn's own pipelines fail them the same way
    "check_estimators_overwrite_params": "Pipeline steps are fitted in place",
    "check_dont_overwrite_parameters": "Pipeline steps are fitted in place",
    # float32 mini-batch matmuls may differ in the last bits when the batch composition changes
    "check_methods_sample_order_invariance": "float32 results depend on the batch composition in the last bits",
    "check_methods_subset_invariance": "float32 results depend on the batch composition in the last bits",
}


@pytest.mark.parametrize("est", CHECK_ESTIMATORS, ids=lambda e: type(e).__name__)
def test_check_estimator(est):
    """scikit-learn's check_estimator, all of it: the estimators alone refuse values outside [0, 1], so the
    checks that feed such data fail on that refusal and on nothing else; behind MinMaxScaler(clip=True) (what
    users do with raw pixel values) every check passes but the listed ones."""
    import warnings

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alone = check_estimator(est, on_fail=None)
        piped = check_estimator(make_pipeline(MinMaxScaler(clip=True), est), on_fail=None)
    failed = [r for r in alone if r["status"] == "failed"]
    assert len(alone) - len(failed) >= 20
    odd = [(r["check_name"], str(r["exception"])[:200]) for r in failed if "must lie in [0, 1]" not in str(r["exception"])]
    assert not odd, odd
    failed = {r["check_name"] for r in piped if r["status"] == "failed"}
    assert failed <= set(PIPELINE_EXPECTED), failed - set(PIPELINE_EXPECTED)
    assert sum(r["status"] == "passed" for r in piped) >= 40
