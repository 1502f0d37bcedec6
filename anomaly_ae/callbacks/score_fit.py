"""Fitting the model's anomaly score on the normal training and validation images."""

from __future__ import annotations

import pytorch_lightning as pl
from pytorch_lightning import Callback

from anomaly_ae.errors import ConfigError
from anomaly_ae.models.autoencoder import AutoencoderModule


class FitScore(Callback):
    """Before every validation, fits the model's score (:mod:`anomaly_ae.scoring`) on the
    weights about to be validated: the Mahalanobis score's mean and precision on the training
    codes, the combined score's scales on the validation images. The validation scores, and so
    the threshold, then come from a score fitted on the same weights.

    Every process holds the whole training and validation sets in memory, so under DDP each
    one fits the same numbers from the same images. A score that learns nothing (the
    reconstruction error) is left alone; so is the sanity check.
    """

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not isinstance(pl_module, AutoencoderModule):
            return
        if not pl_module.scorer.needs_fit:
            return
        datamodule = trainer.datamodule
        train_set = getattr(datamodule, "train_set", None)
        val_set = getattr(datamodule, "val_set", None)
        if train_set is None or val_set is None:
            raise ConfigError(
                f"model.score ({type(pl_module.scorer).__name__}) is fitted on the training and "
                "validation images, which this run has not loaded"
            )
        pl_module.scorer.fit(pl_module.codes_and_errors, train_set.images, val_set.images)
