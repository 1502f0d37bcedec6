"""Collects every validation epoch's scores and fits the decision threshold on them."""

from __future__ import annotations

import logging
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback

from anomaly_ae.data.tensors import Batch
from anomaly_ae.metrics import ScoreCollector
from anomaly_ae.models.autoencoder import AutoencoderModule
from anomaly_ae.thresholds import GaussianThreshold

log = logging.getLogger(__name__)


class ThresholdCallback(Callback):
    """Collects every validation image's score and sets ``pl_module.threshold`` from them.

    The scores are also left on the module (``validation_scores``) for the reports;
    ``refit=False`` only collects them and keeps the threshold the module already has.

    Skips the sanity-check epoch (a couple of batches of an untrained model). Scores are
    gathered from every process and de-duplicated before the rule sees them, so the threshold
    under DDP equals the single-process one. The value lives in the module's ``threshold``
    buffer and is therefore in every checkpoint written after the epoch; the calibration
    details record the optimizer step of the weights it was fitted on (``step``).
    """

    def __init__(self, rule: Any = None, refit: bool = True) -> None:
        self.rule = rule if rule is not None else GaussianThreshold()
        self.refit = refit
        self._scores = ScoreCollector()

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._scores = self._scores.to(pl_module.device)
        self._scores.reset()

    def on_validation_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Batch,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if not trainer.sanity_checking:
            self._scores.update(outputs["scores"], batch.targets, batch.indices)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        if not isinstance(pl_module, AutoencoderModule):
            raise TypeError("ThresholdCallback needs an AutoencoderModule")
        scores, _ = self._scores.collected()
        self._scores.reset()
        scores = scores.detach().cpu()  # the reports' copy; the rules compute on the CPU too
        pl_module.validation_scores = scores
        if not self.refit:
            return
        fit = self.rule.fit(scores)
        pl_module.set_threshold(fit.value, {**fit.details, "step": pl_module.weights_step})
        pl_module.log("val/threshold", float(pl_module.threshold), sync_dist=True)
        log.debug(
            "step %d: threshold %.6g from %d scores",
            pl_module.weights_step,
            fit.value,
            scores.numel(),
        )
