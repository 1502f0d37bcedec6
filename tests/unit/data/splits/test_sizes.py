"""anomaly_ae.data.splits.sizes: seeded splits, sizes as counts or shares, and the sizes that
do not fit."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from anomaly_ae.data import get_source, holdout_split, split_indices
from anomaly_ae.data.splits.sizes import count_of
from anomaly_ae.errors import ConfigError
from tests.helpers import TINY_SPLIT, tiny_module


def test_split_is_seeded_disjoint_and_equals_random_split() -> None:
    train, val = split_indices(60, 50, 10, seed=3)
    assert len(train) == 50 and len(val) == 10
    assert set(train.tolist()).isdisjoint(val.tolist())
    again_train, again_val = split_indices(60, 50, 10, seed=3)
    assert torch.equal(train, again_train) and torch.equal(val, again_val)
    other_train, _ = split_indices(60, 50, 10, seed=4)
    assert not torch.equal(train, other_train)
    reference = torch.utils.data.random_split(range(60), [50, 10], torch.Generator().manual_seed(3))
    assert train.tolist() == list(reference[0].indices)
    assert val.tolist() == list(reference[1].indices)


def test_split_takes_a_subset_or_the_rest() -> None:
    train, val = split_indices(60, 20, 10, seed=0)
    assert (len(train), len(val)) == (20, 10)
    train, val = split_indices(60, None, 10, seed=0)
    assert (len(train), len(val)) == (50, 10)


@pytest.mark.parametrize("sizes", [(50, 20), (0, 10), (10, 0)])
def test_split_sizes_that_do_not_fit_are_a_config_error(sizes: tuple[int, int]) -> None:
    with pytest.raises(ConfigError, match=r"data\.train_size"):
        split_indices(60, *sizes, seed=0)


@pytest.mark.parametrize("val_size", [60, 0, 75])
def test_split_of_the_rest_needs_room_to_train(val_size: int) -> None:
    with pytest.raises(ConfigError, match=rf"data\.val_size={val_size} leaves no images to train"):
        split_indices(60, None, val_size, seed=0)


def test_default_sizes_adapt_to_a_class_subset_and_explicit_sizes_stay_strict(
    tiny_root: Path,
) -> None:
    """data.anomaly=mnist_classes holds the anomaly digits out of the training split: the default
    train_size (null) trains on what is left; a number that no longer fits is refused."""
    labels = get_source("mnist", "data.normal").load(tiny_root, "train").labels
    left = int((labels != 0).sum())
    dm = tiny_module(tiny_root, anomaly="mnist_classes", anomaly_classes=[0], train_size=None)
    dm.setup("fit")
    assert (len(dm.train_set), len(dm.val_set)) == (left - TINY_SPLIT["val_size"], 40)
    strict = tiny_module(tiny_root, anomaly="mnist_classes", anomaly_classes=[0], train_size=left)
    with pytest.raises(ConfigError, match=rf"data\.train_size={left} and data\.val_size=40"):
        strict.setup("fit")


def test_the_holdout_split_is_seeded_and_keeps_test_and_validation_apart_from_training() -> None:
    train, val, test = holdout_split(100, None, 10, 20, seed=1, name="x")
    assert (len(train), len(val), len(test)) == (70, 10, 20)
    assert len(set(torch.cat([train, val, test]).tolist())) == 100
    smaller, val_again, test_again = holdout_split(100, 30, 10, 20, seed=1, name="x")
    assert torch.equal(val, val_again) and torch.equal(test, test_again)
    assert set(smaller.tolist()) <= set(train.tolist())
    assert not torch.equal(test, holdout_split(100, None, 10, 20, seed=2, name="x")[2])
    default_test = holdout_split(100, None, 10, None, seed=1, name="x")[2]
    assert len(default_test) == 10, "test_size=None: as many as val_size"
    with pytest.raises(ConfigError, match=r"leave no images to train on: x has 30 images"):
        holdout_split(30, None, 10, 20, seed=1, name="x")
    with pytest.raises(ConfigError, match=r"data.train_size=10, .* do not fit the 30 images"):
        holdout_split(30, 10, 10, 20, seed=1, name="x")


def test_split_sizes_as_counts_or_shares() -> None:
    assert count_of(0.1, 5923, "val_size") == 592
    assert count_of(0.001, 50, "val_size") == 1
    assert count_of(10_000, 60_000, "val_size") == 10_000
    assert count_of(None, 10, "test_size") is None
    for bad in (1.5, -2, 0):
        with pytest.raises(ConfigError, match="neither a number of images"):
            count_of(bad, 100, "val_size")
