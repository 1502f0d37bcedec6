"""``model=dcae``: the LeNet-type convolutional autoencoder of Ruff et al. 2018 ("Deep
One-Class Classification", ICML), their DCAE baseline on MNIST.

Layer for layer the ``MNIST_LeNet_Autoencoder`` of lukasruff/Deep-SVDD-PyTorch
(``src/networks/mnist_LeNet.py``), with ``rep_dim`` as ``latent_dim``: bias-free 5x5
convolutions, BatchNorm without affine parameters (eps 1e-4), leaky ReLU (slope 0.01), 2x2 max
pooling down and nearest-neighbour interpolation up, a sigmoid output. The layers keep their
names (``encoder.conv1``, ``decoder.deconv1``, ...), so their weights map one to one.

The decoder's sizes are fixed: the code becomes ``latent_dim / 16`` maps of 4x4, doubled to
8x8 (``deconv1`` keeps 8), to 16x16 (``deconv2``, padding 3, takes it to 14), to 28x28
(``deconv3`` keeps 28). So the network takes 1x28x28 images only; Ruff's CIFAR-10 network is
another one.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from anomaly_ae.errors import ConfigError

# what the decoder's fixed sizes produce; the code is reshaped to (latent_dim / 16, 4, 4)
LENET_INPUT_SHAPE = (1, 28, 28)
CODE_SIDE = 4


def _batch_norm(channels: int) -> nn.BatchNorm2d:
    """Ruff's BatchNorm, eps 1e-4 and no learnt scale and shift: Deep SVDD's networks have no
    bias terms, through which its code could collapse to a constant."""
    return nn.BatchNorm2d(channels, eps=1e-04, affine=False)


class LeNetEncoder(nn.Module):
    """Two conv(5x5) -> BatchNorm -> leaky ReLU -> 2x2 max pool stages (28 -> 14 -> 7), then a
    bias-free linear map of the 4x7x7 features to the code."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2, 2)
        self.conv1 = nn.Conv2d(1, 8, 5, bias=False, padding=2)
        self.bn1 = _batch_norm(8)
        self.conv2 = nn.Conv2d(8, 4, 5, bias=False, padding=2)
        self.bn2 = _batch_norm(4)
        self.fc1 = nn.Linear(4 * 7 * 7, latent_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.leaky_relu(self.bn1(self.conv1(x))))
        x = self.pool(F.leaky_relu(self.bn2(self.conv2(x))))
        return self.fc1(x.flatten(1))


class LeNetDecoder(nn.Module):
    """The code as ``latent_dim / 16`` maps of 4x4, then three nearest x2 upsamplings, each
    followed by a bias-free 5x5 transposed convolution (4 -> 8 -> 8 -> 16 -> 14 -> 28 -> 28),
    and a sigmoid."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.code_channels = latent_dim // CODE_SIDE**2
        self.deconv1 = nn.ConvTranspose2d(self.code_channels, 4, 5, bias=False, padding=2)
        self.bn3 = _batch_norm(4)
        self.deconv2 = nn.ConvTranspose2d(4, 8, 5, bias=False, padding=3)
        self.bn4 = _batch_norm(8)
        self.deconv3 = nn.ConvTranspose2d(8, 1, 5, bias=False, padding=2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z.unflatten(1, (self.code_channels, CODE_SIDE, CODE_SIDE))
        x = F.interpolate(F.leaky_relu(x), scale_factor=2)
        x = self.deconv1(x)
        x = F.interpolate(F.leaky_relu(self.bn3(x)), scale_factor=2)
        x = self.deconv2(x)
        x = F.interpolate(F.leaky_relu(self.bn4(x)), scale_factor=2)
        return torch.sigmoid(self.deconv3(x))


class LeNetAutoencoder(nn.Module):
    """``model=dcae``: a :class:`LeNetEncoder` and :class:`LeNetDecoder` (the contract of
    :class:`anomaly_ae.models.mlp.MlpAutoencoder`), for 1x28x28 images and a code of a
    multiple of 16 (Ruff's: 32)."""

    def __init__(self, input_shape: Sequence[int], latent_dim: int) -> None:
        super().__init__()
        shape = tuple(int(v) for v in input_shape)
        if shape != LENET_INPUT_SHAPE:
            raise ConfigError(
                f"model=dcae (LeNetAutoencoder) takes 1x28x28 images, not "
                f"{'x'.join(map(str, shape))}: its decoder grows 4x4 maps to exactly 28x28 "
                "(4 -> 8 -> 16 -> 14 -> 28); use model=conv for other shapes"
            )
        if latent_dim % CODE_SIDE**2:
            raise ConfigError(
                f"model.latent_dim={latent_dim} must be a multiple of 16 for model=dcae: the "
                "decoder reshapes the code to (latent_dim / 16) maps of 4x4"
            )
        self.encoder = LeNetEncoder(latent_dim)
        self.decoder = LeNetDecoder(latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))
