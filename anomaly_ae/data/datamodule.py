"""The experiment's data: a seeded train/validation split of the normal set, and a test set of
normal and anomalous images, all held in memory as tensors.

The normal and the anomaly set are chosen independently (:mod:`anomaly_ae.data.source_choice`):
a name of the MNIST family, a folder of images, a ``.npy`` array or a dataset class. Their
images are converted once, through the preprocessing ``detect`` uses, to the normal set's
shape (:mod:`anomaly_ae.data.image_shape`), which the model takes (:attr:`input_shape`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, SequentialSampler

from anomaly_ae.data.image_shape import Shape, check_fits, normal_shape
from anomaly_ae.data.loaders import (
    EpochShuffleSampler,
    ResumableDataLoader,
    TensorBatchSampler,
    keep_batch,
)
from anomaly_ae.data.pictures import ImageSet, select
from anomaly_ae.data.preprocessing import InputError, set_to_model_input
from anomaly_ae.data.source_choice import ImageSource, make_source
from anomaly_ae.data.sources import SOURCES, LabelledImages
from anomaly_ae.data.splits import holdout_split, split_indices
from anomaly_ae.data.tensors import ANOMALY, NORMAL, ImageTensorDataset
from anomaly_ae.errors import ConfigError

log = logging.getLogger(__name__)

# The settings that decide which images are in the training, validation and test sets, and
# their pixels: a checkpoint carries them, and evaluating or resuming it uses them.
SPLIT_SETTINGS = (
    "normal",
    "anomaly",
    "normal_path",
    "anomaly_path",
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
_SHOWN_WHEN_SET = ("normal_path", "anomaly_path", "grayscale", "resize", "image_size")


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
            one; all of a folder or an array); ``"<normal>_classes"`` (e.g. ``mnist_classes``)
            to take a named normal set's ``anomaly_classes`` as the anomalies and train on the
            other classes; or ``None`` to test on normal data alone (type I error only).
        normal_path / anomaly_path: the folder of images (PNG, JPEG, ... of any size,
            subfolders included) or the ``.npy`` file (``(N, H, W)``, ``(N, C, H, W)`` or
            ``(N, H, W, C)``, ``uint8`` or floats in [0, 1]) of ``folder`` / ``npy``.
        anomaly_classes: the held-out classes of ``<normal>_classes``.
        train_size / val_size: the split of the normal training images (seed: 50,000 / 10,000);
            ``train_size=None`` trains on every image not in validation (or test).
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
        normal: str | Mapping[str, Any] = "mnist",
        anomaly: str | Mapping[str, Any] | None = "kmnist",
        normal_path: str | None = None,
        anomaly_path: str | None = None,
        train_size: int | None = None,
        val_size: int = 10_000,
        test_size: int | None = None,
        split_seed: int = 42,
        shuffle_seed: int = 0,
        anomaly_classes: Sequence[int] | None = (0,),
        grayscale: bool = False,
        resize: bool = False,
        image_size: Sequence[int] | None = None,
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
        normal, anomaly = _plain(normal), _plain(anomaly)
        anomaly_classes = None if anomaly_classes is None else [int(c) for c in anomaly_classes]
        image_size = None if image_size is None else [int(v) for v in image_size]
        normal_path = None if normal_path is None else str(normal_path)
        anomaly_path = None if anomaly_path is None else str(anomaly_path)
        root = str(root)
        self.save_hyperparameters(logger=False)
        self.root = Path(root).expanduser().resolve()
        self.normal: ImageSource = make_source(normal, normal_path, "data.normal", download)
        # "<normal>_classes": the anomalies are the normal set's anomaly_classes (one-class setup)
        self.held_out: tuple[int, ...] = ()
        self.anomaly: ImageSource | None = None
        if isinstance(normal, str) and normal in SOURCES and anomaly == f"{normal}_classes":
            if not anomaly_classes:
                raise ConfigError(f"data.anomaly={anomaly} needs data.anomaly_classes, e.g. [0]")
            self.held_out = tuple(sorted({int(c) for c in anomaly_classes}))
            if anomaly_path:
                raise ConfigError(
                    f"data.anomaly_path={anomaly_path} is read only with data.anomaly=folder "
                    f"or data.anomaly=npy, not with {anomaly}; drop data.anomaly_path"
                )
        elif anomaly:
            self.anomaly = make_source(anomaly, anomaly_path, "data.anomaly", download)
        elif anomaly_path:
            raise ConfigError(
                f"data.anomaly_path={anomaly_path} is read only with data.anomaly=folder or "
                "data.anomaly=npy; choose one of them, or drop data.anomaly_path"
            )
        self._loaded: dict[tuple[str, str | None], LabelledImages] = {}
        self._shape: Shape | None = None
        self._holdout: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self.train_set: ImageTensorDataset | None = None
        self.val_set: ImageTensorDataset | None = None
        self.test_set: ImageTensorDataset | None = None

    @property
    def anomaly_name(self) -> str | None:
        if self.held_out:
            return f"{self.normal_name}-classes-{'-'.join(map(str, self.held_out))}"
        if self.anomaly is None:
            return None
        name = self.anomaly.display_name
        return f"{name}-anomaly" if name == self.normal_name else name

    @property
    def normal_name(self) -> str:
        return self.normal.display_name

    @property
    def input_shape(self) -> Shape:
        """``(C, H, W)`` of every image the model gets: the normal set's, after ``grayscale``
        and ``image_size`` (its images are read, once, to find it)."""
        if self._shape is None:
            hp = self.hparams
            if self.normal.has_test_split:
                self.normal.ensure(self.root, "train", hp.download)
            images = self._normal_train_part().images
            name = f"data.normal ({self.normal_name})"
            self._shape = normal_shape(images, name, hp.grayscale, hp.resize, hp.image_size)
        return self._shape

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
        if not self.held_out:
            description.pop("anomaly_classes")
        for key in _SHOWN_WHEN_SET:
            if not description[key]:
                description.pop(key)
        if self.normal.has_test_split:
            description.pop("test_size")
        elif description["test_size"] is None:
            description["test_size"] = hp.val_size
        for name, dataset in (("train", self.train_set), ("validation", self.val_set)):
            if dataset is not None:
                description[f"n_{name}"] = len(dataset)
        return description

    def prepare_data(self) -> None:
        """Check (and if allowed download) every file the run needs, before any training."""
        download = self.hparams.download
        for split in ("train", "test") if self.normal.has_test_split else (None,):
            self.normal.ensure(self.root, split, download)
        if self.anomaly is not None:
            hint = "or run with data.anomaly=null to skip the anomaly metrics"
            split = "test" if self.anomaly.has_test_split else None
            self.anomaly.ensure(self.root, split, download, hint=hint)

    def setup(self, stage: str | None = None) -> None:
        if stage in ("fit", "validate", None) and self.val_set is None:
            self._setup_train_val()
        if stage in ("test", None) and self.test_set is None:
            self._setup_test()
        self._release_raw_images()

    def _release_raw_images(self) -> None:
        """Drop the images as read that no stage still needs (its float set holds them)."""
        train_key = ("normal", "train" if self.normal.has_test_split else None)
        for key in list(self._loaded):
            for_fit = key == train_key and self.val_set is None
            for_test = key != ("normal", "train") and self.test_set is None
            if not (for_fit or for_test):
                del self._loaded[key]

    def _load(self, source: ImageSource, split: str | None) -> LabelledImages:
        """A source's split, read once and kept (the input shape, the fit and the test stages
        all use the normal set's), with IDX images ``(N, H, W)`` as ``(N, 1, H, W)`` views."""
        key = ("normal" if source is self.normal else "anomaly", split)
        if key not in self._loaded:
            loaded = source.load(self.root, split)
            images = loaded.images
            if isinstance(images, torch.Tensor) and images.dim() == 3:
                loaded = LabelledImages(images.unsqueeze(1), loaded.labels)
            self._loaded[key] = loaded
        return self._loaded[key]

    def _normal_train_part(self) -> LabelledImages:
        """The normal images the training and validation images are drawn from: the training
        split, or the whole set where it has no test split."""
        return self._load(self.normal, "train" if self.normal.has_test_split else None)

    def _is_held_out(self, labels: torch.Tensor) -> torch.Tensor:
        return torch.isin(labels, torch.tensor(self.held_out, dtype=labels.dtype))

    def _converted(self, images: ImageSet, role: str, name: str) -> torch.Tensor:
        """``images`` of the set ``name`` as model input of the normal set's shape, or one
        line naming both shapes and the fix."""
        hp = self.hparams
        shape = self.input_shape
        reference = (
            "its training images are"
            if role == "data.normal"
            else f"data.normal ({self.normal_name}) images are"
        )
        check_fits(images, shape, hp.grayscale, hp.resize, f"{role} ({name})", reference)
        try:
            return set_to_model_input(images, shape, hp.grayscale, hp.resize)
        except InputError as err:
            raise ConfigError(f"{role} ({name}): {err}") from err

    def _holdout_split(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Train/validation/test indices of a normal set without a test split, drawn once."""
        if self._holdout is None:
            hp = self.hparams
            n = len(self._normal_train_part().labels)
            name = f"data.normal ({self.normal_name})"
            self._holdout = holdout_split(
                n, hp.train_size, hp.val_size, hp.test_size, hp.split_seed, name
            )
        return self._holdout

    def _check_anomaly_set(self) -> None:
        """Refuse an anomaly set that will not fit the normal set's shape before any training
        rather than after it (it is read once, and kept for the test)."""
        if self.anomaly is None:
            return
        split = "test" if self.anomaly.has_test_split else None
        hint = "or run with data.anomaly=null to skip the anomaly metrics"
        self.anomaly.ensure(self.root, split, self.hparams.download, hint=hint)
        images = self._load(self.anomaly, split).images
        name = f"data.anomaly ({self.anomaly.display_name})"
        reference = f"data.normal ({self.normal_name}) images are"
        check_fits(
            images, self.input_shape, self.hparams.grayscale, self.hparams.resize, name, reference
        )

    def _setup_train_val(self) -> None:
        hp = self.hparams
        self._check_anomaly_set()
        train = self._normal_train_part()
        images = train.images
        if not self.normal.has_test_split:
            train_idx, val_idx, _ = self._holdout_split()
        else:
            if self.held_out:
                images = images[~self._is_held_out(train.labels)]
            train_idx, val_idx = split_indices(
                len(images), hp.train_size, hp.val_size, hp.split_seed
            )
        # split the (uint8) images first: the float copies are then made once, at a quarter
        # of the memory traffic of splitting float images
        name = self.normal_name
        self.train_set = self._on_device(
            _normal_set(self._converted(select(images, train_idx), "data.normal", name))
        )
        self.val_set = self._on_device(
            _normal_set(self._converted(select(images, val_idx), "data.normal", name))
        )
        log.info(
            "%s %s: %d train / %d validation images (split_seed=%d)",
            self.normal_name,
            "train split" if self.normal.has_test_split else "images",
            len(self.train_set),
            len(self.val_set),
            hp.split_seed,
        )

    def _test_images(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Normal and anomalous test images as floats (``None``: no anomaly set)."""
        name = self.normal_name
        if not self.normal.has_test_split:
            whole = self._normal_train_part().images
            normal = self._converted(select(whole, self._holdout_split()[2]), "data.normal", name)
            return normal, self._anomalous_images()
        test = self._load(self.normal, "test")
        if self.held_out:
            held = self._is_held_out(test.labels)
            if not bool(held.any()):
                raise ConfigError(
                    f"data.anomaly_classes={list(self.held_out)} match no "
                    f"{self.normal_name} test label"
                )
            return (
                self._converted(test.images[~held], "data.normal", name),
                self._converted(test.images[held], "data.anomaly", self.anomaly_name),
            )
        return self._converted(test.images, "data.normal", name), self._anomalous_images()

    def _anomalous_images(self) -> torch.Tensor | None:
        if self.anomaly is None:
            return None
        split = "test" if self.anomaly.has_test_split else None
        images = self._load(self.anomaly, split).images
        return self._converted(images, "data.anomaly", self.anomaly.display_name)

    def _setup_test(self) -> None:
        normal, anomalous = self._test_images()
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


def _plain(setting: Any) -> Any:
    """A data set setting as plain values (an OmegaConf mapping becomes a dict)."""
    if hasattr(setting, "_metadata") and hasattr(setting, "_get_node"):  # an OmegaConf node
        from omegaconf import OmegaConf  # here: the Detector API loads no configs

        return OmegaConf.to_container(setting, resolve=True)
    return setting


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
