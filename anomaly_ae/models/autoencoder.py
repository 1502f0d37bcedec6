"""The autoencoder as a LightningModule: training, per-image scores, and test-time metrics."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torchmetrics import MeanMetric

from anomaly_ae import __version__
from anomaly_ae.data.tensors import Batch
from anomaly_ae.errors import ConfigError, TrainingDivergedError
from anomaly_ae.metrics import ScoreCollector, detection_metrics
from anomaly_ae.models.architectures import build_networks
from anomaly_ae.scoring import reconstruction_error


class AutoencoderModule(pl.LightningModule):
    """An encoder/decoder pair trained with MSE, scoring images by reconstruction error.

    The decision threshold is a registered buffer (NaN until a :class:`ThresholdCallback`
    fits it on validation scores), so it is saved in and restored from checkpoints together
    with the weights; the constructor's arguments are plain values saved as hyperparameters,
    so a checkpoint alone rebuilds the model.
    """

    def __init__(
        self,
        architecture: str = "mlp",
        input_shape: Sequence[int] = (1, 28, 28),
        hidden_dims: Sequence[int] = (256, 128),
        channels: Sequence[int] = (32, 64),
        upsampling: str = "transpose",
        latent_dim: int = 32,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__()
        # Plain Python values (not OmegaConf containers) keep checkpoints loadable as weights.
        input_shape, hidden_dims = [int(v) for v in input_shape], [int(v) for v in hidden_dims]
        channels, latent_dim = [int(v) for v in channels], int(latent_dim)
        lr, weight_decay = float(lr), float(weight_decay)
        if not lr > 0 or weight_decay < 0:
            raise ConfigError(
                f"model.lr={lr} must be positive and model.weight_decay={weight_decay} not negative"
            )
        self.encoder, self.decoder = build_networks(
            architecture, input_shape, hidden_dims, channels, upsampling, latent_dim
        )
        self.save_hyperparameters(logger=False)  # the run logs its whole config instead
        self.register_buffer("threshold", torch.tensor(math.nan, dtype=torch.float64))
        self.calibration: dict[str, Any] = {}
        self.train_loss = MeanMetric(nan_strategy="disable")
        self.test_scores = ScoreCollector()
        self.test_metrics: dict[str, float | int | None] = {}
        # what the reports draw: every step's training loss, the last validation scores (set
        # by ThresholdCallback), and the last test's scores with their targets, all on the CPU
        self._loss_history: list[torch.Tensor] = []
        self._unchecked_losses: list[torch.Tensor] = []  # not yet checked for NaN/inf
        self.validation_scores: torch.Tensor | None = None
        self.test_outputs: tuple[torch.Tensor, torch.Tensor] | None = None
        self.automatic_optimization = False  # see training_step

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Reconstruct ``images``."""
        return self.decoder(self.encoder(images))

    def score(self, images: torch.Tensor) -> torch.Tensor:
        """Anomaly score of each image: sum of squared reconstruction error."""
        return reconstruction_error(images, self(images))

    @torch.inference_mode()
    def score_images(self, images: torch.Tensor, batch_size: int = 10_000) -> torch.Tensor:
        """Scores of any number of images, in large chunks, in eval mode and without autograd.

        Large chunks keep the matrix products efficient: on a 2-core CPU, chunks of 10,000
        score about 2.5x more images per second than chunks of 1,000.
        """
        was_training = self.training
        self.eval()
        try:
            chunks = images.split(batch_size)
            return torch.cat([self.score(c.to(self.device, non_blocking=True)) for c in chunks])
        finally:
            self.train(was_training)

    def flag(self, scores: torch.Tensor) -> torch.Tensor:
        """``True`` where a score is above the fitted threshold.

        The comparison runs in the scores' float32, as in testing (``detection_metrics``) and
        in exported models, so every path flags the same images.
        """
        return scores > self.fitted_threshold()

    @property
    def is_calibrated(self) -> bool:
        # +inf is a valid fit (a conformal level too strict for the validation set's size)
        return not bool(torch.isnan(self.threshold))

    def fitted_threshold(self) -> float:
        if not self.is_calibrated:
            raise ConfigError(
                "the model has no fitted threshold (it was never validated): use a checkpoint "
                "that python -m anomaly_ae.train wrote after a validation epoch, or let "
                "python -m anomaly_ae.evaluate fit one with refit_threshold=true"
            )
        return float(self.threshold)

    def set_threshold(self, value: float, calibration: dict[str, Any]) -> None:
        self.threshold.fill_(value)
        self.calibration = dict(calibration)

    def training_step(self, batch: Batch, batch_idx: int) -> None:
        """One optimizer step per training batch; a grouped batch holds several.

        Manual optimization lets one Lightning iteration take several steps (see
        ``data.batches_per_iteration``); each step is the seed's: MSE of one batch, Adam.
        """
        optimizer = self.optimizers()
        losses, sizes, logged = [], [], False
        for micro in batch.micro_batches():
            images = micro.images
            loss = F.mse_loss(self(images), images)
            optimizer.zero_grad()
            self.manual_backward(loss)
            optimizer.step()
            losses.append(loss.detach())
            sizes.append(len(images))
            if self._is_logging_step():
                self._log_step_loss(losses[-1])
                logged = True
        # one update per iteration: the metric's bookkeeping is not free either
        stacked = torch.stack(losses)
        self.train_loss.update(stacked, weight=torch.tensor(sizes, device=self.device))
        self._loss_history.append(stacked)  # stays on the device: no sync per step
        self._unchecked_losses.append(stacked)
        if logged or self.trainer.is_last_batch:
            self._stop_if_diverged()

    def _stop_if_diverged(self) -> None:
        """Raise, naming the first step, if a loss since the last check is NaN or infinite.

        Checked where the loop syncs with the host anyway (a logging step) and before every
        validation, so a diverged model is never validated or checkpointed.
        """
        recent = torch.cat(self._unchecked_losses)
        self._unchecked_losses = []
        finite = torch.isfinite(recent)
        if bool(finite.all()):
            return
        first = int((~finite).nonzero()[0])
        step = self.global_step - len(recent) + first + 1
        saved = [
            Path(c.best_model_path) for c in self.trainer.checkpoint_callbacks if c.best_model_path
        ]
        kept = f". Checkpoints of earlier epochs are kept in {saved[0].parent}" if saved else ""
        raise TrainingDivergedError(
            f"the training loss became {recent[first].item()} at optimizer step {step} "
            f"(epoch {self.current_epoch}); lower model.lr or look for NaN/inf pixels in the "
            f"data{kept}"
        )

    def training_losses(self) -> torch.Tensor:
        """The loss of every optimizer step so far (the seed's loss.png), on the CPU."""
        if not self._loss_history:
            return torch.empty(0)
        history = torch.cat([h.reshape(-1).cpu() for h in self._loss_history])
        self._loss_history = [history]
        return history

    def _is_logging_step(self) -> bool:
        """Every ``trainer.log_every_n_steps`` optimizer steps (counted after the step)."""
        every = self.trainer.log_every_n_steps
        return every > 0 and self.global_step % every == 0

    def _log_step_loss(self, loss: torch.Tensor) -> None:
        """Hand the step loss to the loggers at its own step, and to the progress bar.

        Lightning flushes ``self.log`` values once per iteration, which may hold several
        steps, so the per-step series goes to the loggers directly; the epoch mean comes
        from ``train_loss``, which accumulates on the device without a host sync.
        """
        self.log("train/loss_step", loss, prog_bar=True, logger=False)
        value = loss.item()
        for logger in self.loggers:
            logger.log_metrics({"train/loss_step": value}, step=self.global_step)

    def on_train_epoch_end(self) -> None:
        self.log("train/loss_epoch", self.train_loss.compute())
        self.train_loss.reset()
        self._log_at_optimizer_step()

    def on_validation_epoch_end(self) -> None:
        if self.trainer.state.fn == "fit" and not self.trainer.sanity_checking:
            self._log_at_optimizer_step()

    def _log_at_optimizer_step(self) -> None:
        """Put epoch-level values at the optimizer step on the loggers' x axis.

        Lightning counts iterations; a logged ``step`` value replaces that count (Lightning's
        documented override), so every curve shares the axis of ``train/loss_step``.
        """
        self.log("step", float(self.global_step))

    def validation_step(self, batch: Batch, batch_idx: int) -> dict[str, torch.Tensor]:
        images = batch.images
        reconstructions = self(images)
        loss = F.mse_loss(reconstructions, images)
        self.log(
            "val/loss", loss, on_epoch=True, prog_bar=True, sync_dist=True, batch_size=len(images)
        )
        return {"scores": reconstruction_error(images, reconstructions)}

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self.test_scores.update(self.score(batch.images), batch.targets, batch.indices)

    def on_test_epoch_start(self) -> None:
        self.test_scores.reset()
        self.test_metrics = {}

    def on_test_epoch_end(self) -> None:
        scores, targets = self.test_scores.compute()
        self.test_metrics = detection_metrics(scores, targets, self.fitted_threshold())
        self.test_outputs = (scores.cpu(), targets.cpu())
        numeric = {f"test/{k}": float(v) for k, v in self.test_metrics.items() if v is not None}
        self.log_dict(numeric, rank_zero_only=True)
        self.test_scores.reset()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        # The fused kernel updates all parameters at once: about a quarter of a CPU training
        # step of the seed's model is Adam's per-tensor arithmetic otherwise.
        fused = self.device.type in ("cpu", "cuda")
        return torch.optim.Adam(
            self.parameters(),
            lr=self.hparams.lr,
            weight_decay=self.hparams.weight_decay,
            fused=fused,
        )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["anomaly_ae"] = {
            "version": __version__,
            "calibration": self.calibration,
            "training_losses": self.training_losses(),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        ours = checkpoint.get("anomaly_ae", {})
        self.calibration = dict(ours.get("calibration", {}))
        losses = ours.get("training_losses")
        self._loss_history = (
            [torch.as_tensor(losses, dtype=torch.float32)] if losses is not None else []
        )
