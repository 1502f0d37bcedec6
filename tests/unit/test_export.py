"""anomaly_ae.export's check: flags that differ only at the threshold are float rounding,
anywhere else (or NaN scores) they fail it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from anomaly_ae.export import check_export, export_detector
from anomaly_ae.models import AutoencoderModule


def test_export_check_tolerates_flipped_flags_only_at_the_threshold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flag that differs for a score within the tolerance of the threshold is float
    rounding, not a broken export; anywhere else it fails the check. (Untrained weights: the
    check compares the exported file with the model, whatever the model learned.)"""
    from anomaly_ae import export as export_module

    model = AutoencoderModule().eval()
    model.threshold.calibration = {"rule": "manual"}
    images = export_module.check_images((1, 28, 28), 16, seed=0)
    with torch.no_grad():
        expected = model.score(images)
    model.threshold.value.fill_(float(expected[0]))  # image 0 sits exactly on the threshold
    path = export_detector(model, "torchscript", tmp_path / "detector.pt")
    real = export_module.run_exported

    def flipped(indices):
        def run(path, fmt, images):
            scores, flags = real(path, fmt, images)
            flags[indices] = ~flags[indices]
            return scores, flags

        return run

    monkeypatch.setattr(export_module, "run_exported", flipped([0]))
    check = check_export(model, path, "torchscript", images)
    assert check["flags_differ"] == 1 and check["flags_differ_beyond_tolerance"] == 0
    export_module.require_agreement(check, path)

    def nan_scores(path, fmt, images):
        scores, flags = real(path, fmt, images)
        return np.full_like(scores, np.nan), flags

    monkeypatch.setattr(export_module, "run_exported", nan_scores)
    assert check_export(model, path, "torchscript", images)["scores_beyond_tolerance"] == 16

    far = int(torch.argmax((expected - expected[0]).abs()))
    monkeypatch.setattr(export_module, "run_exported", flipped([0, far]))
    check = check_export(model, path, "torchscript", images)
    assert check["flags_differ"] == 2 and check["flags_differ_beyond_tolerance"] == 1
    with pytest.raises(export_module.ExportMismatchError, match="1 flags differ"):
        export_module.require_agreement(check, path)
