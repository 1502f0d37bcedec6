"""``python -m anomaly_ae.evaluate ckpt_path=...``: test a saved detector.

The data are the checkpoint's (its normal and anomaly sets, split sizes and seed); a
``data.<key>=...`` on the command line replaces one of them, and says so when that changes the
calibration split. Uses the threshold stored in the checkpoint, unless threshold settings are
given (``threshold.k=2.5``, ``threshold=quantile``) or ``refit_threshold=true``: the threshold is
then re-fitted on the validation split with that rule first.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import hydra
from omegaconf import DictConfig

from anomaly_ae.cli import command_line_overrides, exit_on_user_error, known_warnings_silenced
from anomaly_ae.config import CONFIG_PATH, register_configs
from anomaly_ae.instantiate import build_trainer
from anomaly_ae.key_hints import hints_for_unknown_keys
from anomaly_ae.reporting.loss_history import LossHistory
from anomaly_ae.reporting.run import finish_run
from anomaly_ae.resolve import resolve_evaluation
from anomaly_ae.thresholds import build_rule


def evaluate(cfg: DictConfig, overrides: Sequence[str] | None = None) -> dict[str, Any]:
    """Test the checkpoint ``cfg.ckpt_path`` on its own data; returns results.json's content.

    ``overrides``: the command-line overrides behind ``cfg`` (read from the running Hydra app
    when not given): the ``data.*`` among them replace the checkpoint's data settings.
    """
    overrides = command_line_overrides() if overrides is None else list(overrides)
    with known_warnings_silenced():
        run = resolve_evaluation(cfg, overrides)
        cfg, model, datamodule = run.cfg, run.model, run.datamodule
        # validation always runs: its scores go into the report; the score's fitted state
        # (Mahalanobis, combined) and the threshold are re-fitted only when asked
        if cfg.refit_threshold:
            model.threshold.rule = build_rule(cfg.threshold)
        else:
            model.keep_calibration()
        trainer = build_trainer(cfg, [])
        trainer.validate(model, datamodule=datamodule, verbose=False)
        started = time.perf_counter()
        trainer.test(model, datamodule=datamodule, verbose=False)
        timings = {"test_seconds": round(time.perf_counter() - started, 3)}
        losses = LossHistory.from_checkpoint(run.checkpoint)
        return finish_run(
            trainer, model, datamodule, cfg, cfg.ckpt_path, losses, {"timings": timings}
        )


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
