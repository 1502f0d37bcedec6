"""``python -m anomaly_ae.train``: train the autoencoder, fit the threshold, test, report.

Every setting comes from ``conf/train.yaml`` and can be overridden on the command line
(``trainer.accelerator=gpu``, ``model.latent_dim=16``, ``threshold.k=2.5``, ``-m`` sweeps...).
"""

from __future__ import annotations

import time
from typing import Any

import hydra
import pytorch_lightning as pl
from omegaconf import DictConfig

from anomaly_ae.callbacks import ThresholdCallback
from anomaly_ae.cli import exit_on_user_error, prepare_process
from anomaly_ae.data import AnomalyDataModule
from anomaly_ae.instantiate import build_trainer
from anomaly_ae.models import AutoencoderModule
from anomaly_ae.outputs import finish_run


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
    return finish_run(trainer, model, datamodule, cfg, {"timings": timings})


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        train(cfg)


if __name__ == "__main__":
    main()
