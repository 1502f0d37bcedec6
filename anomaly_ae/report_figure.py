"""report.png: the figure a run leaves in its directory, from what the model recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure

from anomaly_ae.data.tensors import ANOMALY, NORMAL
from anomaly_ae.models import AutoencoderModule
from anomaly_ae.plots import (
    plot_roc,
    plot_score_distributions,
    plot_training_loss,
    save_figure,
)
from anomaly_ae.reporting import percent


def report_figure(
    model: AutoencoderModule,
    metrics: dict[str, Any],
    normal_name: str,
    anomaly_name: str | None,
) -> Figure:
    """Score distributions of the validation, normal test and anomaly test sets with the
    threshold and the type I / II errors, the ROC curve, and the training loss per step."""
    if model.test_outputs is None:
        raise ValueError("the model has not been tested: there are no test scores to draw")
    scores, targets = model.test_outputs
    sets: dict[str, torch.Tensor] = {}
    if model.validation_scores is not None:
        sets[f"validation {normal_name}"] = model.validation_scores
    sets[f"test {normal_name}"] = scores[targets == NORMAL]
    if anomaly_name is not None:
        sets[f"test {anomaly_name}"] = scores[targets == ANOMALY]
    errors = [f"type I error {percent(metrics['type_I_error'])}"]
    if anomaly_name is not None:
        errors.append(f"type II error {percent(metrics['type_II_error'])}")

    fig = Figure(figsize=(18, 5))
    axes = fig.subplots(1, 3)
    plot_score_distributions(axes[0], sets, model.fitted_threshold(), ", ".join(errors))
    plot_roc(axes[1], scores, targets, metrics.get("auroc"))
    plot_training_loss(axes[2], model.training_losses())
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
