"""Seeded splits of the normal set: train/validation of a set that has its own test split,
and train/validation/test of a set that is one collection of images (a folder, an array)."""

from __future__ import annotations

import torch

from anomaly_ae.errors import ConfigError


def plain_size(size: float) -> float:
    """A split size as an ``int`` where it is a whole number of images (however a config typed
    it: ``10000.0``), else as it is (a share, which :func:`count_of` reads)."""
    return int(size) if size >= 1 and size == int(size) else float(size)


def count_of(size: float | int | None, n: int, key: str) -> int | None:
    """A split size as a number of images: a count (an integer >= 1) as it is, a share in
    (0, 1) of the ``n`` images it is drawn from (rounded, at least 1); ``None`` stays."""
    if size is None:
        return None
    if 0 < size < 1:
        return max(1, round(size * n))
    if size < 1 or size != int(size):
        raise ConfigError(
            f"data.{key}={size} is neither a number of images (an integer >= 1) nor a share of "
            "them (between 0 and 1, e.g. 0.1)"
        )
    return int(size)


def split_indices(
    n: int, train_size: int | None, val_size: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded random train/validation indices into a set of ``n`` items.

    When ``train_size + val_size == n`` this is exactly ``torch.utils.data.random_split`` with a
    generator seeded with ``seed`` (one ``randperm`` cut in two); a smaller total leaves the
    tail of the permutation unused.
    ``train_size=None`` means "everything not in validation": the split adapts to the set
    (MNIST: 50,000 / 10,000; its digits 1-9 alone, with the zeros as anomalies: 44,077 / 10,000).
    """
    if train_size is None:
        if not 0 < val_size < n:
            raise ConfigError(
                f"data.val_size={val_size} leaves no images to train on: the normal set has {n} "
                f"training images; choose data.val_size between 1 and {n - 1}"
            )
        train_size = n - val_size
    if train_size <= 0 or val_size <= 0 or train_size + val_size > n:
        raise ConfigError(
            f"data.train_size={train_size} and data.val_size={val_size} do not fit the "
            f"{n} training images; choose sizes > 0 that add up to at most {n}"
        )
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[:train_size], order[train_size : train_size + val_size]


def holdout_split(
    n: int, train_size: int | None, val_size: int, test_size: int | None, seed: int, name: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded random train/validation/test indices into a normal set of ``n`` images that has
    no test split of its own (``name`` says which, in errors).

    One ``randperm`` seeded with ``seed``: its first ``test_size`` items are the test part, the
    next ``val_size`` the validation part, and the next ``train_size`` (``None``: all the rest)
    the training part. The test and validation parts so depend only on the seed and their own
    sizes: a smaller ``train_size`` never moves an image into them. ``test_size=None`` means
    as many as ``val_size``.
    """
    test_size = val_size if test_size is None else test_size
    held = test_size + val_size
    if test_size <= 0 or val_size <= 0:
        raise ConfigError(
            f"data.test_size={test_size} and data.val_size={val_size} must be at least 1: "
            f"{name} has no test split of its own, so both are drawn from its {n} images"
        )
    if train_size is None and held >= n:
        raise ConfigError(
            f"data.test_size={test_size} and data.val_size={val_size} leave no images to train "
            f"on: {name} has {n} images (it has no test split of its own, so the test, "
            f"validation and training images are all drawn from them); choose smaller sizes"
        )
    train_size = n - held if train_size is None else train_size
    if train_size <= 0 or held + train_size > n:
        raise ConfigError(
            f"data.train_size={train_size}, data.val_size={val_size} and "
            f"data.test_size={test_size} do not fit the {n} images of {name}; choose sizes > 0 "
            f"that add up to at most {n}"
        )
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    test, val = order[:test_size], order[test_size:held]
    return order[held : held + train_size], val, test
