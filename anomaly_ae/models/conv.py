"""A convolutional encoder/decoder for 28x28-like images.

The encoder halves the resolution twice with stride-2 convolutions; the decoder doubles it
back, either with ``ConvTranspose2d`` (kernel 2, stride 2) or with nearest-neighbour
``Upsample`` followed by a 3x3 convolution: hw7 Problem 2 shows the two are related (a
transposed convolution with all-ones r x r weights and stride r *is* nearest upsampling by r),
and Problem 1 that nearest upsampling / 4 is the adjoint of 2x2 average pooling.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from anomaly_ae.errors import ConfigError

UPSAMPLING = ("transpose", "nearest")


def upsampling_layer(in_channels: int, out_channels: int, mode: str) -> nn.Module:
    """Doubling the resolution: a 2x2 stride-2 ``ConvTranspose2d`` (``transpose``), or nearest
    ``Upsample`` then a 3x3 convolution (``nearest``)."""
    if mode == "transpose":
        return nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2)
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
    )


class ConvEncoder(nn.Module):
    """Two stride-2 3x3 convolutions (H -> H/4) and a linear map to the latent code."""

    def __init__(self, input_shape: Sequence[int], channels: Sequence[int], latent_dim: int):
        super().__init__()
        c, h, w = input_shape
        first, second = channels
        self.layers = nn.Sequential(
            nn.Conv2d(c, first, kernel_size=3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(first, second, kernel_size=3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(second * (h // 4) * (w // 4), latent_dim),
            nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class ConvDecoder(nn.Module):
    """A linear map back to ``channels[1]`` maps of H/4 x W/4, upsampled twice, sigmoid out."""

    def __init__(
        self,
        input_shape: Sequence[int],
        channels: Sequence[int],
        latent_dim: int,
        upsampling: str = "transpose",
    ):
        super().__init__()
        c, h, w = input_shape
        first, second = channels
        self.layers = nn.Sequential(
            nn.Linear(latent_dim, second * (h // 4) * (w // 4)),
            nn.ReLU(),
            nn.Unflatten(1, (second, h // 4, w // 4)),
            upsampling_layer(second, first, upsampling),
            nn.ReLU(),
            upsampling_layer(first, c, upsampling),
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.layers(z)


class ConvAutoencoder(nn.Module):
    """``model=conv``: a :class:`ConvEncoder` and :class:`ConvDecoder` (the contract of
    :class:`anomaly_ae.models.mlp.MlpAutoencoder`).

    Args:
        input_shape, latent_dim: the images' ``(C, H, W)`` and the code's size (the model's).
        channels: the two convolutions' channel counts (``model.net.channels``).
        upsampling: the decoder's: ``transpose`` (ConvTranspose2d) or ``nearest``
            (nearest-neighbour Upsample + 3x3 convolution).
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        latent_dim: int,
        channels: Sequence[int] = (32, 64),
        upsampling: str = "transpose",
    ) -> None:
        super().__init__()
        channels = [int(c) for c in channels]
        if len(channels) != 2 or any(c < 1 for c in channels):
            raise ConfigError(
                f"model.net.channels={channels} must be two positive channel counts, e.g. [32, 64]"
            )
        if upsampling not in UPSAMPLING:
            raise ConfigError(
                f"model.net.upsampling={upsampling} is unknown; choose {' or '.join(UPSAMPLING)}"
            )
        if input_shape[1] % 4 or input_shape[2] % 4:
            raise ConfigError(
                f"model=conv halves the images twice: their size "
                f"{input_shape[1]}x{input_shape[2]} must be divisible by 4"
            )
        self.encoder = ConvEncoder(input_shape, channels, latent_dim)
        self.decoder = ConvDecoder(input_shape, channels, latent_dim, upsampling)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))
