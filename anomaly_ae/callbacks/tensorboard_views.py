"""What a person looks at in TensorBoard besides the curves: the labelled reconstruction
figure, every set's scores on one axis with the threshold, the ROC curve with its operating
point, and TensorBoard's precision-recall curve."""

from __future__ import annotations

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.loggers import TensorBoardLogger
from torch.utils.tensorboard import SummaryWriter

from anomaly_ae.errors import ConfigError
from anomaly_ae.loggers import custom_scalars_layout
from anomaly_ae.metrics import scores_to_unit_interval
from anomaly_ae.models import AutoencoderModule
from anomaly_ae.plots import roc_figure
from anomaly_ae.reconstruction_figure import reconstruction_figure, scored_sets
from anomaly_ae.report_figure import score_figure


class TensorBoardViews(Callback):
    """Figures for every TensorBoard logger of the trainer, written when testing ends, at the
    step of the tested weights (the step the test scalars have):

    - ``views/reconstructions``: for each set, the ``num_examples`` most typical and worst
      images with reconstruction, squared-error map, score and verdict;
    - ``views/scores``: the validation, normal test and anomaly test scores with the threshold;
    - ``views/roc``: the ROC curve on a log false-positive axis with the operating point, and
      ``views/pr_curve`` (TensorBoard's PR-curve plugin);
    - when a run starts: the Custom Scalars tab's layout (:func:`custom_scalars_layout`).

    The tags sort after ``train/`` and ``val/``, so TensorBoard's Time Series opens on the
    curves. Does nothing without a TensorBoard logger.
    """

    def __init__(self, num_examples: int = 3) -> None:
        if num_examples < 1:
            raise ConfigError(
                f"callbacks.tensorboard_views.num_examples={num_examples} must be at least 1"
            )
        self.num_examples = num_examples
        self._layout_written_to: set[int] = set()

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """The Custom Scalars tab's layout, once per event file."""
        writer = _writer(trainer)
        if (
            writer is not None
            and trainer.is_global_zero
            and id(writer) not in self._layout_written_to
        ):
            writer.add_custom_scalars(custom_scalars_layout())
            self._layout_written_to.add(id(writer))

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        writer = _writer(trainer)
        if (
            writer is None
            or not trainer.is_global_zero
            or not isinstance(pl_module, AutoencoderModule)
            or pl_module.test_outputs is None
        ):
            return
        step = pl_module.weights_step
        datamodule = trainer.datamodule
        threshold = pl_module.fitted_threshold()
        sets = scored_sets(pl_module, datamodule)
        recon = reconstruction_figure(pl_module, sets, threshold, self.num_examples)
        writer.add_figure("views/reconstructions", recon, step)
        metrics = pl_module.test_metrics
        names = (datamodule.normal_name, datamodule.anomaly_name)
        writer.add_figure("views/scores", score_figure(pl_module, metrics, *names), step)
        if metrics.get("auroc") is None:
            return  # the curves need both normal images and anomalies
        scores, targets = pl_module.test_outputs
        writer.add_pr_curve("views/pr_curve", targets, scores_to_unit_interval(scores), step)
        point = (metrics["type_I_error"], 1 - metrics["type_II_error"])
        writer.add_figure("views/roc", roc_figure(scores, targets, metrics["auroc"], point), step)


def _writer(trainer: pl.Trainer) -> SummaryWriter | None:
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            return logger.experiment
    return None
