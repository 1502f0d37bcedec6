"""hw7's fully connected encoder and decoder, with configurable sizes.

:class:`MlpAutoencoder`'s defaults (with the model's 28x28 input and 32-dimensional code)
reproduce hw7 Problem 7: 784-256-128-32 with ReLU after every encoder layer (the latent code
too) and 32-128-256-784 with ReLU then a sigmoid output. ``latent_relu=False`` leaves the code
linear: no code unit can die at zero, and the codes are unbounded, as a Mahalanobis distance
of the code expects.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import nn

from anomaly_ae.errors import ConfigError


def _linear_relu_stack(dims: Sequence[int]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for fan_in, fan_out in pairwise(dims):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    return layers


class Encoder(nn.Module):
    """Flattens an image and maps it to a latent code: non-negative (a ReLU after the code
    layer, hw7's) or, with ``latent_relu=False``, linear."""

    def __init__(
        self,
        input_shape: Sequence[int],
        hidden_dims: Sequence[int],
        latent_dim: int,
        latent_relu: bool = True,
    ) -> None:
        super().__init__()
        dims = [math.prod(input_shape), *hidden_dims, latent_dim]
        layers = _linear_relu_stack(dims)
        if not latent_relu:
            layers.pop()  # the ReLU after the code layer
        self.layers = nn.Sequential(nn.Flatten(), *layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Decoder(nn.Module):
    """Maps a latent code back to an image with pixels in (0, 1).

    ``hidden_dims`` are given in the encoder's order and used reversed, so one list describes
    a symmetric autoencoder.
    """

    def __init__(
        self, input_shape: Sequence[int], hidden_dims: Sequence[int], latent_dim: int
    ) -> None:
        super().__init__()
        dims = [latent_dim, *reversed(hidden_dims)]
        self.layers = nn.Sequential(
            *_linear_relu_stack(dims),
            nn.Linear(dims[-1], math.prod(input_shape)),
            nn.Sigmoid(),
            nn.Unflatten(1, tuple(input_shape)),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.layers(z)


def positive_layer_sizes(hidden_dims: Sequence[int]) -> list[int]:
    """``model.net.hidden_dims`` as ints, refused unless every one is a positive size."""
    sizes = [int(d) for d in hidden_dims]
    if any(d < 1 for d in sizes):
        raise ConfigError(f"model.net.hidden_dims={sizes} must all be positive layer sizes")
    return sizes


class MlpAutoencoder(nn.Module):
    """``model=mlp``: hw7's network (``hidden_dims=(256, 128)``, ``latent_relu=True``), an
    :class:`Encoder` and a mirrored :class:`Decoder`.

    Every network a model config names (``model.net._target_``) follows this contract: an
    ``nn.Module`` built from ``input_shape`` and ``latent_dim`` (given by the model) and its own
    settings, with ``encoder`` (images -> codes) and ``decoder`` (codes -> images in [0, 1]).

    Args:
        input_shape, latent_dim: the images' ``(C, H, W)`` and the code's size (the model's).
        hidden_dims: the encoder's layer sizes (``model.net.hidden_dims``); the decoder mirrors
            them.
        latent_relu: a ReLU on the code (hw7's); ``False``: a linear code.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        latent_dim: int,
        hidden_dims: Sequence[int] = (256, 128),
        latent_relu: bool = True,
    ) -> None:
        super().__init__()
        hidden_dims = positive_layer_sizes(hidden_dims)
        self.encoder = Encoder(input_shape, hidden_dims, latent_dim, bool(latent_relu))
        self.decoder = Decoder(input_shape, hidden_dims, latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))
