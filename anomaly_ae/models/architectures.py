"""Building the encoder/decoder pair a model config names, with its settings checked."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from anomaly_ae.errors import ConfigError
from anomaly_ae.models.conv import UPSAMPLING, ConvDecoder, ConvEncoder
from anomaly_ae.models.mlp import Decoder, Encoder

ARCHITECTURES = ("mlp", "conv")


def build_networks(
    architecture: str,
    input_shape: Sequence[int],
    hidden_dims: Sequence[int],
    channels: Sequence[int],
    upsampling: str,
    latent_dim: int,
) -> tuple[nn.Module, nn.Module]:
    """``(encoder, decoder)`` of ``architecture``: ``mlp`` uses ``hidden_dims``, ``conv`` uses
    ``channels`` and ``upsampling``."""
    if latent_dim < 1:
        raise ConfigError(f"model.latent_dim={latent_dim} must be a positive layer size")
    if architecture == "mlp":
        if any(d < 1 for d in hidden_dims):
            raise ConfigError(
                f"model.hidden_dims={list(hidden_dims)} must all be positive layer sizes"
            )
        return (
            Encoder(input_shape, hidden_dims, latent_dim),
            Decoder(input_shape, hidden_dims, latent_dim),
        )
    if architecture == "conv":
        if len(channels) != 2 or any(c < 1 for c in channels):
            raise ConfigError(
                f"model.channels={list(channels)} must be two positive channel "
                "counts, e.g. [32, 64]"
            )
        if upsampling not in UPSAMPLING:
            raise ConfigError(
                f"model.upsampling={upsampling} is unknown; choose {' or '.join(UPSAMPLING)}"
            )
        if input_shape[1] % 4 or input_shape[2] % 4:
            raise ConfigError(
                f"model=conv halves the images twice: their size "
                f"{input_shape[1]}x{input_shape[2]} must be divisible by 4"
            )
        return (
            ConvEncoder(input_shape, channels, latent_dim),
            ConvDecoder(input_shape, channels, latent_dim, upsampling),
        )
    raise ConfigError(
        f"model.architecture={architecture} is unknown; choose {' or '.join(ARCHITECTURES)}"
    )
