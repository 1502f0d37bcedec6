"""Structured-config schemas: the types of every setting, checked when Hydra composes, and
the defaults of the settings that no constructor of ours holds.

Each YAML file of ``conf/`` starts from a schema (``defaults: [/data_schema@_here_, _self_]``
in a group, ``<task>_schema`` in a primary config), so a misspelt key or a value of the wrong
type (``data.batch_size=big``) stops the run at composition with Hydra's message, before
anything is loaded or trained. They are stored outside the config groups, so that ``--help``
lists only real choices and ``model=mlp_schema`` is not one.

Every setting is written once. The schema of a class a group builds (the data module, the
model and its network, a score, a threshold rule) is made from its constructor's signature,
where its defaults and its docs are (:mod:`anomaly_ae.config_schema`), and registered under
the name its YAML file gives it: ``conf/threshold/quantile.yaml`` names
``/quantile_threshold_schema@_here_`` and ``_target_: anomaly_ae.thresholds.QuantileThreshold``.
Only what is not a constructor of ours is written here: the trainer's curated arguments
(Lightning's Trainer accepts many more: add one with ``+trainer.<name>=<value>``) and the entry
points' own settings. The YAML files only choose a schema, name the class, and override
(``root: ${paths.data_dir}``).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from anomaly_ae.detector import Detector
from anomaly_ae.models.nets import MODEL_ARGUMENTS
from anomaly_ae.schema_registry import (
    command_line_config_dirs,
    package_config_dir,
    register_named_schemas,
)

# Optional[...] rather than "X | None": OmegaConf reads these annotations at runtime.

# What the enclosing object passes when it builds the class at a place of the config, not
# settings of its own: a network gets the model's input shape and code size, a score the
# code size.
GIVEN_BY_PARENT = {"model.net": MODEL_ARGUMENTS, "model.score": ("latent_dim",)}


def default_of(target: Callable[..., Any], name: str) -> Any:
    """A dataclass field whose default is ``target``'s default for the argument ``name``
    (sequences become lists, which OmegaConf types as ``list``)."""
    value = inspect.signature(target).parameters[name].default
    if value is inspect.Parameter.empty:
        raise TypeError(f"{target.__qualname__}({name}) has no default")
    if isinstance(value, list | tuple):
        return field(default_factory=lambda: list(value))
    return field(default=value)


@dataclass
class TrainerConfig:
    _target_: str = "pytorch_lightning.Trainer"
    # the run directory; None where Hydra has not made one (--cfg job --resolve), and if set
    # to null, Lightning's default (the current directory)
    default_root_dir: Optional[str] = MISSING  # noqa: UP045
    min_epochs: Optional[int] = 1  # noqa: UP045
    max_epochs: int = 10  # hw7's
    max_steps: int = -1
    accelerator: str = "auto"  # cpu, gpu (cuda), mps or auto (the best one present)
    devices: Any = 1  # an int, "auto", or a list of device indices
    num_nodes: int = 1
    strategy: Any = "auto"  # auto, ddp, ddp_spawn, ... or a strategy object's config
    precision: Any = "32-true"  # 32-true, 16-mixed, bf16-mixed, ...
    sync_batchnorm: bool = False
    check_val_every_n_epoch: int = 1
    log_every_n_steps: int = 50
    deterministic: Any = False  # True, False or "warn"
    enable_progress_bar: bool = True
    enable_model_summary: bool = True


@dataclass
class RunConfig:
    """What every entry point's primary config has."""

    paths: Any = MISSING
    task_name: str = MISSING
    seed: int = 42  # Lightning's seed_everything, and the training order (data.shuffle_seed)


@dataclass
class LightningRunConfig(RunConfig):
    """Entry points that run a Lightning Trainer on the data module."""

    data: Any = MISSING
    threshold: Any = MISSING
    trainer: Any = MISSING
    callbacks: Any = None
    logger: Any = None


@dataclass
class TrainConfig(LightningRunConfig):
    model: Any = MISSING
    # a short name of the experiment, recorded in results.json and the loggers' hparams
    experiment_name: str = "custom"
    # test the final model on normal + anomaly test data after fitting
    test: bool = True
    # resume fitting from a checkpoint: its path, or last (the newest last.ckpt of earlier runs)
    ckpt_path: Optional[str] = None  # noqa: UP045
    # what a hyperparameter sweeper optimises: a validation quantity (val/...), never a test one
    optimized_metric: Optional[str] = None  # noqa: UP045


@dataclass
class EvaluateConfig(LightningRunConfig):
    ckpt_path: str = MISSING  # the checkpoint to test (required)
    # re-fit the threshold on the validation split with the `threshold` rule before testing
    # (and a fitted score, such as score=mahalanobis, on the training and validation split);
    # false keeps what the checkpoint stores
    refit_threshold: bool = False


@dataclass
class DetectConfig(RunConfig):
    # the trained detector (its threshold and model settings travel inside it)
    ckpt_path: str = MISSING
    # an image (.png, .jpg, ...), a .npy array, an IDX file, or a folder of them (recursively)
    inputs: str = MISSING
    grayscale: bool = False  # convert colour images to gray (refused otherwise)
    resize: bool = False  # resize images of another size to the model's (refused otherwise)
    device: str = default_of(Detector.from_checkpoint, "device")
    output_dir: Optional[str] = MISSING  # where detections.csv and detections.json go  # noqa: UP045
    print_limit: int = 20  # rows printed on the terminal (all rows are written)


@dataclass
class ExportConfig(RunConfig):
    ckpt_path: str = MISSING
    format: str = "onnx"  # onnx (needs pip install -e '.[export]') or torchscript
    # the file to write; null: detector.onnx / detector.pt in the run directory
    output: Optional[str] = None  # noqa: UP045
    # random images the exported file is checked on against the checkpoint
    check_images: int = 256
    # the check fails (exit 2) where |exported - checkpoint score| > atol + rtol * score, or
    # where a flag differs for a score farther than that from the threshold
    rtol: float = 1e-5
    atol: float = 1e-4


def register_schemas(*config_dirs: str | Path) -> None:
    """Store the schemas: those written here, and those of the classes the YAML files name
    (:func:`~anomaly_ae.config_schema.register_named_schemas`) in the package's ``conf/``, in
    the folders of the command line (``--config-dir``, ``hydra.searchpath=[...]``) and in
    ``config_dirs`` (for Hydra's compose API with a search path of one's own)."""
    from anomaly_ae.config import CONFIG_MODULE

    store = ConfigStore.instance()
    for name, node in HAND_WRITTEN.items():
        store.store(name=name, node=node)
    folders = [package_config_dir(CONFIG_MODULE), *command_line_config_dirs(sys.argv[1:])]
    register_named_schemas(
        [f for f in (*folders, *config_dirs) if f is not None],
        given_by_parent=GIVEN_BY_PARENT,
        keep=HAND_WRITTEN,
    )


HAND_WRITTEN: dict[str, type] = {
    "trainer_schema": TrainerConfig,
    "train_schema": TrainConfig,
    "evaluate_schema": EvaluateConfig,
    "detect_schema": DetectConfig,
    "export_schema": ExportConfig,
}
