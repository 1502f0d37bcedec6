"""The experiment's data as Lightning takes it: a seeded train/validation split of the normal
set, and a test set of normal and anomalous images, all held in memory as tensors, with their
loaders.

The normal and the anomaly set are chosen independently (:mod:`anomaly_ae.data.sources`):
a name of the MNIST family, a folder of images, a ``.npy`` array or a dataset class.
:class:`~anomaly_ae.data.splits.experiment_images.ExperimentImages` decides which images each
split holds and converts them once, through the preprocessing ``detect`` uses, to the normal
set's shape, which the model takes (:attr:`AnomalyDataModule.input_shape`); this module makes
datasets of them (:mod:`anomaly_ae.data.batches`), places them on the device and serves them
(:mod:`anomaly_ae.data.loaders`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from anomaly_ae.data.batches import ImageTensorDataset, normal_dataset, on_device, test_dataset
from anomaly_ae.data.loaders import make_loader
from anomaly_ae.data.model_input import Shape
from anomaly_ae.data.sources.choice import anomaly_source, make_source, plain_setting
from anomaly_ae.data.splits.classes import ClassChoice, is_held_out
from anomaly_ae.data.splits.experiment_images import ExperimentImages
from anomaly_ae.data.splits.sizes import plain_size
from anomaly_ae.errors import ConfigError

log = logging.getLogger(__name__)

# The settings that decide which images are in the training, validation and test sets, and
# their pixels: a checkpoint carries them, and evaluating or resuming it uses them.
SPLIT_SETTINGS = (
    "normal",
    "anomaly",
    "normal_path",
    "anomaly_path",
    "normal_classes",
    "anomaly_classes",
    "train_size",
    "val_size",
    "test_size",
    "split_seed",
    "grayscale",
    "resize",
    "image_size",
)
# shown in results.json only where they are in effect (a default run's summary is unchanged)
_SHOWN_WHEN_SET = (
    "normal_path",
    "anomaly_path",
    "normal_classes",
    "grayscale",
    "resize",
    "image_size",
)


class AnomalyDataModule(pl.LightningDataModule):
    """Normal images for training and calibration, normal + anomalous images for testing.

    Args:
        root: folder holding ``<DATASET>/raw/*-ubyte`` files (torchvision's layout), and the
            ``root`` of dataset classes that take one.
        normal: the normal set: a name (``mnist``, ``kmnist``, ``fashion_mnist``,
            ``emnist_letters``), ``folder`` or ``npy`` (read from ``normal_path``), or a dataset
            class as a mapping ``{"_target_": ..., <its settings>}``. A set with a test split
            of its own (the names; a class that takes ``train``) is split into train/validation
            from its training split and tested on its test split; one collection of images
            (``folder``, ``npy``, other classes) is split into train/validation/test.
        anomaly: the anomaly set, chosen the same way (only a test split is read where there is
            one; all of a folder or an array); ``"held_out_classes"`` (or
            ``"<normal>_classes"``, e.g. ``mnist_classes``) for the normal set's images of the
            labels that are not normal (``normal_classes``; narrowed to ``anomaly_classes``
            where given); or ``None`` to test on normal data alone (type I error only).
        normal_path / anomaly_path: the folder of images (PNG, JPEG, ... of any size,
            subfolders included) or the ``.npy`` file (``(N, H, W)``, ``(N, C, H, W)`` or
            ``(N, H, W, C)``, ``uint8`` or floats in [0, 1]) of ``folder`` / ``npy``.
        normal_classes: the labels of a labelled normal set that are normal: training,
            validation and normal test images are its images of these labels (``None``: all).
            One-class MNIST: ``normal_classes=[3], anomaly="held_out_classes", val_size=0.1``
            (the configs choose the last two when ``data.normal_classes`` is set; from Python
            they are given as any other setting).
        anomaly_classes: the labels that ``held_out_classes`` makes anomalies (``None``: every
            label not in ``normal_classes``).
        train_size / val_size: the split of the normal training images (seed: 50,000 / 10,000);
            ``train_size=None`` trains on every image not in validation (or test);
            ``val_size`` is a number of images, or a share in (0, 1) of the normal images it is
            drawn from (``0.1``: a tenth of one class's images).
        test_size: the normal test images drawn from a normal set without a test split of its
            own; ``None``: as many as ``val_size``.
        split_seed: seed of the generator that draws the split.
        grayscale: make colour images gray (ITU-R 601-2 luma), so that every set is 1-channel;
            without it colour sets keep their channels, and colour images meeting gray ones
            are refused.
        resize: resize images of another size (bilinear, antialiased) to the normal set's
            (or ``image_size``); without it they are refused.
        image_size: ``[H, W]`` of the model input; ``None``: the normal set's own.
        shuffle_seed: seed of the training order; each epoch's order depends only on it and
            the epoch number, so resumed runs repeat uninterrupted ones exactly.
        batch_size: training batch size; eval_batch_size: validation/test batch size (scores
            are per image, so it changes speed, not results).
        data_on_device: keep the tensors on the accelerator when they fit in its free memory
            (no host-to-device copy per batch); on the CPU this changes nothing.
        num_workers: DataLoader workers; 0 suits tensors that are already in memory.
        pin_memory: pin host batches for faster GPU copies; ``None`` decides: on when
            training on a GPU from host memory.
        download: fetch missing files through torchvision's mirrors (named sets), or let a
            dataset class that takes ``download`` download.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        normal: str | Mapping[str, Any] = "mnist",
        anomaly: str | Mapping[str, Any] | None = "kmnist",
        normal_path: str | None = None,
        anomaly_path: str | None = None,
        normal_classes: Sequence[int] | None = None,
        anomaly_classes: Sequence[int] | None = None,
        train_size: int | None = None,
        val_size: float = 10_000,
        test_size: float | None = None,
        split_seed: int = 42,
        grayscale: bool = False,
        resize: bool = False,
        image_size: Sequence[int] | None = None,
        shuffle_seed: int = 0,
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
        normal, anomaly = plain_setting(normal), plain_setting(anomaly)
        normal_classes = None if normal_classes is None else [int(c) for c in normal_classes]
        anomaly_classes = None if anomaly_classes is None else [int(c) for c in anomaly_classes]
        # a whole number of images stays an int however the config typed it (10000.0)
        val_size = plain_size(val_size)
        test_size = None if test_size is None else plain_size(test_size)
        image_size = None if image_size is None else [int(v) for v in image_size]
        normal_path = None if normal_path is None else str(normal_path)
        anomaly_path = None if anomaly_path is None else str(anomaly_path)
        root = str(root)
        self.save_hyperparameters(logger=False)
        normal_source = make_source(normal, normal_path, "data.normal", download)
        held_out = is_held_out(anomaly, normal)
        classes = ClassChoice.of(normal_classes, anomaly_classes, held_out, anomaly)
        #: which images each split holds, read and converted once
        self.images = ExperimentImages(
            Path(root).expanduser().resolve(),
            normal_source,
            anomaly_source(anomaly, anomaly_path, held_out, download),
            classes,
            train_size=train_size,
            val_size=val_size,
            test_size=test_size,
            split_seed=split_seed,
            grayscale=grayscale,
            resize=resize,
            image_size=image_size,
            download=download,
        )
        self.train_set: ImageTensorDataset | None = None
        self.val_set: ImageTensorDataset | None = None
        self.test_set: ImageTensorDataset | None = None

    @property
    def anomaly_name(self) -> str | None:
        return self.images.anomaly_name

    @property
    def normal_name(self) -> str:
        return self.images.normal_name

    @property
    def input_shape(self) -> Shape:
        """``(C, H, W)`` of every image the model gets: the normal set's, after ``grayscale``
        and ``image_size`` (its images are read, once, to find it)."""
        return self.images.input_shape

    def check_input_shape(self, shape: Sequence[int], whose: str) -> None:
        """Refuse a model (``whose``: "the checkpoint's model") of another input shape."""
        if tuple(int(v) for v in shape) != self.input_shape:
            raise ConfigError(
                f"{whose} takes images of shape {tuple(shape)} but the data "
                f"({self.normal_name}) are {self.input_shape}; use the data it was trained on "
                "(or data.grayscale / data.resize / data.image_size that make them its shape)"
            )

    def describe(self) -> dict[str, Any]:
        """What the data of a run are, for results.json: the sets' names, the settings that
        chose the images, and how many images each split holds once set up."""
        hp = self.hparams
        description: dict[str, Any] = {
            "normal": self.normal_name,
            "anomaly": self.anomaly_name,
            **{key: hp[key] for key in SPLIT_SETTINGS if key not in ("normal", "anomaly")},
        }
        if not self.images.classes.held_out:
            description.pop("anomaly_classes")
        for key in _SHOWN_WHEN_SET:
            if not description[key]:
                description.pop(key)
        if self.images.normal.has_test_split:
            description.pop("test_size")
        elif description["test_size"] is None:
            description["test_size"] = hp.val_size
        for name, dataset in (("train", self.train_set), ("validation", self.val_set)):
            if dataset is not None:
                description[f"n_{name}"] = len(dataset)
        return description

    def prepare_data(self) -> None:
        """Check (and if allowed download) every file the run needs, before any training."""
        self.images.ensure_files()

    def setup(self, stage: str | None = None) -> None:
        if stage in ("fit", "validate", None) and self.val_set is None:
            self._setup_train_val()
        if stage in ("test", None) and self.test_set is None:
            self._setup_test()
        # the images as read are dropped once no stage still needs them
        self.images.release(for_fit=self.val_set is None, for_test=self.test_set is None)

    def _setup_train_val(self) -> None:
        self.images.check_before_training()
        train, val = self.images.train_and_validation()
        self.train_set = self._on_device(normal_dataset(train))
        self.val_set = self._on_device(normal_dataset(val))
        log.info(
            "%s %s: %d train / %d validation images (split_seed=%d)",
            self.normal_name,
            "train split" if self.images.normal.has_test_split else "images",
            len(self.train_set),
            len(self.val_set),
            self.hparams.split_seed,
        )

    def _setup_test(self) -> None:
        normal, anomalous = self.images.test()
        self.test_set = self._on_device(test_dataset(normal, anomalous))
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
        if not self.hparams.data_on_device:
            return dataset
        return on_device(dataset, self._device())

    def _loader(
        self, dataset: ImageTensorDataset | None, batch_size: int, shuffle: bool
    ) -> DataLoader:
        if dataset is None:
            raise RuntimeError("AnomalyDataModule.setup() has not been called for this stage")
        hp = self.hparams
        return make_loader(
            dataset,
            batch_size,
            shuffle,
            hp.shuffle_seed,
            hp.num_workers,
            hp.pin_memory,
            self._device(),
        )
