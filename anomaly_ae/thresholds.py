"""The decision threshold: the rules that turn validation (normal) scores into a threshold,
and :class:`DecisionThreshold`, the model's component that holds, fits and applies it.

A rule is fitted on scores of normal images only; an image is flagged as an anomaly when its
score is strictly greater than the threshold. Three rules:

- :class:`GaussianThreshold`: mean + k std (hw7's);
- :class:`QuantileThreshold`: the empirical (1 - alpha) quantile, i.e. the inverse CDF
  ``G(u) = inf{x : u <= F(x)}`` of hw7 Problem 4 applied to the validation scores' empirical
  CDF at ``u = 1 - alpha``: at most ``alpha`` of the validation scores lie above it;
- :class:`ConformalThreshold`: split-conformal p-values ``(1 + #{s_i >= s}) / (n + 1)``;
  an image is flagged when its p-value is at most ``alpha``, which bounds the probability
  of flagging a new normal image (exchangeable with the validation ones) by ``alpha``.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pytorch_lightning as pl
import torch
from pytorch_lightning import Callback
from torch import nn

from anomaly_ae.errors import ConfigError
from anomaly_ae.targets import load_class, qualified_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ThresholdFit:
    """A fitted threshold and what it was computed from (for logs and results.json)."""

    value: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GaussianThreshold:
    """``mean + k * std`` of the scores, with the population standard deviation (ddof=0),
    as ``np.std`` computes it in hw7."""

    k: float = 3.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.k) and self.k > 0):
            raise ConfigError(
                f"threshold.k={self.k} must be a positive number: the threshold is mean + k std "
                "of the validation scores, and k <= 0 puts it at or below their mean, flagging "
                "a large share of normal images (hw7's k is 3)"
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


class ThresholdRule(Protocol):
    """What a rule is: ``fit(scores) -> ThresholdFit`` on the validation (normal) scores."""

    def fit(self, scores: torch.Tensor) -> ThresholdFit: ...


GAUSSIAN = qualified_name(GaussianThreshold)


def threshold_config(threshold: Mapping[str, Any] | None) -> dict[str, Any]:
    """``threshold`` (a rule's ``_target_`` and settings; ``None``: hw7's mean + 3 std) as plain
    values with the rule's defaults filled in, as checkpoints record it; checked by building it."""
    given = dict(threshold) if threshold else {}
    target = str(given.pop("_target_", GAUSSIAN))
    build_rule({"_target_": target, **given})
    rule_class = load_class(target, object, "threshold", GAUSSIAN)
    defaults = {
        p.name: p.default
        for p in inspect.signature(rule_class).parameters.values()
        if p.default is not inspect.Parameter.empty
    }
    return {"_target_": qualified_name(rule_class), **defaults, **given}


def build_rule(threshold: Mapping[str, Any] | None) -> ThresholdRule:
    """The rule of a threshold config (``None``: hw7's mean + 3 std)."""
    given = dict(threshold) if threshold else {"_target_": GAUSSIAN}
    rule_class = load_class(str(given.pop("_target_", GAUSSIAN)), object, "threshold", GAUSSIAN)
    try:
        rule = rule_class(**given)
    except TypeError as err:
        raise ConfigError(f"threshold: {err}; see the rule's settings with --help") from err
    if not callable(getattr(rule, "fit", None)):
        raise ConfigError(f"threshold: {qualified_name(rule_class)} has no fit(scores) method")
    return rule


class DecisionThreshold(nn.Module, Callback):
    """The model's decision threshold in one place: its rule, the fitted value, how it was
    fitted (:attr:`calibration`), :meth:`flag`, and the fits.

    An ``nn.Module``, so the value (a float32 buffer, NaN until fitted) and the calibration
    record (extra state) travel in the model's ``state_dict``: in checkpoints, with
    ``load_from_checkpoint`` and into exports. A Lightning ``Callback`` the model returns from
    ``configure_callbacks``, so every Trainer that validates the model fits it after each
    validation, on every validation image's score gathered from every process, and no entry
    point adds it. :meth:`fit_final_weights` covers weights trained past the last validation.
    """

    def __init__(self, rule: ThresholdRule | None = None) -> None:
        nn.Module.__init__(self)
        self.rule: ThresholdRule = rule if rule is not None else GaussianThreshold()
        # float32 like the scores it is compared with; accelerators such as MPS have no float64
        self.register_buffer("value", torch.tensor(math.nan, dtype=torch.float32))
        self.calibration: dict[str, Any] = {}
        # False keeps the fitted value through validations (evaluate without refit_threshold)
        self.fits_on_validation = True

    def get_extra_state(self) -> dict[str, Any]:
        return {"calibration": dict(self.calibration)}

    def set_extra_state(self, state: Mapping[str, Any]) -> None:
        self.calibration = dict(state.get("calibration", {}))

    @property
    def is_fitted(self) -> bool:
        # +inf is a valid fit (a conformal level too strict for the validation set's size)
        return not bool(torch.isnan(self.value))

    def fitted(self) -> float:
        """The fitted value; one line saying what to do where there is none."""
        if not self.is_fitted:
            raise ConfigError(
                "the model has no fitted threshold (it was never validated): use a checkpoint "
                "that python -m anomaly_ae.train wrote after a validation epoch, or let "
                "python -m anomaly_ae.evaluate fit one with refit_threshold=true"
            )
        return float(self.value)

    def flag(self, scores: torch.Tensor) -> torch.Tensor:
        """``True`` where a score is above the threshold, compared in float32 as in testing and
        in exported models, so every path flags the same images."""
        return scores > self.fitted()

    def is_fitted_at(self, step: int) -> bool:
        """Whether the value was fitted on the weights of optimizer step ``step``."""
        return self.is_fitted and self.calibration.get("step") == step

    def fit(self, scores: torch.Tensor, step: int) -> None:
        """Fit the rule on validation ``scores`` of the weights of optimizer step ``step``.

        The record keeps the rule's numbers, ``step`` and the share of these scores the
        threshold flags (``validation_flagged``): the in-sample type I error, which tells with
        normal images alone whether a rule keeps to its false-alarm budget.
        """
        fit = self.rule.fit(scores)
        self.value.fill_(fit.value)
        # flagged as the test flags: float32 scores against the float32 value (a NaN value,
        # from NaN scores, flags none; val/loss reports the divergence)
        flagged = (scores > float(self.value)).double().mean().item()
        self.calibration = {**fit.details, "step": step, "validation_flagged": flagged}

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not self.fits_on_validation:
            return
        scored = pl_module.scored("validation")
        if scored is None:  # limit_val_batches=0: nothing to fit on
            return
        self.fit(scored.scores, pl_module.weights_step)
        pl_module.log("val/threshold", float(self.value), sync_dist=True)

    def fit_final_weights(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, datamodule: pl.LightningDataModule
    ) -> None:
        """Fit on the weights training ended with if the last validation ran on earlier ones
        (``max_steps`` mid-epoch, ``val_check_interval``, ``check_val_every_n_epoch``): the
        tested and saved model is calibrated on its own weights."""
        if self.is_fitted_at(pl_module.weights_step):
            return
        last = self.calibration.get("step")
        log.info(
            "training ended at step %d, %s: fitting the threshold on the final weights",
            pl_module.weights_step,
            "before any validation" if last is None else f"the last validation was at step {last}",
        )
        trainer.validate(pl_module, datamodule=datamodule, verbose=False)


def upgrade_threshold_state(checkpoint: dict[str, Any]) -> None:
    """Give a checkpoint of anomaly_ae before 0.3.0, where the threshold was a buffer of the
    module and its record sat beside the weights, :class:`DecisionThreshold`'s keys."""
    state = checkpoint.get("state_dict", {})
    if isinstance(state.get("threshold"), torch.Tensor):
        calibration = checkpoint.get("anomaly_ae", {}).get("calibration", {})
        state["threshold.value"] = state.pop("threshold")
        state["threshold._extra_state"] = {"calibration": dict(calibration)}
