"""Reading user images: files and folders (PNG/JPEG, .npy, IDX) to model input.

The pixels read go through :func:`anomaly_ae.data.model_input.to_model_input`, the
conversion the training data go through too (imported here, with :class:`InputError`, for
the callers of this module). Nothing is converted silently: colour images need
``grayscale=True`` and images of another size need ``resize=True``; without them the image is
refused with the reason and the option. A bad file in a folder is reported and skipped; the
rest are still read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torchvision.datasets.mnist import read_image_file

from anomaly_ae.data.model_input import InputError, to_model_input
from anomaly_ae.data.sources.idx import read_idx
from anomaly_ae.data.sources.pictures import IMAGE_SUFFIXES, picture_array
from anomaly_ae.errors import CorruptDataError, one_line

__all__ = [
    "IMAGE_SUFFIXES",
    "InputError",
    "InputImages",
    "Skipped",
    "read_inputs",
    "to_model_input",
]


@dataclass(frozen=True)
class Skipped:
    """A file (or array in a file) that was not scored, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class InputImages:
    """Images ready for the model, ``(N, C, H, W)`` floats in [0, 1], with a name each."""

    names: list[str]
    images: torch.Tensor


def read_inputs(
    path: str | Path,
    shape: tuple[int, int, int],
    grayscale: bool = False,
    resize: bool = False,
) -> tuple[InputImages, list[Skipped]]:
    """Every image in a file or a folder (recursively, hidden files left out).

    Returns what could be read and what was skipped. Raises :class:`InputError` only when
    ``path`` is missing or holds no files at all.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(
            f"{path} does not exist; pass inputs=<an image, array or IDX file, or a folder of them>"
        )
    if path.is_dir():
        files = sorted(
            f
            for f in path.rglob("*")
            if f.is_file() and not any(p.startswith(".") for p in f.relative_to(path).parts)
        )
        if not files:
            raise InputError(
                f"{path} is an empty folder: put images (.png, .jpg), .npy arrays "
                "or IDX files in it"
            )
    else:
        files = [path]
    names: list[str] = []
    batches: list[torch.Tensor] = []
    skipped: list[Skipped] = []
    for file in files:
        try:
            images = to_model_input(_read_file(file), shape, grayscale, resize)
        except (InputError, CorruptDataError) as err:
            skipped.append(Skipped(str(file), str(err).removeprefix(f"{file} ")))
            continue
        batches.append(images)
        if len(images) == 1 and file.suffix.lower() in IMAGE_SUFFIXES:
            names.append(str(file))
        else:
            names += [f"{file}[{i}]" for i in range(len(images))]
    empty = torch.empty(0, *shape)
    return InputImages(names, torch.cat(batches) if batches else empty), skipped


def _read_file(file: Path) -> np.ndarray | torch.Tensor:
    suffix = file.suffix.lower()
    if suffix == ".npy":
        try:
            return np.load(file, allow_pickle=False)
        except (ValueError, OSError) as err:
            raise InputError(f"not a readable .npy array ({one_line(err, 200)})") from err
    if suffix == ".idx" or file.name.endswith("-ubyte"):
        # an IDX image file is (N, H, W) by definition: made (N, 1, H, W), never ambiguous
        return read_idx(read_image_file, file, "image", advice="").unsqueeze(1)
    return _read_picture(file)


def _read_picture(file: Path) -> np.ndarray:
    """The picture's pixels as an array; gray stays ``(H, W)``, colour becomes ``(H, W, 3)``.

    Conversions (to gray, to the model's size) are left to :func:`to_model_input`, so a file
    and the same pixels passed as an array give the same scores.
    """
    try:
        with Image.open(file) as image:
            image.load()
            return picture_array(image)
    except (UnidentifiedImageError, OSError) as err:
        kind = "an image" if file.suffix.lower() in IMAGE_SUFFIXES else "an image, .npy or IDX file"
        raise InputError(f"cannot be read as {kind} ({one_line(err, 200)})") from err
