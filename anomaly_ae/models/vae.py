"""``model=vae``: a variational autoencoder (Kingma and Welling 2014) on hw7's MLP sizes.

The encoder gives a Gaussian ``q(z | x) = N(mean, exp(log_var))`` per image; called as the
framework's networks are (``encoder(images)``), it returns the mean, so every score works on
the VAE as on the plain autoencoder: ``score=reconstruction`` is the ELBO's reconstruction
term at the posterior mean (the per-image sum of squared error, the Gaussian likelihood with
variance 1/2 up to a constant), ``score=mahalanobis`` / ``combined`` use the mean code.

Training maximises the ELBO: per image, the sum of squared error of a reconstruction from one
sample ``z = mean + exp(log_var / 2) * eps`` plus ``beta`` times ``KL(q(z | x) || N(0, I))``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from anomaly_ae.errors import ConfigError
from anomaly_ae.models.autoencoder import AutoencoderModule
from anomaly_ae.models.mlp import Decoder, _linear_relu_stack, positive_layer_sizes

VAE_NET = "anomaly_ae.models.vae.VaeAutoencoder"


class VaeEncoder(nn.Module):
    """Flattened images -> hidden ReLU layers -> the mean and log-variance of the code."""

    def __init__(
        self, input_shape: Sequence[int], hidden_dims: Sequence[int], latent_dim: int
    ) -> None:
        super().__init__()
        dims = [math.prod(input_shape), *hidden_dims]
        self.trunk = nn.Sequential(nn.Flatten(), *_linear_relu_stack(dims))
        self.mean = nn.Linear(dims[-1], latent_dim)
        self.log_var = nn.Linear(dims[-1], latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior mean: the code the framework's scores and exports use."""
        return self.mean(self.trunk(x))

    def distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, log_var)`` of ``q(z | x)``."""
        hidden = self.trunk(x)
        return self.mean(hidden), self.log_var(hidden)


class VaeAutoencoder(nn.Module):
    """A :class:`VaeEncoder` and hw7's :class:`~anomaly_ae.models.mlp.Decoder`.

    Args:
        input_shape, latent_dim: the images' ``(C, H, W)`` and the code's size (the model's).
        hidden_dims: the encoder's hidden layer sizes (hw7's MLP sizes); the decoder
            mirrors them.
    """

    def __init__(
        self, input_shape: Sequence[int], latent_dim: int, hidden_dims: Sequence[int] = (256, 128)
    ) -> None:
        super().__init__()
        hidden_dims = positive_layer_sizes(hidden_dims)
        self.encoder = VaeEncoder(input_shape, hidden_dims, latent_dim)
        self.decoder = Decoder(input_shape, hidden_dims, latent_dim)


def kl_to_standard_normal(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """``KL(N(mean, exp(log_var)) || N(0, I))`` of each row, in closed form."""
    return 0.5 * (mean.square() + log_var.exp() - 1 - log_var).sum(1)


def squared_error(images: torch.Tensor, reconstructions: torch.Tensor) -> torch.Tensor:
    return (images - reconstructions).square().flatten(1).sum(1)


class VaeModule(AutoencoderModule):
    """The LightningModule of ``model=vae``: trained on the negative ELBO (its batch mean is
    ``train/loss_*`` and, at the posterior mean, ``val/loss``); everything else (scores,
    calibration, testing, checkpoints, detect, export) is :class:`AutoencoderModule`'s.

    ``beta`` weighs the KL term (1: the ELBO; Higgins et al.'s beta-VAE otherwise).
    """

    default_net = VAE_NET

    def __init__(self, *, beta: float = 1.0, **settings: Any) -> None:
        """``settings``: :class:`AutoencoderModule`'s, with its defaults (``net`` defaults to
        :class:`VaeAutoencoder`)."""
        beta = float(beta)
        if not beta >= 0:
            raise ConfigError(f"model.beta={beta} must be a non-negative weight of the KL term")
        super().__init__(**settings)
        self.hparams["beta"] = beta
        if not callable(getattr(self.encoder, "distribution", None)):
            raise ConfigError(
                f"model=vae needs an encoder with distribution(x) -> (mean, log_var); "
                f"{self.hparams.net['_target_']} has none (use {VAE_NET})"
            )

    def training_loss(self, images: torch.Tensor) -> torch.Tensor:
        mean, log_var = self.encoder.distribution(images)
        z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
        reconstruction = squared_error(images, self.decoder(z))
        return (reconstruction + self.hparams.beta * kl_to_standard_normal(mean, log_var)).mean()

    def validation_loss(
        self, images: torch.Tensor, codes: torch.Tensor, reconstructions: torch.Tensor
    ) -> torch.Tensor:
        """The negative ELBO at the posterior mean (no sampling: the same value each time)."""
        _, log_var = self.encoder.distribution(images)
        kl = kl_to_standard_normal(codes, log_var)
        return (squared_error(images, reconstructions) + self.hparams.beta * kl).mean()
