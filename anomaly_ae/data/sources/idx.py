"""The MNIST family by name (``mnist``, ``kmnist``, ...): where each set's IDX files live, how
to fetch them, how to read them.

The file names, mirrors and checksums come from torchvision's dataset classes and the files
are parsed by torchvision's own IDX readers; what this module adds is fetching only the split
that is needed (the anomaly set needs its test split alone) and turning every failure into
one line that names the folder, the files and the fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal
from urllib.error import URLError

import torch
from torchvision import datasets as tv_datasets
from torchvision.datasets.mnist import read_image_file, read_label_file
from torchvision.datasets.utils import check_integrity, download_and_extract_archive

from anomaly_ae.data.sources.pictures import LabelledImages
from anomaly_ae.errors import ConfigError, CorruptDataError, DataNotFoundError, one_line

Split = Literal["train", "test"]

_FILE_PREFIX = {"train": "train", "test": "t10k"}


@dataclass(frozen=True)
class IdxSource:
    """A dataset stored as MNIST-style IDX files under ``<root>/<folder>/raw``."""

    name: str
    torchvision_class: type[tv_datasets.MNIST]
    # a train and a test split (the other sources may be one collection of images)
    has_test_split: ClassVar[bool] = True

    @property
    def folder(self) -> str:
        return self.torchvision_class.__name__

    @property
    def display_name(self) -> str:
        """How results name the set (``KMNIST``, ``EMNIST-letters``...)."""
        return self.folder

    def raw_folder(self, root: str | Path) -> Path:
        return Path(root) / self.folder / "raw"

    def resources(self, split: Split) -> list[tuple[str, str]]:
        """The ``(archive name, md5)`` pairs torchvision lists for ``split``."""
        prefix = _FILE_PREFIX[split]
        return [(f, md5) for f, md5 in self.torchvision_class.resources if f.startswith(prefix)]

    def files(self, split: Split) -> tuple[Path, Path]:
        """Names of the (images, labels) IDX files of ``split``, uncompressed."""
        prefix = _FILE_PREFIX[split]
        return Path(f"{prefix}-images-idx3-ubyte"), Path(f"{prefix}-labels-idx1-ubyte")

    def missing_files(self, root: str | Path, split: Split) -> list[Path]:
        folder = self.raw_folder(root)
        return [folder / f for f in self.files(split) if not check_integrity(str(folder / f))]

    def ensure(self, root: str | Path, split: Split, download: bool, hint: str = "") -> None:
        """Make sure the split's files are on disk, downloading what is missing if allowed.

        Nothing is written into a folder whose permissions say read-only (a shared data
        folder, even for root), and a failed download leaves no new empty folders behind.
        """
        if not self.missing_files(root, split):
            return
        if not download:
            reason = "download is off (data.download=false)"
            raise DataNotFoundError(self._missing_message(root, split, reason, hint))
        folder = self.raw_folder(root)
        existing = _nearest_existing(folder)
        if not _is_writable(existing):
            reason = f"{existing} is read-only, so nothing is downloaded into it"
            raise DataNotFoundError(self._missing_message(root, split, reason, hint))
        try:
            self._fetch(root, split)
        except (OSError, RuntimeError, URLError) as err:
            _remove_empty_dirs(folder, stop_at=existing)
            reason = f"download failed: {one_line(err)}"
            raise DataNotFoundError(self._missing_message(root, split, reason, hint)) from err

    def load(self, root: str | Path, split: Split) -> LabelledImages:
        """Read the split's IDX files into tensors (the files must already be there)."""
        missing = self.missing_files(root, split)
        if missing:
            raise DataNotFoundError(self._missing_message(root, split, "not downloaded", ""))
        image_file, label_file = (self.raw_folder(root) / f for f in self.files(split))
        images = self._orient(read_idx(read_image_file, image_file, "image"))
        labels = read_idx(read_label_file, label_file, "label")
        if len(images) != len(labels):
            raise CorruptDataError(
                f"{image_file} holds {len(images)} images but {label_file} holds "
                f"{len(labels)} labels; one of them is truncated or from another dataset. "
                "Replace both with the original files."
            )
        return LabelledImages(images=images, labels=labels)

    def _fetch(self, root: str | Path, split: Split) -> None:
        """Download the split's missing files, one archive at a time, from torchvision's
        mirrors."""
        folder = self.raw_folder(root)
        for archive, md5 in self.resources(split):
            if not check_integrity(str(folder / Path(archive).stem)):
                self._download(archive, md5, folder)

    def _download(self, archive: str, md5: str, folder: Path) -> None:
        last_error: Exception | None = None
        for mirror in self.torchvision_class.mirrors:
            try:
                download_and_extract_archive(
                    f"{mirror}{archive}", download_root=str(folder), filename=archive, md5=md5
                )
                return
            except (OSError, RuntimeError, URLError) as err:
                last_error = err
        assert last_error is not None
        raise last_error

    def _orient(self, images: torch.Tensor) -> torch.Tensor:
        return images

    def _missing_message(self, root: str | Path, split: Split, reason: str, hint: str) -> str:
        names = ", ".join(str(f) for f in self.files(split))
        message = (
            f"{self.folder} {split} files are missing from {self.raw_folder(root)} "
            f"(expected {names}) and {reason}. Copy the files there, or point data.root "
            f"(or the ANOMALY_AE_DATA environment variable) at a folder that has "
            f"{self.folder}/raw/"
        )
        return f"{message}{'; ' + hint if hint else ''}."


_REFETCH = "Delete it so it is downloaded again, or replace it with the original file."


def read_idx(reader, path: Path, what: str, advice: str = _REFETCH) -> torch.Tensor:
    """``reader(path)`` (one of torchvision's IDX readers), with one clear error for a bad file."""
    try:
        return reader(str(path))
    except Exception as err:  # torchvision signals bad files with asserts, Key/Value/Runtime errors
        if path.stat().st_size == 0:
            reason = "the file is empty"
        else:
            reason = one_line(err) or "its magic number is not an IDX one"
        message = (
            f"{path} is not a readable IDX {what} file ({reason}); it is corrupt or truncated."
        )
        raise CorruptDataError(f"{message} {advice}".rstrip()) from err


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _is_writable(folder: Path) -> bool:
    """Writable by its permission bits as well as for this process (root ignores the bits)."""
    return os.access(folder, os.W_OK) and bool(folder.stat().st_mode & 0o222)


def _remove_empty_dirs(folder: Path, stop_at: Path) -> None:
    """Remove ``folder`` and its parents below ``stop_at`` while they are empty."""
    while folder != stop_at and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


@dataclass(frozen=True)
class EmnistSource(IdxSource):
    """One split of EMNIST (e.g. ``letters``): ``EMNIST/raw/emnist-<split>-test-images-idx3-ubyte``.

    EMNIST comes as one 535 MB archive of every split, which torchvision's EMNIST class
    downloads and unpacks. Its images are stored transposed; they are turned upright, as MNIST's.
    """

    emnist_split: str = "letters"

    @property
    def display_name(self) -> str:
        return f"EMNIST-{self.emnist_split}"

    def files(self, split: Split) -> tuple[Path, Path]:
        stem = f"emnist-{self.emnist_split}-{split}"
        return Path(f"{stem}-images-idx3-ubyte"), Path(f"{stem}-labels-idx1-ubyte")

    def _fetch(self, root: str | Path, split: Split) -> None:
        self.torchvision_class(
            str(root), split=self.emnist_split, train=split == "train", download=True
        )

    def _orient(self, images: torch.Tensor) -> torch.Tensor:
        return images.transpose(1, 2).contiguous()


SOURCES: dict[str, IdxSource] = {
    "mnist": IdxSource("mnist", tv_datasets.MNIST),
    "kmnist": IdxSource("kmnist", tv_datasets.KMNIST),
    "fashion_mnist": IdxSource("fashion_mnist", tv_datasets.FashionMNIST),
    "emnist_letters": EmnistSource("emnist_letters", tv_datasets.EMNIST, "letters"),
}


def get_source(name: str, role: str) -> IdxSource:
    """The source called ``name``; ``role`` ("data.normal", ...) names the setting in errors."""
    try:
        return SOURCES[name]
    except KeyError:
        choices = ", ".join(sorted(SOURCES))
        raise ConfigError(
            f"{role}={name} is not a known dataset; choose one of: {choices}"
        ) from None
