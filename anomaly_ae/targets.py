"""Classes named by ``_target_`` in a model's settings (its network, its score), read from
configs and from checkpoints.

Checkpoints are opened with ``weights_only=True`` so that opening one runs no code; the
settings they carry keep that promise here: a ``_target_`` must name a class of the expected
kind, a module outside anomaly_ae is imported only if the user trusts it, and every other
setting is plain data passed to the class as it is (nothing nested is instantiated).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import Any, TypeVar

from anomaly_ae.errors import ConfigError

T = TypeVar("T")

# modules whose classes a checkpoint may name besides the package's own (comma-separated)
TRUSTED_ENV = "ANOMALY_AE_TRUSTED_NETS"


def load_class(target: str, base: type[T], key: str, example: str) -> type[T]:
    """The class ``target`` names, refused unless it is a subclass of ``base``; ``key`` is
    the setting's name in messages, ``example`` a class that would do."""
    module_name, _, name = target.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as err:
        raise ConfigError(
            f"{key}._target_={target} cannot be imported ({err}); name a {base.__name__} class "
            f"such as {example}, importable where the run starts"
        ) from err
    if not (isinstance(found, type) and issubclass(found, base)):
        raise ConfigError(f"{key}._target_={target} is not a {base.__name__} class")
    return found


def qualified_name(cls: type) -> str:
    """``cls`` spelt by its own module, so that two spellings of one class compare equal."""
    return f"{cls.__module__}.{cls.__qualname__}"


def check_trusted(target: str) -> None:
    """Refuse, before importing anything, a class outside this package unless its module is
    listed in ``$ANOMALY_AE_TRUSTED_NETS``: importing a module runs its code."""
    trusted = ["anomaly_ae", *(m.strip() for m in os.environ.get(TRUSTED_ENV, "").split(","))]
    module = target.rpartition(".")[0]
    if not any(m and (module == m or module.startswith(f"{m}.")) for m in trusted):
        raise ConfigError(
            f"its model names {target}, outside anomaly_ae: importing {module} runs its code, "
            f"so it is opened only if you trust it: set {TRUSTED_ENV}={module}"
        )


def plain(value: Any, where: str) -> Any:
    """``value`` as plain data (tuples and OmegaConf containers become lists and dicts);
    anything else, or a nested ``_target_``, is refused."""
    if hasattr(value, "_metadata") and hasattr(value, "_get_node"):  # an OmegaConf container
        from omegaconf import OmegaConf

        value = OmegaConf.to_container(value, resolve=True)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        if any(str(k).startswith("_") for k in value):
            raise ConfigError(
                f"{where} holds {sorted(k for k in value if str(k).startswith('_'))}: the "
                "settings are plain values, nothing in them is instantiated"
            )
        return {str(k): plain(v, f"{where}.{k}") for k, v in value.items()}
    raise ConfigError(
        f"{where}={value!r} is not plain data (numbers, strings, lists, mappings), which "
        "checkpoints need; pass a plain setting and build the object inside the class"
    )
