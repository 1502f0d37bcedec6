"""What a run shows: report.png, reconstructions.png, and TensorBoard's curves, figures, Custom
Scalars layout and HParams, read back from the event files of a tiny run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.plugins.hparams import plugin_data_pb2

from anomaly_ae.metrics import RATES
from tests.helpers import run_train


def load_events(run_dir: Path) -> EventAccumulator:
    guidance = {"images": 0, "histograms": 0, "scalars": 0, "tensors": 0}
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance=guidance)
    events.Reload()
    return events


def test_report_and_reconstruction_pngs_are_written(trained: tuple[Path, dict]) -> None:
    out, _ = trained
    with Image.open(out / "report.png") as image:
        assert image.format == "PNG"
        width, height = image.size
    assert width > 2 * height, "three panels side by side"
    with Image.open(out / "reconstructions.png") as image:
        width, height = image.size
    assert height > width, "three rows (input, reconstruction, error) per set, three sets"


def test_tensorboard_opens_on_curves_and_has_the_views(trained: tuple[Path, dict]) -> None:
    out, results = trained
    events = load_events(out)
    tags = events.Tags()
    scalars = set(tags["scalars"])
    assert {"train/loss_step", "train/loss_epoch", "val/loss", "val/threshold"} <= scalars
    assert {f"verdict/{name}" for name in RATES} <= scalars
    assert not [t for t in scalars if t.startswith("test/")], "test/ would sort first"
    # no one-dot copies of the metrics, no epoch card, no counts
    assert not [t for t in scalars if t.startswith("hp/") or t == "epoch" or "/n_" in t]
    assert {"views/reconstructions", "views/scores", "views/roc"} <= set(tags["images"])
    assert "views/pr_curve" in tags["tensors"]
    assert not tags["histograms"]

    # 2 epochs of 10 optimizer steps: thresholds after steps 10 and 20, which Lightning puts at
    # x = 9 and 19; the test values and the figures sit at the tested weights' step, 20
    assert [e.step for e in events.Scalars("val/threshold")] == [9, 19]
    assert events.Scalars("val/threshold")[-1].value == pytest.approx(results["threshold"])
    assert [e.step for e in events.Scalars("verdict/type_I_error")] == [20]
    assert [i.step for i in events.Images("views/reconstructions")] == [20]


def test_custom_scalars_put_training_and_validation_loss_on_one_chart(
    trained: tuple[Path, dict],
) -> None:
    events = load_events(trained[0])
    raw = events.Tensors("custom_scalars__config__")[0].tensor_proto.string_val[0]
    layout = layout_pb2.Layout.FromString(raw)
    charts = {chart.title: chart for category in layout.category for chart in category.chart}
    loss = charts["loss: training vs validation"].multiline.tag
    assert {"train/loss_step", "val/loss"} <= set(loss)
    assert list(charts["threshold (each validation)"].multiline.tag) == ["val/threshold"]


def test_hparams_plugin_declares_the_test_metrics(trained: tuple[Path, dict]) -> None:
    events = load_events(trained[0])
    content = events.PluginTagToContent("hparams")
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"])
    declared = [m.name.tag for m in experiment.experiment.metric_infos]
    assert declared == [f"verdict/{name}" for name in RATES]
    names = {h.name for h in experiment.experiment.hparam_infos}
    assert {"model", "model.latent_dim", "model.lr", "threshold", "trainer.max_epochs"} <= names


def test_without_anomaly_set_views_skip_what_needs_it(tiny_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_train(tiny_root, out, "data.anomaly=null", "trainer.max_epochs=1")
    tags = load_events(out).Tags()
    assert {"views/reconstructions", "views/scores"} <= set(tags["images"])
    assert "views/roc" not in tags["images"]
    assert "views/pr_curve" not in tags["tensors"]
    assert (out / "report.png").is_file() and (out / "reconstructions.png").is_file()


def test_the_validation_loss_of_every_validation_is_kept_with_the_weights(
    trained: tuple[Path, dict],
) -> None:
    """The loss panel's validation points: one per validation, at the optimizer step of the
    weights, saved in the checkpoint so that a resumed run draws them too."""
    _, results = trained
    checkpoint = torch.load(results["checkpoints"]["last"], weights_only=True)
    losses = checkpoint["callbacks"]["LossHistory"]["validation"]
    assert losses[:, 0].tolist() == [10, 20]
    assert losses[-1, 1].item() == pytest.approx(results["validation"]["val/loss"], rel=1e-6)
