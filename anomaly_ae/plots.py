"""Matplotlib drawings shared by report.png and TensorBoard: score distributions, ROC, loss.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot), so drawing never needs a
display or touches global state.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torchmetrics.functional.classification import binary_roc

from anomaly_ae.metrics import scores_to_unit_interval


def plot_score_distributions(
    ax: Axes,
    sets: dict[str, torch.Tensor],
    threshold: float,
    annotation: str = "",
) -> None:
    """Histograms (as densities) of each set's scores, with the threshold as a line."""
    values = [s.double().numpy() for s in sets.values() if s.numel()]
    if not values:
        ax.text(0.5, 0.5, "no scores", ha="center", transform=ax.transAxes)
        return
    top = max(float(np.quantile(v, 0.995)) for v in values)
    if math.isfinite(threshold):
        top = max(top, threshold)
    bins = np.linspace(0.0, top * 1.05, 80)
    for name, scores in sets.items():
        if scores.numel():
            ax.hist(
                scores.double().clamp(max=bins[-1]).numpy(),
                bins=bins,
                density=True,
                histtype="stepfilled",
                alpha=0.45,
                label=f"{name} ({scores.numel()})",
            )
    if math.isfinite(threshold):
        ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.2f}")
    ax.set_xlabel("anomaly score (sum of squared error; the last bin holds the tail)")
    ax.set_ylabel("density")
    ax.set_title("Score distributions" + (f": {annotation}" if annotation else ""))
    ax.legend(fontsize="small")


def plot_roc(ax: Axes, scores: torch.Tensor, targets: torch.Tensor, auroc: float | None) -> None:
    """ROC curve of anomalies (positives) against normal images."""
    if auroc is None or targets.sum() == 0 or targets.sum() == len(targets):
        reason = "no anomalies" if targets.sum() == 0 else "no normal images"
        ax.text(
            0.5, 0.5, f"ROC n/a: the test set holds {reason}", ha="center", transform=ax.transAxes
        )
        ax.set_title("ROC")
        ax.set_axis_off()
        return
    fpr, tpr, _ = binary_roc(scores_to_unit_interval(scores), targets.long())
    ax.plot(fpr.numpy(), tpr.numpy(), label=f"AUROC {auroc:.4f}")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set_xlabel("false positive rate (normal flagged)")
    ax.set_ylabel("true positive rate (anomalies flagged)")
    ax.set_title("ROC")
    ax.legend(loc="lower right")


def plot_training_loss(ax: Axes, losses: torch.Tensor) -> None:
    """Training loss per optimizer step, as the seed's loss.png shows it."""
    if losses.numel() == 0:
        ax.text(0.5, 0.5, "no training losses recorded", ha="center", transform=ax.transAxes)
    else:
        ax.plot(
            np.arange(1, losses.numel() + 1),
            losses.numpy(),
            color="red",
            linewidth=0.6,
            marker="." if losses.numel() < 50 else None,  # a few steps stay visible
            label="Training loss",
        )
        ax.legend()
    ax.set_title("Training loss")
    ax.set_xlabel("Iterations")
    ax.set_ylabel("Loss")


def roc_figure(scores: torch.Tensor, targets: torch.Tensor, auroc: float | None) -> Figure:
    fig = Figure(figsize=(5, 5))
    plot_roc(fig.add_subplot(), scores, targets, auroc)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
