"""report.png, the figure a run leaves in its directory, and the score view TensorBoard shows,
from what the model recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from anomaly_ae.data.tensors import ANOMALY, NORMAL
from anomaly_ae.models import AutoencoderModule
from anomaly_ae.plots import (
    plot_gaussian_qq,
    plot_losses,
    plot_roc,
    plot_score_distributions,
    save_figure,
)
from anomaly_ae.reporting import percent


def score_sets(
    model: AutoencoderModule, normal_name: str, anomaly_name: str | None
) -> dict[str, torch.Tensor]:
    """The scores of the validation, normal test and anomaly test sets, by label."""
    if model.test_outputs is None:
        raise ValueError("the model has not been tested: there are no test scores to draw")
    scores, targets = model.test_outputs
    sets: dict[str, torch.Tensor] = {}
    if model.validation_scores is not None:
        sets[f"validation {normal_name}"] = model.validation_scores
    sets[f"test {normal_name}"] = scores[targets == NORMAL]
    if anomaly_name is not None:
        sets[f"test {anomaly_name}"] = scores[targets == ANOMALY]
    return sets


def score_figure(
    model: AutoencoderModule,
    metrics: dict[str, Any],
    normal_name: str,
    anomaly_name: str | None,
) -> Figure:
    """Every set's scores on one axis with the threshold (TensorBoard's score view)."""
    fig = Figure(figsize=(8, 4.5))
    _plot_scores(fig.add_subplot(), model, metrics, normal_name, anomaly_name)
    fig.tight_layout()
    return fig


def _plot_scores(
    ax: Axes,
    model: AutoencoderModule,
    metrics: dict[str, Any],
    normal_name: str,
    anomaly_name: str | None,
) -> None:
    errors = [f"type I {percent(metrics['type_I_error'])}"]
    if anomaly_name is not None:
        errors.append(f"type II {percent(metrics['type_II_error'])}")
    sets = score_sets(model, normal_name, anomaly_name)
    plot_score_distributions(ax, sets, model.fitted_threshold(), ", ".join(errors))


def report_figure(
    model: AutoencoderModule,
    metrics: dict[str, Any],
    normal_name: str,
    anomaly_name: str | None,
) -> Figure:
    """Score distributions of the validation, normal test and anomaly test sets with the
    threshold and the type I / II errors; the ROC curve with its operating point (without an
    anomaly set: the validation scores against the Gaussian the threshold rule assumes); the
    training and validation losses."""
    fig = Figure(figsize=(18, 5))
    axes = fig.subplots(1, 3)
    _plot_scores(axes[0], model, metrics, normal_name, anomaly_name)
    scores, targets = model.test_outputs
    if anomaly_name is not None and metrics.get("auroc") is not None:
        point = (metrics["type_I_error"], 1 - metrics["type_II_error"])
        plot_roc(axes[1], scores, targets, metrics["auroc"], point)
    elif model.validation_scores is not None:
        plot_gaussian_qq(axes[1], model.validation_scores, model.fitted_threshold())
    else:
        plot_roc(axes[1], scores, targets, metrics.get("auroc"))
    plot_losses(axes[2], model.training_losses(), model.validation_losses())
    fig.tight_layout()
    return fig


def write_report(
    model: AutoencoderModule,
    metrics: dict[str, Any],
    normal_name: str,
    anomaly_name: str | None,
    run_dir: str | Path,
) -> Path:
    return save_figure(
        report_figure(model, metrics, normal_name, anomaly_name), Path(run_dir) / "report.png"
    )
