"""Reading IDX files, the seeded split, the data module, and the errors for bad data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import ToTensor

from anomaly_ae.data import ANOMALY, NORMAL, AnomalyDataModule, Batch, get_source, split_indices
from anomaly_ae.errors import ConfigError, CorruptDataError, DataNotFoundError
from tests.helpers import TINY, TINY_SPLIT, write_idx


def tiny_module(root: Path, **kwargs) -> AnomalyDataModule:
    settings = {"root": root, "download": False, "batch_size": 20, "eval_batch_size": 32}
    return AnomalyDataModule(**{**settings, **TINY_SPLIT, **kwargs})


def test_source_reads_idx_files_written_in_the_real_format(tiny_root: Path) -> None:
    train = get_source("mnist", "data.normal").load(tiny_root, "train")
    assert train.images.shape == (TINY["train"], 28, 28)
    assert train.images.dtype == torch.uint8
    assert train.labels.shape == (TINY["train"],)
    kmnist = get_source("kmnist", "data.anomaly").load(tiny_root, "test")
    assert kmnist.images.shape == (TINY["anomaly"], 28, 28)


def test_anomaly_set_needs_only_its_test_split(tiny_root: Path) -> None:
    kmnist_raw = tiny_root / "KMNIST" / "raw"
    assert not list(kmnist_raw.glob("train-*")), "the fixture must not hold KMNIST train files"
    assert get_source("kmnist", "data.anomaly").missing_files(tiny_root, "test") == []


def test_pixels_are_scaled_exactly_like_torchvision_to_tensor(tiny_root: Path) -> None:
    dm = tiny_module(tiny_root)
    dm.setup("test")
    raw = get_source("mnist", "data.normal").load(tiny_root, "test").images
    normal = dm.test_set.images[dm.test_set.targets == NORMAL]  # in their file's order
    for i in (0, 7, len(raw) - 1):
        expected = ToTensor()(Image.fromarray(raw[i].numpy(), mode="L"))
        torch.testing.assert_close(normal[i], expected, rtol=0, atol=0)


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


def test_datamodule_splits_and_labels_the_test_set(tiny_root: Path) -> None:
    dm = tiny_module(tiny_root)
    dm.prepare_data()
    dm.setup("fit")
    assert len(dm.train_set) == TINY_SPLIT["train_size"]
    assert len(dm.val_set) == TINY_SPLIT["val_size"]
    assert dm.train_set.images.shape[1:] == (1, 28, 28)
    assert dm.train_set.images.dtype == torch.float32
    assert float(dm.train_set.images.max()) == 1.0 and float(dm.train_set.images.min()) == 0.0
    dm.setup("test")
    targets = dm.test_set.targets
    assert (targets == NORMAL).sum() == TINY["test"]
    assert (targets == ANOMALY).sum() == TINY["anomaly"]
    assert dm.anomaly_name == "KMNIST" and dm.normal_name == "MNIST"


def test_loaders_serve_whole_batches_with_indices(tiny_root: Path) -> None:
    dm = tiny_module(tiny_root)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert isinstance(batch, Batch)
    assert batch.images.shape == (20, 1, 28, 28)
    torch.testing.assert_close(batch.images, dm.train_set.images[batch.indices])
    seen = torch.cat([b.indices for b in dm.val_dataloader()])
    assert seen.tolist() == list(range(TINY_SPLIT["val_size"]))


def test_without_anomaly_set_the_test_set_is_all_normal(tiny_root: Path, caplog) -> None:
    dm = tiny_module(tiny_root, anomaly=None)
    dm.prepare_data()
    with caplog.at_level("INFO", logger="anomaly_ae.data.datamodule"):
        dm.setup("test")
    assert f"test set: {TINY['test']} MNIST (normal) images, no anomaly set" in caplog.text
    assert " no (anomaly)" not in caplog.text
    assert dm.anomaly_name is None
    assert len(dm.test_set) == TINY["test"]
    assert bool((dm.test_set.targets == NORMAL).all())


def test_unknown_dataset_name_is_a_config_error(tiny_root: Path) -> None:
    with pytest.raises(ConfigError, match=r"data.anomaly=notmnist .*kmnist"):
        tiny_module(tiny_root, anomaly="notmnist")


def test_missing_files_with_download_off_name_folder_and_files(tmp_path: Path) -> None:
    dm = tiny_module(tmp_path)
    with pytest.raises(DataNotFoundError) as err:
        dm.prepare_data()
    message = str(err.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "train-images-idx3-ubyte, train-labels-idx1-ubyte" in message
    assert "ANOMALY_AE_DATA" in message and "download is off" in message


def test_missing_anomaly_set_without_network_says_how_to_go_on(
    fresh_root: Path, no_network: None
) -> None:
    for f in (fresh_root / "KMNIST" / "raw").iterdir():
        f.unlink()
    dm = tiny_module(fresh_root, download=True)
    with pytest.raises(DataNotFoundError) as err:
        dm.prepare_data()
    message = str(err.value)
    assert "KMNIST test files are missing" in message
    assert "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte" in message
    assert "download failed" in message and "name resolution" in message
    assert "data.anomaly=null" in message
    assert "\n" not in message


def test_download_fetches_only_missing_split_files(
    fresh_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (fresh_root / "KMNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    fetched: list[str] = []

    def fake_download(url: str, download_root: str, filename: str, md5: str) -> None:
        fetched.append(filename)
        labels = np.zeros(TINY["anomaly"], dtype=np.uint8)
        write_idx(Path(download_root) / filename.removesuffix(".gz"), labels)

    monkeypatch.setattr("anomaly_ae.data.sources.download_and_extract_archive", fake_download)
    tiny_module(fresh_root, download=True).prepare_data()
    assert fetched == ["t10k-labels-idx1-ubyte.gz"]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:1000])


def _bad_magic(path: Path) -> None:
    path.write_bytes(b"\x12\x34\x56\x78" + path.read_bytes()[4:])


def _empty(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize("damage", [_truncate, _bad_magic, _empty])
def test_corrupt_file_gives_one_clear_line(fresh_root: Path, damage) -> None:
    path = fresh_root / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    damage(path)
    dm = tiny_module(fresh_root)
    with pytest.raises(CorruptDataError) as err:
        dm.setup("test")
    message = str(err.value)
    assert str(path) in message and "corrupt or truncated" in message
    assert "\n" not in message


def test_images_and_labels_of_different_lengths_are_corrupt(fresh_root: Path) -> None:
    write_idx(fresh_root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(CorruptDataError, match=r"holds 60 images but .* 5 labels"):
        tiny_module(fresh_root).setup("test")


def test_failed_download_leaves_no_new_folders(tmp_path: Path, no_network: None) -> None:
    root = tmp_path / "data"
    root.mkdir()
    with pytest.raises(DataNotFoundError, match="download failed"):
        tiny_module(root, download=True).prepare_data()
    assert list(root.iterdir()) == []


def test_read_only_data_folder_is_never_written(fresh_root: Path, no_network: None) -> None:
    kmnist = fresh_root / "KMNIST"
    for f in (kmnist / "raw").iterdir():
        f.unlink()
    (kmnist / "raw").rmdir()
    kmnist.rmdir()
    fresh_root.chmod(0o555)
    try:
        with pytest.raises(DataNotFoundError, match="is read-only, so nothing is downloaded"):
            tiny_module(fresh_root, download=True).prepare_data()
        assert not kmnist.exists()
    finally:
        fresh_root.chmod(0o755)


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


def test_test_set_spreads_normal_and_anomalous_images_evenly(tiny_root: Path) -> None:
    """Any leading part of the test set (limit_test_batches, fast_dev_run) holds both
    classes in their overall proportion; each class keeps its files' order."""
    dm = tiny_module(tiny_root)
    dm.setup("test")
    targets = dm.test_set.targets
    for first in (5, 10, 32, 50):
        anomalies = int((targets[:first] == ANOMALY).sum())
        assert abs(anomalies - first * TINY["anomaly"] / len(targets)) <= 1
    kmnist = get_source("kmnist", "data.anomaly").load(tiny_root, "test").images
    anomalous = dm.test_set.images[targets == ANOMALY]
    torch.testing.assert_close(anomalous[:, 0], kmnist.float() / 255)


def test_interleaved_order_is_a_permutation_keeping_each_group_in_order() -> None:
    from anomaly_ae.data.datamodule import interleaved_order

    order = interleaved_order([6, 3])
    assert sorted(order.tolist()) == list(range(9))
    assert order.tolist() == [0, 6, 1, 2, 7, 3, 4, 8, 5]


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


@pytest.mark.parametrize("setting", ["batch_size", "eval_batch_size"])
def test_sizes_below_one_are_config_errors(tiny_root: Path, setting: str) -> None:
    with pytest.raises(ConfigError, match=f"data.{setting}=0 must be at least 1"):
        tiny_module(tiny_root, **{setting: 0})


def test_a_path_root_keeps_checkpoints_loadable(tiny_root: Path) -> None:
    dm = tiny_module(tiny_root)
    assert dm.hparams.root == str(tiny_root), "plain values only: checkpoints use weights_only"
