"""anomaly_ae.benchmark.peers: each PyOD peer runs and ranks easy anomalies first, a config's
settings reach the PyOD object, bad names and settings are refused, and a seed repeats a run."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from anomaly_ae.benchmark.peers import (
    PEERS,
    PeerUnavailable,
    build_detector,
    peer_settings,
    pixels,
    run_peer,
)
from anomaly_ae.errors import ConfigError

pytest.importorskip("pyod")


# a few epochs keep the deep peers to a fraction of a second on 200 images
FAST = {
    "pyod_autoencoder": {"epoch_num": 2},
    "pyod_vae": {"epoch_num": 2},
    "pyod_deepsvdd": {"epochs": 2},
    "pyod_iforest": {},
    "pyod_ocsvm": {},
}
TORCH_PEERS = [name for name, spec in PEERS.items() if spec.uses_torch]
RESULT_KEYS = {
    "auroc",
    "fit_seconds",
    "score_seconds",
    "library",
    "library_version",
    "class",
    "settings",
}


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny batches run many times slower on two threads than on one (as the runner sets it
    per process); restored afterwards for the other modules of a serial run."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def blobs(n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` dim 28x28 images, each a Gaussian blob (peak 0.3) near the centre."""
    grid = torch.arange(28, dtype=torch.float32)
    centres = 14 + 3 * torch.randn(n, 2, generator=generator)
    dy = (grid[None, :] - centres[:, :1]) ** 2
    dx = (grid[None, :] - centres[:, 1:]) ** 2
    images = 0.3 * torch.exp(-(dy[:, :, None] + dx[:, None, :]) / 18)
    return images[:, None]


@pytest.fixture(scope="module")
def easy_data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """200 training blobs; a test set of 100 blobs (normal) and 100 bright noise images."""
    generator = torch.Generator().manual_seed(0)
    train = blobs(200, generator)
    noise = 0.5 + 0.5 * torch.rand(100, 1, 28, 28, generator=generator)
    test = torch.cat([blobs(100, generator), noise])
    targets = torch.cat([torch.zeros(100), torch.ones(100)]).long()
    return train, test, targets


@pytest.mark.parametrize("name", sorted(PEERS))
def test_peer_runs_and_ranks_easy_anomalies_first(easy_data, name: str) -> None:
    result = run_peer(name, FAST[name], *easy_data, seed=0)
    assert set(result) == RESULT_KEYS
    assert 0.8 < result["auroc"] <= 1.0
    assert result["fit_seconds"] > 0 and result["score_seconds"] > 0
    assert result["library"] == "pyod" and result["library_version"]
    assert result["class"] == PEERS[name].qualified_name
    assert result["class"].startswith("pyod.models.")
    json.dumps(result)  # the runner writes it as it is
    for key, value in FAST[name].items():
        assert result["settings"][key] == value


def test_settings_reach_the_pyod_object(easy_data) -> None:
    train, _, _ = easy_data
    kwargs = peer_settings("pyod_iforest", {"n_estimators": 7}, 784, seed=3)
    detector = build_detector("pyod_iforest", kwargs, seed=3)
    assert detector.n_estimators == 7 and detector.random_state == 3
    detector.fit(pixels(train))
    assert len(detector.estimators_) == 7
    result = run_peer("pyod_iforest", {"n_estimators": 7}, *easy_data, seed=3)
    assert result["settings"]["n_estimators"] == 7


def test_defaults_are_pyods_but_seeded_quiet_and_on_a_chosen_device() -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    autoencoder = peer_settings("pyod_autoencoder", {}, 784, seed=5)
    assert autoencoder["epoch_num"] == 10 and autoencoder["batch_size"] == 32
    assert autoencoder["hidden_neuron_list"] == [64, 32] and autoencoder["preprocessing"]
    assert autoencoder["random_state"] == 5 and autoencoder["verbose"] == 0
    assert autoencoder["device"] == device
    assert autoencoder["contamination"] == 0.1
    deepsvdd = peer_settings("pyod_deepsvdd", {}, 784, seed=5)
    assert deepsvdd["n_features"] == 784 and deepsvdd["random_state"] == 5
    assert deepsvdd["epochs"] == 100 and deepsvdd["verbose"] == 0
    assert "device" not in deepsvdd  # PyOD's DeepSVDD runs on the CPU
    ocsvm = peer_settings("pyod_ocsvm", {}, 784, seed=5)
    assert ocsvm["verbose"] is False and "random_state" not in ocsvm
    assert ocsvm["kernel"] == "rbf" and ocsvm["nu"] == 0.5


def test_a_run_leaves_pyods_mutable_defaults_alone(easy_data) -> None:
    kwargs = peer_settings("pyod_autoencoder", {}, 784, seed=0)
    kwargs["optimizer_params"]["weight_decay"] = 1.0
    assert peer_settings("pyod_autoencoder", {}, 784, seed=0)["optimizer_params"] == {
        "weight_decay": 1e-5
    }


def test_an_unknown_peer_is_refused_with_the_known_ones(easy_data) -> None:
    with pytest.raises(ConfigError, match=r"unknown peer 'pyod_knn'.*pyod_iforest"):
        run_peer("pyod_knn", {}, *easy_data, seed=0)


@pytest.mark.parametrize(
    ("name", "settings", "message"),
    [
        ("pyod_ocsvm", {"n_estimators": 10}, r"takes no argument 'n_estimators'.*nu"),
        ("pyod_autoencoder", {"epochs": 1}, r"takes no argument 'epochs'.*epoch_num"),
        ("pyod_deepsvdd", {"n_features": 10}, r"'n_features' is not a setting"),
        ("pyod_iforest", {"random_state": 1}, r"'random_state' is not a setting.*seed"),
    ],
)
def test_a_setting_the_class_does_not_take_is_refused(
    easy_data, name: str, settings: dict, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        run_peer(name, settings, *easy_data, seed=0)


def test_a_value_pyod_rejects_is_a_config_error(easy_data) -> None:
    with pytest.raises(ConfigError, match="contamination"):
        run_peer("pyod_iforest", {"contamination": 0.9}, *easy_data, seed=0)


def test_missing_pyod_is_one_line(easy_data, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyod.models.iforest", None)  # import raises ImportError
    with pytest.raises(PeerUnavailable, match=r"^PyOD is not installed: pip install"):
        run_peer("pyod_iforest", {}, *easy_data, seed=0)


@pytest.mark.parametrize("name", TORCH_PEERS)
def test_a_seed_repeats_a_torch_peer(easy_data, name: str) -> None:
    train, test, _ = easy_data
    # random labels on the normal images: an AUROC that moves with every score
    normal = test[:100]
    labels = torch.randint(0, 2, (100,), generator=torch.Generator().manual_seed(1))
    first = run_peer(name, FAST[name], train, normal, labels, seed=4)["auroc"]
    again = run_peer(name, FAST[name], train, normal, labels, seed=4)["auroc"]
    assert first == again

    def scores(seed: int) -> np.ndarray:
        kwargs = peer_settings(name, FAST[name], 784, seed)
        detector = build_detector(name, kwargs, seed)
        return detector.fit(pixels(train)).decision_function(pixels(normal))

    np.testing.assert_array_equal(scores(4), scores(4))
    assert not np.array_equal(scores(4), scores(5))
