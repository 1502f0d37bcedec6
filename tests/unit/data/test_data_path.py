"""Guards the fast data path: it must hand the model exactly what hw7's code would.

hw7 builds its data with torchvision's MNIST + ToTensor (one PIL conversion per image)
and random_split; anomaly_ae reads the IDX files once into tensors. This compares the two
split by split and pixel by pixel on the tiny files (tests/e2e/test_real_data.py does it on
real MNIST), so a speed change cannot silently move the split or the scaling.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers import TINY_SPLIT, assert_matches_hw7_pipeline


def test_tiny_data_path_equals_hw7s(tiny_root: Path) -> None:
    assert_matches_hw7_pipeline(
        tiny_root, TINY_SPLIT["train_size"], TINY_SPLIT["val_size"], seed=42, check_pixels=1000
    )
