"""Rules that turn the validation (normal) scores into a decision threshold.

A rule is fitted on scores of normal images only; an image is flagged as an anomaly when its
score is strictly greater than the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass(frozen=True)
class ThresholdFit:
    """A fitted threshold and what it was computed from (for logs and results.json)."""

    value: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GaussianThreshold:
    """``mean + k * std`` of the scores, with the population standard deviation (ddof=0),
    as ``np.std`` computes it in the seed."""

    k: float = 3.0

    def fit(self, scores: torch.Tensor) -> ThresholdFit:
        if scores.numel() == 0:
            raise ValueError("cannot fit a threshold on zero validation scores")
        s = scores.detach().to(torch.float64)
        mean = s.mean().item()
        std = s.std(correction=0).item()
        return ThresholdFit(
            value=mean + self.k * std,
            details={"rule": "gaussian", "k": self.k, "mean": mean, "std": std, "n": s.numel()},
        )
