"""Resolve, then run: the one step where the command line meets what a run builds on (the
checkpoint it resumes or evaluates, the data's image shape), returning the final config.

``train`` and ``evaluate`` call it first, then read top to bottom without changing the
config. The comparisons themselves (which settings a checkpoint keeps, which the command line
may change) are :mod:`anomaly_ae.checkpoint_settings`'.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import hydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf, open_dict

from anomaly_ae.checkpoint import autoencoder_from_checkpoint, read_checkpoint
from anomaly_ae.checkpoint_settings import (
    RESUME_DATA_SETTINGS,
    TRAINING_ORDER,
    data_config_for_checkpoint,
    find_last_checkpoint,
    model_config_for_resume,
)
from anomaly_ae.cli import require_values
from anomaly_ae.data import AnomalyDataModule
from anomaly_ae.errors import ConfigError
from anomaly_ae.models import AutoencoderModule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingRun:
    """A training run once resolved: its final config (read-only), the checkpoint it resumes
    (``None``: from scratch) and its data module."""

    cfg: DictConfig
    resume: str | None
    datamodule: AnomalyDataModule


@dataclass(frozen=True)
class EvaluationRun:
    """An evaluation once resolved: its final config (read-only), the checkpoint's content,
    the model rebuilt from it and the data module of the checkpoint's data."""

    cfg: DictConfig
    checkpoint: Mapping[str, Any]
    model: AutoencoderModule
    datamodule: AnomalyDataModule


def resolve_training(cfg: DictConfig, overrides: Sequence[str]) -> TrainingRun:
    """``cfg`` with a resumed checkpoint's model and data settings (``ckpt_path``; ``last``:
    the newest earlier run with this run's settings; the command line's ``data.*`` still win,
    its ``model.*`` must agree) and the data's image shape as ``model.input_shape``.

    Everything is checked here, before anything is trained; ``cfg`` itself is not changed.
    """
    cfg = copy.deepcopy(cfg)
    resume = None
    if cfg.ckpt_path is not None:
        path = cfg.ckpt_path
        if path == "last":
            path = find_last_checkpoint(
                cfg.paths.log_dir, cfg.task_name, cfg.paths.output_dir, cfg.model, cfg.data
            )
        checkpoint = read_checkpoint(path)
        rule = OmegaConf.to_container(cfg.model.threshold, resolve=True)
        cfg.model = model_config_for_resume(cfg.model, checkpoint, overrides)
        with open_dict(cfg.model):  # checkpoints before 0.3.0 have no threshold setting
            cfg.model.threshold = rule  # the rule is this run's: it is fitted again
        cfg.data = data_config_for_checkpoint(
            cfg.data, checkpoint, overrides, RESUME_DATA_SETTINGS, fixed=TRAINING_ORDER
        )
        log.info("resuming from %s (step %d)", path, checkpoint.get("global_step", 0))
        resume = str(path)
    datamodule: AnomalyDataModule = hydra.utils.instantiate(cfg.data)
    cfg.model.input_shape = data_shape(cfg, datamodule, overrides, resumed=resume is not None)
    OmegaConf.set_readonly(cfg, True)
    return TrainingRun(cfg, resume, datamodule)


def data_shape(
    cfg: DictConfig, datamodule: AnomalyDataModule, overrides: Sequence[str], resumed: bool
) -> list[int]:
    """The data's ``(C, H, W)`` (32x32, 3 channels, ...), which the model takes; a resumed
    model, or a ``model.input_shape=`` on the command line, of another shape is refused."""
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
    return shape


def resolve_evaluation(cfg: DictConfig, overrides: Sequence[str]) -> EvaluationRun:
    """``cfg`` with the checkpoint's data settings (the command line's ``data.*`` win) and
    ``refit_threshold`` as it will be done; the model and the data, checked against each other
    before any image is scored. ``cfg`` itself is not changed."""
    cfg = copy.deepcopy(cfg)
    require_values(cfg)
    cfg.refit_threshold = refit_requested(cfg, overrides)
    checkpoint = read_checkpoint(cfg.ckpt_path)
    model = autoencoder_from_checkpoint(checkpoint, cfg.ckpt_path)
    if not cfg.refit_threshold:
        model.threshold.fitted()  # fail before loading any data if there is none
    cfg.data = data_config_for_checkpoint(cfg.data, checkpoint, overrides)
    datamodule: AnomalyDataModule = hydra.utils.instantiate(cfg.data)
    datamodule.check_input_shape(model.hparams.input_shape, "the checkpoint's model")
    OmegaConf.set_readonly(cfg, True)
    return EvaluationRun(cfg, checkpoint, model, datamodule)


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
