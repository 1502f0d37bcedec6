"""What a person looks at in TensorBoard besides the scalars: reconstructions, score
histograms, ROC and precision-recall curves."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.loggers import TensorBoardLogger
from torch.utils.tensorboard import SummaryWriter
from torchvision.utils import make_grid

from anomaly_ae.data.tensors import ANOMALY, NORMAL
from anomaly_ae.errors import ConfigError
from anomaly_ae.metrics import scores_to_unit_interval
from anomaly_ae.models import AutoencoderModule
from anomaly_ae.plots import roc_figure


class TensorBoardViews(Callback):
    """Images, histograms and curves for every TensorBoard logger of the trainer.

    - ``images/<set>_validation`` and ``images/<anomaly set>_test``: ``num_images`` inputs on
      the top row, their reconstructions below, every ``every_n_epochs`` validation epochs,
      after the last one and at test;
    - ``scores/validation_<set>`` histogram with the threshold fit, and at test
      ``scores/test_<set>`` for the normal and the anomaly test sets;
    - at test: ``test/pr_curve`` (TensorBoard's PR-curve plugin) and ``test/roc_curve`` (a
      figure).

    Steps are those Lightning gives the scalars logged at the same moment (see
    :func:`_logger_step`). Does nothing without a TensorBoard logger.
    """

    def __init__(self, every_n_epochs: int = 2, num_images: int = 16) -> None:
        if every_n_epochs < 1 or num_images < 1:
            raise ConfigError(
                f"callbacks.tensorboard_views: every_n_epochs={every_n_epochs} and "
                f"num_images={num_images} must be at least 1"
            )
        self.every_n_epochs = every_n_epochs
        self.num_images = num_images
        self._grids_logged_at: int | None = None  # the step of the last image grids

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        writer = _writer(trainer)
        if writer is None or trainer.sanity_checking or not trainer.is_global_zero:
            return
        epoch = trainer.current_epoch
        last = epoch + 1 >= (trainer.max_epochs or 0)
        if trainer.state.fn == "fit" and (epoch + 1) % self.every_n_epochs and not last:
            return
        self._log_reconstructions(writer, trainer, pl_module)
        name = trainer.datamodule.normal_name
        if pl_module.validation_scores is not None:
            writer.add_histogram(
                f"scores/validation_{name}", pl_module.validation_scores, _logger_step(trainer)
            )

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        writer = _writer(trainer)
        if writer is None or not trainer.is_global_zero or pl_module.test_outputs is None:
            return
        step = _logger_step(trainer)
        if self._grids_logged_at != pl_module.global_step:  # the last validation drew them
            self._log_reconstructions(writer, trainer, pl_module)
        scores, targets = pl_module.test_outputs
        datamodule = trainer.datamodule
        sets = {datamodule.normal_name: NORMAL, datamodule.anomaly_name: ANOMALY}
        for name, target in sets.items():
            if name is not None and bool((targets == target).any()):
                writer.add_histogram(f"scores/test_{name}", scores[targets == target], step)
        if pl_module.test_metrics.get("auroc") is None:
            return  # the curves need both normal images and anomalies
        writer.add_pr_curve("test/pr_curve", targets, scores_to_unit_interval(scores), step)
        auroc = pl_module.test_metrics["auroc"]
        writer.add_figure("test/roc_curve", roc_figure(scores, targets, auroc), step)

    def _log_reconstructions(
        self,
        writer: SummaryWriter,
        trainer: pl.Trainer,
        pl_module: AutoencoderModule,
    ) -> None:
        for name, images in trainer.datamodule.preview_images(self.num_images).items():
            images = images.to(pl_module.device)
            with torch.inference_mode():
                reconstructions = pl_module(images)
            grid = make_grid(torch.cat([images, reconstructions]), nrow=len(images), pad_value=1)
            writer.add_image(f"images/{name}", grid, _logger_step(trainer))
        self._grids_logged_at = pl_module.global_step


def _logger_step(trainer: pl.Trainer) -> int:
    """The x value Lightning's loggers give what is logged now: during training, ``k - 1``
    after optimizer step ``k``; at test, the number of steps. Lightning's own
    LearningRateMonitor logs at the same counter."""
    return trainer.fit_loop.epoch_loop._batches_that_stepped


def _writer(trainer: pl.Trainer) -> SummaryWriter | None:
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            return logger.experiment
    return None
