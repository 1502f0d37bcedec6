"""Batches and the in-memory datasets that hand them out whole, with one indexing operation:
the normal training and validation sets, and the test set of normal and anomalous images."""

from __future__ import annotations

import logging
from typing import NamedTuple

import torch
from torch.utils.data import Dataset

log = logging.getLogger(__name__)

NORMAL, ANOMALY = 0, 1


class Batch(NamedTuple):
    """A batch: images ``(B, C, H, W)`` in [0, 1], anomaly targets (0 normal, 1 anomaly), and
    each image's position in its dataset (so scores gathered across processes can be
    de-duplicated and put back in order)."""

    images: torch.Tensor
    targets: torch.Tensor
    indices: torch.Tensor


class ImageTensorDataset(Dataset):
    """Float images and targets held as tensors.

    ``DataLoader`` calls ``__getitems__`` with the sampler's list of indices for a batch, so a
    batch costs one gather instead of ``batch_size`` ``__getitem__`` calls and a ``stack``;
    pair it with ``collate_fn=keep_batch``.
    """

    def __init__(self, images: torch.Tensor, targets: torch.Tensor) -> None:
        if len(images) != len(targets):
            raise ValueError(f"{len(images)} images but {len(targets)} targets")
        self.images = images
        self.targets = targets

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> Batch:
        return Batch(self.images[index], self.targets[index], torch.tensor(index))

    def __getitems__(self, indices: list[int] | torch.Tensor) -> Batch:
        """The images at ``indices`` (a list or a 1-D tensor) as one batch."""
        idx = torch.as_tensor(indices, dtype=torch.long, device=self.images.device)
        # index_select: a faster gather of rows than advanced indexing
        return Batch(self.images.index_select(0, idx), self.targets.index_select(0, idx), idx)


def normal_dataset(images: torch.Tensor) -> ImageTensorDataset:
    """Normal images (training or validation) as a dataset, every target ``NORMAL``."""
    return ImageTensorDataset(images, torch.full((len(images),), NORMAL, dtype=torch.long))


def test_dataset(normal: torch.Tensor, anomalous: torch.Tensor | None) -> ImageTensorDataset:
    """The normal and the anomalous test images (``None``: no anomaly set) as one dataset, in
    :func:`interleaved_order`."""
    sets = [(normal, NORMAL)]
    if anomalous is not None:
        sets.append((anomalous, ANOMALY))
    # each set's images go straight to their interleaved places: one copy in memory
    order = interleaved_order([len(x) for x, _ in sets])
    places = torch.empty_like(order)
    places[order] = torch.arange(len(order))
    images = normal.new_empty((len(order), *normal.shape[1:]))
    targets = torch.empty(len(order), dtype=torch.long)
    start = 0
    for x, target in sets:
        where = places[start : start + len(x)]
        images[where], targets[where] = x, target
        start += len(x)
    return ImageTensorDataset(images, targets)


def on_device(dataset: ImageTensorDataset, device: torch.device) -> ImageTensorDataset:
    """``dataset`` moved to a CUDA ``device`` where it takes at most a quarter of the free
    memory; else, and on any other device, left where it is."""
    if device.type != "cuda":
        return dataset
    needed = dataset.images.nbytes + dataset.targets.nbytes
    free, _ = torch.cuda.mem_get_info(device)
    if needed > free // 4:
        log.info(
            "data stay in host memory: %d MB would take over a quarter of the free GPU memory",
            needed >> 20,
        )
        return dataset
    return ImageTensorDataset(dataset.images.to(device), dataset.targets.to(device))


def interleaved_order(counts: list[int]) -> torch.Tensor:
    """An order of ``sum(counts)`` items, given as consecutive groups of ``counts``, that
    spreads every group evenly: item ``i`` of a group of ``n`` sits at ``(i + 0.5) / n``.

    Any leading part of the test set then holds normal and anomalous images in their overall
    proportion, so a partial test (``limit_test_batches``, ``fast_dev_run``) still measures
    both error types; each group keeps its own order.
    """
    positions = torch.cat([(torch.arange(n, dtype=torch.float64) + 0.5) / n for n in counts])
    return torch.sort(positions, stable=True).indices
