"""model=vae: a variational autoencoder trained on the negative ELBO, scored, calibrated,
evaluated, detected and exported like the plain autoencoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from anomaly_ae.checkpoint import load_autoencoder
from anomaly_ae.detector import Detector
from anomaly_ae.errors import ConfigError
from anomaly_ae.evaluate import evaluate
from anomaly_ae.export import check_export, export_detector
from anomaly_ae.models.vae import VaeModule, kl_to_standard_normal
from tests.helpers import compose_config, run_train, tiny_overrides


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


@pytest.mark.parametrize("score", ["reconstruction", "mahalanobis"])
def test_model_vae_runs_end_to_end(score: str, tiny_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "train"
    results = run_train(tiny_root, out, "model=vae", "model.beta=0.5", f"score={score}")
    assert results["metrics"]["auroc"] is not None
    ckpt = out / "checkpoints" / "last.ckpt"
    model = load_autoencoder(ckpt)
    assert isinstance(model, VaeModule) and model.hparams.beta == 0.5
    overrides = tiny_overrides(tiny_root, tmp_path / "eval", f"ckpt_path={ckpt}")
    again = evaluate(compose_config("evaluate", overrides), overrides)
    assert again["threshold"] == pytest.approx(results["threshold"], rel=1e-6)
    for key, value in results["metrics"].items():
        assert again["metrics"][key] == pytest.approx(value, abs=1e-6), key
    images = torch.rand(8, 1, 28, 28)
    detector = Detector.from_checkpoint(ckpt)
    np.testing.assert_allclose(detector.score(images.numpy()), model.score_images(images).numpy())
    path = export_detector(model, "torchscript", tmp_path / "vae.pt")
    check = check_export(model, path, "torchscript", images)
    assert check["scores_beyond_tolerance"] == 0 and check["flags_differ"] == 0
    # resuming it without repeating model=vae keeps the VAE
    more = run_train(tiny_root, tmp_path / "more", f"ckpt_path={ckpt}", "trainer.max_epochs=3")
    assert more["config"]["model"]["_target_"] == "anomaly_ae.models.vae.VaeModule"
    assert more["config"]["model"]["beta"] == 0.5
