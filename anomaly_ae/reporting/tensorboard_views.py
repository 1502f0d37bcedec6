"""What a person looks at in TensorBoard besides the curves: every set's scores on one axis
with the threshold, the ROC curve with its operating point, and TensorBoard's
precision-recall curve (the reconstruction figure comes with report.png, from
:func:`anomaly_ae.reporting.run.finish_run`)."""

from __future__ import annotations

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback

from anomaly_ae.metrics import scores_to_unit_interval
from anomaly_ae.models import AutoencoderModule
from anomaly_ae.reporting.plots import roc_figure
from anomaly_ae.reporting.report_figure import score_figure
from anomaly_ae.reporting.tensorboard import tensorboard_writer


class TensorBoardViews(Callback):
    """Figures for the trainer's TensorBoard logger, written when testing ends, at the x of
    the test scalars (the run's optimizer steps), from the module's
    :attr:`~anomaly_ae.models.AutoencoderModule.evaluation`:

    - ``views/scores``: the validation, normal test and anomaly test scores with the threshold;
    - ``views/roc``: the ROC curve on a log false-positive axis with the operating point, and
      ``views/pr_curve`` (TensorBoard's PR-curve plugin).

    The tags sort after ``train/`` and ``val/``, so TensorBoard's Time Series opens on the
    curves. Does nothing without a TensorBoard logger.
    """

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        writer = tensorboard_writer(trainer)
        if writer is None or not trainer.is_global_zero:
            return
        if not isinstance(pl_module, AutoencoderModule) or pl_module.evaluation is None:
            return
        evaluation, step = pl_module.evaluation, trainer.global_step
        names = (trainer.datamodule.normal_name, trainer.datamodule.anomaly_name)
        writer.add_figure("views/scores", score_figure(evaluation, *names), step)
        if not evaluation.has_both_classes:
            return  # the curves need both normal images and anomalies
        scores, targets = evaluation.test
        writer.add_pr_curve("views/pr_curve", targets, scores_to_unit_interval(scores), step)
        roc = roc_figure(scores, targets, evaluation.metrics["auroc"], evaluation.operating_point)
        writer.add_figure("views/roc", roc, step)
