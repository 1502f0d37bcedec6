"""The shape of an experiment's images: chosen from the normal set, then required of every set.

The normal set decides ``(C, H, W)``: its channels (1 with ``data.grayscale=true``) and its
size (``data.image_size`` where given). Every set, the normal one's own parts included, must
have that shape after the explicit preprocessing (``data.grayscale``, ``data.resize``), as the
images ``detect`` scores must; where one does not, one line names both shapes and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence

from anomaly_ae.data.pictures import ImageSet, shapes_of
from anomaly_ae.errors import ConfigError

Shape = tuple[int, int, int]


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
