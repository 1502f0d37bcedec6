"""score=mahalanobis and score=combined fitted, calibrated, tested, evaluated, detected and
exported alike, end to end on tiny data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from anomaly_ae.checkpoint import load_autoencoder
from anomaly_ae.detector import Detector
from anomaly_ae.evaluate import evaluate
from anomaly_ae.export import check_export, export_detector
from anomaly_ae.reporting.results import format_summary
from tests.helpers import compose_config, run_train, tiny_overrides


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
    # the printed summary says which score its threshold is of (hw7's is not named)
    assert format_summary(saved).splitlines()[0] == f"score: {model.scorer.description}"
