"""anomaly_ae.data.sources.choice: what data.normal and data.anomaly can name, and the refusals
of what they cannot."""

from __future__ import annotations

from pathlib import Path

import pytest

from anomaly_ae.errors import ConfigError
from tests.helpers import FAKE, data_module, tiny_module


def test_unknown_dataset_name_is_a_config_error(tiny_root: Path) -> None:
    with pytest.raises(ConfigError, match=r"data.anomaly=notmnist .*kmnist"):
        tiny_module(tiny_root, anomaly="notmnist")


def test_dataset_settings_are_plain_and_their_class_must_import(tiny_root: Path) -> None:
    nested = {"_target_": FAKE, "transform": {"_target_": "torchvision.transforms.ToTensor"}}
    with pytest.raises(ConfigError, match=r"data.anomaly.transform holds \['_target_'\]"):
        data_module(tiny_root, anomaly=nested)
    with pytest.raises(ConfigError, match="NoSuchSet cannot be imported"):
        data_module(tiny_root, anomaly={"_target_": "torchvision.datasets.NoSuchSet"})
    with pytest.raises(ConfigError, match=r"data.normal=images is not a known dataset; .*folder"):
        data_module(tiny_root, normal="images")
    with pytest.raises(ConfigError, match=r"data.anomaly_path=/x is read only with"):
        data_module(tiny_root, anomaly_path="/x")
