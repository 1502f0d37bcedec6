"""The fitted input transform of ``model.preprocess``: images with pixels in [0, 1] -> what the
network takes. It is part of the model (as anomalib's ``PreProcessor`` is), its fitted numbers
in buffers, so checkpoints, ``evaluate``, ``detect``, the ``Detector`` and exported files all
apply it through the model's own score, with no path of their own.

``gcn_minmax`` is Ruff et al. 2018's MNIST preprocessing (lukasruff/Deep-SVDD-PyTorch,
``src/datasets/preprocessing.py`` and ``mnist.py``): global contrast normalisation of each
image with the l1 scale, ``x = x - mean(x); x = x / mean(|x|)`` over all its pixels, then
min-max scaling ``(x - lo) / (hi - lo)``, where ``lo`` and ``hi`` are the least and greatest
value of the normalised normal training images. Ruff hardcodes them per MNIST class; here they
are fitted on the training split when fitting starts, for any class or data set.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import torch
from torch import nn

from anomaly_ae.errors import ConfigError

if TYPE_CHECKING:
    import pytorch_lightning as pl

log = logging.getLogger(__name__)

PREPROCESSES = ("gcn_minmax",)


def global_contrast_normalization(images: torch.Tensor) -> torch.Tensor:
    """Each image minus the mean of its pixels, divided by their mean absolute deviation
    (Ruff's ``global_contrast_normalization(x, scale='l1')``), over all channels and pixels."""
    x = images.flatten(1)
    x = x - x.mean(1, keepdim=True)
    scale = x.abs().mean(1, keepdim=True)
    # a constant image has no contrast: it stays 0 where Ruff's formula would divide 0 by 0
    x = x / torch.where(scale > 0, scale, torch.ones_like(scale))
    return x.reshape(images.shape)


class GcnMinMax(nn.Module):
    """``model.preprocess=gcn_minmax``: :func:`global_contrast_normalization`, then min-max
    scaling by the bounds fitted on the training images (float32 buffers, NaN until
    :meth:`fit`), so the training images span exactly [0, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("lo", torch.tensor(math.nan, dtype=torch.float32))
        self.register_buffer("hi", torch.tensor(math.nan, dtype=torch.float32))

    @property
    def is_fitted(self) -> bool:
        return not bool(torch.isnan(self.lo) | torch.isnan(self.hi))

    @torch.no_grad()
    def fit(self, images: torch.Tensor, batch_size: int = 10_000) -> None:
        """The bounds: the least and greatest normalised pixel of ``images`` (the normal
        training images), computed as :meth:`forward` computes them, in chunks."""
        if not len(images):
            raise ConfigError("model.preprocess=gcn_minmax is fitted on no training images")
        lo, hi = math.inf, -math.inf
        for chunk in images.split(batch_size):
            x = global_contrast_normalization(chunk.to(self.lo.device, torch.float32))
            lo, hi = min(lo, float(x.min())), max(hi, float(x.max()))
        self.set_bounds(lo, hi)

    def set_bounds(self, lo: float, hi: float) -> None:
        if not hi > lo:  # NaN pixels land here too
            raise ConfigError(
                f"model.preprocess=gcn_minmax needs training images with contrast: their "
                f"normalised pixels span [{lo}, {hi}]"
            )
        self.lo.fill_(lo)
        self.hi.fill_(hi)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (global_contrast_normalization(images) - self.lo) / (self.hi - self.lo)


def build_input_transform(preprocess: str | None) -> GcnMinMax | None:
    """The transform ``model.preprocess`` names (``None``: the images as they are)."""
    if preprocess is None:
        return None
    if preprocess not in PREPROCESSES:
        raise ConfigError(
            f"model.preprocess={preprocess} is unknown; choose null or {', '.join(PREPROCESSES)}"
        )
    return GcnMinMax()


def fit_on_training_images(transform: GcnMinMax | None, trainer: pl.Trainer) -> None:
    """Fit ``transform`` on the data module's training images, unless it is fitted already (a
    resumed run keeps its checkpoint's bounds, restored before fitting starts).

    Every DDP process holds the whole training set and fits the same bounds; rank 0's are
    broadcast all the same, so no rounding on one device can make the processes differ.
    """
    if transform is None or transform.is_fitted:
        return
    train_set = getattr(trainer.datamodule, "train_set", None)
    if train_set is None:
        raise ConfigError(
            "model.preprocess=gcn_minmax is fitted on the training images, which this run has "
            "not loaded: fit the model with the anomaly_ae data module"
        )
    transform.fit(train_set.images)
    lo, hi = trainer.strategy.broadcast((float(transform.lo), float(transform.hi)), src=0)
    transform.set_bounds(lo, hi)
    log.info("model.preprocess=gcn_minmax: bounds [%g, %g] of the training images", lo, hi)
