"""Building Lightning objects from the composed Hydra config."""

from __future__ import annotations

from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning import Callback
from pytorch_lightning.loggers import Logger


def _instantiate_group(cfg: DictConfig | None, kind: type) -> list[Any]:
    """Every ``_target_`` entry of a config group (a mapping of name -> object config)."""
    if not cfg:
        return []
    objects = []
    for name, node in cfg.items():
        if isinstance(node, DictConfig) and "_target_" in node:
            obj = hydra.utils.instantiate(node)
            if not isinstance(obj, kind):
                raise TypeError(f"{name} ({node._target_}) is not a {kind.__name__}")
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
