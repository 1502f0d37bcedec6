"""The labelled reconstruction figure: for each set, its most typical and its worst images,
each with its reconstruction and squared-error map (the per-pixel residual is the
autoencoder's anomaly map), its score and whether it was flagged."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure

from anomaly_ae.data import AnomalyDataModule
from anomaly_ae.data.tensors import ANOMALY, NORMAL
from anomaly_ae.models import AutoencoderModule


@dataclass(frozen=True)
class ScoredSet:
    """Images of one set and their scores, in the same order."""

    name: str
    images: torch.Tensor
    scores: torch.Tensor
    anomalous: bool


def scored_sets(model: AutoencoderModule, datamodule: AnomalyDataModule) -> list[ScoredSet]:
    """The validation set and each class of the test set with their scores. Scores come in
    dataset order; a set scored only in part (``limit_*_batches``, ``fast_dev_run``) is left
    out, since which of its images were scored is not kept."""
    sets = []
    val_scores, val_set = model.validation_scores, datamodule.val_set
    if val_scores is not None and val_set is not None and len(val_scores) == len(val_set):
        name = f"validation {datamodule.normal_name}"
        sets.append(ScoredSet(name, val_set.images, val_scores, False))
    test_set = datamodule.test_set
    if model.test_outputs is None or test_set is None:
        return sets
    scores, targets = model.test_outputs
    if len(scores) != len(test_set):
        return sets
    for target, name in ((NORMAL, datamodule.normal_name), (ANOMALY, datamodule.anomaly_name)):
        chosen = targets == target
        if name is not None and bool(chosen.any()):
            images = test_set.images[chosen.to(test_set.images.device)]
            sets.append(ScoredSet(f"test {name}", images, scores[chosen], target == ANOMALY))
    return sets


def typical_and_worst(scores: torch.Tensor, anomalous: bool, n: int) -> list[tuple[str, int]]:
    """``n`` images whose scores are nearest the median, then the ``n`` worst: the highest
    scores of normal images (the likeliest false alarms), the lowest of anomalies (the
    likeliest misses)."""
    n = min(n, len(scores))
    median = scores.median()
    typical = torch.argsort((scores - median).abs())[:n].tolist()
    worst = torch.argsort(scores, descending=not anomalous)[:n].tolist()
    return [("typical", i) for i in typical] + [("worst", i) for i in worst]


def reconstruction_figure(
    model: AutoencoderModule, sets: list[ScoredSet], threshold: float, n: int = 3
) -> Figure:
    """Three strips per set (inputs, reconstructions, squared errors), one column per example,
    each titled with its kind, score and verdict (red where the verdict is wrong)."""
    rows = [(s, typical_and_worst(s.scores, s.anomalous, n)) for s in sets]
    columns = max((len(chosen) for _, chosen in rows), default=1)
    fig = Figure(figsize=(1.3 * columns + 1.2, 5.0 * max(len(sets), 1)))
    if not sets:
        fig.text(0.5, 0.5, "no scored images", ha="center")
        return fig
    axes = fig.subplots(3 * len(sets), 1, squeeze=False)[:, 0]
    strips = []
    for scored, chosen in rows:
        images = scored.images[torch.tensor([i for _, i in chosen])].to(model.device)
        with torch.inference_mode():
            reconstructions = model(images)
        errors = (images - reconstructions) ** 2
        strips.append([_strip(x.cpu()).numpy() for x in (images, reconstructions, errors)])
    error_max = max(float(np.nanmax(strip[2])) for strip in strips) or 1.0
    for block, ((scored, chosen), strip) in enumerate(zip(rows, strips, strict=True)):
        for row, label in enumerate(("input", "reconstruction", "squared error")):
            ax = axes[3 * block + row]
            if row < 2:
                ax.imshow(strip[row], cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(strip[row], cmap="inferno", vmin=0, vmax=error_max)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_ylabel(f"{scored.name}\n{label}" if row == 0 else label, fontsize=8)
        width = strip[0].shape[1] / len(chosen)
        for column, (kind, index) in enumerate(chosen):
            score = float(scored.scores[index])
            flagged = score > threshold
            axes[3 * block].text(
                (column + 0.5) * width,
                -2,
                f"{kind}\nscore {score:.1f}\n{'flagged' if flagged else 'not flagged'}",
                ha="center",
                va="bottom",
                fontsize=7,
                color="tab:red" if flagged != scored.anomalous else "black",
            )
    fig.suptitle(
        f"Typical and worst images of each set (threshold {threshold:.2f}; red: a wrong verdict)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def _strip(images: torch.Tensor, gap: int = 2) -> torch.Tensor:
    """``(N, C, H, W)`` images side by side, as one ``(H, W')`` array; the gaps are NaN, which
    matplotlib leaves blank."""
    single = images[:, 0].float()
    pad = torch.full((single.shape[0], single.shape[1], gap), math.nan)
    return torch.cat([single, pad], dim=2).permute(1, 0, 2).reshape(single.shape[1], -1)
