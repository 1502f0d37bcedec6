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

from anomaly_ae.callbacks import FitScore, ThresholdCallback
from anomaly_ae.checkpoint import read_checkpoint
from anomaly_ae.checkpoint_settings import (
    RESUME_DATA_SETTINGS,
    TRAINING_ORDER,
    data_config_for_checkpoint,
    find_last_checkpoint,
    model_config_for_resume,
)
from anomaly_ae.cli import (
    command_line_overrides,
    exit_on_user_error,
    known_warnings_silenced,
)
from anomaly_ae.config import CONFIG_PATH, register_configs
from anomaly_ae.data import AnomalyDataModule
from anomaly_ae.errors import ConfigError
from anomaly_ae.instantiate import build_trainer
from anomaly_ae.key_hints import hints_for_unknown_keys
from anomaly_ae.models import AutoencoderModule
from anomaly_ae.reporting.run import finish_run, saved_checkpoints

log = logging.getLogger(__name__)


def train(cfg: DictConfig, overrides: Sequence[str] | None = None) -> dict[str, Any]:
    """Fit, calibrate and test as ``cfg`` says; returns the content of results.json.

    ``overrides``: the command-line overrides behind ``cfg`` (read from the running Hydra app
    when not given); a resumed run keeps its checkpoint's settings except these.
    """
    overrides = command_line_overrides() if overrides is None else list(overrides)
    with known_warnings_silenced():
        pl.seed_everything(cfg.seed, workers=True)
        resume = resume_checkpoint(cfg, overrides)
        datamodule: AnomalyDataModule = hydra.utils.instantiate(cfg.data)
        take_data_shape(cfg, datamodule, overrides, resumed=resume is not None)
        model: AutoencoderModule = hydra.utils.instantiate(cfg.model)
        threshold = ThresholdCallback(hydra.utils.instantiate(cfg.threshold))
        trainer = build_trainer(cfg, [FitScore(), threshold])

        started = time.perf_counter()
        trainer.fit(model, datamodule=datamodule, ckpt_path=resume, weights_only=True)
        timings = {"fit_seconds": round(time.perf_counter() - started, 3)}
        calibrate_final_weights(trainer, model, datamodule)
        tested = save_tested_checkpoint(trainer, cfg)
        if not model.is_calibrated_on_these_weights:
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
            "resumed_from": resume,
            "checkpoints": saved_checkpoints(trainer, tested),
        }
        if not cfg.test:
            return {**extra, "calibration": model.calibration}

        started = time.perf_counter()
        trainer.test(model, datamodule=datamodule, verbose=False)
        timings["test_seconds"] = round(time.perf_counter() - started, 3)
        return finish_run(trainer, model, datamodule, cfg, tested, extra)


def resume_checkpoint(cfg: DictConfig, overrides: Sequence[str]) -> str | None:
    """The checkpoint ``ckpt_path`` names (``last``: the newest earlier run with this run's
    settings), checked before anything is trained; ``None`` to start from scratch.

    A resumed run takes its model and data settings from the checkpoint (``cfg`` is updated,
    so results.json records them); ``data.*`` given on the command line still win.
    """
    path = cfg.ckpt_path
    if path is None:
        return None
    if path == "last":
        path = find_last_checkpoint(
            cfg.paths.log_dir, cfg.task_name, cfg.paths.output_dir, cfg.model, cfg.data
        )
    checkpoint = read_checkpoint(path)
    cfg.model = model_config_for_resume(cfg.model, checkpoint, overrides)
    cfg.data = data_config_for_checkpoint(
        cfg.data, checkpoint, overrides, RESUME_DATA_SETTINGS, fixed=TRAINING_ORDER
    )
    log.info("resuming from %s (step %d)", path, checkpoint.get("global_step", 0))
    return str(path)


def take_data_shape(
    cfg: DictConfig, datamodule: AnomalyDataModule, overrides: Sequence[str], resumed: bool
) -> None:
    """Give the model the data's image shape: ``model.input_shape`` becomes the normal set's
    ``(C, H, W)`` (32x32, 3 channels, ...). A resumed model, or a ``model.input_shape=`` on the
    command line, of another shape is refused in one line."""
    shape = list(datamodule.input_shape)
    given = [int(v) for v in cfg.model.input_shape]
    if given != shape:
        if resumed:
            datamodule.check_input_shape(given, "the checkpoint's model")
        if any(o.lstrip("+").partition("=")[0] == "model.input_shape" for o in overrides):
            raise ConfigError(
                f"model.input_shape={given} but the data ({datamodule.normal_name}) are "
                f"{shape}; drop model.input_shape: the model takes the data's shape"
            )
    cfg.model.input_shape = shape


def calibrate_final_weights(
    trainer: pl.Trainer, model: AutoencoderModule, datamodule: AnomalyDataModule
) -> None:
    """Fit the threshold on the weights training ended with, if the last validation ran on
    earlier ones (``max_steps`` mid-epoch, ``val_check_interval``, ``check_val_every_n_epoch``
    that does not divide ``max_epochs``): the tested and saved model is always calibrated on
    its own weights."""
    if model.is_calibrated_on_these_weights:
        return
    last = model.calibration.get("step")
    log.info(
        "training ended at step %d, %s: fitting the threshold on the final weights",
        model.weights_step,
        "before any validation" if last is None else f"the last validation was at step {last}",
    )
    trainer.validate(model, datamodule=datamodule, verbose=False)


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
