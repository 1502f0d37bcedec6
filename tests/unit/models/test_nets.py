"""anomaly_ae.models.nets: a network config records every setting, holds plain data only, and
the network must train what it holds."""

from __future__ import annotations

import pytest
from torch import nn

from anomaly_ae.errors import ConfigError
from anomaly_ae.models import AutoencoderModule


def test_the_shipped_networks_record_every_setting() -> None:
    """A checkpoint rebuilds its network alone: the module completes the net config with the
    class's defaults, so a later change of a default does not change an old model."""
    model = AutoencoderModule(net={"_target_": "anomaly_ae.models.ConvAutoencoder"})
    assert model.hparams.net == {
        "_target_": "anomaly_ae.models.conv.ConvAutoencoder",  # the class's own module
        "channels": [32, 64],
        "upsampling": "transpose",
    }
    hw7 = AutoencoderModule()
    assert hw7.hparams.net == {
        "_target_": "anomaly_ae.models.mlp.MlpAutoencoder",
        "hidden_dims": [256, 128],
        "latent_relu": True,
    }


@pytest.mark.parametrize(
    "net",
    [
        {"hidden_dims": {"_target_": "pathlib.Path.touch", "_args_": ["/tmp/x"]}},
        {"_args_": [1]},
        {"_partial_": True},
        {"hidden_dims": [64], "extra": object()},
    ],
)
def test_network_settings_are_plain_data(net: dict) -> None:
    with pytest.raises(ConfigError, match=r"model\.net"):
        AutoencoderModule(net={"_target_": "anomaly_ae.models.MlpAutoencoder", **net})


def test_a_network_must_train_what_it_holds() -> None:
    """The model keeps the encoder and decoder; a network with parameters elsewhere would
    train and save only part of itself, so it is refused."""
    with pytest.raises(ConfigError, match="parameters outside its encoder and decoder"):
        AutoencoderModule(net={"_target_": f"{__name__}.NetWithAHead"})


class NetWithAHead(nn.Module):
    def __init__(self, input_shape, latent_dim):
        super().__init__()
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, latent_dim))
        self.decoder = nn.Sequential(nn.Linear(latent_dim, 784), nn.Unflatten(1, (1, 28, 28)))
        self.head = nn.Linear(latent_dim, 1)
