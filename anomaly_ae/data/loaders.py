"""The data module's DataLoaders (:func:`make_loader`) and their samplers: whole batches as
index tensors, an order that depends only on the seed and the epoch, and a position in the
epoch that a checkpoint can carry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

from anomaly_ae.data.batches import ImageTensorDataset


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

    ``skip``: batches to leave out at the start of the next pass only (a run resuming
    mid-epoch, see :class:`ResumableDataLoader`).
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool) -> None:
        super().__init__(sampler, batch_size, drop_last)
        self.skip = 0

    def __iter__(self) -> Iterator[torch.Tensor]:
        skip, self.skip = self.skip, 0
        order = torch.as_tensor(list(self.sampler), dtype=torch.long)
        batches = list(order.split(self.batch_size))
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        yield from batches[skip:]


class ResumableDataLoader(DataLoader):
    """A DataLoader that knows where in which epoch it is: ``{"epoch", "batches"}``.

    Lightning stores ``state_dict()`` in every checkpoint and calls ``load_state_dict()`` before
    it iterates again (its interface for resumable loaders), so a run resumed from a
    mid-epoch checkpoint (``ModelCheckpoint(every_n_train_steps=...)``) goes on with the next
    batch of the same epoch, as the uninterrupted run did, instead of starting the epoch over.

    Each pass starts at its first batch, not at ``iter()``: Lightning creates the iterator of
    a resumed run before it sets the sampler's epoch, and worker processes would fetch from
    the wrong epoch's order if the pass started there. Needs a :class:`TensorBatchSampler`
    whose sampler has an ``epoch`` (``EpochShuffleSampler``, or Lightning's
    ``DistributedSampler``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(self.batch_sampler, TensorBatchSampler):
            raise TypeError("ResumableDataLoader needs a TensorBatchSampler")
        self._resume: tuple[int, int] | None = None  # a checkpoint's position, not yet used
        self._position: tuple[int, int] | None = None  # (epoch, batches) of the latest pass

    def _epoch(self) -> int:
        return int(getattr(self.batch_sampler.sampler, "epoch", 0))

    def __iter__(self) -> Iterator[Any]:
        return self._pass()

    def _pass(self) -> Iterator[Any]:
        epoch, skip = self._epoch(), 0
        if self._resume is not None:
            if self._resume[0] == epoch:
                skip = min(self._resume[1], len(self))
            self._resume = None
        self.batch_sampler.skip = skip
        self._position = (epoch, skip)
        for batch in super().__iter__():
            self._position = (epoch, self._position[1] + 1)
            yield batch

    def state_dict(self) -> dict[str, int]:
        epoch, batches = self._resume or self._position or (self._epoch(), 0)
        return {"epoch": epoch, "batches": batches}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        self._resume = (int(state_dict["epoch"]), int(state_dict["batches"]))


def keep_batch(batch: Any) -> Any:
    """Collate function for ``ImageTensorDataset``: the batch is already assembled."""
    return batch


def make_loader(
    dataset: ImageTensorDataset,
    batch_size: int,
    shuffle: bool,
    shuffle_seed: int,
    num_workers: int,
    pin_memory: bool | None,
    device: torch.device,
) -> DataLoader:
    """A loader of ``dataset`` in whole batches: for training (``shuffle``) in an order of
    ``shuffle_seed`` and the epoch, resumable mid-epoch; for evaluation in order, always whole.
    ``device``: where the model runs (``pin_memory=None`` pins host batches for a GPU)."""
    on_host = dataset.images.device.type == "cpu"
    workers = num_workers if on_host else 0
    pin = pin_memory
    if pin is None:
        pin = on_host and device.type == "cuda"
    sampler = EpochShuffleSampler(dataset, shuffle_seed) if shuffle else SequentialSampler(dataset)
    # training resumes mid-epoch at the right batch; evaluation always runs whole
    loader_class = ResumableDataLoader if shuffle else DataLoader
    return loader_class(
        dataset,
        batch_sampler=TensorBatchSampler(sampler, batch_size, drop_last=False),
        collate_fn=keep_batch,
        num_workers=workers,
        pin_memory=pin and on_host,
        persistent_workers=workers > 0,
    )
