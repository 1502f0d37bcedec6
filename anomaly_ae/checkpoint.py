"""Loading a trained detector from a checkpoint, safely and with clear errors."""

from __future__ import annotations

from pathlib import Path

import torch

from anomaly_ae.errors import CheckpointError
from anomaly_ae.models.autoencoder import AutoencoderModule

_REQUIRED_KEYS = ("anomaly_ae", "hyper_parameters", "state_dict")


def load_autoencoder(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> AutoencoderModule:
    """Rebuild an :class:`AutoencoderModule` (weights, threshold, calibration) from ``path``.

    The file is read with ``weights_only=True``: tensors and plain containers only, so a
    checkpoint cannot run code when it is opened.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} does not exist; pass ckpt_path=<run dir>/checkpoints/last.ckpt "
            "of a finished training run"
        )
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for truncated or foreign files
        reason = " ".join(str(err).split())[:300]
        raise CheckpointError(
            f"{path} could not be read as a checkpoint ({reason}); it is truncated, corrupt or "
            "not a PyTorch checkpoint. Use another checkpoint of the run (checkpoints/last.ckpt)"
        ) from err
    if not isinstance(checkpoint, dict) or any(k not in checkpoint for k in _REQUIRED_KEYS):
        raise CheckpointError(
            f"{path} is not an anomaly_ae checkpoint (it lacks "
            f"{', '.join(_REQUIRED_KEYS)}); pass a checkpoint written by python -m anomaly_ae.train"
        )
    model = AutoencoderModule(**checkpoint["hyper_parameters"])
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        reason = " ".join(str(err).split())[:300]
        raise CheckpointError(f"{path} does not match its own model settings ({reason})") from err
    model.on_load_checkpoint(checkpoint)
    return model
