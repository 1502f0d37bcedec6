"""anomaly_ae.data.loaders: whole batches as index tensors, an order that depends only on the
seed and the epoch, and resuming mid-epoch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from anomaly_ae.data import Batch
from tests.helpers import TINY_SPLIT, tiny_module


def test_loaders_serve_whole_batches_with_indices(tiny_root: Path) -> None:
    dm = tiny_module(tiny_root)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert isinstance(batch, Batch)
    assert batch.images.shape == (20, 1, 28, 28)
    torch.testing.assert_close(batch.images, dm.train_set.images[batch.indices])
    seen = torch.cat([b.indices for b in dm.val_dataloader()])
    assert seen.tolist() == list(range(TINY_SPLIT["val_size"]))


@pytest.mark.parametrize("drop_last", [False, True])
def test_tensor_batch_sampler_gives_the_batches_of_batch_sampler(drop_last: bool) -> None:
    from torch.utils.data import BatchSampler, RandomSampler

    from anomaly_ae.data.loaders import TensorBatchSampler

    data = range(103)
    torch.manual_seed(5)
    expected = list(BatchSampler(RandomSampler(data), 10, drop_last))
    torch.manual_seed(5)
    got = list(TensorBatchSampler(RandomSampler(data), 10, drop_last))
    assert [b.tolist() for b in got] == expected
    assert len(TensorBatchSampler(RandomSampler(data), 10, drop_last)) == len(expected)


@pytest.mark.parametrize("workers", [0, 2])
def test_training_loader_resumes_mid_epoch_at_the_next_batch(tiny_root: Path, workers: int) -> None:
    """The training loader's state (Lightning keeps it in checkpoints) says how far into
    which epoch it was; a fresh loader given it goes on from the next batch, also when the
    epoch is set after ``iter()`` (as Lightning does on a resume) and workers fetch ahead."""
    dm = tiny_module(tiny_root, num_workers=workers)
    dm.setup("fit")
    loader = dm.train_dataloader()
    assert loader.state_dict() == {"epoch": 0, "batches": 0}
    loader.batch_sampler.sampler.set_epoch(3)
    whole = [b.indices.tolist() for b in loader]
    assert loader.state_dict() == {"epoch": 3, "batches": len(whole)}
    iterator = iter(loader)
    for _ in range(4):
        next(iterator)
    state = loader.state_dict()
    assert state == {"epoch": 3, "batches": 4}

    resumed = dm.train_dataloader()
    resumed.load_state_dict(state)
    assert resumed.state_dict() == state, "a saved position survives until it is used"
    rest = iter(resumed)
    resumed.batch_sampler.sampler.set_epoch(3)  # Lightning sets the epoch after iter()
    first = next(rest)
    assert resumed.state_dict() == {"epoch": 3, "batches": 5}, "skipped batches count as served"
    assert [first.indices.tolist(), *(b.indices.tolist() for b in rest)] == whole[4:]
    assert [b.indices.tolist() for b in resumed] == whole, "the next pass is whole again"

    next_epoch = dm.train_dataloader()
    next_epoch.load_state_dict({"epoch": 3, "batches": len(whole)})  # the end of epoch 3
    rest = iter(next_epoch)
    next_epoch.batch_sampler.sampler.set_epoch(4)
    assert len(list(rest)) == len(whole), "a finished epoch's position skips nothing later"


def test_epoch_shuffle_depends_only_on_seed_and_epoch() -> None:
    from anomaly_ae.data.loaders import EpochShuffleSampler

    sampler = EpochShuffleSampler(range(50), seed=3)
    first = list(sampler)
    assert sorted(first) == list(range(50))
    torch.manual_seed(123)  # the global generator plays no part
    assert list(sampler) == first
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first
    fresh = EpochShuffleSampler(range(50), seed=3)
    fresh.set_epoch(1)
    assert list(fresh) == second, "a resumed run gets the same order for the same epoch"
    assert list(EpochShuffleSampler(range(50), seed=4)) != first


def test_lightning_sees_the_training_loader_as_shuffled(tiny_root: Path) -> None:
    """Under DDP Lightning swaps in a DistributedSampler whose ``shuffle`` it reads off the
    loader: the training loader must look shuffled, the evaluation loaders must not."""
    from pytorch_lightning.utilities.data import _is_dataloader_shuffled

    dm = tiny_module(tiny_root)
    dm.setup()
    assert _is_dataloader_shuffled(dm.train_dataloader())
    assert not _is_dataloader_shuffled(dm.val_dataloader())
    assert not _is_dataloader_shuffled(dm.test_dataloader())
