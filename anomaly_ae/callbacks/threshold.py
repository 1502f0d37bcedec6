"""Fitting the decision threshold on the validation (normal) scores after each validation."""

from __future__ import annotations

import logging

import pytorch_lightning as pl
from pytorch_lightning import Callback

from anomaly_ae.models.autoencoder import AutoencoderModule
from anomaly_ae.thresholds import GaussianThreshold

log = logging.getLogger(__name__)


class ThresholdCallback(Callback):
    """Sets the module's threshold from its validation scores with ``rule`` (mean + 3 std by
    default) at the end of every validation.

    The scores are the module's own (:meth:`AutoencoderModule.scored`): every validation
    image once, gathered from every process, so the threshold under DDP equals the
    single-process one. The sanity-check epoch scores nothing and fits nothing. The value
    lives in the module's ``threshold`` buffer and is therefore in every checkpoint written
    after the epoch; the calibration details record the optimizer step of the weights it was
    fitted on (``step``) and the share of those validation scores the threshold flags
    (``validation_flagged``): the in-sample type I error, which tells, with normal images
    alone, whether a rule such as mean + 3 std keeps to a false-alarm budget.
    """

    def __init__(self, rule: object = None) -> None:
        self.rule = rule if rule is not None else GaussianThreshold()

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        if not isinstance(pl_module, AutoencoderModule):
            raise TypeError("ThresholdCallback needs an AutoencoderModule")
        scored = pl_module.scored("validation")
        if scored is None:  # limit_val_batches=0: nothing to fit on
            return
        fit = self.rule.fit(scored.scores)
        pl_module.set_threshold(fit.value, {**fit.details, "step": pl_module.weights_step})
        # flagged as the test flags: the float32 scores against the stored float32 threshold
        # (a NaN threshold, from NaN scores, flags none; val/loss reports the divergence)
        flagged = (scored.scores > float(pl_module.threshold)).double().mean().item()
        pl_module.calibration["validation_flagged"] = flagged
        pl_module.log("val/threshold", float(pl_module.threshold), sync_dist=True)
        log.debug(
            "step %d: threshold %.6g from %d scores",
            pl_module.weights_step,
            fit.value,
            scored.scores.numel(),
        )
