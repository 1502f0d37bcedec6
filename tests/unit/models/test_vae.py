"""anomaly_ae.models.vae: the KL term, the negative ELBO as validation loss, and the encoder a
VAE needs."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from anomaly_ae.errors import ConfigError
from anomaly_ae.models.vae import VaeModule, kl_to_standard_normal


def test_kl_term_is_the_closed_form_of_torch_distributions() -> None:
    torch.manual_seed(0)
    mean, log_var = torch.randn(5, 4), torch.randn(5, 4)
    posterior = Normal(mean, (0.5 * log_var).exp())
    expected = kl_divergence(posterior, Normal(0.0, 1.0)).sum(1)
    torch.testing.assert_close(kl_to_standard_normal(mean, log_var), expected)


def test_validation_loss_is_the_negative_elbo_at_the_posterior_mean() -> None:
    torch.manual_seed(0)
    model = VaeModule(latent_dim=3, beta=0.5).eval()
    images = torch.rand(6, 1, 28, 28)
    with torch.no_grad():
        mean, log_var = model.encoder.distribution(images)
        reconstructions = model.decoder(mean)
        loss = model.validation_loss(images, model.encoder(images), reconstructions)
        squared = (images - reconstructions).square().flatten(1).sum(1)
        kl = kl_divergence(Normal(mean, (0.5 * log_var).exp()), Normal(0.0, 1.0)).sum(1)
    assert loss.item() == pytest.approx((squared + 0.5 * kl).mean().item(), rel=1e-5)
    # the score (score=reconstruction) is the ELBO's reconstruction term at the mean
    torch.testing.assert_close(model.score_images(images), squared)


def test_a_vae_needs_an_encoder_with_a_distribution() -> None:
    with pytest.raises(ConfigError, match="model=vae needs an encoder with distribution"):
        VaeModule(net={"_target_": "anomaly_ae.models.MlpAutoencoder"})
    with pytest.raises(ConfigError, match=r"model\.beta"):
        VaeModule(beta=-1)
