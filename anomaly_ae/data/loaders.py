"""Samplers and the training DataLoader: whole batches as index tensors, an order that depends
only on the seed and the epoch, and a position in the epoch that a checkpoint can carry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler


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
    """A ``BatchSampler`` that hands out batches as index tensors.

    It takes the epoch's whole order from its sampler (random, sequential, or the distributed
    sampler Lightning puts in under DDP, which rebuilds it with the same arguments) and cuts
    it into batches, instead of collecting ``batch_size`` Python ints per batch. The order, and
    so every result, is the one ``BatchSampler`` would give.

    :meth:`resume_at` makes the next pass over the given epoch start after the batches a
    checkpoint says were already trained on.
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool) -> None:
        super().__init__(sampler, batch_size, drop_last)
        self._resume: tuple[int, int] | None = None  # (epoch, batches already served)
        self.skipped = 0  # batches the current pass left out (it resumed mid-epoch)

    def resume_at(self, epoch: int, batches: int) -> None:
        self._resume = (epoch, batches)

    def __iter__(self) -> Iterator[torch.Tensor]:
        # the sampler's epoch is read here, at the first batch: Lightning sets it after it
        # has created the epoch's iterator
        order = torch.as_tensor(list(self.sampler), dtype=torch.long)
        batches = list(order.split(self.batch_size))
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        self.skipped = 0
        if self._resume is not None:
            epoch, served = self._resume
            self._resume = None
            if epoch == getattr(self.sampler, "epoch", 0):
                self.skipped = min(served, len(batches))
        yield from batches[self.skipped :]


class ResumableDataLoader(DataLoader):
    """A DataLoader that knows how many batches of the current epoch it has handed out.

    Lightning stores ``state_dict()`` in every checkpoint and calls ``load_state_dict()`` before
    it iterates again (its interface for resumable loaders), so a run resumed from a
    mid-epoch checkpoint (``ModelCheckpoint(every_n_train_steps=...)``) goes on with the next
    batch of the same epoch, as the uninterrupted run did, instead of starting the epoch over.
    Needs a :class:`TensorBatchSampler` whose sampler has an ``epoch`` (set by Lightning).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(self.batch_sampler, TensorBatchSampler):
            raise TypeError("ResumableDataLoader needs a TensorBatchSampler")
        self._served = 0

    def _epoch(self) -> int:
        return int(getattr(self.batch_sampler.sampler, "epoch", 0))

    def __iter__(self) -> Iterator[Any]:
        self._served = 0
        self.batch_sampler.skipped = 0
        return self._counted(super().__iter__())

    def _counted(self, batches: Iterator[Any]) -> Iterator[Any]:
        for batch in batches:
            self._served += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        # batches skipped on a resume count as served: a later checkpoint in the same epoch
        # then still points at the right batch
        return {"epoch": self._epoch(), "batches": self.batch_sampler.skipped + self._served}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        self.batch_sampler.resume_at(int(state_dict["epoch"]), int(state_dict["batches"]))


def keep_batch(batch: Any) -> Any:
    """Collate function for ``ImageTensorDataset``: the batch is already assembled."""
    return batch
