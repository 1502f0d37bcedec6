"""Turning user images into model input: files and folders (PNG/JPEG, .npy, IDX) or arrays.

Nothing is converted silently: colour images need ``grayscale=True`` and images of another
size need ``resize=True``; without them the image is refused with the reason and the option.
A bad file in a folder is reported and skipped; the rest are still read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from torchvision.datasets.mnist import read_image_file

from anomaly_ae.data.sources import read_idx
from anomaly_ae.errors import AnomalyAEError, CorruptDataError, one_line

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
# ITU-R 601-2 luma, the weights PIL's convert("L") uses
_LUMA = torch.tensor([0.299, 0.587, 0.114])


class InputError(AnomalyAEError):
    """Input images that cannot be scored as they are."""


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


def to_model_input(
    images: np.ndarray | torch.Tensor,
    shape: tuple[int, int, int],
    grayscale: bool = False,
    resize: bool = False,
) -> torch.Tensor:
    """``(H, W)``, ``(N, H, W)``, ``(N, C, H, W)`` or channels-last colour arrays to model input.

    ``uint8`` values are divided by 255; floats must already lie in [0, 1]. Raises
    :class:`InputError` saying what to change when the images do not fit ``shape``.
    """
    # a copy: arrays from PIL or np.load may be read-only, and the caller's stay untouched
    x = torch.tensor(images) if isinstance(images, np.ndarray) else torch.as_tensor(images)
    channels, height, width = shape
    if x.dtype == torch.uint8:
        x = x.float().div(255.0)
    elif x.dtype == torch.bool:
        x = x.float()
    elif x.is_floating_point():
        x = x.float()
        if x.numel() and (not bool(torch.isfinite(x).all()) or x.min() < 0 or x.max() > 1):
            raise InputError("float images must hold values in [0, 1] (or pass uint8 0-255)")
    else:
        raise InputError(
            f"images of dtype {x.dtype} are not supported: pass uint8 (0-255) or floats in [0, 1]"
        )
    if x.dim() >= 3 and x.shape[-1] in (3, 4) and x.shape[-3] not in (1, 3, 4):
        if not grayscale:
            raise InputError(
                "the images have colour channels; pass grayscale=true to make them gray"
            )
        x = (x[..., :3] * _LUMA).sum(-1)  # channels last, alpha dropped
    elif x.dim() == 3 and x.shape[0] == 3:
        # (3, H, W): for a model of three channels one image; for a gray model one colour
        # image (C, H, W) or three gray ones (N, H, W): never guessed
        if channels == 1 and not grayscale:
            raise InputError(
                f"an array of shape {tuple(x.shape)} is one colour image or three gray ones: "
                "pass grayscale=true for one colour image, or shape three gray images as "
                f"(3, 1, {x.shape[1]}, {x.shape[2]})"
            )
        x = x[None]  # one (C, H, W) image
    if x.dim() == 2:
        x = x[None, None]
    elif x.dim() == 3:
        x = x[:, None]
    elif x.dim() != 4:
        raise InputError(
            f"expected (H, W), (N, H, W) or (N, C, H, W) images, got shape {tuple(x.shape)}"
        )
    if x.shape[1] != channels:
        if not (grayscale and channels == 1 and x.shape[1] in (3, 4)):
            raise InputError(
                f"the images have {x.shape[1]} channels, the model takes "
                f"{channels}" + ("; pass grayscale=true" if channels == 1 else "")
            )
        x = (x[:, :3] * _LUMA[:, None, None]).sum(1, keepdim=True)
    if tuple(x.shape[2:]) != (height, width):
        if not resize:
            raise InputError(
                f"the images are {x.shape[2]}x{x.shape[3]} pixels, the model takes "
                f"{height}x{width}; pass resize=true to resize them"
            )
        x = F.interpolate(
            x, size=(height, width), mode="bilinear", antialias=True, align_corners=False
        ).clamp_(0, 1)
    return x.contiguous()


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
            if image.mode in ("L", "1", "LA"):
                return np.array(image.getchannel(0), dtype=np.uint8)
            if image.mode.startswith("I;16"):
                return np.array(image, dtype=np.float32) / 65535.0
            if image.mode == "F":
                return np.array(image, dtype=np.float32)
            return np.array(image.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as err:
        kind = "an image" if file.suffix.lower() in IMAGE_SUFFIXES else "an image, .npy or IDX file"
        raise InputError(f"cannot be read as {kind} ({one_line(err, 200)})") from err
