"""Which images an experiment uses, each read once and converted once to model input.

:class:`ExperimentImages` takes the normal and anomaly sources and the split settings and
gives the normal training and validation images and the normal and anomalous test images as
float tensors of the normal set's shape (:mod:`anomaly_ae.data.image_shape`), through the
preprocessing ``detect`` uses. It decides what is in each split; the data module
(:mod:`anomaly_ae.data.datamodule`) makes datasets and loaders of them.

A normal set with a test split of its own is split into training and validation images from
its training split (:func:`~anomaly_ae.data.splits.split_indices`) and tested on its test
split; one that is a single collection of images is split three ways
(:func:`~anomaly_ae.data.splits.holdout_split`). With held-out classes (``mnist_classes``)
the anomalies are the normal set's images of those classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from anomaly_ae.data.image_shape import Shape, check_fits, normal_shape
from anomaly_ae.data.pictures import ImageSet, select
from anomaly_ae.data.preprocessing import InputError, set_to_model_input
from anomaly_ae.data.source_choice import ImageSource
from anomaly_ae.data.sources import LabelledImages
from anomaly_ae.data.splits import holdout_split, split_indices
from anomaly_ae.errors import ConfigError

_ANOMALY_HINT = "or run with data.anomaly=null to skip the anomaly metrics"


class ExperimentImages:
    """The images of a run: ``root`` holds the files, ``normal`` / ``anomaly`` read them
    (``anomaly=None``: no anomaly set, or the ``held_out`` classes of the normal set); the
    keyword settings are the data module's of the same names."""

    def __init__(
        self,
        root: Path,
        normal: ImageSource,
        anomaly: ImageSource | None,
        held_out: tuple[int, ...] = (),
        *,
        train_size: int | None,
        val_size: int,
        test_size: int | None,
        split_seed: int,
        grayscale: bool,
        resize: bool,
        image_size: Sequence[int] | None,
        download: bool,
    ) -> None:
        self.root = root
        self.normal = normal
        self.anomaly = anomaly
        self.held_out = held_out
        self.train_size, self.val_size, self.test_size = train_size, val_size, test_size
        self.split_seed = split_seed
        self.grayscale, self.resize, self.image_size = grayscale, resize, image_size
        self.download = download
        self._loaded: dict[tuple[str, str | None], LabelledImages] = {}
        self._shape: Shape | None = None
        self._holdout: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    @property
    def normal_name(self) -> str:
        return self.normal.display_name

    @property
    def anomaly_name(self) -> str | None:
        if self.held_out:
            return f"{self.normal_name}-classes-{'-'.join(map(str, self.held_out))}"
        if self.anomaly is None:
            return None
        name = self.anomaly.display_name
        return f"{name}-anomaly" if name == self.normal_name else name

    @property
    def input_shape(self) -> Shape:
        """``(C, H, W)`` of every image the model gets: the normal set's, after ``grayscale``
        and ``image_size`` (its images are read, once, to find it)."""
        if self._shape is None:
            if self.normal.has_test_split:
                self.normal.ensure(self.root, "train", self.download)
            images = self._normal_train_part().images
            name = f"data.normal ({self.normal_name})"
            self._shape = normal_shape(images, name, self.grayscale, self.resize, self.image_size)
        return self._shape

    def ensure_files(self) -> None:
        """Check (and if allowed download) every file the run needs."""
        for split in ("train", "test") if self.normal.has_test_split else (None,):
            self.normal.ensure(self.root, split, self.download)
        if self.anomaly is not None:
            split = self._anomaly_split()
            self.anomaly.ensure(self.root, split, self.download, hint=_ANOMALY_HINT)

    def check_anomaly_set(self) -> None:
        """Refuse an anomaly set that will not fit the normal set's shape before any training
        rather than after it (it is read once, and kept for the test)."""
        if self.anomaly is None:
            return
        split = self._anomaly_split()
        self.anomaly.ensure(self.root, split, self.download, hint=_ANOMALY_HINT)
        images = self._load(self.anomaly, split).images
        name = f"data.anomaly ({self.anomaly.display_name})"
        reference = f"data.normal ({self.normal_name}) images are"
        check_fits(images, self.input_shape, self.grayscale, self.resize, name, reference)

    def train_and_validation(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The normal training and validation images, drawn by ``split_seed``."""
        part = self._normal_train_part()
        images = part.images
        if not self.normal.has_test_split:
            train_idx, val_idx, _ = self._holdout_split()
        else:
            if self.held_out:
                images = images[~self._is_held_out(part.labels)]
            train_idx, val_idx = split_indices(
                len(images), self.train_size, self.val_size, self.split_seed
            )
        # split the (uint8) images first: the float copies are then made once, at a quarter
        # of the memory traffic of splitting float images
        name = self.normal_name
        return (
            self._converted(select(images, train_idx), "data.normal", name),
            self._converted(select(images, val_idx), "data.normal", name),
        )

    def test(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The normal and anomalous test images (``None``: no anomaly set)."""
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

    def release(self, for_fit: bool, for_test: bool) -> None:
        """Drop the images as read that neither the fit (``for_fit``: its images are still to
        be made) nor the test (``for_test``) still needs."""
        train_key = ("normal", "train" if self.normal.has_test_split else None)
        for key in list(self._loaded):
            fit_needs = for_fit and key == train_key
            test_needs = for_test and key != ("normal", "train")
            if not (fit_needs or test_needs):
                del self._loaded[key]

    def _anomaly_split(self) -> str | None:
        return "test" if self.anomaly is not None and self.anomaly.has_test_split else None

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

    def _holdout_split(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Train/validation/test indices of a normal set without a test split, drawn once."""
        if self._holdout is None:
            n = len(self._normal_train_part().labels)
            name = f"data.normal ({self.normal_name})"
            self._holdout = holdout_split(
                n, self.train_size, self.val_size, self.test_size, self.split_seed, name
            )
        return self._holdout

    def _anomalous_images(self) -> torch.Tensor | None:
        if self.anomaly is None:
            return None
        images = self._load(self.anomaly, self._anomaly_split()).images
        return self._converted(images, "data.anomaly", self.anomaly.display_name)

    def _converted(self, images: ImageSet, role: str, name: str) -> torch.Tensor:
        """``images`` of the set ``name`` as model input of the normal set's shape, or one
        line naming both shapes and the fix."""
        shape = self.input_shape
        reference = (
            "its training images are"
            if role == "data.normal"
            else f"data.normal ({self.normal_name}) images are"
        )
        check_fits(images, shape, self.grayscale, self.resize, f"{role} ({name})", reference)
        try:
            return set_to_model_input(images, shape, self.grayscale, self.resize)
        except InputError as err:
            raise ConfigError(f"{role} ({name}): {err}") from err
