"""What a person looks at in TensorBoard besides the curves: every set's scores on one axis
with the threshold, the ROC curve with its operating point, and TensorBoard's
precision-recall curve (the reconstruction figure comes with report.png, from
:func:`anomaly_ae.outputs.finish_run`)."""

from __future__ import annotations

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.loggers import TensorBoardLogger
from torch.utils.tensorboard import SummaryWriter

from anomaly_ae.metrics import scores_to_unit_interval
from anomaly_ae.models import AutoencoderModule
from anomaly_ae.plots import roc_figure
from anomaly_ae.report_figure import score_figure


class TensorBoardViews(Callback):
    """Figures for every TensorBoard logger of the trainer, written when testing ends, at the x
    of the test scalars (:func:`logger_step`):

    - ``views/scores``: the validation, normal test and anomaly test scores with the threshold;
    - ``views/roc``: the ROC curve on a log false-positive axis with the operating point, and
      ``views/pr_curve`` (TensorBoard's PR-curve plugin).

    The tags sort after ``train/`` and ``val/``, so TensorBoard's Time Series opens on the
    curves. Does nothing without a TensorBoard logger.
    """

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        writer = tensorboard_writer(trainer)
        if (
            writer is None
            or not trainer.is_global_zero
            or not isinstance(pl_module, AutoencoderModule)
            or pl_module.test_outputs is None
        ):
            return
        step = logger_step(trainer)
        datamodule = trainer.datamodule
        metrics = pl_module.test_metrics
        names = (datamodule.normal_name, datamodule.anomaly_name)
        writer.add_figure("views/scores", score_figure(pl_module, metrics, *names), step)
        if metrics.get("auroc") is None:
            return  # the curves need both normal images and anomalies
        scores, targets = pl_module.test_outputs
        writer.add_pr_curve("views/pr_curve", targets, scores_to_unit_interval(scores), step)
        point = (metrics["type_I_error"], 1 - metrics["type_II_error"])
        writer.add_figure("views/roc", roc_figure(scores, targets, metrics["auroc"], point), step)


def logger_step(trainer: pl.Trainer) -> int:
    """The x Lightning's loggers give what is logged now: at test, the number of optimizer
    steps of the run (0 for a Trainer that trained nothing, such as evaluate's)."""
    return trainer.fit_loop.epoch_loop._batches_that_stepped


def tensorboard_writer(trainer: pl.Trainer) -> SummaryWriter | None:
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            return logger.experiment
    return None
