"""model=dcae's network (anomaly_ae.models.lenet): Ruff et al. 2018's LeNet autoencoder, the
shapes and codes it refuses, and the config that composes it."""

from __future__ import annotations

import hydra
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from anomaly_ae.errors import ConfigError
from anomaly_ae.models import AutoencoderModule, LeNetAutoencoder
from anomaly_ae.models.input_transform import GcnMinMax
from anomaly_ae.models.nets import LENET_NET
from tests.helpers import compose_config

DCAE = {"_target_": LENET_NET}


def ruff_forward(net: LeNetAutoencoder, x: torch.Tensor) -> torch.Tensor:
    """MNIST_LeNet_Autoencoder.forward of lukasruff/Deep-SVDD-PyTorch, line for line, on the
    same layers."""
    e, d = net.encoder, net.decoder
    x = e.conv1(x)
    x = e.pool(F.leaky_relu(e.bn1(x)))
    x = e.conv2(x)
    x = e.pool(F.leaky_relu(e.bn2(x)))
    x = x.view(x.size(0), -1)
    x = e.fc1(x)
    x = x.view(x.size(0), int(32 / 16), 4, 4)
    x = F.interpolate(F.leaky_relu(x), scale_factor=2)
    x = d.deconv1(x)
    x = F.interpolate(F.leaky_relu(d.bn3(x)), scale_factor=2)
    x = d.deconv2(x)
    x = F.interpolate(F.leaky_relu(d.bn4(x)), scale_factor=2)
    x = d.deconv3(x)
    return torch.sigmoid(x)


def test_the_network_is_ruffs_mnist_lenet_autoencoder() -> None:
    net = LeNetAutoencoder((1, 28, 28), latent_dim=32)
    shapes = {name: tuple(p.shape) for name, p in net.named_parameters()}
    assert shapes == {
        "encoder.conv1.weight": (8, 1, 5, 5),
        "encoder.conv2.weight": (4, 8, 5, 5),
        "encoder.fc1.weight": (32, 196),
        "decoder.deconv1.weight": (2, 4, 5, 5),
        "decoder.deconv2.weight": (4, 8, 5, 5),
        "decoder.deconv3.weight": (8, 1, 5, 5),
    }, "bias-free layers, Ruff's names"
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert [m.num_features for m in norms] == [8, 4, 4, 8]
    assert all(not m.affine and m.eps == 1e-4 for m in norms)
    assert all(getattr(m, "bias", None) is None for m in net.modules() if hasattr(m, "weight"))
    torch.manual_seed(0)
    x = torch.rand(5, 1, 28, 28)
    for training in (True, False):
        net.train(training)
        code = net.encoder(x)
        assert code.shape == (5, 32)
        out = net.decoder(code)
        assert out.shape == (5, 1, 28, 28) and bool(((out > 0) & (out < 1)).all())
        torch.testing.assert_close(out, ruff_forward(net, x), rtol=0, atol=0)
    wide = LeNetAutoencoder((1, 28, 28), latent_dim=64)
    assert wide.decoder(wide.encoder(x)).shape == (5, 1, 28, 28)


@pytest.mark.parametrize(
    ("shape", "latent_dim", "message"),
    [
        ((1, 32, 32), 32, "takes 1x28x28 images, not 1x32x32"),
        ((3, 28, 28), 32, "takes 1x28x28 images, not 3x28x28"),
        ((1, 28, 28), 24, r"model\.latent_dim=24 must be a multiple of 16"),
    ],
)
def test_other_shapes_and_codes_are_refused(shape: tuple, latent_dim: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        AutoencoderModule(net=DCAE, input_shape=shape, latent_dim=latent_dim)
    assert "\n" not in str(err.value)


def test_model_dcae_composes_with_ruffs_settings() -> None:
    model = compose_config("train", ["model=dcae"]).model
    assert model.net == {"_target_": LENET_NET}
    # their Theano code's 1e-3 on a per-image sum of squared errors, at our per-pixel mean's scale
    assert (model.latent_dim, model.lr) == (32, 1e-4)
    assert model.weight_decay == pytest.approx(1e-3 / 784, rel=1e-4)
    assert (model.scheduler, list(model.lr_milestones), model.lr_gamma) == ("multistep", [250], 0.1)
    assert model.preprocess == "gcn_minmax"
    module = hydra.utils.instantiate(model)
    assert isinstance(module.input_transform, GcnMinMax)
