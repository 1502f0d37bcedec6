"""The labelled reconstruction figure: for each set, its most typical and its worst images,
each with its reconstruction and squared-error map (the per-pixel residual is the
autoencoder's anomaly map), its score and whether it was flagged.

A model with an input transform (``model.preprocess``) reconstructs and scores the transformed
images, so the figure shows those: input, reconstruction and error maps are in the one space
the score is computed in, and the error map still sums to the score."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure

from anomaly_ae.data import AnomalyDataModule
from anomaly_ae.data.batches import ANOMALY
from anomaly_ae.eval_mode import evaluating
from anomaly_ae.metrics import Evaluation
from anomaly_ae.models import AutoencoderModule


@dataclass(frozen=True)
class ScoredSet:
    """Images of one set and their scores, in the same order."""

    name: str
    images: torch.Tensor
    scores: torch.Tensor
    anomalous: bool


def scored_sets(evaluation: Evaluation, datamodule: AnomalyDataModule) -> list[ScoredSet]:
    """The sets of :meth:`Evaluation.score_sets` with their images. Scores come in dataset
    order; a split scored only in part (``limit_*_batches``, ``fast_dev_run``) is left out,
    since which of its images were scored is not kept."""
    splits = {"validation": datamodule.val_set, "test": datamodule.test_set}
    totals = {
        "validation": None if evaluation.validation is None else len(evaluation.validation.scores),
        "test": len(evaluation.test.scores),
    }
    sets = []
    for scored in evaluation.score_sets(datamodule.normal_name, datamodule.anomaly_name):
        dataset = splits[scored.split]
        if dataset is None or totals[scored.split] != len(dataset) or not len(scored.scores):
            continue
        chosen = (dataset.targets == scored.target).to(dataset.images.device)
        images = dataset.images[chosen]
        sets.append(ScoredSet(scored.label, images, scored.scores, scored.target == ANOMALY))
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
    """Three strips per set (the model's inputs, reconstructions, squared errors), one column
    per example, each titled with its kind, score and verdict (red where the verdict is
    wrong)."""
    rows = [(s, typical_and_worst(s.scores, s.anomalous, n)) for s in sets]
    columns = max((len(chosen) for _, chosen in rows), default=1)
    fig = Figure(figsize=(1.3 * columns + 1.2, 5.0 * max(len(sets), 1)))
    if not sets:
        fig.text(0.5, 0.5, "no scored images", ha="center")
        return fig
    axes = fig.subplots(3 * len(sets), 1, squeeze=False)[:, 0]
    strips = []
    for scored, chosen in rows:
        picked = scored.images[torch.tensor([i for _, i in chosen])].to(model.device)
        images, reconstructions = inputs_and_reconstructions(model, picked)
        # per pixel, summed over the channels: each pixel's share of the score
        errors = ((images - reconstructions) ** 2).sum(1, keepdim=True)
        strips.append([_strip(x.cpu()).numpy() for x in (images, reconstructions, errors)])
    error_max = max(float(np.nanmax(strip[2])) for strip in strips) or 1.0
    # min-max scaling puts the training images' transformed pixels in [0, 1] as well
    preprocess = model.hparams.get("preprocess")
    first = "input" if preprocess is None else f"input ({preprocess})"
    for block, ((scored, chosen), strip) in enumerate(zip(rows, strips, strict=True)):
        for row, label in enumerate((first, "reconstruction", "squared error")):
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


def inputs_and_reconstructions(
    model: AutoencoderModule, images: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's inputs of ``images`` and their reconstructions, in eval mode as they were
    scored: a BatchNorm network (``model=dcae``) uses its running statistics, not those of
    the few images drawn, and leaves them as they are."""
    with evaluating(model), torch.inference_mode():
        inputs = model.model_input(images)
        return inputs, model(inputs)


def _strip(images: torch.Tensor, gap: int = 2) -> torch.Tensor:
    """``(N, C, H, W)`` images side by side: one ``(H, W')`` array of gray images, whose gaps
    are NaN (matplotlib leaves them blank), or one ``(H, W', 3)`` RGB array of colour images,
    whose gaps are white."""
    if images.shape[1] == 1:
        x, fill = images[:, 0].float(), math.nan
    else:
        x, fill = images[:, :3].float().permute(0, 2, 3, 1), 1.0
    pad = torch.full((x.shape[0], x.shape[1], gap, *x.shape[3:]), fill)
    joined = torch.cat([x, pad], dim=2)  # (N, H, W + gap[, 3])
    return joined.transpose(0, 1).reshape(x.shape[1], -1, *x.shape[3:])
