"""Data sets from the user's own files: a folder of images (``data.normal=folder``) or a
``.npy`` array (``data.normal=npy``), at ``data.normal_path`` / ``data.anomaly_path``.

Either is one collection of images with no test split of its own: as the normal set it is
split into training, validation and test images by the seeded split
(:func:`anomaly_ae.data.splits.sizes.holdout_split`); as the anomaly set all of it is
tested. The pixels are read here as they are (PIL for pictures, numpy for arrays) and
converted once, by the data module, through the preprocessing ``detect`` uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from anomaly_ae.data.sources.pictures import (
    IMAGE_SUFFIXES,
    LabelledImages,
    picture_array,
    picture_tensor,
    stack_pictures,
)
from anomaly_ae.errors import ConfigError, CorruptDataError, DataNotFoundError, one_line

_SUFFIXES = ", ".join(sorted(IMAGE_SUFFIXES))


def image_files(folder: Path) -> list[Path]:
    """The images in ``folder`` and its subfolders (by suffix; hidden ones left out), sorted:
    the order of the set, so the seeded split always sees the same one."""
    return sorted(
        f
        for f in folder.rglob("*")
        if f.suffix.lower() in IMAGE_SUFFIXES
        and f.is_file()
        and not any(p.startswith(".") for p in f.relative_to(folder).parts)
    )


def _no_labels(n: int) -> torch.Tensor:
    return torch.full((n,), -1, dtype=torch.long)


@dataclass(frozen=True)
class FolderSource:
    """Every image file (PNG, JPEG, ...) under a folder, read with PIL."""

    path: str
    role: str  # "data.normal" or "data.anomaly", for messages
    has_test_split: ClassVar[bool] = False

    @property
    def folder(self) -> Path:
        return Path(self.path).expanduser()

    @property
    def display_name(self) -> str:
        """The folder's name (``/my/images`` -> ``images``)."""
        return self.folder.resolve().name or str(self.folder)

    def ensure(self, root: str | Path, split: str | None, download: bool, hint: str = "") -> None:
        """The folder exists and holds images (nothing is ever downloaded)."""
        self._files()

    def load(self, root: str | Path, split: str | None = None) -> LabelledImages:
        pictures = []
        for file in self._files():
            try:
                with Image.open(file) as image:
                    image.load()
                    pictures.append(picture_tensor(picture_array(image)))
            except (UnidentifiedImageError, OSError) as err:
                raise CorruptDataError(
                    f"{file} cannot be read as an image ({one_line(err, 200)}); replace it or "
                    f"remove it from {self.folder}"
                ) from err
        return LabelledImages(stack_pictures(pictures), _no_labels(len(pictures)))

    def _files(self) -> list[Path]:
        key = f"{self.role}_path"
        if not self.folder.exists():
            raise DataNotFoundError(
                f"{key}={self.path} does not exist; point it at a folder of images ({_SUFFIXES})"
            )
        if not self.folder.is_dir():
            other = f" or {self.role}=npy for a .npy array" if self.folder.suffix == ".npy" else ""
            raise ConfigError(f"{key}={self.path} is not a folder; pass a folder of images{other}")
        files = image_files(self.folder)
        if not files:
            raise DataNotFoundError(
                f"{key}={self.path} holds no images ({_SUFFIXES}, subfolders included); put "
                f"the images there or point {key} at a folder that has some"
            )
        return files


@dataclass(frozen=True)
class NpySource:
    """A ``.npy`` array of images: ``(N, H, W)`` gray, ``(N, C, H, W)`` or ``(N, H, W, C)``
    (``C`` of 1, 3 or 4), ``uint8`` 0-255 or floats in [0, 1]."""

    path: str
    role: str
    has_test_split: ClassVar[bool] = False

    @property
    def file(self) -> Path:
        return Path(self.path).expanduser()

    @property
    def display_name(self) -> str:
        """The file's name without ``.npy``."""
        return self.file.stem

    def ensure(self, root: str | Path, split: str | None, download: bool, hint: str = "") -> None:
        key = f"{self.role}_path"
        if not self.file.is_file():
            what = "is a folder" if self.file.is_dir() else "does not exist"
            other = f" (a folder of images is {self.role}=folder)" if self.file.is_dir() else ""
            raise DataNotFoundError(f"{key}={self.path} {what}; point it at a .npy file{other}")

    def load(self, root: str | Path, split: str | None = None) -> LabelledImages:
        self.ensure(root, split, download=False)
        try:
            array = np.load(self.file, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise CorruptDataError(
                f"{self.file} is not a readable .npy array ({one_line(err, 200)}); save the "
                "images with numpy.save"
            ) from err
        images = torch.from_numpy(array)
        if images.dim() == 3:
            images = images[:, None]  # (N, H, W): gray by definition, whatever N is
        elif (
            images.dim() == 4 and images.shape[1] not in (1, 3, 4) and images.shape[3] in (1, 3, 4)
        ):
            images = images.permute(0, 3, 1, 2)  # channels last: a view
        elif images.dim() != 4 or images.shape[1] not in (1, 3, 4):
            raise CorruptDataError(
                f"{self.file} holds an array of shape {tuple(array.shape)}; a set of images is "
                "(N, H, W), (N, C, H, W) or (N, H, W, C) with C of 1, 3 or 4"
            )
        return LabelledImages(images, _no_labels(len(images)))
