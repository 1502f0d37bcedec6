"""Anomaly scores: how unlike the normal data an image is, from its code and reconstruction.

A score is an ``nn.Module`` mapping ``(images, codes, reconstructions)`` to one number per
image, higher = more anomalous. What a score learns from the data (a mean and precision of
the codes, the scale of its parts) lives in buffers, so it is saved in checkpoints with the
weights, moves with the model and is exported with it. Three scores (``score=`` on the
command line):

- :class:`ReconstructionScore`: the per-image sum of squared reconstruction error, hw7's;
- :class:`MahalanobisScore`: the squared Mahalanobis distance of the latent code to the
  training codes (Denouden et al. 2018, "Improving Reconstruction Autoencoder
  Out-of-distribution Detection with Mahalanobis Distance"), fitted on the training codes;
- :class:`CombinedScore`: both, each standardised with the mean and std of its validation
  scores, then added (Denouden et al.'s combination).

Fitting (:meth:`Score.fit`) runs before every validation (:class:`FitScore`, which the model
returns from ``configure_callbacks``), on the weights being validated, so the threshold is
always fitted on scores of fitted parts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning import Callback
from torch import nn

from anomaly_ae.errors import ConfigError
from anomaly_ae.eval_mode import evaluating
from anomaly_ae.targets import load_class, qualified_name

# (codes of images, reconstruction errors of images), computed by the model in large chunks
Encode = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def reconstruction_error(images: torch.Tensor, reconstructions: torch.Tensor) -> torch.Tensor:
    """Per-image sum of squared reconstruction error, shape ``(B,)`` (hw7's score)."""
    return (images - reconstructions).square().flatten(1).sum(1)


class Score(nn.Module):
    """``(images, codes, reconstructions) -> (B,)`` scores; :meth:`fit` learns its state."""

    #: a line for results, summaries and exported files
    description = "anomaly score"

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim

    @property
    def needs_fit(self) -> bool:
        """Whether the score learns anything from the data."""
        return False

    @property
    def is_fitted(self) -> bool:
        return True

    def fit(self, encode: Encode, train_images: torch.Tensor, val_images: torch.Tensor) -> None:
        """Learn the score's state from the normal training and validation images; ``encode``
        gives their codes and reconstruction errors with the current weights."""

    def forward(
        self, images: torch.Tensor, codes: torch.Tensor, reconstructions: torch.Tensor
    ) -> torch.Tensor:
        raise NotImplementedError


class ReconstructionScore(Score):
    description = "sum of squared reconstruction error"

    def forward(
        self, images: torch.Tensor, codes: torch.Tensor, reconstructions: torch.Tensor
    ) -> torch.Tensor:
        return reconstruction_error(images, reconstructions)


class MahalanobisScore(Score):
    """``(z - mean)^T P (z - mean)`` of the latent code ``z``, with the mean and the precision
    ``P`` (the pseudo-inverse of the covariance, population normalisation) of the training
    codes. The pseudo-inverse keeps the distance finite when a code unit never fires (a ReLU
    code may hold constant zeros); such a direction adds nothing."""

    description = "squared Mahalanobis distance of the latent code to the training codes"

    def __init__(self, latent_dim: int) -> None:
        super().__init__(latent_dim)
        self.register_buffer("mean", torch.full((latent_dim,), math.nan))
        self.register_buffer("precision", torch.full((latent_dim, latent_dim), math.nan))

    @property
    def needs_fit(self) -> bool:
        return True

    @property
    def is_fitted(self) -> bool:
        return not bool(torch.isnan(self.mean).any())

    def fit(self, encode: Encode, train_images: torch.Tensor, val_images: torch.Tensor) -> None:
        codes, _ = encode(train_images)
        self.fit_codes(codes)

    def fit_codes(self, codes: torch.Tensor) -> None:
        """Mean and precision of ``codes`` ``(N, latent_dim)``, computed in float64."""
        z = codes.detach().to(torch.float64)
        mean = z.mean(0)
        centred = z - mean
        covariance = centred.T @ centred / len(z)
        precision = torch.linalg.pinv(covariance, hermitian=True)
        self.mean.copy_(mean.to(self.mean.dtype))
        self.precision.copy_(precision.to(self.precision.dtype))

    def forward(
        self, images: torch.Tensor, codes: torch.Tensor, reconstructions: torch.Tensor
    ) -> torch.Tensor:
        d = codes.flatten(1) - self.mean
        return ((d @ self.precision) * d).sum(1)


class CombinedScore(Score):
    """The reconstruction error and the Mahalanobis distance, each standardised with the mean
    and std (population) of its scores on the validation images, added."""

    description = (
        "reconstruction error + Mahalanobis distance, each standardised on the validation scores"
    )

    def __init__(self, latent_dim: int) -> None:
        super().__init__(latent_dim)
        self.reconstruction = ReconstructionScore(latent_dim)
        self.mahalanobis = MahalanobisScore(latent_dim)
        self.register_buffer("center", torch.full((2,), math.nan))
        self.register_buffer("scale", torch.full((2,), math.nan))

    @property
    def needs_fit(self) -> bool:
        return True

    @property
    def is_fitted(self) -> bool:
        return self.mahalanobis.is_fitted and not bool(torch.isnan(self.center).any())

    def fit(self, encode: Encode, train_images: torch.Tensor, val_images: torch.Tensor) -> None:
        self.mahalanobis.fit(encode, train_images, val_images)
        codes, errors = encode(val_images)
        parts = torch.stack([errors, self.mahalanobis(val_images, codes, codes)], 1).double()
        self.center.copy_(parts.mean(0).to(self.center.dtype))
        # a part that does not vary on validation is left unscaled rather than divided by 0
        scale = parts.std(0, correction=0)
        self.scale.copy_(torch.where(scale > 0, scale, torch.ones_like(scale)).float())

    def forward(
        self, images: torch.Tensor, codes: torch.Tensor, reconstructions: torch.Tensor
    ) -> torch.Tensor:
        parts = torch.stack(
            [
                self.reconstruction(images, codes, reconstructions),
                self.mahalanobis(images, codes, reconstructions),
            ],
            1,
        )
        return ((parts - self.center) / self.scale).sum(1)


RECONSTRUCTION = "anomaly_ae.scoring.ReconstructionScore"


def score_config(score: Mapping[str, Any] | None) -> dict[str, Any]:
    """``score`` as plain values with its class spelt by its own module (``None``: the
    hw7's reconstruction error). Scores take no settings besides the model's latent size."""
    given = dict(score) if score else {}
    target = str(given.pop("_target_", RECONSTRUCTION))
    if given:
        raise ConfigError(
            f"model.score has settings {sorted(given)} that {target} does not take; a score "
            "is chosen with score=reconstruction|mahalanobis|combined"
        )
    return {"_target_": qualified_name(score_class(target))}


def score_class(target: str) -> type[Score]:
    return load_class(target, Score, "model.score", "anomaly_ae.scoring.MahalanobisScore")


def build_score(score: Mapping[str, Any], latent_dim: int) -> Score:
    """The score of ``score`` (from :func:`score_config`) for codes of ``latent_dim``."""
    return score_class(score["_target_"])(latent_dim)


class FitScore(Callback):
    """Before every validation, fits the model's score (``pl_module.scorer``) on the weights
    about to be validated: the Mahalanobis score's mean and precision on the training codes,
    the combined score's scales on the validation images.

    Every process holds the whole training and validation sets, so under DDP each fits the same
    numbers. A score that learns nothing is left alone; so is the sanity check.
    """

    def __init__(self) -> None:
        # False keeps the fitted state through validations (evaluate without refit_threshold)
        self.fits_on_validation = True

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        score = pl_module.scorer
        if trainer.sanity_checking or not self.fits_on_validation or not score.needs_fit:
            return
        datamodule = trainer.datamodule
        train_set = getattr(datamodule, "train_set", None)
        val_set = getattr(datamodule, "val_set", None)
        if train_set is None or val_set is None:
            raise ConfigError(
                f"model.score ({type(score).__name__}) is fitted on the training and validation "
                "images, which this run has not loaded"
            )
        encode = partial(codes_and_errors, pl_module)
        score.fit(encode, train_set.images, val_set.images)


@torch.inference_mode()
def codes_and_errors(
    model: pl.LightningModule, images: torch.Tensor, batch_size: int = 10_000
) -> tuple[torch.Tensor, torch.Tensor]:
    """Latent codes and reconstruction errors of any number of images under ``model``'s
    current weights, in eval mode and large chunks: what the scores are fitted on."""
    with evaluating(model):
        codes, errors = [], []
        for chunk in images.split(batch_size):
            x = model.model_input(chunk.to(model.device, non_blocking=True))
            z = model.encoder(x)
            codes.append(z.flatten(1))
            errors.append(reconstruction_error(x, model.decoder(z)))
        return torch.cat(codes), torch.cat(errors)
