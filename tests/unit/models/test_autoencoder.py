"""anomaly_ae.models.autoencoder: the module's settings are checked, and flagging needs a fitted
threshold."""

from __future__ import annotations

import math

import pytest
import torch

from anomaly_ae.errors import ConfigError
from anomaly_ae.models import AutoencoderModule


@pytest.mark.parametrize(
    "kwargs",
    [
        {"latent_dim": 0},
        {"net": {"_target_": "anomaly_ae.models.MlpAutoencoder", "hidden_dims": [128, -1]}},
        {"net": {"_target_": "anomaly_ae.models.Transformer"}},
        {"net": {"_target_": "os.system"}},
        {"net": {"_target_": "torch.nn.Identity"}},
        {"net": {"_target_": "anomaly_ae.models.MlpAutoencoder", "depth": 3}},
        {"lr": -1.0},
        {"lr": 0.0},
        {"weight_decay": -0.1},
    ],
)
def test_bad_model_settings_are_config_errors(kwargs: dict) -> None:
    with pytest.raises(ConfigError, match=r"model\."):
        AutoencoderModule(**kwargs)


def test_flagging_needs_a_fitted_threshold_and_uses_it() -> None:
    model = AutoencoderModule().eval()
    with torch.no_grad():
        scores = model.score(torch.rand(6, 1, 28, 28))
    assert not model.threshold.is_fitted
    with pytest.raises(ConfigError, match="no fitted threshold"):
        model.threshold.flag(scores)
    model.threshold.value.fill_(float(scores.median()))
    model.threshold.calibration = {"rule": "manual"}
    flags = model.threshold.flag(scores)
    assert math.isclose(model.threshold.fitted(), float(scores.median()), rel_tol=1e-12)
    assert torch.equal(flags, scores > scores.median())
