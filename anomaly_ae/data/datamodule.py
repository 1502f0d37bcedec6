"""The experiment's data: a seeded train/validation split of the normal set, and a test set of
normal and anomalous images, all held in memory as tensors."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, SequentialSampler

from anomaly_ae.data.loaders import (
    EpochShuffleSampler,
    ResumableDataLoader,
    TensorBatchSampler,
    keep_batch,
)
from anomaly_ae.data.preprocessing import to_float_images
from anomaly_ae.data.sources import IdxSource, get_source
from anomaly_ae.data.tensors import ANOMALY, NORMAL, ImageTensorDataset
from anomaly_ae.errors import ConfigError

log = logging.getLogger(__name__)

# The settings that decide which images are in the training, validation and test sets: a
# checkpoint carries them, and evaluating or resuming it uses them.
SPLIT_SETTINGS = ("normal", "anomaly", "anomaly_classes", "train_size", "val_size", "split_seed")


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


class AnomalyDataModule(pl.LightningDataModule):
    """Normal images for training and calibration, normal + anomalous images for testing.

    Args:
        root: folder holding ``<DATASET>/raw/*-ubyte`` files (torchvision's layout).
        normal: the normal dataset (its train split is split into train/validation).
        anomaly: the anomaly dataset (only its test split is used); ``"<normal>_classes"``
            (e.g. ``mnist_classes``) to take the normal set's ``anomaly_classes`` as the
            anomalies and train on the other classes; or ``None`` to test on normal data
            alone (type I error only).
        anomaly_classes: the held-out classes of ``<normal>_classes``.
        train_size / val_size: the split of the normal training images (seed: 50,000 / 10,000);
            ``train_size=None`` trains on every image not in validation.
        split_seed: seed of the generator that draws the split.
        shuffle_seed: seed of the training order; each epoch's order depends only on it and
            the epoch number, so resumed runs repeat uninterrupted ones exactly.
        batch_size: training batch size; eval_batch_size: validation/test batch size (scores
            are per image, so it changes speed, not results).
        data_on_device: keep the tensors on the accelerator when they fit in its free memory
            (no host-to-device copy per batch); on the CPU this changes nothing.
        num_workers: DataLoader workers; 0 suits tensors that are already in memory.
        pin_memory: pin host batches for faster GPU copies; ``None`` decides: on when
            training on a GPU from host memory.
        download: fetch missing files through torchvision's mirrors.
    """

    def __init__(
        self,
        root: str | Path,
        normal: str = "mnist",
        anomaly: str | None = "kmnist",
        train_size: int | None = None,
        val_size: int = 10_000,
        split_seed: int = 42,
        shuffle_seed: int = 0,
        anomaly_classes: Sequence[int] | None = (0,),
        batch_size: int = 100,
        eval_batch_size: int = 1_000,
        data_on_device: bool = True,
        num_workers: int = 0,
        pin_memory: bool | None = None,
        download: bool = True,
    ) -> None:
        super().__init__()
        sizes = {"batch_size": batch_size, "eval_batch_size": eval_batch_size}
        for key, value in sizes.items():
            if value < 1:
                raise ConfigError(f"data.{key}={value} must be at least 1")
        # plain values: the hyperparameters go into checkpoints, read with weights_only=True
        anomaly_classes = None if anomaly_classes is None else [int(c) for c in anomaly_classes]
        root = str(root)
        self.save_hyperparameters(logger=False)
        self.root = Path(root).expanduser().resolve()
        self.normal: IdxSource = get_source(normal, "data.normal")
        # "<normal>_classes": the anomalies are the normal set's anomaly_classes (one-class setup)
        self.held_out: tuple[int, ...] = ()
        self.anomaly: IdxSource | None = None
        if anomaly == f"{normal}_classes":
            if not anomaly_classes:
                raise ConfigError(f"data.anomaly={anomaly} needs data.anomaly_classes, e.g. [0]")
            self.held_out = tuple(sorted({int(c) for c in anomaly_classes}))
        elif anomaly:
            self.anomaly = get_source(anomaly, "data.anomaly")
        self.train_set: ImageTensorDataset | None = None
        self.val_set: ImageTensorDataset | None = None
        self.test_set: ImageTensorDataset | None = None

    @property
    def anomaly_name(self) -> str | None:
        if self.held_out:
            return f"{self.normal_name}-classes-{'-'.join(map(str, self.held_out))}"
        return self.anomaly.display_name if self.anomaly else None

    @property
    def normal_name(self) -> str:
        return self.normal.display_name

    def describe(self) -> dict[str, Any]:
        """What the data of a run are, for results.json: the sets' names, the settings that
        chose the images, and how many images each split holds once set up."""
        hp = self.hparams
        description: dict[str, Any] = {
            "normal": self.normal_name,
            "anomaly": self.anomaly_name,
            **{key: hp[key] for key in SPLIT_SETTINGS if key not in ("normal", "anomaly")},
        }
        if not self.held_out:
            description.pop("anomaly_classes")
        for name, dataset in (("train", self.train_set), ("validation", self.val_set)):
            if dataset is not None:
                description[f"n_{name}"] = len(dataset)
        return description

    def prepare_data(self) -> None:
        """Check (and if allowed download) every file the run needs, before any training."""
        download = self.hparams.download
        self.normal.ensure(self.root, "train", download)
        self.normal.ensure(self.root, "test", download)
        if self.anomaly is not None:
            hint = "or run with data.anomaly=null to skip the anomaly metrics"
            self.anomaly.ensure(self.root, "test", download, hint=hint)

    def setup(self, stage: str | None = None) -> None:
        if stage in ("fit", "validate", None) and self.val_set is None:
            self._setup_train_val()
        if stage in ("test", None) and self.test_set is None:
            self._setup_test()

    def _is_held_out(self, labels: torch.Tensor) -> torch.Tensor:
        return torch.isin(labels, torch.tensor(self.held_out, dtype=labels.dtype))

    def _setup_train_val(self) -> None:
        hp = self.hparams
        train = self.normal.load(self.root, "train")
        images = train.images[~self._is_held_out(train.labels)] if self.held_out else train.images
        train_idx, val_idx = split_indices(len(images), hp.train_size, hp.val_size, hp.split_seed)
        # split the uint8 images first: the float copies are then made once, at a quarter of
        # the memory traffic of splitting float images
        self.train_set = self._on_device(_normal_set(to_float_images(images[train_idx])))
        self.val_set = self._on_device(_normal_set(to_float_images(images[val_idx])))
        log.info(
            "%s train split: %d train / %d validation images (split_seed=%d)",
            self.normal_name,
            len(self.train_set),
            len(self.val_set),
            hp.split_seed,
        )

    def _test_images(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Normal and anomalous test images as floats (``None``: no anomaly set)."""
        test = self.normal.load(self.root, "test")
        if self.held_out:
            held = self._is_held_out(test.labels)
            if not bool(held.any()):
                raise ConfigError(
                    f"data.anomaly_classes={list(self.held_out)} match no "
                    f"{self.normal_name} test label"
                )
            return to_float_images(test.images[~held]), to_float_images(test.images[held])
        normal = to_float_images(test.images)
        if self.anomaly is None:
            return normal, None
        return normal, to_float_images(self.anomaly.load(self.root, "test").images)

    def _setup_test(self) -> None:
        normal, anomalous = self._test_images()
        sets = [(normal, NORMAL)]
        if anomalous is not None:
            if anomalous.shape[1:] != normal.shape[1:]:
                raise ConfigError(
                    f"{self.anomaly_name} images are {tuple(anomalous.shape[2:])} but "
                    f"{self.normal_name} images are {tuple(normal.shape[2:])}; "
                    "choose an anomaly set with images of the same size"
                )
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
        self.test_set = self._on_device(ImageTensorDataset(images, targets))
        anomalies = (
            f" + {len(self.test_set) - len(normal)} {self.anomaly_name} (anomaly) images"
            if self.anomaly_name
            else " images, no anomaly set (data.anomaly=null)"
        )
        log.info("test set: %d %s (normal)%s", len(normal), self.normal_name, anomalies)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, self.hparams.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, self.hparams.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, self.hparams.eval_batch_size, shuffle=False)

    def _device(self) -> torch.device:
        return self.trainer.strategy.root_device if self.trainer else torch.device("cpu")

    def _on_device(self, dataset: ImageTensorDataset) -> ImageTensorDataset:
        """The dataset moved to the accelerator when asked for and when it fits easily."""
        device = self._device()
        if device.type != "cuda" or not self.hparams.data_on_device:
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

    def _loader(
        self, dataset: ImageTensorDataset | None, batch_size: int, shuffle: bool
    ) -> DataLoader:
        if dataset is None:
            raise RuntimeError("AnomalyDataModule.setup() has not been called for this stage")
        on_host = dataset.images.device.type == "cpu"
        workers = self.hparams.num_workers if on_host else 0
        pin = self.hparams.pin_memory
        if pin is None:
            pin = on_host and self._device().type == "cuda"
        if shuffle:
            sampler = EpochShuffleSampler(dataset, self.hparams.shuffle_seed)
        else:
            sampler = SequentialSampler(dataset)
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


def _normal_set(images: torch.Tensor) -> ImageTensorDataset:
    return ImageTensorDataset(images, torch.full((len(images),), NORMAL, dtype=torch.long))


def interleaved_order(counts: list[int]) -> torch.Tensor:
    """An order of ``sum(counts)`` items, given as consecutive groups of ``counts``, that
    spreads every group evenly: item ``i`` of a group of ``n`` sits at ``(i + 0.5) / n``.

    Any leading part of the test set then holds normal and anomalous images in their overall
    proportion, so a partial test (``limit_test_batches``, ``fast_dev_run``) still measures
    both error types; each group keeps its own order.
    """
    positions = torch.cat([(torch.arange(n, dtype=torch.float64) + 0.5) / n for n in counts])
    return torch.sort(positions, stable=True).indices
