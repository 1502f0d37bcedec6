"""Pictures, one image each (a PIL image, an array, a tensor), made into a set of images once,
and :class:`LabelledImages`, the set with its labels that every source reads.

A set of images is held channels-first: one ``(N, C, H, W)`` tensor (``uint8`` or floats in
[0, 1]) when every picture has the same shape, or else a list of ``(1, C, H, W)`` tensors (a
folder of images of several sizes, which only ``resize`` can make one set). Nothing is scaled,
made gray or resized here: :func:`anomaly_ae.data.model_input.to_model_input` does that, for
the training data and for ``detect`` alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
import torch
from PIL import Image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}

# one tensor (N, C, H, W), or (1, C, H, W) tensors of several shapes
ImageSet = Union[torch.Tensor, list[torch.Tensor]]  # noqa: UP007


@dataclass(frozen=True)
class LabelledImages:
    """Images with their class labels ``(N,)`` (``-1`` where a source has none).

    IDX files give ``uint8`` ``(N, H, W)``; the other sources a set of channels-first images:
    ``(N, C, H, W)``, or a list for several sizes.
    """

    images: ImageSet
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


def picture_array(image: Image.Image) -> np.ndarray:
    """A PIL image's pixels; gray stays ``(H, W)``, colour becomes ``(H, W, 3)``.

    ``uint8`` for 8-bit images, floats in [0, 1] for 16-bit and float ones; transparency is
    dropped. Conversions (to gray, to another size) are left to ``to_model_input``.
    """
    if image.mode in ("L", "1", "LA"):
        return np.array(image.getchannel(0), dtype=np.uint8)
    if image.mode.startswith("I;16"):
        return np.array(image, dtype=np.float32) / 65535.0
    if image.mode == "F":
        return np.array(image, dtype=np.float32)
    return np.array(image.convert("RGB"), dtype=np.uint8)


def picture_tensor(picture: Any) -> torch.Tensor:
    """One picture as a channels-first ``(C, H, W)`` tensor of its own values.

    A PIL image, an array as PIL gives them (``(H, W)`` gray, ``(H, W, C)`` colour) or a tensor
    as torchvision's transforms give them (``(C, H, W)``, or ``(H, W)``).
    """
    if isinstance(picture, Image.Image):
        picture = picture_array(picture)
    if isinstance(picture, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(picture))
        if x.dim() == 3:
            x = x.permute(2, 0, 1)
    elif isinstance(picture, torch.Tensor):
        x = picture.detach().cpu()
    else:
        raise TypeError(f"a {type(picture).__name__} is not an image")
    if x.dim() == 2:
        x = x[None]
    if x.dim() != 3:
        raise TypeError(f"an image of shape {tuple(x.shape)} is not (C, H, W), (H, W) or (H, W, C)")
    return x


def stack_pictures(pictures: Sequence[torch.Tensor]) -> ImageSet:
    """``(C, H, W)`` pictures as one ``(N, C, H, W)`` tensor (one copy) when they share a shape
    and a dtype, else as a list of ``(1, C, H, W)`` views."""
    if len({(p.shape, p.dtype) for p in pictures}) <= 1:
        return torch.stack(list(pictures)) if pictures else torch.empty(0, 1, 0, 0)
    return [p[None] for p in pictures]


def shapes_of(images: ImageSet) -> list[tuple[int, int, int]]:
    """The distinct ``(C, H, W)`` shapes of a set's images, in the order they first appear."""
    if isinstance(images, torch.Tensor):
        return [tuple(images.shape[1:])] if len(images) else []
    return list(dict.fromkeys(tuple(x.shape[1:]) for x in images))


def select(images: ImageSet, indices: torch.Tensor) -> ImageSet:
    """The images at ``indices``, in that order."""
    if isinstance(images, torch.Tensor):
        return images[indices]
    return [images[i] for i in indices.tolist()]
