"""Building the network a model config names by ``_target_`` (lightning-hydra-template's
``net:``), with ``model=mlp`` and ``model=conv`` as the shipped ones.

A network is an ``nn.Module`` class whose constructor takes ``input_shape`` and
``latent_dim`` (the model passes them) and its own settings, and which has an ``encoder``
(images -> codes) and a ``decoder`` (codes -> images in [0, 1]) submodule.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from anomaly_ae.errors import ConfigError

SEED_NET = "anomaly_ae.models.mlp.MlpAutoencoder"
# given by the model, not part of a network's own settings
MODEL_ARGUMENTS = ("input_shape", "latent_dim")


def network_class(target: str) -> type[nn.Module]:
    """The class ``target`` names, refused unless it is an ``nn.Module`` (a checkpoint's
    settings name it, and opening a checkpoint must not call arbitrary functions)."""
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


def complete_net_config(net: Mapping[str, Any] | None) -> dict[str, Any]:
    """``net`` as plain values, with the class's defaults filled in, so a checkpoint records
    every setting its network was built with (``None``: the seed's MLP)."""
    config = {"_target_": SEED_NET, **(dict(net) if net else {})}
    cls = network_class(config["_target_"])
    for name, parameter in inspect.signature(cls).parameters.items():
        if name in MODEL_ARGUMENTS or parameter.default is inspect.Parameter.empty:
            continue
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        config.setdefault(name, parameter.default)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}


def build_net(net: Mapping[str, Any], input_shape: Sequence[int], latent_dim: int) -> nn.Module:
    """The network of ``net`` (a ``_target_`` config) for images of ``input_shape``."""
    from hydra.utils import instantiate

    if latent_dim < 1:
        raise ConfigError(f"model.latent_dim={latent_dim} must be a positive layer size")
    network_class(net["_target_"])
    try:
        module = instantiate(dict(net), input_shape=list(input_shape), latent_dim=latent_dim)
    except Exception as err:
        cause = err.__cause__ if isinstance(err.__cause__, ConfigError) else None
        if cause is not None:
            raise cause from None
        raise ConfigError(
            f"model.net ({net['_target_']}) could not be built: {str(err).splitlines()[0]}"
        ) from err
    missing = [
        name
        for name in ("encoder", "decoder")
        if not isinstance(getattr(module, name, None), nn.Module)
    ]
    if missing:
        raise ConfigError(
            f"model.net ({net['_target_']}) has no {' or '.join(missing)} submodule; a network "
            "needs an encoder (images -> codes) and a decoder (codes -> images)"
        )
    return module
