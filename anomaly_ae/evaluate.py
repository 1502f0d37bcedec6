"""``python -m anomaly_ae.evaluate ckpt_path=...``: test a saved detector.

Uses the threshold stored in the checkpoint; ``refit_threshold=true`` re-fits it on the
validation split with the configured rule first (e.g. to try another ``threshold.k``).
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
from anomaly_ae.instantiate import build_trainer
from anomaly_ae.outputs import finish_run


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Test the checkpoint ``cfg.ckpt_path`` on ``cfg.data``; returns results.json's content."""
    prepare_process(cfg.flush_denormal)
    if OmegaConf.is_missing(cfg, "ckpt_path") or not cfg.ckpt_path:
        raise ConfigError(
            "ckpt_path is required: python -m anomaly_ae.evaluate "
            "ckpt_path=<run dir>/checkpoints/last.ckpt"
        )
    model = load_autoencoder(cfg.ckpt_path)
    datamodule: AnomalyDataModule = hydra.utils.instantiate(cfg.data)
    if not cfg.refit_threshold:
        model.fitted_threshold()  # fail before loading any data if there is none
    # validation always runs: its scores go into the report; the threshold is re-fitted only
    # when asked
    threshold = ThresholdCallback(hydra.utils.instantiate(cfg.threshold), cfg.refit_threshold)
    trainer = build_trainer(cfg, [threshold])
    trainer.validate(model, datamodule=datamodule, verbose=False)
    started = time.perf_counter()
    trainer.test(model, datamodule=datamodule, verbose=False)
    extra = {
        "checkpoint": str(cfg.ckpt_path),
        "timings": {"test_seconds": time.perf_counter() - started},
    }
    return finish_run(trainer, model, datamodule, cfg, extra)


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        evaluate(cfg)


if __name__ == "__main__":
    main()
