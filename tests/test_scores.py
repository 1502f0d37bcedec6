"""The score= group: the reconstruction error (the seed's), the Mahalanobis distance of the
latent code and their combination, each fitted, calibrated, tested, evaluated, detected and
exported alike."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from anomaly_ae.checkpoint import load_autoencoder
from anomaly_ae.detector import Detector
from anomaly_ae.errors import ConfigError
from anomaly_ae.evaluate import evaluate
from anomaly_ae.export import check_export, export_detector
from anomaly_ae.models import AutoencoderModule
from anomaly_ae.reporting.results import format_summary
from anomaly_ae.scoring import CombinedScore, MahalanobisScore, reconstruction_error
from tests.helpers import compose_config, run_train, tiny_overrides


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
    model.scorer.fit(model.codes_and_errors, train, val)
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


@pytest.mark.parametrize("name", ["mahalanobis", "combined"])
def test_a_fitted_score_runs_end_to_end(name: str, tiny_root: Path, tmp_path: Path) -> None:
    """Trained with score=<name>: the score is fitted on the final weights before the last
    validation, the threshold on its validation scores; the checkpoint carries the fit, so
    evaluate, the Detector (detect) and an exported file give the same scores."""
    out = tmp_path / "train"
    results = run_train(tiny_root, out, f"score={name}")
    assert results["score"]["_target_"].endswith(("MahalanobisScore", "CombinedScore"))
    assert results["metrics"]["auroc"] is not None
    ckpt = out / "checkpoints" / "last.ckpt"
    model = load_autoencoder(ckpt)
    assert model.scorer.is_fitted
    # the threshold: mean + 3 std of the checkpoint's own validation scores
    from anomaly_ae.data import AnomalyDataModule
    from tests.helpers import TINY_SPLIT

    data = AnomalyDataModule(tiny_root, download=False, **TINY_SPLIT)
    data.setup("fit")
    val = model.score_images(data.val_set.images).double()
    assert results["threshold"] == pytest.approx(
        (val.mean() + 3 * val.std(correction=0)).item(), rel=1e-4
    )
    # evaluate with the checkpoint's fit, then with the score and threshold re-fitted on the
    # same weights and images: the same numbers
    for refit in ("false", "true"):
        overrides = tiny_overrides(
            tiny_root, tmp_path / f"eval_{refit}", f"ckpt_path={ckpt}", f"refit_threshold={refit}"
        )
        again = evaluate(compose_config("evaluate", overrides), overrides)
        assert again["threshold"] == pytest.approx(results["threshold"], rel=1e-5)
        for key, value in results["metrics"].items():
            assert again["metrics"][key] == pytest.approx(value, abs=1e-6), key
    detector = Detector.from_checkpoint(ckpt)
    images = data.val_set.images[:16]
    np.testing.assert_allclose(detector.score(images.numpy()), model.score_images(images).numpy())
    path = export_detector(model, "torchscript", tmp_path / "detector.pt")
    check = check_export(model, path, "torchscript", torch.rand(32, 1, 28, 28))
    assert check["scores_beyond_tolerance"] == 0 and check["flags_differ"] == 0
    saved = json.loads((out / "results.json").read_text())
    assert saved["config"]["model"]["score"]["_target_"] == results["score"]["_target_"]
    # the printed summary says which score its threshold is of (the seed's is not named)
    assert format_summary(saved).splitlines()[0] == f"score: {model.scorer.description}"


@pytest.mark.filterwarnings("ignore:You are trying to `self.log")
def test_a_tests_evaluation_says_which_score_it_holds() -> None:
    """The report's and TensorBoard's score axis name the model's score."""
    from anomaly_ae.reporting.report_figure import score_figure

    model = AutoencoderModule(score={"_target_": "anomaly_ae.scoring.MahalanobisScore"})
    model.test_scores.update(
        torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0, 1, 1]), torch.arange(3)
    )
    model.set_threshold(1.5, {"rule": "manual"})
    model.on_test_epoch_end()
    assert model.evaluation.score == model.scorer.description
    label = score_figure(model.evaluation, "MNIST", "KMNIST").axes[0].get_xlabel()
    assert label.startswith(f"anomaly score ({model.scorer.description};")
