"""Where the Hydra configs live, and what Hydra needs registered before it composes them.

The configs are ``conf/`` of the repository, installed as the package ``anomaly_ae.conf``
(see pyproject.toml), so every install reads them as ``pkg://anomaly_ae.conf``. Nothing is
registered on import: the command-line entry points call :func:`register_configs` (as must
code of your own that composes these configs with Hydra's compose API), so that
``import anomaly_ae`` stays free of Hydra.
"""

from __future__ import annotations

import os
from typing import Any

CONFIG_MODULE = "anomaly_ae.conf"
CONFIG_PATH = f"pkg://{CONFIG_MODULE}"

# Overrides that say where files are or how a run is displayed, not what it does: left out of a
# sweep job's run name (Hydra's override_dirname, ``${not_run_settings:}`` in
# conf/hydra/default.yaml) and of TensorBoard's HParams columns.
NOT_RUN_SETTINGS = (
    "data.root",
    "ckpt_path",
    "paths.root_dir",
    "paths.data_dir",
    "paths.log_dir",
    "paths.output_dir",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
)


def launch_directory() -> str:
    """The directory a run was started from, where ``logs/`` and ``data/`` go by default:
    Hydra's ``runtime.cwd`` inside a Hydra app (a launcher may run the job elsewhere), the
    current directory otherwise (the compose API)."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return HydraConfig.get().runtime.cwd
    return os.getcwd()


def sweep_run_name() -> str:
    """In a ``-m`` sweep, the job's overrides (``model.latent_dim=16,threshold.k=2``, without
    the paths), so that TensorBoard names each run after what it changed; ``""`` otherwise.
    Slashes become ``_``: the name is a folder."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return ""
    return HydraConfig.get().job.override_dirname.replace("/", "_").replace("\\", "_")[:200]


def if_normal_classes(when_set: Any, otherwise: Any, *, _parent_: Any) -> Any:
    """``${if_normal_classes:a,b}`` in a data config: ``a`` where its ``normal_classes`` is set
    (one-class runs), else ``b``: the defaults that depend on whether a run is one-class."""
    return otherwise if _parent_.get("normal_classes") is None else when_set


def register_configs() -> None:
    """The ``${launch_dir:}``, ``${sweep_run_name:}``, ``${not_run_settings:}`` and
    ``${if_normal_classes:...}`` resolvers and the structured-config schemas; safe to call
    twice."""
    from omegaconf import OmegaConf

    from anomaly_ae.benchmark.schema import register_benchmark_schemas
    from anomaly_ae.schemas import register_schemas

    if not OmegaConf.has_resolver("launch_dir"):
        OmegaConf.register_new_resolver("launch_dir", launch_directory)
    if not OmegaConf.has_resolver("sweep_run_name"):
        OmegaConf.register_new_resolver("sweep_run_name", sweep_run_name)
    if not OmegaConf.has_resolver("not_run_settings"):
        OmegaConf.register_new_resolver("not_run_settings", lambda: list(NOT_RUN_SETTINGS))
    if not OmegaConf.has_resolver("if_normal_classes"):
        OmegaConf.register_new_resolver("if_normal_classes", if_normal_classes)
    register_schemas()
    register_benchmark_schemas()
