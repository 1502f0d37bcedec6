"""The convolutional autoencoder (model=conv): shapes and settings."""

from __future__ import annotations

import pytest
import torch

from anomaly_ae.errors import ConfigError
from anomaly_ae.models import AutoencoderModule

CONV = "anomaly_ae.models.conv.ConvAutoencoder"


@pytest.mark.parametrize("upsampling", ["transpose", "nearest"])
def test_conv_model_reconstructs_images_of_the_input_shape(upsampling: str) -> None:
    net = {"_target_": CONV, "channels": [8, 16], "upsampling": upsampling}
    model = AutoencoderModule(net=net, latent_dim=6)
    x = torch.rand(3, 1, 28, 28)
    assert model.encoder(x).shape == (3, 6)
    out = model(x)
    assert out.shape == x.shape and bool(((out > 0) & (out < 1)).all())
    kinds = {type(m).__name__ for m in model.decoder.modules()}
    assert ("ConvTranspose2d" in kinds) == (upsampling == "transpose")
    assert ("Upsample" in kinds) == (upsampling == "nearest")


@pytest.mark.parametrize(
    "bad", [{"channels": [8]}, {"upsampling": "bicubic"}, {"input_shape": [1, 30, 30]}]
)
def test_conv_model_settings_are_checked(bad: dict) -> None:
    shape = bad.pop("input_shape", [1, 28, 28])
    with pytest.raises(ConfigError, match="model"):
        AutoencoderModule(net={"_target_": CONV, **bad}, input_shape=shape)
