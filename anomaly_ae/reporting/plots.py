"""Matplotlib drawings shared by report.png and TensorBoard: score distributions, ROC, losses,
the validation scores against a Gaussian.

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
    score: str = "sum of squared error",
) -> None:
    """Histograms (as densities) of each set's scores (``score``: what they are), with the
    threshold as a line."""
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
    ax.set_xlabel(f"anomaly score ({score}; the last bin holds the tail)")
    ax.set_ylabel("density")
    ax.set_title("Score distributions" + (f": {annotation}" if annotation else ""))
    ax.legend(fontsize="small")


def plot_roc(
    ax: Axes,
    scores: torch.Tensor,
    targets: torch.Tensor,
    auroc: float | None,
    operating_point: tuple[float, float] | None = None,
) -> None:
    """ROC curve of anomalies (positives) against normal images, with a logarithmic false
    positive rate: what matters for a detector is the region FPR << 1, a sliver on linear
    axes. ``operating_point``: (type I error, 1 - type II error) at the fitted threshold."""
    if auroc is None or targets.sum() == 0 or targets.sum() == len(targets):
        reason = "no anomalies" if targets.sum() == 0 else "no normal images"
        ax.text(
            0.5, 0.5, f"ROC n/a: the test set holds {reason}", ha="center", transform=ax.transAxes
        )
        ax.set_title("ROC")
        ax.set_axis_off()
        return
    fpr, tpr, _ = binary_roc(scores_to_unit_interval(scores), targets.long())
    # a log axis cannot show FPR 0: start at half of the smallest possible step, 1 / n_normal
    floor = 0.5 / int((targets == 0).sum())
    ax.plot(fpr.clamp(min=floor).numpy(), tpr.numpy(), label=f"AUROC {auroc:.4f}")
    grid = np.logspace(math.log10(floor), 0, 50)
    ax.plot(grid, grid, color="grey", linestyle=":", label="chance")
    if operating_point is not None:
        x, y = operating_point
        ax.plot(
            max(x, floor),
            y,
            "o",
            color="black",
            label=f"threshold: FPR {100 * x:.2f} %, TPR {100 * y:.2f} %",
        )
    ax.set_xscale("log")
    ax.set_xlim(floor, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate: normal images flagged (log scale)")
    ax.set_ylabel("true positive rate: anomalies flagged")
    ax.set_title("ROC")
    ax.legend(loc="lower right", fontsize="small")


def plot_losses(ax: Axes, training: torch.Tensor, validation: torch.Tensor | None = None) -> None:
    """The training loss of every batch (hw7's loss.png) and the validation loss of every
    validation, against the optimizer step, on a log scale: the first steps' loss is ten times
    the rest and would flatten them."""
    if training.numel() == 0 and (validation is None or validation.numel() == 0):
        ax.text(0.5, 0.5, "no losses recorded", ha="center", transform=ax.transAxes)
    if training.numel():
        ax.plot(
            np.arange(1, training.numel() + 1),
            training.numpy(),
            color="tab:red",
            linewidth=0.6,
            marker="." if training.numel() < 50 else None,  # a few steps stay visible
            label="training (each batch)",
        )
    if validation is not None and validation.numel():
        ax.plot(
            validation[:, 0].numpy(),
            validation[:, 1].numpy(),
            "o-",
            color="tab:blue",
            markersize=4,
            label="validation (each validation)",
        )
    if ax.lines:
        ax.set_yscale("log")
        ax.legend()
    ax.set_title("Loss (MSE per pixel)")
    ax.set_xlabel("optimizer step")


def plot_gaussian_qq(ax: Axes, scores: torch.Tensor, threshold: float) -> None:
    """The validation scores' quantiles, standardised, against the standard normal's: the
    Gaussian that mean + k std assumes. Points above the line in the right tail mean more
    normal images above the threshold than the Gaussian predicts."""
    s = np.sort(scores.double().numpy())
    n = s.size
    if n < 2 or s.std() == 0:
        ax.text(0.5, 0.5, "too few validation scores", ha="center", transform=ax.transAxes)
        ax.set_title("Validation scores against a Gaussian")
        return
    mean, std = s.mean(), s.std()
    probabilities = torch.tensor((np.arange(1, n + 1) - 0.5) / n, dtype=torch.float64)
    normal = torch.distributions.Normal(0.0, 1.0).icdf(probabilities).numpy()
    ax.plot(normal, (s - mean) / std, ".", markersize=2, label=f"validation scores ({n})")
    lim = [float(normal[0]), float(normal[-1])]
    ax.plot(lim, lim, color="grey", linestyle=":", label="Gaussian")
    if math.isfinite(threshold):
        k = (threshold - mean) / std
        ax.axhline(k, color="black", linestyle="--", label=f"threshold: mean + {k:.2f} std")
    ax.set_xlabel("standard normal quantile")
    ax.set_ylabel("(score - mean) / std")
    ax.set_title("Validation scores against a Gaussian")
    ax.legend(fontsize="small")


def roc_figure(
    scores: torch.Tensor,
    targets: torch.Tensor,
    auroc: float | None,
    operating_point: tuple[float, float] | None = None,
) -> Figure:
    fig = Figure(figsize=(6, 5))
    plot_roc(fig.add_subplot(), scores, targets, auroc, operating_point)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
