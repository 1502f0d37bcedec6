"""The losses a run's report draws: every training batch's and every validation's mean."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning import Callback

# where anomaly_ae before 0.3.0 kept them: the model's section of the checkpoint
_LEGACY_KEYS = ("training_losses", "validation_losses")


class LossHistory(Callback):
    """Records the loss of every training batch (hw7's loss.png) and ``(optimizer step, mean
    validation loss)`` of every validation, for the report's loss panel.

    Its state is saved in checkpoints (Lightning's callback state), so a resumed run draws
    the whole curve and ``evaluate`` draws the curve of the checkpoint it tests
    (:meth:`from_checkpoint`).
    """

    def __init__(self) -> None:
        # floats: thousands of one-element tensors kept alive would fragment the heap
        self.training: list[float] = []
        self.validation: list[tuple[int, float]] = []

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        if loss is not None:
            # Lightning hands callbacks the loss divided by accumulate_grad_batches
            self.training.append(float(loss) * trainer.accumulate_grad_batches)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # runs before checkpoint callbacks write (Lightning calls them last)
        loss = trainer.callback_metrics.get("val/loss")
        if trainer.sanity_checking or loss is None:
            return
        step = pl_module.weights_step
        if self.validation and self.validation[-1][0] == step:
            self.validation.pop()  # these weights again (a calibration pass): one point
        self.validation.append((step, float(loss)))

    def training_losses(self) -> torch.Tensor:
        return torch.tensor(self.training, dtype=torch.float32)

    def validation_losses(self) -> torch.Tensor:
        """``(n, 2)``: optimizer step, mean validation loss."""
        return torch.tensor(self.validation, dtype=torch.float64).reshape(-1, 2)

    def state_dict(self) -> dict[str, Any]:
        return {"training": self.training_losses(), "validation": self.validation_losses()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.training = torch.as_tensor(state_dict["training"]).tolist()
        self.validation = [(int(s), float(v)) for s, v in state_dict["validation"].tolist()]

    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        legacy = _legacy_state(checkpoint)
        if legacy is not None:  # its own state, if any, is loaded after this hook
            self.load_state_dict(legacy)

    @classmethod
    def from_checkpoint(cls, checkpoint: Mapping[str, Any]) -> LossHistory:
        """The history a checkpoint holds (empty if it holds none)."""
        history = cls()
        state = checkpoint.get("callbacks", {}).get(history.state_key) or _legacy_state(checkpoint)
        if state is not None:
            history.load_state_dict(state)
        return history


def _legacy_state(checkpoint: Mapping[str, Any]) -> dict[str, Any] | None:
    """The history where anomaly_ae before 0.3.0 kept it: the model's part of the checkpoint."""
    ours = checkpoint.get("anomaly_ae", {})
    if "training_losses" not in ours or "validation_losses" not in ours:
        return None
    return {"training": ours["training_losses"], "validation": ours["validation_losses"]}
