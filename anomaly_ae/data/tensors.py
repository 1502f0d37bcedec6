"""In-memory image datasets that hand out whole batches with one indexing operation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import torch
from torch.utils.data import BatchSampler, Dataset, RandomSampler

NORMAL, ANOMALY = 0, 1


class Batch(NamedTuple):
    """A batch: images ``(B, C, H, W)`` in [0, 1], anomaly targets (0 normal, 1 anomaly), and
    each image's position in its dataset (so scores gathered across processes can be
    de-duplicated and put back in order).

    A *grouped* batch stacks ``G`` training batches: images ``(G, B, C, H, W)``, targets and
    indices ``(G, B)``; :meth:`micro_batches` walks it one training batch at a time.
    """

    images: torch.Tensor
    targets: torch.Tensor
    indices: torch.Tensor

    @property
    def is_grouped(self) -> bool:
        return self.indices.dim() == 2

    def micro_batches(self) -> Iterator[Batch]:
        if not self.is_grouped:
            yield self
            return
        for images, targets, indices in zip(self.images, self.targets, self.indices, strict=True):
            yield Batch(images, targets, indices)


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
        """The images at ``indices``: a list or 1-D tensor gives a batch, a 2-D ``(G, B)``
        tensor a grouped batch."""
        idx = torch.as_tensor(indices, dtype=torch.long, device=self.images.device)
        flat = idx.reshape(-1)
        # index_select gathers rows about twice as fast as advanced indexing
        images = self.images.index_select(0, flat).view(*idx.shape, *self.images.shape[1:])
        return Batch(images, self.targets.index_select(0, flat).view(idx.shape), idx)


class EpochShuffleSampler(RandomSampler):
    """A random order of ``range(n)`` that depends only on ``(seed, epoch)``.

    Lightning calls ``set_epoch`` before every epoch (as for ``DistributedSampler``), so a run
    resumed from a checkpoint shuffles its remaining epochs exactly as the uninterrupted run
    would have, whatever else drew random numbers before. It is a ``RandomSampler`` so that
    Lightning sees a shuffled loader: under DDP it then puts in a shuffling
    ``DistributedSampler`` (seeded by the run's ``seed``, also per epoch) in its place.
    """

    def __init__(self, data_source, seed: int) -> None:
        super().__init__(data_source)
        self.n = len(data_source)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) % 2**63)
        yield from torch.randperm(self.n, generator=generator).tolist()


class TensorBatchSampler(BatchSampler):
    """A ``BatchSampler`` that hands out batches as index tensors, optionally in groups.

    It takes the epoch's whole order from its sampler (random, sequential, or the distributed
    sampler Lightning puts in under DDP, which rebuilds it with the same arguments) and cuts
    it into batches, instead of collecting ``batch_size`` Python ints per batch. The order, and
    so every result, is the one ``BatchSampler`` would give.

    With ``group > 1`` it yields ``(group, batch_size)`` index tensors: ``group`` consecutive
    batches fetched together (the last group may hold fewer, and a final short batch comes
    as a group of its own).
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool, group: int = 1) -> None:
        super().__init__(sampler, batch_size, drop_last)
        if group < 1:
            raise ValueError(f"group must be at least 1, not {group}")
        self.group = group

    def __iter__(self) -> Iterator[torch.Tensor]:
        order = torch.as_tensor(list(self.sampler), dtype=torch.long)
        batches = list(order.split(self.batch_size))
        short = batches.pop() if batches and len(batches[-1]) < self.batch_size else None
        if self.group == 1:
            yield from batches
        else:
            for first in range(0, len(batches), self.group):
                yield torch.stack(batches[first : first + self.group])
        if short is not None and not self.drop_last:
            yield short if self.group == 1 else short.unsqueeze(0)

    def __len__(self) -> int:
        """Items per epoch: groups when grouping, batches otherwise."""
        n = len(self.sampler)
        full, short = divmod(n, self.batch_size)
        return -(-full // self.group) + (1 if short and not self.drop_last else 0)


def keep_batch(batch: Batch) -> Batch:
    """Collate function for :class:`ImageTensorDataset`: the batch is already assembled."""
    return batch


def to_float_images(images: torch.Tensor) -> torch.Tensor:
    """``uint8`` ``(N, H, W)`` images to ``float32`` ``(N, 1, H, W)`` in [0, 1].

    The same scaling as torchvision's ``ToTensor`` (divide by 255), done once for the whole set.
    """
    return images.unsqueeze(1).to(torch.float32).div_(255.0)
