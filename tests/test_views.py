"""What a run shows: report.png, reconstructions.png, and TensorBoard's curves, figures, Custom
Scalars layout and HParams, read back from the event files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.plugins.hparams import plugin_data_pb2

from anomaly_ae.metrics import RATES
from anomaly_ae.reporting.reconstruction_figure import typical_and_worst
from tests.helpers import compose_config, run_train


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


def test_hparams_hold_the_main_settings_and_overrides_with_test_metrics(
    tiny_root: Path, tmp_path: Path
) -> None:
    from anomaly_ae.reporting.tensorboard import run_hparams

    overrides = [
        "model=conv",
        "threshold.k=2.5",
        "seed=3",
        f"data.root={tiny_root}",
        "trainer.enable_progress_bar=false",
        "model.weight_decay=0.01",
        "~callbacks.progress_bar",
    ]
    columns = run_hparams(compose_config("train", overrides), overrides)
    # the five columns TensorBoard ticks by default (the first in name order), then the rest
    assert sorted(columns) == [
        "model",
        "model.latent_dim",
        "model.lr",
        "model.weight_decay",
        "seed",
        "threshold",
        "trainer.max_epochs",
    ]
    assert columns["model"] == "conv" and columns["model.latent_dim"] == 32
    assert columns["threshold"] == "gaussian k=2.5", "rule and k in one column"
    assert columns["seed"] == 3 and columns["trainer.max_epochs"] == 10
    assert "data.root" not in columns and "trainer.enable_progress_bar" not in columns
    assert columns["model.weight_decay"] == 0.01, "a model setting changed on the command line"
    assert not [key for key in columns if "callbacks" in key], "a removal is no setting"
    defaults = run_hparams(compose_config("train", []), [])
    assert sorted(defaults) == [
        "model",
        "model.latent_dim",
        "model.lr",
        "threshold",
        "trainer.max_epochs",
    ]
    assert not [key for key in columns if "_target_" in key]
    assert all(isinstance(v, str | int | float | bool) for v in columns.values())


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


def test_typical_images_are_nearest_the_median_and_worst_are_the_likeliest_errors() -> None:
    scores = torch.tensor([5.0, 1.0, 9.0, 4.5, 7.0, 20.0, 0.5])  # median 5
    picks = typical_and_worst(scores, anomalous=False, n=2)
    assert picks == [("typical", 0), ("typical", 3), ("worst", 5), ("worst", 2)]
    # anomalies: the worst are the lowest scores, the ones a threshold misses first
    assert typical_and_worst(scores, anomalous=True, n=2)[2:] == [("worst", 6), ("worst", 1)]


def _evaluation(with_anomalies: bool):
    """A test's evaluation as a tested run leaves it, and the losses it recorded."""
    from anomaly_ae.metrics import Evaluation, ScoredImages

    generator = torch.Generator().manual_seed(0)
    normal = torch.rand(200, generator=generator) * 10
    anomalous = 8 + torch.rand(100, generator=generator) * 30
    scores = torch.cat([normal, anomalous]) if with_anomalies else normal
    targets = torch.cat([torch.zeros(200), torch.ones(100)]) if with_anomalies else torch.zeros(200)
    validation = torch.rand(150, generator=generator) * 10
    evaluation = Evaluation.of(
        9.5,
        ScoredImages(validation, torch.zeros(150, dtype=torch.long)),
        ScoredImages(scores, targets.long()),
    )
    losses = torch.tensor([0.2, 0.1, 0.05, 0.04]), torch.tensor([[2, 0.09], [4, 0.045]])
    return evaluation, losses


def test_report_roc_has_a_log_fpr_axis_and_the_operating_point() -> None:
    from anomaly_ae.reporting.report_figure import report_figure

    evaluation, losses = _evaluation(with_anomalies=True)
    metrics = evaluation.metrics
    scores_ax, roc_ax, loss_ax = report_figure(evaluation, "MNIST", "KMNIST", *losses).axes
    assert roc_ax.get_xscale() == "log"
    point = [line for line in roc_ax.get_lines() if line.get_label().startswith("threshold:")]
    (x,), (y,) = point[0].get_xdata(), point[0].get_ydata()
    assert (x, y) == pytest.approx((metrics["type_I_error"], 1 - metrics["type_II_error"]))
    # losses: log y, x = optimizer step, training per batch and validation per validation
    assert loss_ax.get_yscale() == "log" and loss_ax.get_xlabel() == "optimizer step"
    training, validation = loss_ax.get_lines()
    assert list(training.get_xdata()) == [1, 2, 3, 4]
    assert list(validation.get_xdata()) == [2, 4]
    legend = [t.get_text() for t in loss_ax.get_legend().get_texts()]
    assert legend == ["training (each batch)", "validation (each validation)"]
    assert "threshold 9.50" in [t.get_text() for t in scores_ax.get_legend().get_texts()]


def test_report_without_anomalies_shows_the_gaussian_check_instead_of_a_roc() -> None:
    from anomaly_ae.reporting.report_figure import report_figure

    evaluation, losses = _evaluation(with_anomalies=False)
    middle = report_figure(evaluation, "MNIST", None, *losses).axes[1]
    assert middle.get_title() == "Validation scores against a Gaussian"
    assert middle.get_lines(), "the validation scores' quantiles are drawn"


def test_the_validation_loss_of_every_validation_is_kept_with_the_weights(
    trained: tuple[Path, dict],
) -> None:
    """The loss panel's validation points: one per validation, at the optimizer step of the
    weights, saved in the checkpoint so that a resumed run draws them too."""
    _, results = trained
    checkpoint = torch.load(results["checkpoints"]["last"], weights_only=True)
    losses = checkpoint["anomaly_ae"]["validation_losses"]
    assert losses[:, 0].tolist() == [10, 20]
    assert losses[-1, 1].item() == pytest.approx(results["validation"]["val/loss"], rel=1e-6)
