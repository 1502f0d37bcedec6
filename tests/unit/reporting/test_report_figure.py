"""anomaly_ae.reporting.report_figure: the ROC on a log FPR axis with the operating point, the
losses, and the Gaussian check when there are no anomalies."""

from __future__ import annotations

import pytest
import torch


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
