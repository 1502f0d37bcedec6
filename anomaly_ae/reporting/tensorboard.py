"""TensorBoard as a researcher reads it: Time Series opens on the loss curves, a custom-scalars
layout puts training and validation loss on one chart, and the HParams tab lines up each run's
main settings and overrides with its test metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning import loggers
from pytorch_lightning.utilities import rank_zero_only
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams as hparams_summaries
from torch.utils.tensorboard.writer import FileWriter

from anomaly_ae.config import NOT_RUN_SETTINGS
from anomaly_ae.metrics import RATES

# The settings that tell runs apart, besides what the command line changed. The HParams tab
# ticks the first five columns in name order: model, model.latent_dim, model.lr, threshold (the
# rule with its k or alpha) and trainer.max_epochs; an override such as seed=1 joins them.
MAIN_SETTINGS = ("model.latent_dim", "model.lr", "trainer.max_epochs")
# overrides that the columns "model" and "threshold" already show
_SHOWN = ("model", "threshold", "threshold.k", "threshold.alpha")


# TensorBoard's Time Series sorts tag groups alphabetically and expands the first two: the
# test metrics (one point each, at the end) go to a group that sorts after train/ and val/
TEST_GROUP = "verdict"


def tensorboard_tag(name: str) -> str:
    """The tag a logged quantity gets in TensorBoard: ``test/auroc`` -> ``verdict/auroc``."""
    group, _, rest = name.partition("/")
    return f"{TEST_GROUP}/{rest}" if group == "test" and rest else name


class TensorBoardLogger(loggers.TensorBoardLogger):
    """Lightning's TensorBoardLogger, arranged so that Time Series opens on the loss curves:

    - no ``epoch`` scalar (Lightning adds one to every logging call; the x axis is the step);
    - the test metrics under ``verdict/`` (:data:`TEST_GROUP`) instead of ``test/``, which
      would sort first; Lightning's own names (callback metrics, CSV) keep ``test/``;
    - the Custom Scalars layout (:func:`custom_scalars_layout`), written once.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._layout_written = False

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        metrics = {tensorboard_tag(k): value for k, value in metrics.items() if k != "epoch"}
        if metrics:
            super().log_metrics(metrics, step)

    @rank_zero_only
    def log_hyperparams(self, params: Any, metrics: Any = None) -> None:
        """Lightning's (hparams.yaml), and the Custom Scalars layout with the first call: every
        entry point logs the hyperparameters when it builds its Trainer."""
        super().log_hyperparams(params, metrics)
        if not self._layout_written:
            self.experiment.add_custom_scalars(custom_scalars_layout())
            self._layout_written = True


def custom_scalars_layout() -> dict[str, dict[str, list[Any]]]:
    """The Custom Scalars tab: training vs validation loss on one chart, the threshold of each
    validation, the test errors and scores."""
    test = [f"{TEST_GROUP}/{name}" for name in RATES]
    return {
        "anomaly_ae": {
            "loss: training vs validation": [
                "Multiline",
                ["train/loss_step", "train/loss_epoch", "val/loss"],
            ],
            "threshold (each validation)": ["Multiline", ["val/threshold"]],
            "test: type I and type II error": ["Multiline", test[:2]],
            "test: AUROC and average precision": ["Multiline", test[2:4]],
        }
    }


def run_hparams(cfg: DictConfig, overrides: Sequence[str]) -> dict[str, Any]:
    """The HParams tab's columns for a run: its main settings and every other setting its
    command line changed (a group choice as the chosen option), as plain values."""
    columns: dict[str, Any] = {"model": network_name(cfg)}
    for key in MAIN_SETTINGS:
        value = OmegaConf.select(cfg, key, default=None)
        if value is not None:
            columns[key] = value
    rule = OmegaConf.select(cfg, "threshold._target_", default=None)
    if rule:
        name = rule.rsplit(".", 1)[-1].removesuffix("Threshold").lower()
        level = ", ".join(f"{k}={v}" for k, v in cfg.threshold.items() if k in ("k", "alpha"))
        columns["threshold"] = f"{name} {level}".strip()
    for override in overrides:
        key, _, value = override.lstrip("+").partition("=")
        if key.startswith(("~", "hydra")) or key in NOT_RUN_SETTINGS or key in _SHOWN:
            continue
        selected = OmegaConf.select(cfg, key, default=None)
        columns[key] = value if selected is None or OmegaConf.is_config(selected) else selected
    return {key: _plain(value) for key, value in columns.items()}


def network_name(cfg: DictConfig) -> str | None:
    """The model's network in a word: ``mlp`` for ``MlpAutoencoder``, ``conv`` for
    ``ConvAutoencoder`` (the ``model=`` choices), ``mynet`` for a ``mypkg.MyNet`` of one's own."""
    target = OmegaConf.select(cfg, "model.net._target_", default=None)
    if target is None:
        return None
    return target.rsplit(".", 1)[-1].removesuffix("Autoencoder").lower()


def write_hparams(writer: SummaryWriter, columns: Mapping[str, Any]) -> None:
    """The HParams plugin's experiment and session for this run, through its own summaries:
    the metrics are declared by tag (``verdict/auroc``, ...), and the plugin reads their values
    from the scalars the run logged, so nothing is logged twice."""
    metrics = {f"{TEST_GROUP}/{name}": 0.0 for name in RATES}  # only the tags are used
    # an events file of its own in the run's folder, which TensorBoard reads with the others
    events = FileWriter(writer.get_logdir())
    for summary in hparams_summaries(dict(columns), metrics):
        events.add_summary(summary)
    events.close()


def _plain(value: Any) -> str | int | float | bool:
    if isinstance(value, bool | int | float | str):
        return value
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value, resolve=True)
    return str(value)


def tensorboard_writer(trainer: pl.Trainer) -> SummaryWriter | None:
    """The ``SummaryWriter`` of the trainer's TensorBoard logger, if it has one."""
    for logger in trainer.loggers:
        if isinstance(logger, loggers.TensorBoardLogger):
            return logger.experiment
    return None
