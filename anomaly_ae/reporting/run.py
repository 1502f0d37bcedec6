"""Finishing a run: write results.json and the figures, give TensorBoard's HParams tab the final
metrics, and print the summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import TensorBoardLogger

from anomaly_ae.cli import command_line_overrides
from anomaly_ae.data import AnomalyDataModule
from anomaly_ae.errors import ConfigError
from anomaly_ae.models import AutoencoderModule
from anomaly_ae.reporting.loss_history import LossHistory
from anomaly_ae.reporting.plots import save_figure
from anomaly_ae.reporting.reconstruction_figure import reconstruction_figure, scored_sets
from anomaly_ae.reporting.report_figure import report_figure, write_report
from anomaly_ae.reporting.results import build_results, format_summary, write_results
from anomaly_ae.reporting.tensorboard import run_hparams, tensorboard_writer, write_hparams


def run_facts(trainer: pl.Trainer, losses: LossHistory) -> dict[str, Any]:
    """Where the run ran and how long it trained, for results.json."""
    device = trainer.strategy.root_device
    facts: dict[str, Any] = {
        "device": {
            "accelerator": type(trainer.accelerator).__name__,
            "devices": trainer.num_devices,
            "name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        },
    }
    if trainer.global_step:  # a run that trained (evaluate's trainer never does)
        facts["training"] = {
            "epochs": trainer.current_epoch,
            "optimizer_steps": trainer.global_step,
            # the loss of the last training batch: what hw7's loop prints last
            "last_batch_loss": losses.training[-1] if losses.training else None,
        }
    return facts


def score_facts(model: AutoencoderModule) -> dict[str, Any]:
    """Which score the threshold and metrics are of, for results.json."""
    return {"_target_": model.hparams.score["_target_"], "description": model.scorer.description}


def saved_checkpoints(trainer: pl.Trainer, tested: str | Path) -> dict[str, str]:
    """``last``: the tested weights; ``best``: the best by the monitored quantity, if kept."""
    saved = {"last": str(tested)}
    for callback in trainer.checkpoint_callbacks:
        if getattr(callback, "monitor", None) and callback.best_model_path:
            saved["best"] = callback.best_model_path
    return saved


def finish_run(
    trainer: pl.Trainer,
    model: AutoencoderModule,
    datamodule: AnomalyDataModule,
    cfg: DictConfig,
    checkpoint: str | Path,
    losses: LossHistory,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """Write results.json, report.png and reconstructions.png into the run directory, give
    TensorBoard the reconstructions and the final metrics next to the hyperparameters, and
    print the summary (rank 0 only), from the model's :attr:`evaluation` of its test.

    ``checkpoint`` holds the tested weights, ``losses`` their training's losses; ``extra`` adds
    run facts (timings, ...).
    """
    evaluation = model.evaluation
    if evaluation is None:
        raise ConfigError(
            f"no test image was scored (trainer.limit_test_batches=0?), so there are no results "
            f"to write; the tested weights are kept in {checkpoint}"
        )
    results = build_results(
        task=cfg.task_name,
        threshold=evaluation.threshold,
        calibration=model.threshold.calibration,
        metrics=evaluation.metrics,
        data=datamodule.describe(),
        tested={"step": model.weights_step, "checkpoint": str(checkpoint)},
        config=OmegaConf.to_container(cfg, resolve=True),
        extra={"score": score_facts(model), **run_facts(trainer, losses), **extra},
    )
    if trainer.is_global_zero:
        run_dir = Path(cfg.paths.output_dir)
        path = write_results(results, run_dir)
        names = (datamodule.normal_name, datamodule.anomaly_name)
        curves = (losses.training_losses(), losses.validation_losses())
        figure = write_report(report_figure(evaluation, *names, *curves), run_dir)
        sets = scored_sets(evaluation, datamodule)
        recon = reconstruction_figure(model, sets, evaluation.threshold)
        reconstructions = save_figure(recon, run_dir / "reconstructions.png")
        writer = tensorboard_writer(trainer)
        if writer is not None:  # the same figure, next to the test scalars
            writer.add_figure("views/reconstructions", recon, trainer.global_step)
        log_final_hparams(trainer, cfg)
        print(format_summary(results), flush=True)
        print(f"results: {path}\nreport: {figure}, {reconstructions.name}", flush=True)
    return results


def log_final_hparams(trainer: pl.Trainer, cfg: DictConfig) -> None:
    """The run's main settings and overrides with its test metrics, so a sweep's runs line up
    in TensorBoard's HParams tab."""
    columns = run_hparams(cfg, command_line_overrides())
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            write_hparams(logger.experiment, columns)
