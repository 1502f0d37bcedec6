"""report.png, the figure a run leaves in its directory, and the score view TensorBoard shows,
from a test's :class:`~anomaly_ae.metrics.Evaluation` and the training losses."""

from __future__ import annotations

from pathlib import Path

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from anomaly_ae.metrics import Evaluation
from anomaly_ae.reporting.plots import (
    plot_gaussian_qq,
    plot_losses,
    plot_roc,
    plot_score_distributions,
    save_figure,
)
from anomaly_ae.reporting.results import percent


def score_figure(evaluation: Evaluation, normal_name: str, anomaly_name: str | None) -> Figure:
    """Every set's scores on one axis with the threshold (TensorBoard's score view)."""
    fig = Figure(figsize=(8, 4.5))
    _plot_scores(fig.add_subplot(), evaluation, normal_name, anomaly_name)
    fig.tight_layout()
    return fig


def _plot_scores(
    ax: Axes, evaluation: Evaluation, normal_name: str, anomaly_name: str | None
) -> None:
    metrics = evaluation.metrics
    errors = [f"type I {percent(metrics['type_I_error'])}"]
    if anomaly_name is not None:
        errors.append(f"type II {percent(metrics['type_II_error'])}")
    sets = {s.label: s.scores for s in evaluation.score_sets(normal_name, anomaly_name)}
    plot_score_distributions(ax, sets, evaluation.threshold, ", ".join(errors), evaluation.score)


def report_figure(
    evaluation: Evaluation,
    normal_name: str,
    anomaly_name: str | None,
    training_losses: torch.Tensor,
    validation_losses: torch.Tensor | None = None,
) -> Figure:
    """Score distributions of the validation, normal test and anomaly test sets with the
    threshold and the type I / II errors; the ROC curve with its operating point (without an
    anomaly set: the validation scores against the Gaussian the threshold rule assumes); the
    training and validation losses (``validation_losses``: ``(step, loss)`` rows)."""
    fig = Figure(figsize=(18, 5))
    axes = fig.subplots(1, 3)
    _plot_scores(axes[0], evaluation, normal_name, anomaly_name)
    scores, targets = evaluation.test
    if anomaly_name is not None and evaluation.has_both_classes:
        plot_roc(axes[1], scores, targets, evaluation.metrics["auroc"], evaluation.operating_point)
    elif evaluation.validation is not None:
        plot_gaussian_qq(axes[1], evaluation.validation.scores, evaluation.threshold)
    else:
        plot_roc(axes[1], scores, targets, evaluation.metrics.get("auroc"))
    plot_losses(axes[2], training_losses, validation_losses)
    fig.tight_layout()
    return fig


def write_report(fig: Figure, run_dir: str | Path) -> Path:
    """``report.png`` of :func:`report_figure` in the run directory."""
    return save_figure(fig, Path(run_dir) / "report.png")
