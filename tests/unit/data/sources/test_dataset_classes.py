"""anomaly_ae.data.sources.dataset_classes: dataset classes by ``_target_`` as data sets."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchvision.datasets import FakeData
from torchvision.transforms import ToTensor

from anomaly_ae.data import holdout_split
from anomaly_ae.errors import ConfigError
from tests.helpers import COLOUR, TINY_SPLIT, data_module


def test_a_dataset_class_with_train_splits_as_the_named_set_does(tiny_root: Path) -> None:
    by_name = data_module(tiny_root, anomaly=None, **TINY_SPLIT)
    by_class = data_module(
        tiny_root, normal={"_target_": "torchvision.datasets.MNIST"}, anomaly=None, **TINY_SPLIT
    )
    for dm in (by_name, by_class):
        dm.setup()
    assert by_class.normal_name == "MNIST"
    for split in ("train_set", "val_set", "test_set"):
        assert torch.equal(getattr(by_class, split).images, getattr(by_name, split).images)


def test_fake_data_by_target_gives_colour_images_converted_once(tiny_root: Path) -> None:
    dm = data_module(tiny_root, normal=COLOUR, anomaly=None, val_size=5, test_size=5)
    dm.setup()
    assert dm.input_shape == (3, 32, 32) and dm.normal_name == "FakeData"
    reference = FakeData(size=40, image_size=(3, 32, 32), transform=ToTensor())
    expected = torch.stack([reference[i][0] for i in range(40)])
    train, _, test = holdout_split(40, None, 5, 5, seed=42, name="FakeData")
    assert torch.equal(dm.train_set.images, expected[train])
    assert torch.equal(dm.test_set.images, expected[test])
    with pytest.raises(ConfigError, match=r"model takes images of shape \(1, 28, 28\) but"):
        dm.check_input_shape((1, 28, 28), "the checkpoint's model")
    gray = data_module(
        tiny_root, normal=COLOUR, anomaly=None, grayscale=True, val_size=5, test_size=5
    )
    assert gray.input_shape == (1, 32, 32)
