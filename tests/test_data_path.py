"""Guards the fast data path: it must hand the model exactly what the seed's code would.

The seed builds its data with torchvision's MNIST + ToTensor (one PIL conversion per image)
and random_split; anomaly_ae reads the IDX files once into tensors. These tests compare the
two split by split and pixel by pixel, on the tiny files always and on real MNIST when
ANOMALY_AE_DATA holds it, so a speed change cannot silently move the split or the scaling.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import random_split
from torchvision import datasets
from torchvision.transforms import ToTensor

from anomaly_ae.data import AnomalyDataModule
from tests.helpers import TINY_SPLIT, real_data_root


def assert_matches_seed_pipeline(
    root: Path, train_size: int, val_size: int, seed: int, check_pixels: int
) -> None:
    dm = AnomalyDataModule(
        root,
        anomaly=None,
        train_size=train_size,
        val_size=val_size,
        split_seed=seed,
        download=False,
    )
    dm.setup("fit")
    seed_set = datasets.MNIST(str(root), train=True, transform=ToTensor(), download=False)
    generator = torch.Generator().manual_seed(seed)
    seed_train, seed_val = random_split(seed_set, [train_size, val_size], generator=generator)
    for ours, theirs in ((dm.train_set, seed_train), (dm.val_set, seed_val)):
        assert len(ours) == len(theirs)
        picks = torch.linspace(0, len(theirs) - 1, min(check_pixels, len(theirs))).long()
        expected = torch.stack([theirs[int(i)][0] for i in picks])
        torch.testing.assert_close(ours.images[picks], expected, rtol=0, atol=0)
        # the whole split, not only the sampled images: same images, same order
        raw = seed_set.data[torch.as_tensor(theirs.indices)]
        assert torch.equal(ours.images.squeeze(1).mul(255).round().to(torch.uint8), raw)


def test_tiny_data_path_equals_the_seeds(tiny_root: Path) -> None:
    assert_matches_seed_pipeline(
        tiny_root, TINY_SPLIT["train_size"], TINY_SPLIT["val_size"], seed=42, check_pixels=1000
    )


@pytest.mark.real_data
@pytest.mark.skipif(
    real_data_root() is None, reason="ANOMALY_AE_DATA does not hold the real MNIST files"
)
def test_real_mnist_data_path_equals_the_seeds() -> None:
    assert_matches_seed_pipeline(real_data_root(), 50_000, 10_000, seed=42, check_pixels=2000)
