"""Where the Hydra configs live, and what Hydra needs registered before it composes them.

The configs are ``conf/`` of the repository, installed as the package ``anomaly_ae.conf``
(see pyproject.toml), so every install reads them as ``pkg://anomaly_ae.conf``. Nothing is
registered on import: the command-line entry points call :func:`register_configs` (as must
code of your own that composes these configs with Hydra's compose API), so that
``import anomaly_ae`` stays free of Hydra.
"""

from __future__ import annotations

import os

CONFIG_MODULE = "anomaly_ae.conf"
CONFIG_PATH = f"pkg://{CONFIG_MODULE}"


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


def register_configs() -> None:
    """The ``${launch_dir:}`` and ``${sweep_run_name:}`` resolvers and the structured-config
    schemas; safe to call twice."""
    from omegaconf import OmegaConf

    from anomaly_ae.schemas import register_schemas

    if not OmegaConf.has_resolver("launch_dir"):
        OmegaConf.register_new_resolver("launch_dir", launch_directory)
    if not OmegaConf.has_resolver("sweep_run_name"):
        OmegaConf.register_new_resolver("sweep_run_name", sweep_run_name)
    register_schemas()
