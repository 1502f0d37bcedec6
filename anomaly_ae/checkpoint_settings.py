"""The settings a checkpoint carries, and how they meet the command line.

A checkpoint holds the model's constructor arguments (``hyper_parameters``) and the data
module's (``datamodule_hyper_parameters``). Evaluating or resuming a checkpoint uses them, so a
model trained on another split, anomaly set or latent size is calibrated and tested on its own
data, not on what the config files say today. A ``data.<key>=...`` given on the command line
still wins, and one that changes the calibration split says so; ``ckpt_path=last`` resumes only
a run whose model and data settings are this run's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from anomaly_ae.checkpoint import DATA_KEY, check_network_trusted, module_target, read_checkpoint
from anomaly_ae.data.datamodule import SPLIT_SETTINGS
from anomaly_ae.data.sources.dataset_classes import check_dataset_trusted
from anomaly_ae.data.splits.classes import is_held_out
from anomaly_ae.errors import CheckpointError, ConfigError, one_line
from anomaly_ae.models.nets import complete_net_config
from anomaly_ae.scoring import score_config
from anomaly_ae.targets import load_class, qualified_name

log = logging.getLogger(__name__)

# what a resumed run must keep besides the split: its training order (the saved position in an
# epoch counts batches of this size in this order)
TRAINING_ORDER = ("shuffle_seed", "batch_size")
RESUME_DATA_SETTINGS = (*SPLIT_SETTINGS, *TRAINING_ORDER)
# settings whose change puts other images into the validation (calibration) split
_CALIBRATION_SPLIT = (
    "normal",
    "normal_path",
    "normal_classes",
    "train_size",
    "val_size",
    "test_size",
    "split_seed",
)
# not compared with a checkpoint's: the input shape follows the data (checked against them),
# and the threshold rule is this run's (it is fitted again after every validation)
_NOT_COMPARED = {"input_shape", "threshold"}


def explicit_keys(overrides: Iterable[str], group: DictConfig, name: str) -> set[str]:
    """The keys of the config group ``name`` set on the command line: ``data.split_seed=7``
    -> ``split_seed``; choosing the group's file (``model=conv``) sets all of them."""
    parsed = OverridesParser.create().parse_overrides(list(overrides))
    if any(o.key_or_group == name for o in parsed):
        return set(group.keys())
    prefix = f"{name}."
    # model.net.upsampling=nearest sets model.net: settings are compared key by key below it
    return {
        o.key_or_group.removeprefix(prefix).split(".")[0]
        for o in parsed
        if o.key_or_group.startswith(prefix)
    }


def data_config_for_checkpoint(
    data: DictConfig,
    checkpoint: Mapping[str, Any],
    overrides: Iterable[str],
    keys: Sequence[str] = SPLIT_SETTINGS,
    fixed: Sequence[str] = (),
) -> DictConfig:
    """``data`` with ``keys`` taken from the checkpoint, except those set on the command line.

    An explicit override that changes the calibration split is kept and reported in one line;
    one that changes a ``fixed`` key is refused. Where (``root``) and how (evaluation batch
    size, devices) the data are read stay as configured.
    """
    saved = checkpoint.get(DATA_KEY)
    if not saved:
        log.warning(
            "the checkpoint carries no data settings (it predates them): using data.* as configured"
        )
        return data
    explicit = explicit_keys(overrides, data, "data")
    refuse_changes(data, saved, explicit & set(fixed), "data", "keeps its training order")
    merged = data.copy()
    for key in keys:
        if key not in saved:
            continue
        if key not in explicit:
            check_dataset_trusted(saved[key], f"data.{key}")  # a dataset class, by _target_
            merged[key] = saved[key]
        elif _changes_calibration_split(key, saved, data) and not _same(saved[key], data[key]):
            log.warning(
                "data.%s=%s on the command line replaces the checkpoint's %s: the validation "
                "split is not the one the model was calibrated on (it may hold training images)",
                key,
                _plain(data[key]),
                saved[key],
            )
    return merged


def _changes_calibration_split(key: str, saved: Mapping[str, Any], data: DictConfig) -> bool:
    if key in _CALIBRATION_SPLIT:
        return True
    # held-out classes ("held_out_classes", "mnist_classes") leave the split without them
    return key in ("anomaly", "anomaly_classes") and _held_out(saved, data)


def _held_out(saved: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
    """Whether the checkpoint's or the config's anomalies are the normal set's own classes,
    the only case where ``anomaly_classes`` says anything (it is ignored otherwise, and
    checkpoints of earlier versions hold ``[0]`` there all the same)."""
    return any(is_held_out(s.get("anomaly"), s.get("normal")) for s in (saved, data))


def model_config_for_resume(
    model: DictConfig, checkpoint: Mapping[str, Any], overrides: Iterable[str]
) -> DictConfig:
    """The model settings of a resumed run: the checkpoint's. A ``model.<key>=...`` that
    differs from them is refused: the saved weights and optimizer state belong to them."""
    saved = saved_model_settings(checkpoint)
    refuse_changes(
        comparable_model(model),
        saved,
        explicit_keys(overrides, model, "model") - _NOT_COMPARED,
        "model",
        "continues the saved model",
    )
    instantiation = {k: _plain(v) for k, v in model.items() if str(k).startswith("_")}
    instantiation["_target_"] = module_target(checkpoint)  # model=vae's class, or hw7's
    return OmegaConf.create({**instantiation, **saved})


def saved_model_settings(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """A checkpoint's model settings with its network's completed as :func:`comparable_model`
    completes the command line's, once the network is trusted.

    A setting added to a network class after the checkpoint was written (``latent_relu``)
    takes its default, which is the network the checkpoint was trained as: a new setting's
    default keeps the old behaviour.
    """
    saved = dict(checkpoint.get("hyper_parameters") or {})
    if isinstance(saved.get("net"), Mapping):
        check_network_trusted(checkpoint, "the checkpoint")
        try:
            saved["net"] = complete_net_config(saved["net"])
        except ConfigError as err:
            raise CheckpointError(f"the checkpoint's network cannot be rebuilt: {err}") from err
    return saved


def comparable_model(model: DictConfig) -> DictConfig:
    """``model`` with its network's settings as a checkpoint records them: every default
    filled in, the class named by its own module (:func:`complete_net_config`)."""
    if "net" not in model:
        return model
    completed = model.copy()
    completed.net = complete_net_config(model.net)
    if completed.get("score") is not None:
        completed.score = score_config(model.score)
    return completed


def refuse_changes(
    current: DictConfig, saved: Mapping[str, Any], keys: Iterable[str], group: str, why: str
) -> None:
    """Raise one :class:`ConfigError` line for the ``keys`` whose command-line value differs
    from the checkpoint's: a resumed run ``why``."""
    conflicts = [
        f"{name}={mine} (the checkpoint has {theirs})"
        for key in _differing(current, saved, sorted(keys))
        for name, mine, theirs in _leaf_differences(
            f"{group}.{key}", _plain(current[key]), saved[key]
        )
    ]
    if conflicts:
        raise ConfigError(
            f"a resumed run {why}, but {', '.join(conflicts)}; drop the override, or start a "
            "new run without ckpt_path"
        )


def differences(checkpoint: Mapping[str, Any], model: DictConfig, data: DictConfig) -> list[str]:
    """How a checkpoint's model and data settings differ from a config's (``[]``: the same)."""
    found = []
    module = module_target(checkpoint)
    if (
        "_target_" in model
        and qualified_name(load_class(model._target_, object, "model", "")) != module
    ):
        found.append(f"model={module}")
    saved_model = saved_model_settings(checkpoint)
    saved_data = checkpoint.get(DATA_KEY) or {}
    data_keys = [
        k for k in RESUME_DATA_SETTINGS if k != "anomaly_classes" or _held_out(saved_data, data)
    ]
    for group, saved, current, keys in (
        ("model", saved_model, comparable_model(model), sorted(set(saved_model) - _NOT_COMPARED)),
        ("data", saved_data, data, data_keys),
    ):
        found += [f"{group}.{k}={saved[k]}" for k in _differing(current, saved, keys)]
    return found


def find_last_checkpoint(
    log_dir: str | Path, task_name: str, exclude: str | Path, model: DictConfig, data: DictConfig
) -> Path:
    """The newest ``checkpoints/last.ckpt`` of the task's earlier runs with the model and
    data settings of ``model`` and ``data`` (``ckpt_path=last``), said in the log.

    Runs and sweep jobs under ``<log_dir>/<task_name>`` count; the current run directory
    (``exclude``) and links whose checkpoint is gone do not.
    """
    root = Path(log_dir) / task_name
    exclude = Path(exclude).resolve()
    candidates = sorted(
        (
            path
            for path in root.glob("**/checkpoints/last.ckpt")
            if path.exists() and exclude not in path.resolve().parents
        ),
        key=lambda path: path.stat().st_mtime,
        reverse=True,
    )
    if not candidates:
        raise CheckpointError(
            f"ckpt_path=last found no checkpoints/last.ckpt of an earlier run under {root}; "
            "pass the checkpoint's path instead"
        )
    others = []
    for path in candidates:
        try:
            differ = differences(read_checkpoint(path), model, data)
        except CheckpointError as err:
            differ = [one_line(err, 120)]
        if not differ:
            newer = f"; {len(others)} newer one(s) have other settings" if others else ""
            log.info(
                "ckpt_path=last: resuming %s, the newest last.ckpt under %s with this run's "
                "model and data settings%s",
                path,
                root,
                newer,
            )
            return path
        others.append((path, differ))
    newest, differ = others[0]
    raise CheckpointError(
        f"ckpt_path=last found {len(others)} last.ckpt under {root} but none with this run's "
        f"model and data settings (the newest, {newest}, has {', '.join(differ[:4])}); pass "
        "ckpt_path=<its path> to resume it with its own settings"
    )


def _differing(current: DictConfig, saved: Mapping[str, Any], keys: Iterable[str]) -> list[str]:
    """The ``keys`` present on both sides whose values differ."""
    return [k for k in keys if k in saved and k in current and not _same(saved[k], current[k])]


def _leaf_differences(name: str, mine: Any, theirs: Any) -> list[tuple[str, Any, Any]]:
    """Where two settings differ, down to the nested keys (``model.net.upsampling``)."""
    if isinstance(mine, Mapping) and isinstance(theirs, Mapping):
        return [
            found
            for key in sorted(set(mine) | set(theirs), key=str)
            if not _same(mine.get(key), theirs.get(key))
            for found in _leaf_differences(f"{name}.{key}", mine.get(key), theirs.get(key))
        ]
    return [(name, mine, theirs)]


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value) if OmegaConf.is_config(value) else value


def _same(a: Any, b: Any) -> bool:
    """Equal as plain values: lists and tuples alike, OmegaConf containers unwrapped."""
    a, b = _plain(a), _plain(b)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b
