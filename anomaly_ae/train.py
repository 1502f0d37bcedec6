"""``python -m anomaly_ae.train``: train the autoencoder, fit the threshold, test, report.

Every setting comes from ``conf/train.yaml`` and can be overridden on the command line
(``trainer.accelerator=gpu``, ``model.latent_dim=16``, ``threshold.k=2.5``, ``-m`` sweeps...).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
from omegaconf import DictConfig

from anomaly_ae.cli import command_line_overrides, exit_on_user_error, known_warnings_silenced
from anomaly_ae.config import CONFIG_PATH, register_configs
from anomaly_ae.errors import ConfigError
from anomaly_ae.instantiate import build_trainer
from anomaly_ae.key_hints import hints_for_unknown_keys
from anomaly_ae.models import AutoencoderModule
from anomaly_ae.reporting.loss_history import LossHistory
from anomaly_ae.reporting.run import finish_run, saved_checkpoints
from anomaly_ae.resolve import resolve_training

log = logging.getLogger(__name__)


def train(cfg: DictConfig, overrides: Sequence[str] | None = None) -> dict[str, Any]:
    """Fit, calibrate and test as ``cfg`` says; returns the content of results.json.

    ``overrides``: the command-line overrides behind ``cfg`` (read from the running Hydra app
    when not given); a resumed run keeps its checkpoint's settings except these.
    """
    overrides = command_line_overrides() if overrides is None else list(overrides)
    with known_warnings_silenced():
        pl.seed_everything(cfg.seed, workers=True)
        run = resolve_training(cfg, overrides)
        cfg, datamodule = run.cfg, run.datamodule
        model: AutoencoderModule = hydra.utils.instantiate(cfg.model)
        losses = LossHistory()
        trainer = build_trainer(cfg, [losses])

        started = time.perf_counter()
        trainer.fit(model, datamodule=datamodule, ckpt_path=run.resume, weights_only=True)
        timings = {"fit_seconds": round(time.perf_counter() - started, 3)}
        model.threshold.fit_final_weights(trainer, model, datamodule)
        tested = save_tested_checkpoint(trainer, cfg)
        if not model.threshold.is_fitted_at(model.weights_step):
            raise ConfigError(
                "no validation images were scored (trainer.limit_val_batches=0?), so no "
                f"threshold could be fitted on the final weights; they are saved in {tested}: "
                f"calibrate them with python -m anomaly_ae.evaluate ckpt_path={tested} "
                "refit_threshold=true"
            )
        validation = {
            name: float(value)
            for name, value in trainer.callback_metrics.items()
            if name.startswith("val/")
        }
        extra = {
            "timings": timings,
            "validation": validation,
            "resumed_from": run.resume,
            "checkpoints": saved_checkpoints(trainer, tested),
        }
        if not cfg.test:
            return {**extra, "calibration": model.threshold.calibration}

        started = time.perf_counter()
        trainer.test(model, datamodule=datamodule, verbose=False)
        timings["test_seconds"] = round(time.perf_counter() - started, 3)
        return finish_run(trainer, model, datamodule, cfg, tested, losses, extra)


def save_tested_checkpoint(trainer: pl.Trainer, cfg: DictConfig) -> Path:
    """Write the final weights with their threshold to ``checkpoints/last.ckpt``: the model
    that is tested, whatever the checkpoint callbacks saved before (they may have stopped at
    an earlier step, and ``fast_dev_run`` turns them off)."""
    path = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    trainer.save_checkpoint(path, weights_only=False)
    return path


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


register_configs()


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="train")
def run(cfg: DictConfig) -> float | None:
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


def main() -> None:
    """``anomaly-ae-train``, the same as ``python -m anomaly_ae.train``."""
    with hints_for_unknown_keys("train"):
        run()


if __name__ == "__main__":
    main()
