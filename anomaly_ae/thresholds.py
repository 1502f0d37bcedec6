"""Rules that turn the validation (normal) scores into a decision threshold.

A rule is fitted on scores of normal images only; an image is flagged as an anomaly when its
score is strictly greater than the threshold. Three rules:

- :class:`GaussianThreshold`: mean + k std (the seed's);
- :class:`QuantileThreshold`: the empirical (1 - alpha) quantile, i.e. the inverse CDF
  ``G(u) = inf{x : u <= F(x)}`` of hw7 Problem 4 applied to the validation scores' empirical
  CDF at ``u = 1 - alpha``: at most ``alpha`` of the validation scores lie above it;
- :class:`ConformalThreshold`: split-conformal p-values ``(1 + #{s_i >= s}) / (n + 1)``;
  an image is flagged when its p-value is at most ``alpha``, which bounds the probability
  of flagging a new normal image (exchangeable with the validation ones) by ``alpha``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from anomaly_ae.errors import ConfigError


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

    def __post_init__(self) -> None:
        if not (math.isfinite(self.k) and self.k > 0):
            raise ConfigError(
                f"threshold.k={self.k} must be a positive number: the threshold is mean + k std "
                "of the validation scores, and k <= 0 puts it at or below their mean, flagging "
                "a large share of normal images (the seed's k is 3)"
            )

    def fit(self, scores: torch.Tensor) -> ThresholdFit:
        if scores.numel() == 0:
            raise ValueError("cannot fit a threshold on zero validation scores")
        s = _as_float64(scores)
        mean = s.mean().item()
        std = s.std(correction=0).item()
        return ThresholdFit(
            value=mean + self.k * std,
            details={"rule": "gaussian", "k": self.k, "mean": mean, "std": std, "n": s.numel()},
        )


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:  # also refuses NaN
        raise ConfigError(f"threshold.alpha={alpha} must lie strictly between 0 and 1")


def _as_float64(scores: torch.Tensor) -> torch.Tensor:
    """The scores as a flat float64 CPU tensor: the rules' arithmetic, on any device's scores
    (MPS, for one, has no float64)."""
    return scores.detach().reshape(-1).cpu().to(torch.float64)


def _sorted_scores(scores: torch.Tensor) -> torch.Tensor:
    if scores.numel() == 0:
        raise ValueError("cannot fit a threshold on zero validation scores")
    return torch.sort(_as_float64(scores)).values


@dataclass(frozen=True)
class _LevelRule:
    """A rule with a target false-positive rate ``alpha`` in (0, 1)."""

    alpha: float = 0.01

    def __post_init__(self) -> None:
        _check_alpha(self.alpha)


@dataclass(frozen=True)
class QuantileThreshold(_LevelRule):
    """The empirical inverse CDF of the validation scores at ``1 - alpha``.

    With ``F_n(x) = #{s_i <= x} / n``, ``G(u) = inf{x : u <= F_n(x)}`` is the
    ``ceil(n u)``-th smallest score, so the share of validation scores above the threshold
    (the validation type I error) is at most ``alpha``.
    """

    def fit(self, scores: torch.Tensor) -> ThresholdFit:
        s = _sorted_scores(scores)
        n = s.numel()
        # round away float noise (10000 * 0.99 = 9900.000000000002) before the ceiling
        rank = min(max(math.ceil(round(n * (1 - self.alpha), 9)), 1), n)
        return ThresholdFit(
            value=s[rank - 1].item(),
            details={"rule": "quantile", "alpha": self.alpha, "rank": rank, "n": n},
        )


@dataclass(frozen=True)
class ConformalThreshold(_LevelRule):
    """Split-conformal detection at level ``alpha``.

    A test score ``s`` gets the p-value ``p(s) = (1 + #{i : s_i >= s}) / (n + 1)`` against
    the ``n`` validation scores and is flagged when ``p(s) <= alpha``. That happens exactly
    when ``s`` exceeds the ``(n - c)``-th smallest validation score, ``c = floor(alpha (n + 1))
    - 1``, which is the threshold returned. If ``c < 0`` (``alpha < 1 / (n + 1)``) no image
    can be flagged and the threshold is infinite.
    """

    def fit(self, scores: torch.Tensor) -> ThresholdFit:
        s = _sorted_scores(scores)
        n = s.numel()
        c = math.floor(round(self.alpha * (n + 1), 9)) - 1
        value = math.inf if c < 0 else s[n - c - 1].item()
        return ThresholdFit(
            value=value,
            details={"rule": "conformal", "alpha": self.alpha, "n": n},
        )

    @staticmethod
    def p_values(calibration: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """The conformal p-value of each score against the calibration (validation) scores."""
        cal = torch.sort(_as_float64(calibration)).values
        s = _as_float64(scores)
        at_least = cal.numel() - torch.searchsorted(cal, s, right=False)
        return (1 + at_least).to(torch.float64) / (cal.numel() + 1)
