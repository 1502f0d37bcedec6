"""The seed's architecture, the anomaly score, and the module's score/predict API."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from anomaly_ae.errors import ConfigError
from anomaly_ae.models import AutoencoderModule, Decoder, Encoder
from anomaly_ae.scoring import reconstruction_error


def layers_of(module: nn.Module) -> list[str]:
    names = []
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            names.append(f"Linear({layer.in_features},{layer.out_features})")
        elif isinstance(layer, nn.ReLU | nn.Sigmoid):
            names.append(type(layer).__name__)
    return names


def test_default_encoder_and_decoder_are_the_seeds() -> None:
    assert layers_of(Encoder()) == [
        "Linear(784,256)",
        "ReLU",
        "Linear(256,128)",
        "ReLU",
        "Linear(128,32)",
        "ReLU",
    ]
    assert layers_of(Decoder()) == [
        "Linear(32,128)",
        "ReLU",
        "Linear(128,256)",
        "ReLU",
        "Linear(256,784)",
        "Sigmoid",
    ]
    model = AutoencoderModule()
    seed_params = (784 * 256 + 256) + (256 * 128 + 128) + (128 * 32 + 32)
    seed_params += (32 * 128 + 128) + (128 * 256 + 256) + (256 * 784 + 784)
    assert sum(p.numel() for p in model.parameters()) == seed_params


def test_sizes_are_configurable_and_shapes_round_trip() -> None:
    model = AutoencoderModule(hidden_dims=[64], latent_dim=8)
    assert layers_of(model.encoder) == ["Linear(784,64)", "ReLU", "Linear(64,8)", "ReLU"]
    x = torch.rand(5, 1, 28, 28)
    z = model.encoder(x)
    assert z.shape == (5, 8) and bool((z >= 0).all())
    out = model(x)
    assert out.shape == x.shape
    assert bool(((out > 0) & (out < 1)).all())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"latent_dim": 0},
        {"hidden_dims": [128, -1]},
        {"architecture": "transformer"},
        {"lr": -1.0},
        {"lr": 0.0},
        {"weight_decay": -0.1},
    ],
)
def test_bad_model_settings_are_config_errors(kwargs: dict) -> None:
    with pytest.raises(ConfigError, match=r"model\."):
        AutoencoderModule(**kwargs)


def test_score_is_per_image_sum_of_squared_error() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((4, 1, 28, 28), dtype=np.float32)
    r = rng.random((4, 1, 28, 28), dtype=np.float32)
    expected = ((x - r) ** 2).sum(axis=(1, 2, 3))
    got = reconstruction_error(torch.from_numpy(x), torch.from_numpy(r)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_flagging_needs_a_fitted_threshold_and_uses_it() -> None:
    model = AutoencoderModule().eval()
    with torch.no_grad():
        scores = model.score(torch.rand(6, 1, 28, 28))
    assert not model.is_calibrated
    with pytest.raises(ConfigError, match="no fitted threshold"):
        model.flag(scores)
    model.set_threshold(float(scores.median()), {"rule": "manual"})
    flags = model.flag(scores)
    assert math.isclose(model.fitted_threshold(), float(scores.median()), rel_tol=1e-12)
    assert torch.equal(flags, scores > scores.median())
