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
    with pytest.raises(DaekitError, match="2-D array"):
        DenoisingAutoencoder(epochs=1).fit(X[0])
    dae = DenoisingAutoencoder(hidden=4, epochs=1).fit(X)
    with pytest.raises(DaekitError, match="fitted with 64"):
        dae.transform(X[:, :10])


def test_check_estimator_subset():
    """The applicable part of scikit-learn's estimator checks (see docs/guide.md for what is skipped and why)."""
    from sklearn.utils.estimator_checks import check_get_params_invariance, check_no_attributes_set_in_init, check_parameters_default_constructible

    for est in (DenoisingAutoencoder(), StackedDenoisingAutoencoder(), SdAClassifier()):
        name = type(est).__name__
        check_no_attributes_set_in_init(name, est)
        check_parameters_default_constructible(name, est)
        check_get_params_invariance(name, est)
