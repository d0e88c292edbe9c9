"""scikit-learn estimators: a denoising autoencoder, a stacked one (transformers) and an SdA classifier.

``__init__`` only stores hyperparameters, ``fit`` returns ``self``, learned state ends in ``_``, so
``clone``, ``get_params``/``set_params``, ``Pipeline`` and ``GridSearchCV`` work. Inputs are 2-D
arrays (n_samples, n_features) of values in [0, 1] (flattened images). ``save``/``load`` write
safetensors + JSON, never a pickle.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from safetensors import SafetensorError
from sklearn.utils.validation import check_is_fitted

from .errors import DaekitError
from .io import atomic_write_text, load_tensors, save_tensors
from .metrics import psnr
from .noise import make_generator, parse_noise
from .config import StackConfig
from .stack import SdAClassifierNet, StackedEncoder, StackSettings, finetune_classifier, predict_proba, pretrain


# The training defaults are `daekit stack`'s (config.StackConfig). The transformers' sizes are their own:
# a feature extractor for a Pipeline, smaller than the classifier's stack, with more masking.
_D = StackConfig()


UNDER_SCALED = 0.25  # X whose maximum is below this was most likely divided by the wrong number


class InputError(DaekitError, ValueError):
    """Bad X or y for an estimator: a DaekitError (one clear line) and a ValueError, as scikit-learn expects."""


def _check_X(X: Any, n_features: int | None = None, y: Any = None, supervised: bool = False) -> tuple[torch.Tensor, np.ndarray | None]:
    """X as a float32 tensor (and y as 1-D labels if `supervised`), validated by scikit-learn, then values in [0, 1].

    scikit-learn's TypeErrors (sparse or non-numeric input) pass through unchanged.
    """
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_array, check_X_y

    try:
        # scikit-learn's own checks: 2-D, dense, real, finite, at least one sample and feature; y 1-D and finite
        if supervised:
            a, y = check_X_y(X, y, dtype=np.float32)
            check_classification_targets(y)
        else:
            a = check_array(X, dtype=np.float32)
    except ValueError as e:
        raise InputError(" ".join(str(e).split())) from None
    if a.min() < 0:
        raise InputError("Negative values in data passed to X: values must lie in [0, 1] (scale images first, e.g. X / 255)")
    if a.max() > 1:
        raise InputError("values must lie in [0, 1] (scale images first, e.g. X / 255)")
    if n_features is not None and a.shape[1] != n_features:
        raise InputError(f"X has {a.shape[1]} features, but the estimator was fitted with {n_features}")
    if 0 < a.max() < UNDER_SCALED:  # e.g. scikit-learn's digits (0..16) divided by 255: it trains, badly
        warnings.warn(f"X's largest value is {a.max():.3g}, far below 1: the corruption and the sigmoid outputs assume "
                      "values spread over [0, 1]; scale by the data's own maximum (e.g. X / X.max())", UserWarning, stacklevel=3)
    return torch.from_numpy(np.ascontiguousarray(a)), y


class _Persisted(BaseEstimator):
    """Pickle-free save/load shared by the estimators: hyperparameters as JSON, tensors as safetensors."""

    def __sklearn_tags__(self) -> Any:  # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True  # values in [0, 1]: negative ones are refused
        return tags

    def _tensors(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def _restore(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        raise NotImplementedError

    def _extra(self) -> dict[str, Any]:
        return {"n_features_in": self.n_features_in_}

    def save(self, path: str | Path) -> None:
        """Writes path (``.safetensors``) and its ``.json`` (class and hyperparameters), atomically."""
        check_is_fitted(self)
        path = Path(path)
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params().items()}
        meta = {"estimator": type(self).__name__, "params": params, "extra": self._extra()}
        atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")
        save_tensors(path, self._tensors())

    @classmethod
    def load(cls, path: str | Path) -> Any:
        """Rebuilds an estimator written by ``save``."""
        path = Path(path)
        try:
            meta = json.loads(path.with_suffix(".json").read_text())
            tensors = load_tensors(path)[0]
        except (OSError, ValueError, SafetensorError) as e:
            raise DaekitError(f"cannot load an estimator from {path}: {e}") from None
        if meta.get("estimator") != cls.__name__:
            raise DaekitError(f"{path} holds a {meta.get('estimator')}, not a {cls.__name__}")
        params = {k: (tuple(v) if isinstance(v, list) else v) for k, v in meta["params"].items()}
        est = cls(**params)
        est._restore(tensors, meta.get("extra", {}))
        return est

    def _encoder_from(self, tensors: dict[str, torch.Tensor], layers: list[int], n_features: int) -> StackedEncoder:
        enc = StackedEncoder(n_features, layers)
        enc.load_state_dict({k[len("encoder."):]: v for k, v in tensors.items() if k.startswith("encoder.")})
        return enc.eval()


def _noise_list(noise: Any) -> list[str]:
    return [noise] if isinstance(noise, str) else list(noise)


class StackedDenoisingAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, _Persisted):
    """Greedy layer-wise pretrained stack of dense DAEs; ``transform`` gives the top layer's codes.

    Args:
        layers: Hidden sizes, bottom to top.
        noise: One noise spec for all layers, or one per layer (e.g. ``("masking:0.1", "masking:0.2")``).
        epochs: Pretraining epochs per layer.
        batch_size: Samples per batch.
        lr: Adam learning rate.
        random_state: Seed.
        device: "cpu", "cuda", ...
    """

    def __init__(self, layers: tuple[int, ...] = (256, 128), noise: Any = "masking:0.3", epochs: int = _D.pretrain_epochs,
                 batch_size: int = _D.batch_size, lr: float = _D.pretrain_lr, random_state: int = 0, device: str = "cpu") -> None:
        self.layers = layers
        self.noise = noise
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.random_state = random_state
        self.device = device

    def fit(self, X: Any, y: Any = None) -> "StackedDenoisingAutoencoder":
        x, _ = _check_X(X)
        # StackSettings checks every value (checks.py): a bad one is one DaekitError line, as in the CLI
        s = StackSettings(layers=list(self.layers), noise=_noise_list(self.noise), pretrain_epochs=self.epochs,
                          batch_size=self.batch_size, pretrain_lr=self.lr, seed=self.random_state)
        encoder, self.history_, biases = pretrain(x, s, self.device)
        self.encoder_ = encoder.cpu().eval()
        self.decoder_biases_ = [b.cpu() for b in biases]
        self.n_features_in_ = x.shape[1]
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # the codes are computed (and returned) in float32
        return tags

    @property
    def _n_features_out(self) -> int:  # get_feature_names_out (and so set_output) name the top layer's units
        return int(self.layers[-1])

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        with torch.no_grad():
            return self.encoder_(_check_X(X, self.n_features_in_)[0]).numpy()

    def _tensors(self) -> dict[str, torch.Tensor]:
        out = {f"encoder.{k}": v for k, v in self.encoder_.state_dict().items()}
        return {**out, **{f"decoder_bias.{i}": b for i, b in enumerate(self.decoder_biases_)}}

    def _restore(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        self.n_features_in_ = int(extra["n_features_in"])
        layers = [int(h) for h in self.layers]
        self.encoder_ = self._encoder_from(tensors, layers, self.n_features_in_)
        self.decoder_biases_ = [tensors[f"decoder_bias.{i}"] for i in range(len(layers))]
        self.history_ = []


class DenoisingAutoencoder(StackedDenoisingAutoencoder):
    """One dense denoising autoencoder (tied weights, sigmoid units) as a transformer.

    ``transform`` gives the code, ``inverse_transform`` the reconstruction, ``score`` the mean PSNR
    (dB) of reconstructing X from a seeded corruption of it (higher is better).

    Args:
        hidden: Code size.
        noise: Corruption spec.
        epochs: Training epochs.
        batch_size: Samples per batch.
        lr: Adam learning rate.
        random_state: Seed.
        device: "cpu", "cuda", ...
    """

    def __init__(self, hidden: int = 256, noise: str = "masking:0.3", epochs: int = _D.pretrain_epochs,
                 batch_size: int = _D.batch_size, lr: float = _D.pretrain_lr, random_state: int = 0,
                 device: str = "cpu") -> None:
        self.hidden = hidden
        self.noise = noise
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.random_state = random_state
        self.device = device

    @property
    def layers(self) -> tuple[int, ...]:  # one layer: what the stacked machinery trains
        return (int(self.hidden),)

    def inverse_transform(self, Z: Any) -> np.ndarray:
        check_is_fitted(self)
        z = torch.as_tensor(np.asarray(Z, dtype=np.float32))
        with torch.no_grad():
            return torch.sigmoid(z @ self.encoder_.layers[0].weight + self.decoder_biases_[0]).numpy()

    def score(self, X: Any, y: Any = None) -> float:
        check_is_fitted(self)
        x, _ = _check_X(X, self.n_features_in_)
        noisy = parse_noise(self.noise)(x, make_generator(self.random_state)).clamp(0, 1)
        recon = torch.from_numpy(self.inverse_transform(self.transform(noisy.numpy())))
        return float(psnr(recon[:, None], x[:, None]).mean())


class SdAClassifier(ClassifierMixin, _Persisted):
    """Stacked denoising autoencoder pretrained layer by layer, then fine-tuned with a softmax layer.

    Args:
        layers: Hidden sizes, bottom to top.
        noise: One noise spec for all layers, or one per layer.
        pretrain_epochs: Epochs per layer (0 = no pretraining: random initialisation).
        finetune_epochs: Supervised epochs of the whole network.
        batch_size: Samples per batch.
        pretrain_lr: Adam learning rate of pretraining.
        finetune_lr: Adam learning rate of fine-tuning (cosine decay).
        random_state: Seed.
        device: "cpu", "cuda", ...
    """

    def __init__(self, layers: tuple[int, ...] = tuple(_D.layers), noise: Any = _D.noise,
                 pretrain_epochs: int = _D.pretrain_epochs, finetune_epochs: int = _D.finetune_epochs,
                 batch_size: int = _D.batch_size, pretrain_lr: float = _D.pretrain_lr, finetune_lr: float = _D.finetune_lr,
                 random_state: int = 0, device: str = "cpu") -> None:
        self.layers = layers
        self.noise = noise
        self.pretrain_epochs = pretrain_epochs
        self.finetune_epochs = finetune_epochs
        self.batch_size = batch_size
        self.pretrain_lr = pretrain_lr
        self.finetune_lr = finetune_lr
        self.random_state = random_state
        self.device = device

    def fit(self, X: Any, y: Any) -> "SdAClassifier":
        x, labels = _check_X(X, y=y, supervised=True)
        self.classes_, codes = np.unique(labels, return_inverse=True)
        s = StackSettings(layers=list(self.layers), noise=_noise_list(self.noise), pretrain_epochs=self.pretrain_epochs,
                          finetune_epochs=self.finetune_epochs, batch_size=self.batch_size, pretrain_lr=self.pretrain_lr,
                          finetune_lr=self.finetune_lr, seed=self.random_state)
        encoder, self.pretrain_history_, _ = pretrain(x, s, self.device)
        net, self.finetune_history_ = finetune_classifier(encoder, x, torch.as_tensor(codes, dtype=torch.long), len(self.classes_), s)
        self.net_ = net.cpu().eval()
        self.n_features_in_ = x.shape[1]
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return predict_proba(self.net_, _check_X(X, self.n_features_in_)[0]).numpy()

    def predict(self, X: Any) -> np.ndarray:
        proba = self.predict_proba(X)  # first: it raises NotFittedError before fit
        return self.classes_[proba.argmax(1)]

    def _tensors(self) -> dict[str, torch.Tensor]:
        return {**{f"encoder.{k}": v for k, v in self.net_.encoder.state_dict().items()},
                **{f"head.{k}": v for k, v in self.net_.head.state_dict().items()}}

    def _extra(self) -> dict[str, Any]:
        return {"n_features_in": self.n_features_in_, "classes": self.classes_.tolist()}

    def _restore(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        self.n_features_in_ = int(extra["n_features_in"])
        self.classes_ = np.asarray(extra["classes"])
        encoder = self._encoder_from(tensors, [int(h) for h in self.layers], self.n_features_in_)
        self.net_ = SdAClassifierNet(encoder, len(self.classes_)).eval()
        self.net_.head.load_state_dict({k[len("head."):]: v for k, v in tensors.items() if k.startswith("head.")})
        self.pretrain_history_, self.finetune_history_ = [], []
