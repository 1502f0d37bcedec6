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
from omegaconf import DictConfig

from anomaly_ae.callbacks import ThresholdCallback
from anomaly_ae.checkpoint import find_last_checkpoint, read_checkpoint
from anomaly_ae.cli import exit_on_user_error, prepare_process
from anomaly_ae.data import AnomalyDataModule
from anomaly_ae.errors import ConfigError
from anomaly_ae.instantiate import build_trainer
from anomaly_ae.models import AutoencoderModule
from anomaly_ae.outputs import finish_run

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit, calibrate and test as ``cfg`` says; returns the content of results.json."""
    prepare_process(cfg.flush_denormal)
    pl.seed_everything(cfg.seed, workers=True)

    datamodule: AnomalyDataModule = hydra.utils.instantiate(cfg.data)
    model: AutoencoderModule = hydra.utils.instantiate(cfg.model)
    threshold = ThresholdCallback(hydra.utils.instantiate(cfg.threshold))
    trainer = build_trainer(cfg, [threshold])

    resume = resume_checkpoint(cfg)
    started = time.perf_counter()
    trainer.fit(model, datamodule=datamodule, ckpt_path=resume, weights_only=True)
    timings = {"fit_seconds": round(time.perf_counter() - started, 3)}
    validation = {
        name: float(value)
        for name, value in trainer.callback_metrics.items()
        if name.startswith("val/")
    }
    if trainer.interrupted or not cfg.test:
        return {"validation": validation, "timings": timings}

    started = time.perf_counter()
    trainer.test(model, datamodule=datamodule, verbose=False)
    timings["test_seconds"] = round(time.perf_counter() - started, 3)
    extra = {"timings": timings, "validation": validation, "resumed_from": resume}
    return finish_run(trainer, model, datamodule, cfg, extra)


def resume_checkpoint(cfg: DictConfig) -> str | None:
    """The checkpoint ``ckpt_path`` names (``last``: the newest of the earlier runs), checked
    before anything is trained; ``None`` to start from scratch."""
    path = cfg.ckpt_path
    if path is None:
        return None
    if path == "last":
        path = find_last_checkpoint(cfg.paths.log_dir, cfg.task_name, cfg.paths.output_dir)
    read_checkpoint(path)
    log.info("resuming from %s", path)
    return str(path)


def optimized_metric(cfg: DictConfig) -> str | None:
    """The quantity a hyperparameter sweeper minimises or maximises, checked before training.

    Only validation quantities (``val/...``) qualify: choosing settings by a test metric would
    fit them to the anomaly test set and make its numbers optimistic.
    """
    metric = cfg.optimized_metric
    if metric and not str(metric).startswith("val/"):
        raise ConfigError(
            f"optimized_metric={metric} is not a validation quantity; use one such as "
            "val/loss (tuning on test metrics leaks the anomaly test set into model choice)"
        )
    return metric


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Runs one job; returns ``optimized_metric``'s value for sweepers such as Optuna."""
    with exit_on_user_error():
        metric = optimized_metric(cfg)
        results = train(cfg)
        if metric is None:
            return None
        if metric not in results["validation"]:
            names = ", ".join(sorted(results["validation"]))
            raise ConfigError(f"optimized_metric={metric} was not logged; choose one of {names}")
        return results["validation"][metric]


if __name__ == "__main__":
    main()
