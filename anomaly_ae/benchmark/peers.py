"""The peer detectors of the one-class MNIST benchmark: five PyOD classes with PyOD's defaults.

Each peer is what someone who picks PyOD instead of anomaly_ae gets: fit the class on the
normal digit's flattened training images (``(N, C*H*W)`` float32 pixels in [0, 1]), rank the
test images by ``decision_function`` (higher is more anomalous) and compute the AUROC. Only
these differ from PyOD's defaults: ``random_state`` is the run's seed (where the class takes
one), progress output is off, the torch-based classes with a ``device`` argument use
``"cuda"`` when there is a GPU and ``"cpu"`` otherwise, and DeepSVDD is told ``n_features``.
``contamination`` stays at PyOD's 0.1: it only sets ``threshold_``/``labels_`` and changes no
score. A config's ``settings`` override any other constructor argument.

PyOD 3.6.7's defaults, read from its source (``pyod/models/*.py``):

``pyod_autoencoder`` (``pyod.models.auto_encoder.AutoEncoder``)
    784-64-32-64-784 (``hidden_neuron_list=[64, 32]``, mirrored, then a plain linear output),
    ReLU, batch norm and dropout 0.2 in every hidden layer, weights kaiming-uniform;
    ``epoch_num=10``, ``batch_size=32`` (shuffled, last incomplete batch dropped), Adam
    ``lr=1e-3`` with ``weight_decay=1e-5``, MSE loss. ``preprocessing=True`` standardises every
    pixel with the training mean and std (+1e-8): a pixel that is blank in every training image
    turns any ink there into ~1e8 units. Score: Euclidean norm of the reconstruction error in
    that space. The constructor seeds Python's, NumPy's and torch's generators.
``pyod_vae`` (``pyod.models.vae.VAE``)
    encoder 784-128-64-32, a 2-d code (``latent_dim=2``), decoder 2-32-64-128-784 with an
    identity output; ReLU, dropout 0.2, no batch norm; ``epoch_num=30``, ``batch_size=32``, Adam
    ``lr=1e-3`` with ``weight_decay=1e-5``; ``beta=1.0`` but ``capacity=0.0``, and the KL term is
    clamped to [0, capacity], so by default it trains on the MSE alone. Same standardisation
    and score as the AutoEncoder, with one sampled code per image (the score is random too).
``pyod_deepsvdd`` (``pyod.models.deep_svdd.DeepSVDD``)
    a bias-free 784-64-32 net (``hidden_neurons=None`` means ``[64, 32]``) with ReLU after each
    layer, no dropout layer at that depth, ``use_ae=False``; ``epochs=100``, ``batch_size=32``,
    Adam ``learning_rate=1e-4`` with ``l2_regularizer=0.5e-6`` as weight decay; the centre is
    the mean initial output; the epoch with the lowest training loss is kept.
    ``preprocessing=True`` is sklearn's ``StandardScaler`` (a constant pixel is left unscaled).
    Score: squared distance to the centre. No ``device`` argument: it always runs on the CPU;
    ``random_state`` defaults to None.
``pyod_iforest`` (``pyod.models.iforest.IForest``)
    sklearn's ``IsolationForest``: ``n_estimators=100``, ``max_samples="auto"`` (256 images per
    tree), ``max_features=1.0``, no bootstrap, ``n_jobs=1``; raw pixels. Score: minus sklearn's
    ``decision_function``.
``pyod_ocsvm`` (``pyod.models.ocsvm.OCSVM``)
    sklearn's ``OneClassSVM``: ``kernel="rbf"``, ``gamma="auto"`` (1 / 784), ``nu=0.5``,
    ``tol=1e-3``, ``cache_size=200`` MB; raw pixels; deterministic (no ``random_state``).
    Score: minus sklearn's ``decision_function``.

``fit_seconds`` times ``fit`` alone: the deep classes' ``fit`` ends by scoring the training
images once (for ``threshold_``), and that is part of what a PyOD user pays.
``score_seconds`` times ``decision_function`` on the test images.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torchmetrics.functional.classification import binary_auroc

from anomaly_ae.errors import AnomalyAEError, ConfigError
from anomaly_ae.metrics import scores_to_unit_interval

INSTALL_HINT = "PyOD is not installed: pip install 'anomaly_ae[bench]'"
# set by run_peer from the data and the seed, never by a config
DATA_SET_ARGUMENTS = {
    "n_features": "the number of pixels per image",
    "random_state": "the run's seed",
}


class PeerUnavailable(AnomalyAEError):
    """The peer's library is missing; a caller skips the peer with this message as the reason."""


@dataclass(frozen=True)
class PeerSpec:
    """Where a peer's PyOD class lives and how it is driven."""

    module: str
    class_name: str
    #: trained with torch: the run seeds torch (and NumPy, Python) before building it
    uses_torch: bool
    #: scores with PyOD's numba-compiled distance (compiled once before the timed fit)
    uses_numba_distance: bool = False

    @property
    def qualified_name(self) -> str:
        return f"{self.module}.{self.class_name}"


PEERS: dict[str, PeerSpec] = {
    "pyod_autoencoder": PeerSpec("pyod.models.auto_encoder", "AutoEncoder", True, True),
    "pyod_vae": PeerSpec("pyod.models.vae", "VAE", True, True),
    "pyod_deepsvdd": PeerSpec("pyod.models.deep_svdd", "DeepSVDD", True),
    "pyod_iforest": PeerSpec("pyod.models.iforest", "IForest", False),
    "pyod_ocsvm": PeerSpec("pyod.models.ocsvm", "OCSVM", False),
}


def peer_spec(name: str) -> PeerSpec:
    """The registered peer ``name``; a ``ConfigError`` listing the known ones otherwise."""
    try:
        return PEERS[name]
    except KeyError:
        raise ConfigError(
            f"unknown peer {name!r}: choose one of {', '.join(sorted(PEERS))}"
        ) from None


def peer_class(spec: PeerSpec) -> type:
    """The PyOD class of ``spec``; ``PeerUnavailable`` when PyOD cannot be imported."""
    try:
        return getattr(importlib.import_module(spec.module), spec.class_name)
    except ImportError as error:
        raise PeerUnavailable(INSTALL_HINT) from error


def peer_settings(
    name: str, settings: Mapping[str, Any], n_features: int, seed: int
) -> dict[str, Any]:
    """Every constructor argument of peer ``name``'s class with the value it gets: PyOD's
    default, then this benchmark's (seed, quiet, device, ``n_features``), then ``settings``.

    Raises ``ConfigError`` for a key the class does not take or one set from the data.
    """
    spec = peer_spec(name)
    parameters = inspect.signature(peer_class(spec)).parameters
    for key in settings:
        if key in DATA_SET_ARGUMENTS and key in parameters:
            raise ConfigError(
                f"{spec.qualified_name}: {key!r} is not a setting, it is {DATA_SET_ARGUMENTS[key]}"
            )
        if key not in parameters:
            raise ConfigError(
                f"{spec.qualified_name} takes no argument {key!r}; it takes: "
                f"{', '.join(k for k in parameters if k not in DATA_SET_ARGUMENTS)}"
            )
    # copies, so that a run never shares (or changes) PyOD's mutable default lists and dicts
    kwargs = {
        k: copy.deepcopy(p.default)
        for k, p in parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    ours = {
        "n_features": n_features,
        "random_state": seed,
        "verbose": False if isinstance(kwargs.get("verbose"), bool) else 0,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
    }
    kwargs.update({k: v for k, v in ours.items() if k in parameters})
    kwargs.update(copy.deepcopy(dict(settings)))
    return kwargs


def build_detector(name: str, kwargs: Mapping[str, Any], seed: int) -> Any:
    """Peer ``name``'s PyOD detector built with ``kwargs``, the global generators seeded first
    for the torch-based ones (DeepSVDD shuffles with NumPy's; the VAE samples with torch's)."""
    spec = peer_spec(name)
    cls = peer_class(spec)
    if spec.uses_torch:
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{spec.qualified_name}: {error}") from error


def pixels(images: torch.Tensor) -> np.ndarray:
    """Images ``(N, C, H, W)`` as the float32 ``(N, C*H*W)`` array a PyOD user would pass."""
    return images.detach().cpu().reshape(len(images), -1).to(torch.float32).numpy()


def compile_numba_distance(n_features: int) -> None:
    """Compile PyOD's numba distance for float32 rows now, so that the one-off compilation
    (seconds) is not timed as part of the first ``fit``."""
    try:
        from pyod.utils.stat_models import pairwise_distances_no_broadcast
    except ImportError as error:
        raise PeerUnavailable(INSTALL_HINT) from error
    rows = np.zeros((2, n_features), dtype=np.float32)
    pairwise_distances_no_broadcast(rows, rows)


def run_peer(
    name: str,
    settings: Mapping[str, Any],
    train: torch.Tensor,
    test: torch.Tensor,
    targets: torch.Tensor,
    seed: int,
) -> dict[str, Any]:
    """Fit peer ``name`` on the normal ``train`` images, score ``test`` and compute the AUROC
    against ``targets`` (0 normal, 1 anomaly).

    Returns ``auroc``, ``fit_seconds``, ``score_seconds``, ``library``, ``library_version``,
    ``class`` (the PyOD class's full name) and ``settings`` (every constructor argument used).
    Raises ``ConfigError`` for an unknown peer or setting, ``PeerUnavailable`` without PyOD.
    Sets no thread counts: the caller decides them.
    """
    spec = peer_spec(name)
    x_train, x_test = pixels(train), pixels(test)
    if x_train.shape[1] != x_test.shape[1]:
        raise ValueError(
            f"train images have {x_train.shape[1]} pixels, test images {x_test.shape[1]}"
        )
    kwargs = peer_settings(name, settings, x_train.shape[1], seed)
    if spec.uses_numba_distance:
        compile_numba_distance(x_train.shape[1])
    detector = build_detector(name, kwargs, seed)

    start = time.perf_counter()
    detector.fit(x_train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores = torch.as_tensor(np.asarray(detector.decision_function(x_test))).reshape(-1)
    score_seconds = time.perf_counter() - start
    if not torch.isfinite(scores).all():
        raise RuntimeError(f"{spec.qualified_name} gave non-finite scores: no AUROC")

    # into [0, 1], order kept: torchmetrics would squash scores outside it with a sigmoid
    probs = scores_to_unit_interval(scores)
    auroc = float(binary_auroc(probs, targets.detach().cpu().long().reshape(-1)))
    return {
        "auroc": auroc,
        "fit_seconds": fit_seconds,
        "score_seconds": score_seconds,
        "library": "pyod",
        "library_version": importlib.import_module("pyod").__version__,
        "class": spec.qualified_name,
        "settings": kwargs,
    }
