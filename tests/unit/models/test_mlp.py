"""anomaly_ae.models.mlp: hw7's architecture, its sizes, and the linear-code option."""

from __future__ import annotations

import torch
from torch import nn

from anomaly_ae.models import AutoencoderModule, MlpAutoencoder


def layers_of(module: nn.Module) -> list[str]:
    names = []
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            names.append(f"Linear({layer.in_features},{layer.out_features})")
        elif isinstance(layer, nn.ReLU | nn.Sigmoid):
            names.append(type(layer).__name__)
    return names


def test_default_encoder_and_decoder_are_hw7s() -> None:
    hw7 = MlpAutoencoder((1, 28, 28), latent_dim=32)  # the class's defaults: hw7's
    assert layers_of(hw7.encoder) == [
        "Linear(784,256)",
        "ReLU",
        "Linear(256,128)",
        "ReLU",
        "Linear(128,32)",
        "ReLU",
    ]
    assert layers_of(hw7.decoder) == [
        "Linear(32,128)",
        "ReLU",
        "Linear(128,256)",
        "ReLU",
        "Linear(256,784)",
        "Sigmoid",
    ]
    model = AutoencoderModule()
    hw7_params = (784 * 256 + 256) + (256 * 128 + 128) + (128 * 32 + 32)
    hw7_params += (32 * 128 + 128) + (128 * 256 + 256) + (256 * 784 + 784)
    assert sum(p.numel() for p in model.parameters()) == hw7_params


def test_sizes_are_configurable_and_shapes_round_trip() -> None:
    model = AutoencoderModule(
        net={"_target_": "anomaly_ae.models.MlpAutoencoder", "hidden_dims": [64]}, latent_dim=8
    )
    assert layers_of(model.encoder) == ["Linear(784,64)", "ReLU", "Linear(64,8)", "ReLU"]
    x = torch.rand(5, 1, 28, 28)
    z = model.encoder(x)
    assert z.shape == (5, 8) and bool((z >= 0).all())
    out = model(x)
    assert out.shape == x.shape
    assert bool(((out > 0) & (out < 1)).all())


def test_latent_relu_false_leaves_the_code_linear_and_keeps_the_weights_names() -> None:
    net = {"_target_": "anomaly_ae.models.MlpAutoencoder", "hidden_dims": [64]}
    with_relu = AutoencoderModule(net=net, latent_dim=8)
    linear = AutoencoderModule(net={**net, "latent_relu": False}, latent_dim=8)
    assert layers_of(linear.encoder) == ["Linear(784,64)", "ReLU", "Linear(64,8)"]
    assert linear.hparams.net["latent_relu"] is False
    assert with_relu.hparams.net["latent_relu"] is True  # hw7's, recorded in checkpoints
    # the same parameters under the same names: only the code's activation differs
    linear.load_state_dict(with_relu.state_dict())
    x = torch.rand(64, 1, 28, 28)
    with torch.no_grad():
        pre_activation = linear.encoder(x)
        assert bool((pre_activation < 0).any())
        torch.testing.assert_close(with_relu.encoder(x), pre_activation.clamp(min=0))
