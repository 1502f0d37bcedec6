"""Held-out classes of the normal set are the anomalies."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from anomaly_ae.data import ANOMALY, NORMAL, AnomalyDataModule, get_source
from anomaly_ae.errors import ConfigError

CONV = "anomaly_ae.models.conv.ConvAutoencoder"


def test_held_out_classes_are_the_anomalies(tiny_root: Path) -> None:
    dm = AnomalyDataModule(
        tiny_root,
        anomaly="mnist_classes",
        anomaly_classes=[3, 5],
        train_size=None,
        val_size=40,
        download=False,
    )
    dm.prepare_data()
    dm.setup()
    labels = get_source("mnist", "data.normal").load(tiny_root, "train").labels
    kept = int((~torch.isin(labels, torch.tensor([3, 5]))).sum())
    assert len(dm.train_set) + len(dm.val_set) == kept
    test_labels = get_source("mnist", "data.normal").load(tiny_root, "test").labels
    held = torch.isin(test_labels, torch.tensor([3, 5]))
    assert int((dm.test_set.targets == ANOMALY).sum()) == int(held.sum())
    assert int((dm.test_set.targets == NORMAL).sum()) == int((~held).sum())
    assert dm.anomaly_name == "MNIST-classes-3-5"
    with pytest.raises(ConfigError, match="anomaly_classes"):
        AnomalyDataModule(tiny_root, anomaly="mnist_classes", anomaly_classes=[])
