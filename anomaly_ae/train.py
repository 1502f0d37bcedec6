"""``python -m anomaly_ae.train``: train the autoencoder, fit the threshold, test, report.

Every setting comes from ``conf/train.yaml`` and can be overridden on the command line
(``trainer.accelerator=gpu``, ``model.latent_dim=16``, ``threshold.k=2.5``, ``-m`` sweeps...).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import hydra
import pytorch_lightning as pl
import torch
from hydra.errors import InstantiationException
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ProgressBar
from pytorch_lightning.utilities.exceptions import MisconfigurationException

from anomaly_ae.callbacks import ThresholdCallback
from anomaly_ae.cli import exit_on_user_error, prepare_process
from anomaly_ae.data import AnomalyDataModule
from anomaly_ae.errors import ConfigError
from anomaly_ae.instantiate import hyperparameters, instantiate_callbacks, instantiate_loggers
from anomaly_ae.models import AutoencoderModule
from anomaly_ae.reporting import build_results, format_summary, write_results

log = logging.getLogger(__name__)


def build_trainer(cfg: DictConfig, extra_callbacks: list[pl.Callback]) -> pl.Trainer:
    """The Trainer of ``cfg.trainer`` with the configured callbacks and loggers."""
    callbacks = [*extra_callbacks, *instantiate_callbacks(cfg.get("callbacks"))]
    if not cfg.trainer.get("enable_progress_bar", True):
        # trainer.enable_progress_bar=false wins over the configured bar instead of clashing
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    loggers = instantiate_loggers(cfg.get("logger"))
    try:
        trainer: pl.Trainer = hydra.utils.instantiate(
            cfg.trainer, callbacks=callbacks, logger=loggers or False
        )
    except InstantiationException as err:
        if not isinstance(err.__cause__, MisconfigurationException):
            raise
        accelerator = cfg.trainer.get("accelerator")
        hint = (
            f" (trainer.accelerator={accelerator} trainer.devices={cfg.trainer.get('devices')}: "
            "trainer.accelerator=cpu or auto runs without a GPU)"
            if accelerator not in ("cpu", "auto")
            else ""
        )
        raise ConfigError(
            f"Lightning rejected the trainer settings: {err.__cause__}{hint}"
        ) from err
    for logger in loggers:
        logger.log_hyperparams(hyperparameters(cfg))
    return trainer


def run_facts(trainer: pl.Trainer) -> dict[str, Any]:
    """Where the run ran and what it saved, for results.json."""
    device = trainer.strategy.root_device
    checkpoint = trainer.checkpoint_callback
    facts: dict[str, Any] = {
        "device": {
            "accelerator": type(trainer.accelerator).__name__,
            "devices": trainer.num_devices,
            "name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        },
        "training": {"epochs": trainer.current_epoch, "optimizer_steps": trainer.global_step},
    }
    saved = {
        "last": getattr(checkpoint, "last_model_path", "") or None,
        "best": getattr(checkpoint, "best_model_path", "") or None,
    }
    if any(saved.values()):
        facts["checkpoints"] = saved
    return facts


def report(
    trainer: pl.Trainer,
    model: AutoencoderModule,
    datamodule: AnomalyDataModule,
    cfg: DictConfig,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """Write results.json into the run directory and print the summary (rank 0 only)."""
    results = build_results(
        task=cfg.task_name,
        threshold=model.fitted_threshold(),
        calibration=model.calibration,
        metrics=model.test_metrics,
        normal_name=datamodule.normal_name,
        anomaly_name=datamodule.anomaly_name,
        config=OmegaConf.to_container(cfg, resolve=True),
        extra={**run_facts(trainer), **extra},
    )
    if trainer.is_global_zero:
        path = write_results(results, cfg.paths.output_dir)
        print(format_summary(results), flush=True)
        print(f"results: {path}", flush=True)
    return results


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit, calibrate and test as ``cfg`` says; returns the content of results.json."""
    prepare_process(cfg.get("flush_denormal", True))
    pl.seed_everything(cfg.seed, workers=True)

    datamodule: AnomalyDataModule = hydra.utils.instantiate(cfg.data)
    model: AutoencoderModule = hydra.utils.instantiate(cfg.model)
    threshold = ThresholdCallback(hydra.utils.instantiate(cfg.threshold))
    trainer = build_trainer(cfg, [threshold])

    started = time.perf_counter()
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    timings = {"fit_seconds": round(time.perf_counter() - started, 3)}
    if trainer.interrupted or not cfg.get("test", True):
        return {}

    started = time.perf_counter()
    trainer.test(model, datamodule=datamodule, verbose=False)
    timings["test_seconds"] = round(time.perf_counter() - started, 3)
    return report(trainer, model, datamodule, cfg, {"timings": timings})


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        train(cfg)


if __name__ == "__main__":
    main()
