"""Building the network a model config names by ``_target_`` (lightning-hydra-template's
``net:``), with ``model=mlp``, ``model=conv`` and ``model=dcae`` as the shipped ones.

A network is an ``nn.Module`` class whose constructor takes ``input_shape`` and
``latent_dim`` (the model passes them) and its own settings, and which has an ``encoder``
(images -> codes) and a ``decoder`` (codes -> images in [0, 1]) submodule. The model keeps
those two and reconstructs with ``decoder(encoder(x))``; a network's own ``forward`` is not
used, and parameters outside the two are refused.

The settings are plain data (numbers, strings, lists, mappings), recorded in checkpoints and
passed to the class as they are: nothing nested is instantiated, so a checkpoint's settings
cannot name a function to call. Opening a checkpoint imports its network's module only if it
is trusted (:func:`anomaly_ae.targets.check_trusted`).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from anomaly_ae.errors import ConfigError
from anomaly_ae.targets import load_class, plain, qualified_name

HW7_NET = "anomaly_ae.models.mlp.MlpAutoencoder"
CONV_NET = "anomaly_ae.models.conv.ConvAutoencoder"
LENET_NET = "anomaly_ae.models.lenet.LeNetAutoencoder"
# given by the model, not part of a network's own settings
MODEL_ARGUMENTS = ("input_shape", "latent_dim")


def network_class(target: str) -> type[nn.Module]:
    """The class ``target`` names, refused unless it is an ``nn.Module``."""
    return load_class(target, nn.Module, "model.net", "anomaly_ae.models.ConvAutoencoder")


def complete_net_config(net: Mapping[str, Any] | None, default: str = HW7_NET) -> dict[str, Any]:
    """``net`` as plain values, its ``_target_`` spelt as the class's own module and name and
    the class's defaults filled in, so a checkpoint records every setting its network was
    built with and equal networks compare equal (``None``: ``default``, hw7's MLP)."""
    given = dict(net) if net else {}
    target = str(given.pop("_target_", default))
    settings = plain(given, "model.net")  # no _args_, _partial_, nested _target_, objects
    cls = network_class(target)
    config = {"_target_": qualified_name(cls), **settings}
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
