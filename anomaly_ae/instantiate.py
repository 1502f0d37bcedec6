"""Building Lightning objects from the composed Hydra config."""

from __future__ import annotations

from typing import Any

import hydra
import pytorch_lightning as pl
from hydra.errors import InstantiationException
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning import Callback
from pytorch_lightning.callbacks import ProgressBar
from pytorch_lightning.loggers import Logger
from pytorch_lightning.utilities.exceptions import MisconfigurationException

from anomaly_ae.errors import ConfigError


def _instantiate_group(cfg: DictConfig | None, kind: type) -> list[Any]:
    """Every ``_target_`` entry of a config group (a mapping of name -> object config)."""
    if not cfg:
        return []
    objects = []
    for name, node in cfg.items():
        if isinstance(node, DictConfig) and "_target_" in node:
            obj = hydra.utils.instantiate(node)
            if not isinstance(obj, kind):
                raise ConfigError(f"{name} ({node._target_}) is not a {kind.__name__}")
            objects.append(obj)
    return objects


def instantiate_callbacks(cfg: DictConfig | None) -> list[Callback]:
    return _instantiate_group(cfg, Callback)


def instantiate_loggers(cfg: DictConfig | None) -> list[Logger]:
    return _instantiate_group(cfg, Logger)


def hyperparameters(cfg: DictConfig) -> dict[str, Any]:
    """The settings that define a run, as loggers record them (HParams tab, hparams.yaml)."""
    keys = ("model", "data", "threshold", "trainer", "seed", "experiment_name")
    resolved = OmegaConf.to_container(cfg, resolve=True)
    return {k: resolved[k] for k in keys if k in resolved}


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
