"""In-memory image datasets that hand out whole batches with one indexing operation."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch.utils.data import Dataset

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
        # index_select gathers rows about twice as fast as advanced indexing
        return Batch(self.images.index_select(0, idx), self.targets.index_select(0, idx), idx)
