"""``python -m anomaly_ae.evaluate ckpt_path=...``: test a saved detector.

Uses the threshold stored in the checkpoint; ``refit_threshold=true`` first re-fits it on the
validation split with the configured rule (e.g. to try another ``threshold.k``).
"""

from __future__ import annotations

import time
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from anomaly_ae.callbacks import ThresholdCallback
from anomaly_ae.checkpoint import load_autoencoder
from anomaly_ae.cli import exit_on_user_error, prepare_process
from anomaly_ae.data import AnomalyDataModule
from anomaly_ae.errors import ConfigError
from anomaly_ae.train import build_trainer, report


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Test the checkpoint ``cfg.ckpt_path`` on ``cfg.data``; returns results.json's content."""
    prepare_process(cfg.get("flush_denormal", True))
    if OmegaConf.is_missing(cfg, "ckpt_path") or not cfg.ckpt_path:
        raise ConfigError(
            "ckpt_path is required: python -m anomaly_ae.evaluate "
            "ckpt_path=<run dir>/checkpoints/last.ckpt"
        )
    model = load_autoencoder(cfg.ckpt_path)
    datamodule: AnomalyDataModule = hydra.utils.instantiate(cfg.data)
    callbacks = [ThresholdCallback(hydra.utils.instantiate(cfg.threshold))]
    trainer = build_trainer(cfg, callbacks if cfg.refit_threshold else [])

    if cfg.refit_threshold:
        trainer.validate(model, datamodule=datamodule, verbose=False)
    else:
        model.fitted_threshold()  # fail before loading the test data if there is none
    started = time.perf_counter()
    trainer.test(model, datamodule=datamodule, verbose=False)
    extra = {
        "checkpoint": str(cfg.ckpt_path),
        "timings": {"test_seconds": time.perf_counter() - started},
    }
    return report(trainer, model, datamodule, cfg, extra)


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        evaluate(cfg)


if __name__ == "__main__":
    main()
