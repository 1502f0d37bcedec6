"""Reading checkpoints safely and rebuilding the autoencoder from one."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning import LightningDataModule

from anomaly_ae.data.datamodule import SPLIT_SETTINGS
from anomaly_ae.errors import CheckpointError, ConfigError, one_line
from anomaly_ae.models.autoencoder import AutoencoderModule
from anomaly_ae.models.nets import CONV_NET, HW7_NET
from anomaly_ae.targets import check_trusted, load_class

# where Lightning saves the data module's constructor arguments
DATA_KEY = LightningDataModule.CHECKPOINT_HYPER_PARAMS_KEY

AUTOENCODER = "anomaly_ae.models.autoencoder.AutoencoderModule"
_REQUIRED_KEYS = ("anomaly_ae", "hyper_parameters", "state_dict")


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The checkpoint at ``path``, checked to be one of ours.

    The file is read with ``weights_only=True``: tensors and plain containers only, so a
    checkpoint cannot run code when it is opened.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} does not exist; pass ckpt_path=<run dir>/checkpoints/last.ckpt "
            "of a training run"
        )
    if _is_torchscript(path):
        raise CheckpointError(
            f"{path} is an exported TorchScript model, not a training checkpoint; pass "
            "ckpt_path=<run dir>/checkpoints/last.ckpt (exported models run on their own)"
        )
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for truncated or foreign files
        reason = one_line(err).split(". ")[0]
        raise CheckpointError(
            f"{path} could not be read as a checkpoint ({reason}); it is truncated, corrupt or "
            "not a PyTorch checkpoint. Use another checkpoint of the run (checkpoints/last.ckpt)"
        ) from err
    if not isinstance(checkpoint, dict) or any(k not in checkpoint for k in _REQUIRED_KEYS):
        raise CheckpointError(
            f"{path} is not an anomaly_ae checkpoint (it lacks "
            f"{', '.join(_REQUIRED_KEYS)}); pass a checkpoint written by python -m anomaly_ae.train"
        )
    checkpoint["hyper_parameters"] = current_model_settings(checkpoint["hyper_parameters"])
    return checkpoint


def current_model_settings(saved: Mapping[str, Any]) -> dict[str, Any]:
    """A checkpoint's model settings as :class:`AutoencoderModule` takes them today.

    Checkpoints of anomaly_ae 0.1.0 before networks were configs name a closed
    ``architecture`` (``mlp`` or ``conv``) with its settings beside it; the same network is
    ``net={"_target_": ..., <its settings>}`` now (the weights' names are unchanged).
    """
    settings = dict(saved)
    if "architecture" not in settings:
        return settings
    architecture = settings.pop("architecture")
    own = {
        name: settings.pop(name)
        for name in ("hidden_dims", "channels", "upsampling")
        if name in settings
    }
    if architecture == "mlp":
        net = {"_target_": HW7_NET, "hidden_dims": own.get("hidden_dims")}
    else:
        net = {
            "_target_": CONV_NET,
            "channels": own.get("channels"),
            "upsampling": own.get("upsampling"),
        }
    settings["net"] = {k: v for k, v in net.items() if v is not None}
    return settings


def _is_torchscript(path: Path) -> bool:
    """TorchScript archives are zip files with a ``code/`` folder (torch.load refuses them
    under ``weights_only`` with advice to lift it, which must not be followed here)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any("/code/" in name for name in archive.namelist())


def load_autoencoder(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> AutoencoderModule:
    """Rebuild an :class:`AutoencoderModule` (weights, threshold, calibration) from ``path``."""
    return autoencoder_from_checkpoint(read_checkpoint(path, map_location), path)


def autoencoder_from_checkpoint(checkpoint: dict[str, Any], path: str | Path) -> AutoencoderModule:
    """The :class:`AutoencoderModule` of a checkpoint read with :func:`read_checkpoint`."""
    check_network_trusted(checkpoint, path)
    try:
        module = load_class(module_target(checkpoint), AutoencoderModule, "model", AUTOENCODER)
        model = module(**checkpoint["hyper_parameters"])
        model.on_load_checkpoint(checkpoint)  # first, as Lightning calls it: it may adapt keys
        model.load_state_dict(checkpoint["state_dict"])
    except (RuntimeError, TypeError, ConfigError) as err:
        reason = one_line(err)
        raise CheckpointError(f"{path} does not match its own model settings ({reason})") from err
    return model


def module_target(checkpoint: Mapping[str, Any]) -> str:
    """The LightningModule class a checkpoint's settings are for (before anomaly_ae 0.2.0
    there was only :class:`AutoencoderModule`)."""
    return str(checkpoint.get("anomaly_ae", {}).get("module") or AUTOENCODER)


def check_network_trusted(checkpoint: Mapping[str, Any], path: str | Path) -> None:
    """Refuse, before importing it, a network outside anomaly_ae that the user has not said
    they trust (:func:`anomaly_ae.targets.check_trusted`)."""
    settings = checkpoint["hyper_parameters"]
    targets = [module_target(checkpoint)]
    for key in ("net", "score", "threshold"):
        node = settings.get(key)
        targets.append(str(node.get("_target_") if isinstance(node, Mapping) else HW7_NET))
    try:
        for target in targets:
            check_trusted(target)
    except ConfigError as err:
        raise CheckpointError(f"{path} is not opened: {err}") from err


def saved_split(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """The split settings a checkpoint carries (``{}`` for checkpoints that predate them)."""
    saved = checkpoint.get(DATA_KEY) or {}
    return {key: saved[key] for key in SPLIT_SETTINGS if key in saved}
