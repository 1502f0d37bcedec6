"""anomaly_ae.scoring: the reconstruction error (hw7's), the Mahalanobis distance of the latent
code and their combination, against NumPy; unknown scores are refused."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch

from anomaly_ae.errors import ConfigError
from anomaly_ae.models import AutoencoderModule
from anomaly_ae.scoring import (
    CombinedScore,
    MahalanobisScore,
    codes_and_errors,
    reconstruction_error,
)


def test_score_is_per_image_sum_of_squared_error() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((4, 1, 28, 28), dtype=np.float32)
    r = rng.random((4, 1, 28, 28), dtype=np.float32)
    expected = ((x - r) ** 2).sum(axis=(1, 2, 3))
    got = reconstruction_error(torch.from_numpy(x), torch.from_numpy(r)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def _numpy_mahalanobis(train: np.ndarray, codes: np.ndarray) -> np.ndarray:
    mean = train.mean(0)
    precision = np.linalg.pinv(np.cov(train.T, bias=True), hermitian=True)
    d = codes - mean
    return np.einsum("ij,jk,ik->i", d, precision, d)


def test_mahalanobis_score_equals_a_numpy_computation() -> None:
    """Mean and population covariance of the training codes, its pseudo-inverse (a ReLU code
    may hold a unit that never fires), the squared distance of new codes."""
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(6, 6))
    train = np.maximum(rng.normal(size=(500, 6)) @ mixing, 0)
    train[:, 4] = 0.0  # a dead unit: singular covariance
    codes = np.maximum(rng.normal(size=(50, 6)) @ mixing, 0)
    score = MahalanobisScore(latent_dim=6)
    assert not score.is_fitted
    score.fit_codes(torch.from_numpy(train).float())
    got = score(torch.empty(0), torch.from_numpy(codes).float(), torch.empty(0)).double().numpy()
    np.testing.assert_allclose(got, _numpy_mahalanobis(train, codes), rtol=2e-4, atol=1e-4)
    assert score.is_fitted
    # the training codes' mean distance is the rank of their covariance (5 live units)
    mean_train = score(torch.empty(0), torch.from_numpy(train).float(), torch.empty(0)).mean()
    assert mean_train.item() == pytest.approx(5.0, rel=1e-4)


def test_combined_score_standardises_each_part_on_the_validation_images() -> None:
    torch.manual_seed(0)
    model = AutoencoderModule(latent_dim=4, score={"_target_": "anomaly_ae.scoring.CombinedScore"})
    assert isinstance(model.scorer, CombinedScore) and not model.scorer.is_fitted
    train, val = torch.rand(300, 1, 28, 28), torch.rand(120, 1, 28, 28)
    model.scorer.fit(partial(codes_and_errors, model), train, val)
    with torch.no_grad():
        train_codes = model.encoder(train).double().numpy()
        val_codes = model.encoder(val)
        errors = reconstruction_error(val, model.decoder(val_codes)).double().numpy()
    distances = _numpy_mahalanobis(train_codes, val_codes.double().numpy())
    expected = (errors - errors.mean()) / errors.std() + (
        distances - distances.mean()
    ) / distances.std()
    got = model.score_images(val).double().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3)
    assert abs(got.mean()) < 1e-4, "standardised on these very images"


@pytest.mark.parametrize(
    "score", [{"_target_": "anomaly_ae.scoring.Nope"}, {"_target_": "os.getcwd"}, {"k": 3}]
)
def test_unknown_scores_and_settings_are_refused(score: dict) -> None:
    with pytest.raises(ConfigError, match=r"model\.score"):
        AutoencoderModule(score=score)


@pytest.mark.filterwarnings("ignore:You are trying to `self.log")
def test_a_tests_evaluation_says_which_score_it_holds() -> None:
    """The report's and TensorBoard's score axis name the model's score."""
    from anomaly_ae.reporting.report_figure import score_figure

    model = AutoencoderModule(score={"_target_": "anomaly_ae.scoring.MahalanobisScore"})
    model.test_scores.update(
        torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0, 1, 1]), torch.arange(3)
    )
    model.threshold.value.fill_(1.5)
    model.threshold.calibration = {"rule": "manual"}
    model.on_test_epoch_end()
    assert model.evaluation.score == model.scorer.description
    label = score_figure(model.evaluation, "MNIST", "KMNIST").axes[0].get_xlabel()
    assert label.startswith(f"anomaly score ({model.scorer.description};")
