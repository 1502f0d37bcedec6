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


def register_configs() -> None:
    """The ``${launch_dir:}`` resolver and the structured-config schemas; safe to call twice."""
    from omegaconf import OmegaConf

    from anomaly_ae.schemas import register_schemas

    if not OmegaConf.has_resolver("launch_dir"):
        OmegaConf.register_new_resolver("launch_dir", launch_directory)
    register_schemas()
