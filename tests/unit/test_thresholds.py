"""anomaly_ae.thresholds: the threshold rules against NumPy, and the model's DecisionThreshold
inside a real Trainer on tiny data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from anomaly_ae.data import AnomalyDataModule
from anomaly_ae.models import AutoencoderModule
from anomaly_ae.thresholds import GaussianThreshold, QuantileThreshold
from tests.helpers import TINY_SPLIT


@pytest.mark.parametrize("k", [0.5, 2.0, 3.0])
def test_gaussian_rule_is_mean_plus_k_population_std(k: float) -> None:
    scores = np.random.default_rng(0).gamma(2.0, 10.0, 1000).astype(np.float32)
    fit = GaussianThreshold(k).fit(torch.from_numpy(scores))
    expected = np.mean(scores, dtype=np.float64) + k * np.std(scores, dtype=np.float64)
    assert fit.value == pytest.approx(expected, rel=1e-12)
    assert fit.details["n"] == 1000 and fit.details["k"] == k


def test_gaussian_rule_refuses_no_scores() -> None:
    with pytest.raises(ValueError, match="zero validation scores"):
        GaussianThreshold().fit(torch.empty(0))


class ThresholdSpy(pl.Callback):
    """Records the module's threshold after the sanity check and after each validation."""

    def __init__(self) -> None:
        self.after_sanity: float | None = None
        self.per_epoch: list[float] = []

    def on_sanity_check_end(self, trainer, pl_module) -> None:
        self.after_sanity = float(pl_module.threshold.value)

    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self.per_epoch.append(float(pl_module.threshold.value))


def test_callback_skips_sanity_check_and_fits_all_validation_scores(tiny_root: Path) -> None:
    pl.seed_everything(0)
    dm = AnomalyDataModule(
        tiny_root, download=False, batch_size=20, eval_batch_size=16, **TINY_SPLIT
    )
    net = {"_target_": "anomaly_ae.models.MlpAutoencoder", "hidden_dims": [32]}
    model = AutoencoderModule(net=net, latent_dim=4)
    spy = ThresholdSpy()
    trainer = pl.Trainer(
        max_epochs=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=2,
        callbacks=[spy],
    )
    trainer.fit(model, datamodule=dm)

    assert spy.after_sanity is not None and np.isnan(spy.after_sanity)
    assert len(spy.per_epoch) == 2 and spy.per_epoch[0] != spy.per_epoch[1]
    with torch.no_grad():
        scores = model.score(dm.val_set.images).numpy().astype(np.float64)
    expected = scores.mean() + 3 * scores.std()
    assert float(model.threshold.value) == pytest.approx(expected, rel=1e-6)
    assert model.threshold.calibration["n"] == TINY_SPLIT["val_size"]
    # the module owns the scores the callback fitted on: every validation image, in order
    scored = model.scored("validation")
    np.testing.assert_allclose(scored.scores.numpy(), scores, rtol=1e-5)
    assert scored.targets.eq(0).all() and model.scored("test") is None
    # the in-sample type I error: the share of these scores above the threshold (none at
    # mean + 3 std of 40 scores; 4 of 40 at their 0.9 quantile, refitted on the same weights)
    assert model.threshold.calibration["validation_flagged"] == 0.0
    model.threshold.rule = QuantileThreshold(0.1)
    refit = pl.Trainer(
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    refit.validate(model, datamodule=dm, verbose=False)
    assert int((model.scored("validation").scores > model.threshold.value).sum()) == 4
    assert model.threshold.calibration["validation_flagged"] == 4 / len(scores)
    assert trainer.callback_metrics["val/threshold"].item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1, 0.3])
def test_quantile_rule_keeps_the_validation_type_one_error_below_alpha(alpha: float) -> None:
    from anomaly_ae.thresholds import QuantileThreshold

    for seed in range(5):
        rng = np.random.default_rng(seed)
        scores = torch.from_numpy(rng.integers(0, 50, 997).astype(np.float32))  # with ties
        fit = QuantileThreshold(alpha).fit(scores)
        assert float((scores > fit.value).float().mean()) <= alpha
        # and it is the smallest such value among the scores: one rank lower breaks the bound
        lower = scores[scores < fit.value]
        if len(lower):
            assert float((scores > lower.max()).float().mean()) > alpha


def test_conformal_threshold_flags_exactly_the_p_values_at_most_alpha() -> None:
    from anomaly_ae.thresholds import ConformalThreshold

    rng = np.random.default_rng(1)
    for n in (9, 99, 250):
        calibration = torch.from_numpy(rng.integers(0, 30, n).astype(np.float32))
        test = torch.from_numpy(rng.integers(0, 40, 500).astype(np.float32))
        for alpha in (0.02, 0.05, 0.1, 0.2):
            rule = ConformalThreshold(alpha)
            fit = rule.fit(calibration)
            p = rule.p_values(calibration, test)
            brute = torch.tensor([(1 + (calibration >= s).sum().item()) / (n + 1) for s in test])
            torch.testing.assert_close(p, brute.double())
            assert torch.equal(test > fit.value, p <= alpha)


def test_conformal_threshold_is_infinite_when_alpha_is_below_one_over_n_plus_one() -> None:
    from anomaly_ae.thresholds import ConformalThreshold

    assert ConformalThreshold(0.05).fit(torch.arange(10.0)).value == float("inf")


def test_conformal_guarantee_holds_in_finite_samples() -> None:
    """P(a new normal score is flagged) <= alpha for exchangeable scores, whatever n."""
    from anomaly_ae.thresholds import ConformalThreshold

    rng = np.random.default_rng(2)
    n, alpha, trials = 49, 0.1, 4000
    calibration = rng.lognormal(size=(trials, n))
    new = rng.lognormal(size=trials)
    flagged = [
        new[t] > ConformalThreshold(alpha).fit(torch.from_numpy(calibration[t])).value
        for t in range(trials)
    ]
    exact = math.floor(alpha * (n + 1)) / (n + 1)  # the level the test attains: 5 / 50
    rate = float(np.mean(flagged))
    assert rate <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / trials)
    assert rate == pytest.approx(exact, abs=3 * math.sqrt(exact * (1 - exact) / trials))


@pytest.mark.parametrize("k", [-1.0, 0.0, math.nan, math.inf])
def test_k_must_be_a_positive_number(k: float) -> None:
    from anomaly_ae.errors import ConfigError

    with pytest.raises(ConfigError, match=r"threshold\.k=.* must be a positive number"):
        GaussianThreshold(k)


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.5, -0.1, math.nan])
def test_alpha_outside_zero_one_is_a_config_error(alpha: float) -> None:
    from anomaly_ae.errors import ConfigError
    from anomaly_ae.thresholds import ConformalThreshold, QuantileThreshold

    for rule in (QuantileThreshold, ConformalThreshold):
        with pytest.raises(ConfigError, match=r"threshold\.alpha"):
            rule(alpha)


def test_a_diverged_model_gets_a_nan_threshold_that_flags_no_validation_image(
    tiny_root: Path,
) -> None:
    """NaN scores (diverged weights) fit a NaN threshold; the callback records that it flags
    none of them instead of stopping the run, and val/loss shows the divergence."""
    dm = AnomalyDataModule(tiny_root, download=False, eval_batch_size=16, **TINY_SPLIT)
    net = {"_target_": "anomaly_ae.models.MlpAutoencoder", "hidden_dims": [32]}
    model = AutoencoderModule(net=net, latent_dim=4)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(math.nan)
    trainer = pl.Trainer(
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.validate(model, datamodule=dm, verbose=False)
    assert math.isnan(float(model.threshold.value)) and not model.threshold.is_fitted
    assert model.threshold.calibration["validation_flagged"] == 0.0
    assert math.isnan(trainer.callback_metrics["val/loss"].item())
