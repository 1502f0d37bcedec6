"""``python -m anomaly_ae.evaluate ckpt_path=...``: test a saved detector.

The data are the checkpoint's (its normal and anomaly sets, split sizes and seed); a
``data.<key>=...`` on the command line replaces one of them, and says so when that changes the
calibration split. Uses the threshold stored in the checkpoint, unless threshold settings are
given (``threshold.k=2.5``, ``threshold=quantile``) or ``refit_threshold=true``: the threshold is
then re-fitted on the validation split with that rule first.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import hydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig

from anomaly_ae.callbacks import FitScore, ThresholdCallback
from anomaly_ae.checkpoint import autoencoder_from_checkpoint, read_checkpoint
from anomaly_ae.checkpoint_settings import data_config_for_checkpoint
from anomaly_ae.cli import (
    command_line_overrides,
    exit_on_user_error,
    known_warnings_silenced,
    require_values,
)
from anomaly_ae.config import CONFIG_PATH, register_configs
from anomaly_ae.data import AnomalyDataModule
from anomaly_ae.errors import ConfigError
from anomaly_ae.instantiate import build_trainer
from anomaly_ae.key_hints import hints_for_unknown_keys
from anomaly_ae.reporting.run import finish_run

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig, overrides: Sequence[str] | None = None) -> dict[str, Any]:
    """Test the checkpoint ``cfg.ckpt_path`` on its own data; returns results.json's content.

    ``overrides``: the command-line overrides behind ``cfg`` (read from the running Hydra app
    when not given): the ``data.*`` among them replace the checkpoint's data settings.
    """
    overrides = command_line_overrides() if overrides is None else list(overrides)
    require_values(cfg)
    cfg.refit_threshold = refit_requested(cfg, overrides)
    checkpoint = read_checkpoint(cfg.ckpt_path)
    model = autoencoder_from_checkpoint(checkpoint, cfg.ckpt_path)
    if not cfg.refit_threshold:
        model.fitted_threshold()  # fail before loading any data if there is none
    cfg.data = data_config_for_checkpoint(cfg.data, checkpoint, overrides)
    with known_warnings_silenced():
        datamodule: AnomalyDataModule = hydra.utils.instantiate(cfg.data)
        datamodule.check_input_shape(model.hparams.input_shape, "the checkpoint's model")
        # validation always runs: its scores go into the report; the score's fitted state
        # (Mahalanobis, combined) and the threshold are re-fitted only when asked
        refit = [FitScore(), ThresholdCallback(hydra.utils.instantiate(cfg.threshold))]
        trainer = build_trainer(cfg, refit if cfg.refit_threshold else [])
        trainer.validate(model, datamodule=datamodule, verbose=False)
        started = time.perf_counter()
        trainer.test(model, datamodule=datamodule, verbose=False)
        timings = {"test_seconds": round(time.perf_counter() - started, 3)}
        return finish_run(trainer, model, datamodule, cfg, cfg.ckpt_path, {"timings": timings})


def refit_requested(cfg: DictConfig, overrides: Sequence[str]) -> bool:
    """Whether to re-fit the threshold: ``refit_threshold=true``, or threshold settings on the
    command line, which would mean nothing with the checkpoint's threshold. Threshold settings
    with an explicit ``refit_threshold=false`` contradict each other and are refused."""
    parsed = OverridesParser.create().parse_overrides(list(overrides))
    given = [
        o.input_line
        for o in parsed
        if o.key_or_group.split(".")[0] == "threshold" and not o.is_delete()
    ]
    if cfg.refit_threshold or not given:
        return bool(cfg.refit_threshold)
    if any(o.key_or_group == "refit_threshold" for o in parsed):
        raise ConfigError(
            f"{' '.join(given)} has no effect with refit_threshold=false (the checkpoint's "
            "threshold is used as it is); drop one of them"
        )
    log.info("%s given: re-fitting the threshold on the validation split", " ".join(given))
    return True


register_configs()


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="evaluate")
def run(cfg: DictConfig) -> None:
    with exit_on_user_error():
        evaluate(cfg)


def main() -> None:
    """``anomaly-ae-evaluate``, the same as ``python -m anomaly_ae.evaluate``."""
    with hints_for_unknown_keys("evaluate"):
        run()


if __name__ == "__main__":
    main()
