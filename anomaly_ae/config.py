"""Where the project's configs live, and the OmegaConf resolvers they use."""

from pathlib import Path

from omegaconf import OmegaConf

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = PROJECT_ROOT / "conf"


def register_resolvers() -> None:
    """Register ``${project_root:}`` (the checkout holding ``conf/``); safe to call twice."""
    if not OmegaConf.has_resolver("project_root"):
        OmegaConf.register_new_resolver("project_root", lambda: str(PROJECT_ROOT))


def register_configs() -> None:
    """Resolvers and structured-config schemas, before Hydra composes anything."""
    from anomaly_ae.schemas import register_schemas

    register_resolvers()
    register_schemas()


register_configs()
