"""Scores and the metrics computed from them: one owner for validation and test.

:class:`ScoreCollector` (a torchmetrics ``Metric``, so Lightning moves it with the module and
torchmetrics syncs it across DDP processes) gathers every image's score of a stage;
:class:`Evaluation` is what a test found: the scored sets, the threshold and
:func:`detection_metrics` at it. The reports read an ``Evaluation``, never the module's
internals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torchmetrics import Metric
from torchmetrics.functional.classification import (
    binary_auroc,
    binary_average_precision,
    binary_roc,
    binary_stat_scores,
)
from torchmetrics.utilities import dim_zero_cat

from anomaly_ae.data.batches import ANOMALY, NORMAL


class ScoredImages(NamedTuple):
    """Every image's score and target (0 normal, 1 anomaly), 1-D, in dataset order."""

    scores: torch.Tensor
    targets: torch.Tensor


class ScoreCollector(Metric):
    """Gathers every image's score and target, once each, in dataset order.

    Under DDP the distributed sampler pads the last batches with repeated images so every
    process gets the same number; torchmetrics' sync concatenates all processes' states and
    ``compute`` keeps one entry per dataset index, so the result equals a single-process run.
    """

    full_state_update = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("scores", default=[], dist_reduce_fx="cat")
        self.add_state("targets", default=[], dist_reduce_fx="cat")
        self.add_state("indices", default=[], dist_reduce_fx="cat")

    def update(self, scores: torch.Tensor, targets: torch.Tensor, indices: torch.Tensor) -> None:
        self.scores.append(scores.detach().float())
        self.targets.append(targets.detach().long())
        self.indices.append(indices.detach().long())

    def compute(self) -> ScoredImages:
        """Scores and targets ordered by dataset index, duplicates removed."""
        # states are lists until a DDP sync concatenates them into one tensor
        if isinstance(self.scores, list) and not self.scores:
            empty = torch.empty(0, device=self.device)
            return ScoredImages(empty, empty.long())
        indices = dim_zero_cat(self.indices)
        order = torch.sort(indices, stable=True).indices
        sorted_indices = indices[order]
        first = torch.ones_like(sorted_indices, dtype=torch.bool)
        first[1:] = sorted_indices[1:] != sorted_indices[:-1]
        keep = order[first]
        return ScoredImages(dim_zero_cat(self.scores)[keep], dim_zero_cat(self.targets)[keep])

    def collected(self) -> ScoredImages:
        """:meth:`compute` as 1-D CPU tensors, however many images there were (torchmetrics
        squeezes a one-element result into a scalar). A collective call under DDP: every
        process makes it."""
        scores, targets = self.compute()
        return ScoredImages(scores.reshape(-1).cpu(), targets.reshape(-1).cpu())


class ScoreSet(NamedTuple):
    """The scores of one set of a run, labelled for figures (``"test KMNIST"``): the images of
    ``split`` (``"validation"`` or ``"test"``) whose target is ``target``, in dataset order."""

    label: str
    split: str
    target: int
    scores: torch.Tensor


@dataclass(frozen=True)
class Evaluation:
    """What a test found: the scores of the last validation (``None`` if the model was not
    validated; the threshold was fitted on them, or, in evaluate without refit, comes with
    the checkpoint), the test set's scores, the threshold, and :func:`detection_metrics` at
    it."""

    threshold: float
    validation: ScoredImages | None
    test: ScoredImages
    metrics: dict[str, float | int | None]
    #: what the scores are (the score's description), for axis labels
    score: str = "sum of squared error"

    @classmethod
    def of(
        cls,
        threshold: float,
        validation: ScoredImages | None,
        test: ScoredImages,
        score: str = "sum of squared error",
    ) -> Evaluation:
        return cls(threshold, validation, test, detection_metrics(*test, threshold), score)

    @property
    def has_both_classes(self) -> bool:
        """Whether the ranking metrics (AUROC, ROC and PR curves) exist."""
        return self.metrics["auroc"] is not None

    @property
    def operating_point(self) -> tuple[float, float] | None:
        """``(false-positive rate, true-positive rate)`` at the threshold, on the ROC curve."""
        if not self.has_both_classes:
            return None
        return self.metrics["type_I_error"], 1 - self.metrics["type_II_error"]

    def score_sets(self, normal_name: str, anomaly_name: str | None) -> list[ScoreSet]:
        """The validation, normal test and anomaly test sets' scores, each with its label."""
        sets = []
        if self.validation is not None:
            sets.append(
                ScoreSet(f"validation {normal_name}", "validation", NORMAL, self.validation.scores)
            )
        scores, targets = self.test
        sets.append(ScoreSet(f"test {normal_name}", "test", NORMAL, scores[targets == NORMAL]))
        if anomaly_name is not None:
            sets.append(
                ScoreSet(f"test {anomaly_name}", "test", ANOMALY, scores[targets == ANOMALY])
            )
        return sets

    def rates(self) -> dict[str, float]:
        """The rates among the metrics that exist (the scalars loggers get)."""
        return {k: float(self.metrics[k]) for k in RATES if self.metrics[k] is not None}


# the rates among detection_metrics' results, logged as test/<name> scalars (the counts stay
# in results.json)
RATES = ("type_I_error", "type_II_error", "auroc", "average_precision", "fpr_at_95_tpr")


def detection_metrics(
    scores: torch.Tensor, targets: torch.Tensor, threshold: float
) -> dict[str, float | int | None]:
    """Error rates at ``threshold`` and threshold-free ranking metrics.

    Anomalies are the positive class. An image is flagged when ``score > threshold``.
    Returns counts (``n_normal``, ``n_normal_flagged``, ``n_anomaly``, ``n_anomaly_flagged``),
    ``type_I_error`` (normal images flagged), ``type_II_error`` (anomalies not flagged),
    ``auroc``, ``average_precision`` and ``fpr_at_95_tpr``. Metrics that need both normal
    images and anomalies are ``None`` when the targets lack either.

    Computed on the CPU (a few thousand numbers; the ranking metrics need float64).
    """
    scores, targets = scores.cpu(), targets.cpu().long()
    flagged = (scores > threshold).long()
    tp, fp, tn, fn, _ = (int(v) for v in binary_stat_scores(flagged, targets))
    n_normal, n_anomaly = fp + tn, tp + fn
    metrics: dict[str, float | int | None] = {
        "n_normal": n_normal,
        "n_normal_flagged": fp,
        "n_anomaly": n_anomaly,
        "n_anomaly_flagged": tp,
        "type_I_error": fp / n_normal if n_normal else None,
        "type_II_error": fn / n_anomaly if n_anomaly else None,
        "auroc": None,
        "average_precision": None,
        "fpr_at_95_tpr": None,
    }
    if n_normal and n_anomaly:
        probs = scores_to_unit_interval(scores)
        metrics["auroc"] = binary_auroc(probs, targets).item()
        metrics["average_precision"] = binary_average_precision(probs, targets).item()
        metrics["fpr_at_95_tpr"] = fpr_at_tpr(probs, targets, 0.95)
    return metrics


def fpr_at_tpr(probs: torch.Tensor, targets: torch.Tensor, tpr_level: float) -> float:
    """The lowest false-positive rate of any threshold that catches ``tpr_level`` of anomalies."""
    fpr, tpr, _ = binary_roc(probs, targets)
    return fpr[tpr >= tpr_level].min().item()


def scores_to_unit_interval(scores: torch.Tensor) -> torch.Tensor:
    """Scores rescaled into [0, 1], order kept exactly.

    torchmetrics applies a sigmoid to predictions outside [0, 1]; in float32 that saturates at
    1.0 for every score above ~17 and would tie most anomalies. Dividing non-negative scores by
    their maximum in float64 (on the CPU) keeps every comparison between scores.
    """
    s = scores.cpu().to(torch.float64)
    s = s - s.min().clamp(max=0)
    top = s.max()
    return s / top if top > 0 else s
