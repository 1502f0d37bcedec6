"""anomaly_ae.data.batches: the test set interleaves normal and anomalous images evenly."""

from __future__ import annotations

from pathlib import Path

import torch

from anomaly_ae.data import ANOMALY, get_source
from tests.helpers import TINY, tiny_module


def test_test_set_spreads_normal_and_anomalous_images_evenly(tiny_root: Path) -> None:
    """Any leading part of the test set (limit_test_batches, fast_dev_run) holds both
    classes in their overall proportion; each class keeps its files' order."""
    dm = tiny_module(tiny_root)
    dm.setup("test")
    targets = dm.test_set.targets
    for first in (5, 10, 32, 50):
        anomalies = int((targets[:first] == ANOMALY).sum())
        assert abs(anomalies - first * TINY["anomaly"] / len(targets)) <= 1
    kmnist = get_source("kmnist", "data.anomaly").load(tiny_root, "test").images
    anomalous = dm.test_set.images[targets == ANOMALY]
    torch.testing.assert_close(anomalous[:, 0], kmnist.float() / 255)


def test_interleaved_order_is_a_permutation_keeping_each_group_in_order() -> None:
    from anomaly_ae.data.batches import interleaved_order

    order = interleaved_order([6, 3])
    assert sorted(order.tolist()) == list(range(9))
    assert order.tolist() == [0, 6, 1, 2, 7, 3, 4, 8, 5]
