"""What a run shows: report.png and the TensorBoard images, histograms, curves and hparams."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.conftest import run_train


def load_events(run_dir: Path) -> EventAccumulator:
    guidance = {"images": 0, "histograms": 0, "scalars": 0, "tensors": 0}
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance=guidance)
    events.Reload()
    return events


def test_report_png_is_written(trained: tuple[Path, dict]) -> None:
    out, _ = trained
    with Image.open(out / "report.png") as image:
        assert image.format == "PNG"
        width, height = image.size
    assert width > 2 * height, "three panels side by side"


def test_tensorboard_has_every_view(trained: tuple[Path, dict]) -> None:
    out, results = trained
    events = load_events(out)
    tags = events.Tags()
    assert {
        "train/loss_step",
        "train/loss_epoch",
        "val/loss",
        "val/threshold",
        "test/type_I_error",
        "test/type_II_error",
        "test/auroc",
    } <= set(tags["scalars"])
    assert {"images/MNIST_validation", "images/KMNIST_test", "test/roc_curve"} <= set(
        tags["images"]
    )
    assert {"scores/validation_MNIST", "scores/test_MNIST", "scores/test_KMNIST"} <= set(
        tags["histograms"]
    )
    assert "test/pr_curve" in tags["tensors"]
    hparams = events.PluginTagToContent("hparams")
    assert "_hparams_/session_start_info" in hparams
    assert "hp/type_I_error" in tags["scalars"]

    # 2 epochs of 10 optimizer steps: thresholds after steps 10 and 20, which Lightning puts at
    # x = 9 and 19; the grids and histograms of a validation share its x; test values at 20
    assert [e.step for e in events.Scalars("val/threshold")] == [9, 19]
    assert events.Scalars("val/threshold")[-1].value == pytest.approx(results["threshold"])
    grids = events.Images("images/KMNIST_test")
    assert [g.step for g in grids] == [19], "after epoch 2 (every 2 epochs), the last one"
    assert [h.step for h in events.Histograms("scores/validation_MNIST")] == [19]
    assert [e.step for e in events.Scalars("test/type_I_error")] == [20]
    assert [h.step for h in events.Histograms("scores/test_KMNIST")] == [20]
    assert grids[0].width > grids[0].height  # inputs over reconstructions, 16 wide
    kmnist = events.Histograms("scores/test_KMNIST")[-1].histogram_value
    assert kmnist.num == results["metrics"]["n_anomaly"]


def test_without_anomaly_set_views_skip_what_needs_it(tiny_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_train(tiny_root, out, "data.anomaly=null", "trainer.max_epochs=1")
    tags = load_events(out).Tags()
    assert "images/MNIST_validation" in tags["images"]
    assert "images/KMNIST_test" not in tags["images"]
    assert "test/pr_curve" not in tags["tensors"]
    assert (out / "report.png").is_file()
