"""Which images an experiment uses, each read once and converted once to model input.

:class:`ExperimentImages` takes the normal and anomaly sources and the split settings and
gives the normal training and validation images and the normal and anomalous test images as
float tensors of the normal set's shape (:mod:`anomaly_ae.data.model_input`), through the
preprocessing ``detect`` uses. It decides what is in each split; the data module
(:mod:`anomaly_ae.data.datamodule`) makes datasets and loaders of them.

A normal set with a test split of its own is split into training and validation images from
its training split (:func:`~anomaly_ae.data.splits.sizes.split_indices`) and tested on its
test split; one that is a single collection of images is split three ways
(:func:`~anomaly_ae.data.splits.sizes.holdout_split`). With normal classes
(``data.normal_classes``) only the images of those labels are normal, and with held-out
classes (``data.anomaly=held_out_classes``) the anomalies are the normal set's images of the
other labels (:mod:`anomaly_ae.data.splits.classes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from anomaly_ae.data.model_input import (
    InputError,
    Shape,
    check_fits,
    normal_shape,
    set_to_model_input,
)
from anomaly_ae.data.sources.choice import ImageSource
from anomaly_ae.data.sources.pictures import ImageSet, LabelledImages, select
from anomaly_ae.data.splits.classes import ClassChoice
from anomaly_ae.data.splits.sizes import count_of, holdout_split, split_indices
from anomaly_ae.errors import ConfigError

_ANOMALY_HINT = "or run with data.anomaly=null to skip the anomaly metrics"


class ExperimentImages:
    """The images of a run: ``root`` holds the files, ``normal`` / ``anomaly`` read them
    (``anomaly=None``: no anomaly set, or the held-out classes of the normal set), ``classes``
    says which of the normal set's labels are normal and which held out; the keyword settings
    are the data module's of the same names (``val_size``: a count or a share in (0, 1) of the
    normal images it is drawn from)."""

    def __init__(
        self,
        root: Path,
        normal: ImageSource,
        anomaly: ImageSource | None,
        classes: ClassChoice | None = None,
        *,
        train_size: int | None,
        val_size: float,
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
        self.classes = classes or ClassChoice()
        self.train_size, self.val_size, self.test_size = train_size, val_size, test_size
        self.split_seed = split_seed
        self.grayscale, self.resize, self.image_size = grayscale, resize, image_size
        self.download = download
        self._loaded: dict[tuple[str, str | None], LabelledImages] = {}
        self._shape: Shape | None = None
        self._holdout: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self._pool_indices: torch.Tensor | None = None

    @property
    def normal_name(self) -> str:
        return self.classes.name(self.normal.display_name, anomalies=False)

    @property
    def anomaly_name(self) -> str | None:
        if self.classes.held_out:
            return self.classes.name(self.normal.display_name, anomalies=True)
        if self.anomaly is None:
            return None
        name = self.anomaly.display_name
        return f"{name}-anomaly" if name == self.normal.display_name else name

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

    def check_before_training(self) -> None:
        """Refuse labels the normal set lacks, and an anomaly set that will not fit the normal
        set's shape, before any training rather than after it (what is read is kept for the
        test)."""
        train = self._normal_train_part().labels
        test = self._load(self.normal, "test").labels if self.normal.has_test_split else None
        self.classes.check(self.normal.display_name, train, test)
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
        images = self._normal_pool()
        if not self.normal.has_test_split:
            train_idx, val_idx, _ = self._holdout_split()
        else:
            n = len(images)
            val_size = count_of(self.val_size, n, "val_size")
            train_idx, val_idx = split_indices(n, self.train_size, val_size, self.split_seed)
        # split the (uint8) images first, so the float copies are made once, of the parts
        name = self.normal_name
        return (
            self._converted(select(images, train_idx), "data.normal", name),
            self._converted(select(images, val_idx), "data.normal", name),
        )

    def test(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The normal and anomalous test images (``None``: no anomaly set)."""
        name = self.normal_name
        if not self.normal.has_test_split:
            test_idx = self._holdout_split()[2]
            normal = self._converted(select(self._normal_pool(), test_idx), "data.normal", name)
            held = self._normal_train_part()  # a one-collection set's own other labels
        else:
            held = self._load(self.normal, "test")
            normal = self._labelled(held, self.classes.is_normal(held.labels), "data.normal", name)
        if not self.classes.held_out:
            return normal, self._anomalous_images()
        anomalous = self.classes.is_anomalous(held.labels)
        return normal, self._labelled(held, anomalous, "data.anomaly", str(self.anomaly_name))

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

    def _normal_pool(self) -> ImageSet:
        """The normal images the training and validation images (and, without a test split,
        the normal test images) are drawn from: the training part's, of the normal labels."""
        part = self._normal_train_part()
        return part.images if not self.classes.selects else select(part.images, self._pool())

    def _pool(self) -> torch.Tensor:
        """Where :meth:`_normal_pool`'s images are in the training part, found once."""
        if self._pool_indices is None:
            normal = self.classes.is_normal(self._normal_train_part().labels)
            self._pool_indices = torch.nonzero(normal).flatten()
        return self._pool_indices

    def _labelled(
        self, part: LabelledImages, chosen: torch.Tensor, role: str, name: str
    ) -> torch.Tensor:
        """The images of ``part`` where ``chosen``, as model input."""
        images = part.images if bool(chosen.all()) else select(part.images, chosen.nonzero()[:, 0])
        return self._converted(images, role, name)

    def _holdout_split(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Train/validation/test indices of a normal set without a test split, drawn once."""
        if self._holdout is None:
            n = len(self._pool())
            name = f"data.normal ({self.normal_name})"
            val_size = count_of(self.val_size, n, "val_size")
            test_size = count_of(self.test_size, n, "test_size")
            self._holdout = holdout_split(
                n, self.train_size, val_size, test_size, self.split_seed, name
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
