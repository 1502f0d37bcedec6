"""anomaly_ae.data.datamodule: the data module's splits, labels and settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from anomaly_ae.data import ANOMALY, NORMAL
from anomaly_ae.errors import ConfigError
from tests.helpers import TINY, TINY_SPLIT, tiny_module


def test_datamodule_splits_and_labels_the_test_set(tiny_root: Path) -> None:
    dm = tiny_module(tiny_root)
    dm.prepare_data()
    dm.setup("fit")
    assert len(dm.train_set) == TINY_SPLIT["train_size"]
    assert len(dm.val_set) == TINY_SPLIT["val_size"]
    assert dm.train_set.images.shape[1:] == (1, 28, 28)
    assert dm.train_set.images.dtype == torch.float32
    assert float(dm.train_set.images.max()) == 1.0 and float(dm.train_set.images.min()) == 0.0
    dm.setup("test")
    targets = dm.test_set.targets
    assert (targets == NORMAL).sum() == TINY["test"]
    assert (targets == ANOMALY).sum() == TINY["anomaly"]
    assert dm.anomaly_name == "KMNIST" and dm.normal_name == "MNIST"


def test_without_anomaly_set_the_test_set_is_all_normal(tiny_root: Path, caplog) -> None:
    dm = tiny_module(tiny_root, anomaly=None)
    dm.prepare_data()
    with caplog.at_level("INFO", logger="anomaly_ae.data.datamodule"):
        dm.setup("test")
    assert f"test set: {TINY['test']} MNIST (normal) images, no anomaly set" in caplog.text
    assert " no (anomaly)" not in caplog.text
    assert dm.anomaly_name is None
    assert len(dm.test_set) == TINY["test"]
    assert bool((dm.test_set.targets == NORMAL).all())


@pytest.mark.parametrize("setting", ["batch_size", "eval_batch_size"])
def test_sizes_below_one_are_config_errors(tiny_root: Path, setting: str) -> None:
    with pytest.raises(ConfigError, match=f"data.{setting}=0 must be at least 1"):
        tiny_module(tiny_root, **{setting: 0})


def test_a_path_root_keeps_checkpoints_loadable(tiny_root: Path) -> None:
    dm = tiny_module(tiny_root)
    assert dm.hparams.root == str(tiny_root), "plain values only: checkpoints use weights_only"
