"""Learning-rate schedules of ``model.scheduler``, as Lightning's ``lr_scheduler`` dicts.

- ``cosine``: from ``model.lr`` down to 0 over the run's optimizer steps, stepped after each;
- ``multistep``: ``model.lr`` times ``model.lr_gamma`` at each epoch of ``model.lr_milestones``
  (``MultiStepLR``, stepped after each epoch), as Ruff et al. 2018 train their DCAE: milestones
  ``[250]`` give epochs 0-249 at ``lr`` and epochs 250 on at ``lr * gamma``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import pytorch_lightning as pl
import torch

from anomaly_ae.errors import ConfigError

SCHEDULERS = ("cosine", "multistep")


def checked_schedule(
    scheduler: str | None, milestones: Sequence[int] | None, gamma: float
) -> tuple[list[int] | None, float]:
    """``model.lr_milestones`` and ``model.lr_gamma`` as plain values, refused in one line
    where they do not make a schedule with ``model.scheduler``."""
    if scheduler is not None and scheduler not in SCHEDULERS:
        raise ConfigError(
            f"model.scheduler={scheduler} is unknown; choose null or {', '.join(SCHEDULERS)}"
        )
    gamma = float(gamma)
    if not gamma > 0:
        raise ConfigError(f"model.lr_gamma={gamma} must be a positive factor")
    if milestones is None:
        if scheduler == "multistep":
            raise ConfigError(
                "model.scheduler=multistep needs model.lr_milestones, the epochs where the "
                "learning rate drops, e.g. [250]"
            )
        return None, gamma
    values = list(milestones)
    if scheduler != "multistep":
        raise ConfigError(
            f"model.lr_milestones={values} are for model.scheduler=multistep, not "
            f"{scheduler}; set model.scheduler=multistep or model.lr_milestones=null"
        )
    # bools are ints to Python; a milestone of True is a mistake
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in values)
    if not values or not ints or values[0] < 1 or any(b <= a for a, b in pairwise(values)):
        raise ConfigError(
            f"model.lr_milestones={values} must be strictly increasing positive epochs, e.g. [250]"
        )
    return values, gamma


def lr_scheduler_config(
    optimizer: torch.optim.Optimizer, hparams: Any, trainer: pl.Trainer
) -> dict[str, Any] | None:
    """The ``lr_scheduler`` entry of ``configure_optimizers`` for the module's ``hparams``
    (``None``: a constant learning rate)."""
    if hparams.scheduler == "multistep":
        multistep = torch.optim.lr_scheduler.MultiStepLR(
            optimizer, milestones=hparams.lr_milestones, gamma=hparams.lr_gamma
        )
        return {"scheduler": multistep, "interval": "epoch"}
    if hparams.scheduler != "cosine":
        return None
    stepping_batches = trainer.estimated_stepping_batches  # the run's optimizer steps
    if not math.isfinite(stepping_batches):
        raise ConfigError(
            "model.scheduler=cosine needs a finite training length: set trainer.max_epochs or "
            "trainer.max_steps"
        )
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=max(int(stepping_batches), 1)
    )
    return {"scheduler": cosine, "interval": "step"}


def check_resumed_cosine(planned: int, stepping_batches: float) -> None:
    """A resumed run restores its cosine schedule, planned for the original run's steps;
    stretching it would send the learning rate back up after it reaches 0."""
    if planned != max(int(stepping_batches), 1):
        raise ConfigError(
            f"model.scheduler=cosine was planned for {planned} optimizer steps but this "
            f"run has {int(stepping_batches)}: a resumed run keeps the schedule it started "
            "with; resume with the original trainer.max_epochs / trainer.max_steps"
        )
