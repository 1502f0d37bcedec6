"""``python -m anomaly_ae.evaluate ckpt_path=...``: test a saved detector.

The data are the checkpoint's (its normal and anomaly sets, split sizes and seed); a
``data.<key>=...`` on the command line replaces one of them, and says so when that changes the
calibration split. Uses the threshold stored in the checkpoint; ``refit_threshold=true``
re-fits it on the validation split with the configured rule first (e.g. to try another
``threshold.k``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from anomaly_ae.callbacks import ThresholdCallback
from anomaly_ae.checkpoint import autoencoder_from_checkpoint, read_checkpoint
from anomaly_ae.checkpoint_settings import data_config_for_checkpoint
from anomaly_ae.cli import (
    command_line_overrides,
    exit_on_user_error,
    known_warnings_silenced,
)
from anomaly_ae.data import AnomalyDataModule
from anomaly_ae.errors import ConfigError
from anomaly_ae.instantiate import build_trainer
from anomaly_ae.outputs import finish_run


def evaluate(cfg: DictConfig, overrides: Sequence[str] | None = None) -> dict[str, Any]:
    """Test the checkpoint ``cfg.ckpt_path`` on its own data; returns results.json's content.

    ``overrides``: the command-line overrides behind ``cfg`` (read from the running Hydra app
    when not given): the ``data.*`` among them replace the checkpoint's data settings.
    """
    overrides = command_line_overrides() if overrides is None else list(overrides)
    if OmegaConf.is_missing(cfg, "ckpt_path") or not cfg.ckpt_path:
        raise ConfigError(
            "ckpt_path is required: python -m anomaly_ae.evaluate "
            "ckpt_path=<run dir>/checkpoints/last.ckpt"
        )
    checkpoint = read_checkpoint(cfg.ckpt_path)
    model = autoencoder_from_checkpoint(checkpoint, cfg.ckpt_path)
    if not cfg.refit_threshold:
        model.fitted_threshold()  # fail before loading any data if there is none
    cfg.data = data_config_for_checkpoint(cfg.data, checkpoint, overrides)
    with known_warnings_silenced():
        datamodule: AnomalyDataModule = hydra.utils.instantiate(cfg.data)
        # validation always runs: its scores go into the report; the threshold is re-fitted
        # only when asked
        rule = hydra.utils.instantiate(cfg.threshold)
        trainer = build_trainer(cfg, [ThresholdCallback(rule, cfg.refit_threshold)])
        trainer.validate(model, datamodule=datamodule, verbose=False)
        started = time.perf_counter()
        trainer.test(model, datamodule=datamodule, verbose=False)
        timings = {"test_seconds": round(time.perf_counter() - started, 3)}
        return finish_run(trainer, model, datamodule, cfg, cfg.ckpt_path, {"timings": timings})


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        evaluate(cfg)


if __name__ == "__main__":
    main()
