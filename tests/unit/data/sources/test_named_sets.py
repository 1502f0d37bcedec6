"""The named anomaly sets read their own IDX files; EMNIST's images are turned upright."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from anomaly_ae.data import get_source
from tests.helpers import TINY, write_idx

CONV = "anomaly_ae.models.conv.ConvAutoencoder"


@pytest.mark.parametrize(
    ("name", "folder"), [("fashion_mnist", "FashionMNIST"), ("emnist_letters", "EMNIST")]
)
def test_anomaly_sets_read_their_own_files(tiny_root: Path, name: str, folder: str) -> None:
    source = get_source(name, "data.anomaly")
    assert source.folder == folder
    assert source.missing_files(tiny_root, "test") == []
    test = source.load(tiny_root, "test")
    assert test.images.shape == (TINY["anomaly"], 28, 28)


def test_emnist_images_are_turned_upright(tmp_path: Path) -> None:
    image = np.zeros((1, 28, 28), np.uint8)
    image[0, 2, 20] = 255  # stored transposed: row 2, column 20
    raw = tmp_path / "EMNIST" / "raw"
    write_idx(raw / "emnist-letters-test-images-idx3-ubyte", image)
    write_idx(raw / "emnist-letters-test-labels-idx1-ubyte", np.ones(1, np.uint8))
    upright = get_source("emnist_letters", "data.anomaly").load(tmp_path, "test").images
    assert upright[0, 20, 2] == 255 and upright[0, 2, 20] == 0
