"""One real epoch on MNIST (and KMNIST when present), when ANOMALY_AE_DATA holds the files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from anomaly_ae.data import get_source
from anomaly_ae.train import train
from tests.conftest import compose_config, real_data_root

ROOT = real_data_root()
pytestmark = [
    pytest.mark.real_data,
    pytest.mark.skipif(
        ROOT is None,
        reason="ANOMALY_AE_DATA does not hold the real MNIST files (<dir>/MNIST/raw/*-ubyte); "
        "run with ANOMALY_AE_DATA=../shared/data",
    ),
]


def has_kmnist_test() -> bool:
    return ROOT is not None and not get_source("kmnist", "data.anomaly").missing_files(ROOT, "test")


def real_run(out: Path, anomaly: str) -> dict:
    return train(
        compose_config(
            "train",
            [
                f"data.root={ROOT}",
                f"data.anomaly={anomaly}",
                "data.download=false",
                "trainer.max_epochs=1",
                "trainer.accelerator=cpu",
                "trainer.enable_progress_bar=false",
                f"paths.output_dir={out}",
            ],
        )
    )


def test_real_mnist_labels_match_the_published_class_counts() -> None:
    mnist = get_source("mnist", "data.normal")
    train_counts = torch.bincount(mnist.load(ROOT, "train").labels).tolist()
    test_counts = torch.bincount(mnist.load(ROOT, "test").labels).tolist()
    assert train_counts == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert test_counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_one_real_epoch_calibrates_on_10k_and_tests_on_mnist(tmp_path: Path) -> None:
    results = real_run(tmp_path / "run", "null")
    assert results["calibration"]["n"] == 10_000
    m = results["metrics"]
    assert m["n_normal"] == 10_000
    assert 0.0 < m["type_I_error"] < 0.05


@pytest.mark.skipif(
    not has_kmnist_test(), reason="KMNIST test files are not in ANOMALY_AE_DATA (KMNIST/raw/t10k-*)"
)
def test_one_real_epoch_with_kmnist_anomalies(tmp_path: Path) -> None:
    results = real_run(tmp_path / "run", "kmnist")
    m = results["metrics"]
    assert m["n_anomaly"] == 10_000
    assert m["auroc"] > 0.9
