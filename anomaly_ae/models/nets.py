"""Building the network a model config names by ``_target_`` (lightning-hydra-template's
``net:``), with ``model=mlp`` and ``model=conv`` as the shipped ones.

A network is an ``nn.Module`` class whose constructor takes ``input_shape`` and
``latent_dim`` (the model passes them) and its own settings, and which has an ``encoder``
(images -> codes) and a ``decoder`` (codes -> images in [0, 1]) submodule. The model keeps
those two and reconstructs with ``decoder(encoder(x))``; a network's own ``forward`` is not
used, and parameters outside the two are refused.

The settings are plain data (numbers, strings, lists, mappings), recorded in checkpoints and
passed to the class as they are: nothing nested is instantiated, so a checkpoint's settings
cannot name a function to call. Opening a checkpoint imports its network's module only if it
is trusted (:func:`check_trusted`).
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from anomaly_ae.errors import ConfigError

SEED_NET = "anomaly_ae.models.mlp.MlpAutoencoder"
CONV_NET = "anomaly_ae.models.conv.ConvAutoencoder"
# given by the model, not part of a network's own settings
MODEL_ARGUMENTS = ("input_shape", "latent_dim")
# modules whose networks a checkpoint may name besides the package's own (comma-separated)
TRUSTED_ENV = "ANOMALY_AE_TRUSTED_NETS"


def network_class(target: str) -> type[nn.Module]:
    """The class ``target`` names, refused unless it is an ``nn.Module``."""
    module_name, _, name = target.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as err:
        raise ConfigError(
            f"model.net._target_={target} cannot be imported ({err}); name an nn.Module class "
            "such as anomaly_ae.models.ConvAutoencoder, importable where the run starts"
        ) from err
    if not (isinstance(found, type) and issubclass(found, nn.Module)):
        raise ConfigError(f"model.net._target_={target} is not an nn.Module class")
    return found


def check_trusted(target: str) -> None:
    """Refuse, before importing anything, a checkpoint's network outside this package unless
    its module is listed in ``$ANOMALY_AE_TRUSTED_NETS``: importing a module runs its code."""
    trusted = ["anomaly_ae", *(m.strip() for m in os.environ.get(TRUSTED_ENV, "").split(","))]
    module = target.rpartition(".")[0]
    if not any(m and (module == m or module.startswith(f"{m}.")) for m in trusted):
        raise ConfigError(
            f"its network is {target}, outside anomaly_ae: importing {module} runs its code, so "
            f"it is opened only if you trust it: set {TRUSTED_ENV}={module}"
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
                f"{where} holds {sorted(k for k in value if str(k).startswith('_'))}: network "
                "settings are plain values, nothing in them is instantiated"
            )
        return {str(k): plain(v, f"{where}.{k}") for k, v in value.items()}
    raise ConfigError(
        f"{where}={value!r} is not plain data (numbers, strings, lists, mappings), which "
        "checkpoints need; give the network a plain setting and build the object inside it"
    )


def complete_net_config(net: Mapping[str, Any] | None) -> dict[str, Any]:
    """``net`` as plain values, its ``_target_`` spelt as the class's own module and name and
    the class's defaults filled in, so a checkpoint records every setting its network was
    built with and equal networks compare equal (``None``: the seed's MLP)."""
    given = dict(net) if net else {}
    target = str(given.pop("_target_", SEED_NET))
    settings = plain(given, "model.net")  # no _args_, _partial_, nested _target_, objects
    cls = network_class(target)
    config = {"_target_": f"{cls.__module__}.{cls.__qualname__}", **settings}
    for name, parameter in inspect.signature(cls).parameters.items():
        if name in MODEL_ARGUMENTS or parameter.default is inspect.Parameter.empty:
            continue
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        config.setdefault(name, plain(parameter.default, f"model.net.{name}"))
    return config


def build_net(net: Mapping[str, Any], input_shape: Sequence[int], latent_dim: int) -> nn.Module:
    """The network of ``net`` (a config completed by :func:`complete_net_config`) for images
    of ``input_shape``: its class called with the settings as they are."""
    if latent_dim < 1:
        raise ConfigError(f"model.latent_dim={latent_dim} must be a positive layer size")
    target = net["_target_"]
    settings = {k: v for k, v in net.items() if k != "_target_"}
    try:
        module = network_class(target)(
            input_shape=list(input_shape), latent_dim=latent_dim, **settings
        )
    except ConfigError:
        raise
    except (TypeError, ValueError, RuntimeError) as err:
        raise ConfigError(f"model.net ({target}) could not be built: {err}") from err
    parts = [getattr(module, name, None) for name in ("encoder", "decoder")]
    missing = [
        n
        for n, p in zip(("encoder", "decoder"), parts, strict=True)
        if not isinstance(p, nn.Module)
    ]
    if missing:
        raise ConfigError(
            f"model.net ({target}) has no {' or '.join(missing)} submodule; a network "
            "needs an encoder (images -> codes) and a decoder (codes -> images)"
        )
    kept = {id(p) for part in parts for p in part.parameters()}
    if any(id(p) not in kept for p in module.parameters()):
        raise ConfigError(
            f"model.net ({target}) has parameters outside its encoder and decoder; the model "
            "trains and saves only those two (it reconstructs with decoder(encoder(x)))"
        )
    return module
