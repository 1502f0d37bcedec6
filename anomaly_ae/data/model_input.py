"""Pixels to model input: the one conversion that training data and scored images both go
through, and the input shape every set of an experiment must take.

:func:`to_model_input` holds all of the conversion: the scaling (``uint8`` divided by 255, in
``float32``), the layouts and channels (colour made gray with the ITU-R 601-2 luma weights, in
one place) and the resize. The data module's images, from every source, take it through
:func:`set_to_model_input`, the images given to ``detect`` and the
:class:`~anomaly_ae.detector.Detector` directly (files are read in :mod:`anomaly_ae.inputs`),
so the same pixels become the same tensor on both paths.

Nothing is converted silently: colour images for a gray model need ``grayscale=True`` and
images of another size need ``resize=True``; without them :class:`InputError` says what to
change. A colour model keeps the colour (channels first or last; alpha is dropped).

The shape: the normal set decides ``(C, H, W)`` (:func:`normal_shape`): its channels (1 with
``data.grayscale=true``) and its size (``data.image_size`` where given). Every set, the normal
one's own parts included, must have that shape after ``data.grayscale`` and ``data.resize``, as
the images ``detect`` scores must; where one does not, one line names both shapes and the fix
(:func:`check_fits`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from anomaly_ae.data.sources.pictures import ImageSet, shapes_of
from anomaly_ae.errors import AnomalyAEError, ConfigError

# ITU-R 601-2 luma, the weights PIL's convert("L") uses
LUMA = (0.299, 0.587, 0.114)

Shape = tuple[int, int, int]


class InputError(AnomalyAEError):
    """Input images that cannot be scored as they are."""


def to_model_input(
    images: np.ndarray | torch.Tensor,
    shape: tuple[int, int, int],
    grayscale: bool = False,
    resize: bool = False,
) -> torch.Tensor:
    """``(H, W)``, ``(N, H, W)``, ``(N, C, H, W)`` or channels-last colour arrays to model input
    ``(N, C, H, W)`` ``float32`` in [0, 1] of ``shape`` ``(C, H, W)``.

    ``uint8`` values are divided by 255; floats must already lie in [0, 1]. A ``(3, H, W)``
    array for a one-channel model is refused unless ``grayscale=True`` says it is one colour
    image (three gray ones are ``(3, 1, H, W)``). Raises :class:`InputError` saying what to
    change when the images do not fit ``shape``.

    A ``uint8`` tensor costs one float copy (the result); numpy arrays are copied first, since
    arrays from PIL or ``np.load`` may be read-only. The caller's images are never changed.
    """
    x = _scaled(images)
    channels, height, width = shape
    colour_last = x.dim() >= 3 and x.shape[-1] in (3, 4) and x.shape[-3] not in (1, 3, 4)
    if colour_last:
        if channels == 1 and not grayscale:
            raise InputError(
                "the images have colour channels; pass grayscale=true to make them gray"
            )
        if x.dim() > 4:
            raise InputError(
                f"expected (H, W), (N, H, W) or (N, C, H, W) images, got shape {tuple(x.shape)}"
            )
        x = x.movedim(-1, -3)  # (H, W, C) -> (C, H, W), (N, H, W, C) -> (N, C, H, W): a view
        if x.dim() == 3:
            x = x[None]
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
    # colour for a gray model is made gray (only with grayscale=true, checked above for
    # channels-last colour); a colour model keeps the colour, without the alpha channel
    if channels == 1 and grayscale and x.shape[1] in (3, 4):
        x = _gray(x)
    elif channels == 3 and x.shape[1] == 4:
        x = x[:, :3]
    if x.shape[1] != channels:
        raise InputError(
            f"the images have {x.shape[1]} channels, the model takes "
            f"{channels}" + ("; pass grayscale=true" if channels == 1 else "")
        )
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


def set_to_model_input(
    images: ImageSet, shape: tuple[int, int, int], grayscale: bool = False, resize: bool = False
) -> torch.Tensor:
    """A set of images (:mod:`anomaly_ae.data.sources.pictures`) as model input ``(N, C, H, W)``.

    One :func:`to_model_input` call for a tensor; one per image for a list (images of several
    sizes), each then converted exactly as ``detect`` converts one file, into the one result.
    """
    if isinstance(images, torch.Tensor):
        return to_model_input(images, shape, grayscale, resize)
    result = torch.empty((len(images), *shape), dtype=torch.float32)
    for i, image in enumerate(images):
        result[i] = to_model_input(image, shape, grayscale, resize)[0]
    return result


def to_float_images(images: torch.Tensor) -> torch.Tensor:
    """IDX images, ``uint8`` ``(N, H, W)``, as model input ``(N, 1, H, W)`` at their own size.

    The training data's call of :func:`to_model_input`: an IDX image file holds gray images
    by definition, so they are handed over as ``(N, 1, H, W)`` (a view) and never taken for
    colour, whatever ``N`` is. One float copy of the whole set, ``uint8 / 255`` in ``float32``.
    """
    return to_model_input(images.unsqueeze(1), (1, *images.shape[1:]))


def _scaled(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """The images as ``float32`` in [0, 1], in a tensor that is not the caller's unless it
    already was ``float32``; nothing is ever written into it."""
    # a copy of numpy arrays: they may be read-only, and the caller's stay untouched
    x = torch.tensor(images) if isinstance(images, np.ndarray) else torch.as_tensor(images)
    if x.dtype == torch.uint8:
        return x.to(torch.float32).div_(255.0)  # a new tensor, divided in place
    if x.dtype == torch.bool:
        return x.float()
    if x.is_floating_point():
        x = x.float()
        if x.numel() and (not bool(torch.isfinite(x).all()) or x.min() < 0 or x.max() > 1):
            raise InputError("float images must hold values in [0, 1] (or pass uint8 0-255)")
        return x
    raise InputError(
        f"images of dtype {x.dtype} are not supported: pass uint8 (0-255) or floats in [0, 1]"
    )


def _gray(x: torch.Tensor) -> torch.Tensor:
    """``(N, 3 or 4, H, W)`` colour (alpha dropped) to ``(N, 1, H, W)`` gray: ITU-R 601-2 luma
    of the [0, 1] values, summed in a fixed order whatever the memory layout."""
    red, green, blue = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return red * LUMA[0] + green * LUMA[1] + blue * LUMA[2]


def normal_shape(
    images: ImageSet,
    name: str,
    grayscale: bool,
    resize: bool,
    image_size: Sequence[int] | None,
) -> Shape:
    """The model input shape the normal set ``images`` (``name`` in errors) gives.

    Channels: 1 with ``grayscale``, else the images' own (gray and colour mixed are refused).
    Size: ``image_size`` (``[H, W]``) where given, else the images' own; a set of several
    sizes needs ``resize`` and is then resized to ``image_size``, or to its first image's.
    """
    shapes = shapes_of(images)
    if not shapes:
        raise ConfigError(f"{name} holds no images; choose a normal set that has some")
    channels = sorted({c for c, _, _ in shapes})
    if grayscale:
        c = 1
    elif len(channels) > 1:
        raise ConfigError(
            f"{name} mixes images of {' and '.join(map(str, channels))} channels (gray and "
            "colour); pass data.grayscale=true to make them all gray"
        )
    else:
        c = channels[0]
    sizes = list(dict.fromkeys((h, w) for _, h, w in shapes))
    if image_size is not None:
        h, w = checked_image_size(image_size)
    else:
        h, w = sizes[0]
    if len(sizes) > 1 and not resize:
        listed = ", ".join(f"{sh}x{sw}" for sh, sw in sizes[:4]) + (", ..." if sizes[4:] else "")
        to = "data.image_size" if image_size is not None else "its first image's size"
        raise ConfigError(
            f"{name} holds images of {len(sizes)} sizes ({listed}); pass data.resize=true to "
            f"resize them all to {h}x{w} ({to}; data.image_size=[H, W] chooses another)"
        )
    shape = (c, h, w)
    reference = f"data.image_size={[h, w]} makes them" if image_size is not None else ""
    check_fits(images, shape, grayscale, resize, name, reference or "the model takes")
    return shape


def check_fits(
    images: ImageSet, shape: Shape, grayscale: bool, resize: bool, name: str, reference: str
) -> None:
    """Refuse, in one line naming both shapes and the fix, images that do not become ``shape``
    with ``grayscale`` and ``resize``; ``reference`` says whose shape it is ("data.normal
    (MNIST) images are")."""
    for c, h, w in shapes_of(images):
        fixes = []
        if c != shape[0]:
            if shape[0] == 1 and c in (3, 4):
                if not grayscale:
                    fixes.append("data.grayscale=true to make them gray")
            elif not (shape[0] == 3 and c == 4):  # colour with alpha: the alpha is dropped
                raise ConfigError(
                    f"{name} images are {(c, h, w)} but {reference} {shape}: {c}-channel images "
                    f"cannot become {shape[0]}-channel ones; choose sets of the same kind (gray "
                    "or colour), or pass data.grayscale=true to make both gray"
                )
        if (h, w) != shape[1:] and not resize:
            fixes.append("data.resize=true to resize them")
        if fixes:
            raise ConfigError(
                f"{name} images are {(c, h, w)} but {reference} {shape}; pass {' and '.join(fixes)}"
            )


def checked_image_size(image_size: Sequence[int]) -> tuple[int, int]:
    """``data.image_size`` as ``(H, W)``, refused unless it is two positive numbers."""
    size = [int(v) for v in image_size]
    if len(size) != 2 or min(size) < 1:
        raise ConfigError(
            f"data.image_size={list(image_size)} is not [height, width]; pass e.g. "
            "data.image_size=[32,32], or null to keep the normal set's size"
        )
    return size[0], size[1]
