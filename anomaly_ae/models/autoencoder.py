"""The autoencoder as a LightningModule: training, per-image scores of validation and test,
and what a test found (its :class:`~anomaly_ae.metrics.Evaluation`)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.aggregation import MeanMetric

from anomaly_ae import __version__
from anomaly_ae.data.tensors import Batch
from anomaly_ae.errors import ConfigError, TrainingDivergedError
from anomaly_ae.metrics import Evaluation, ScoreCollector, ScoredImages
from anomaly_ae.models.input_transform import build_input_transform, fit_on_training_images
from anomaly_ae.models.nets import SEED_NET, build_net, complete_net_config
from anomaly_ae.models.schedules import check_resumed_cosine, checked_schedule, lr_scheduler_config
from anomaly_ae.scoring import build_score, reconstruction_error, score_config
from anomaly_ae.targets import qualified_name


@contextmanager
def evaluating(module: nn.Module) -> Iterator[None]:
    """``module`` in eval mode for the block (batch norm's running statistics, no dropout),
    then back in the mode it was in."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


class AutoencoderModule(pl.LightningModule):
    """An encoder/decoder pair trained with MSE, scoring images by reconstruction error.

    Training follows Lightning's contract: automatic optimization, one training batch per
    ``training_step`` and one optimizer step per batch (or per ``accumulate_grad_batches``
    batches), everything logged with ``self.log``, so every Trainer setting (``max_steps``,
    ``val_check_interval``, clipping, accumulation, schedulers, callbacks) means what
    Lightning documents.

    The decision threshold is a float32 buffer (NaN until a :class:`ThresholdCallback` fits it
    on validation scores), so it is saved in and restored from checkpoints together with the
    weights; the constructor's arguments are plain values saved as hyperparameters, so a
    checkpoint alone rebuilds the model.

    ``net`` is the network's config: ``_target_`` (an ``nn.Module`` class, see
    :mod:`anomaly_ae.models.nets`) and its own settings (``None``: the seed's MLP). The module
    owns the scores of both evaluation stages: :meth:`scored` gives those of the last
    validation and test, :attr:`evaluation` what the last test found; readers (the threshold
    callback, the reports) take them from there. ``preprocess`` names an input transform
    fitted on the training images when fitting starts: every image the module trains on,
    validates, tests and scores goes through it (:meth:`model_input`).
    """

    #: the network of ``net=None``
    default_net = SEED_NET

    def __init__(
        self,
        net: Mapping[str, Any] | None = None,
        score: Mapping[str, Any] | None = None,
        input_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 32,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        scheduler: str | None = None,
        lr_milestones: Sequence[int] | None = None,
        lr_gamma: float = 0.1,
        preprocess: str | None = None,
    ) -> None:
        super().__init__()
        # Plain Python values (not OmegaConf containers) keep checkpoints loadable as weights.
        input_shape, latent_dim = [int(v) for v in input_shape], int(latent_dim)
        lr, weight_decay = float(lr), float(weight_decay)
        if not lr > 0 or weight_decay < 0:
            raise ConfigError(
                f"model.lr={lr} must be positive and model.weight_decay={weight_decay} not negative"
            )
        lr_milestones, lr_gamma = checked_schedule(scheduler, lr_milestones, lr_gamma)
        net = complete_net_config(net, self.default_net)  # every setting: checkpoints rebuild it
        score = score_config(score)
        # named, not read from the frames: a subclass's own arguments (VaeModule's beta) are
        # added to these; the run logs its whole config instead
        settings = {"net": net, "score": score, "input_shape": input_shape}
        settings |= {"latent_dim": latent_dim, "lr": lr, "weight_decay": weight_decay}
        schedule = {"scheduler": scheduler, "lr_milestones": lr_milestones, "lr_gamma": lr_gamma}
        settings |= {**schedule, "preprocess": preprocess}
        self.save_hyperparameters(settings, logger=False)
        # model.preprocess: fitted when fitting starts, applied to every image the model sees
        self.input_transform = build_input_transform(preprocess)
        network = build_net(net, input_shape, latent_dim)
        self.encoder, self.decoder = network.encoder, network.decoder
        # the anomaly score; what it fits (FitScore, before each validation) is in its buffers
        self.scorer = build_score(score, latent_dim)
        # one image through the model fills the FLOPs and size columns of Lightning's summary
        self.example_input_array = torch.zeros(1, *input_shape)
        # float32 like the scores it is compared with; accelerators such as MPS have no float64
        self.register_buffer("threshold", torch.tensor(math.nan, dtype=torch.float32))
        self.calibration: dict[str, Any] = {}
        # Every image's score of the last validation and of the last test, gathered over DDP
        # processes (torchmetrics Metrics, so they move with the module): the threshold is
        # fitted on the first (ThresholdCallback), the test metrics computed on the second.
        self.validation_scores = ScoreCollector()
        self.test_scores = ScoreCollector()
        self._scored: dict[str, ScoredImages] = {}  # collected once per epoch, then kept
        self._evaluation: Evaluation | None = None
        # what the reports draw: every training batch's loss (floats: thousands of one-element
        # tensors kept alive would fragment the heap)
        self._loss_history: list[float] = []
        # (optimizer step, mean validation loss) of every validation, for the loss panel
        self._val_loss_history: list[tuple[int, float]] = []
        # the epoch's mean training loss, weighted by batch size, over every rank under DDP
        # ("error": NaN stops training before it gets here; "disable" would drop the weights)
        self.train_loss_mean = MeanMetric(nan_strategy="error")
        # "disable": a NaN loss must reach val/loss, not be dropped (checkpoint choice, stopping)
        self.val_loss_mean = MeanMetric(nan_strategy="disable")
        self._step_loss: torch.Tensor | None = None
        self._checkpoint_step = 0  # global step of the checkpoint the weights were loaded from

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Reconstruct ``images`` given as the network takes them (:meth:`model_input`)."""
        return self.decoder(self.encoder(images))

    def model_input(self, images: torch.Tensor) -> torch.Tensor:
        """``images`` (pixels in [0, 1]) as the network takes them and reconstructs them: through
        the fitted ``model.preprocess`` transform, or as they are."""
        return images if self.input_transform is None else self.input_transform(images)

    def score(self, images: torch.Tensor) -> torch.Tensor:
        """Anomaly score of each image (``model.score``, of the model's input: by default the
        seed's sum of squared reconstruction error)."""
        x = self.model_input(images)
        codes = self.encoder(x)
        return self.scorer(x, codes, self.decoder(codes))

    @torch.inference_mode()
    def codes_and_errors(
        self, images: torch.Tensor, batch_size: int = 10_000
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent codes and reconstruction errors of any number of images, in eval mode and
        large chunks: what the scores are fitted on."""
        with evaluating(self):
            codes, errors = [], []
            for chunk in images.split(batch_size):
                x = self.model_input(chunk.to(self.device, non_blocking=True))
                z = self.encoder(x)
                codes.append(z.flatten(1))
                errors.append(reconstruction_error(x, self.decoder(z)))
            return torch.cat(codes), torch.cat(errors)

    @torch.inference_mode()
    def score_images(self, images: torch.Tensor, batch_size: int = 10_000) -> torch.Tensor:
        """Scores of any number of images, in large chunks, in eval mode and without autograd.

        Large chunks keep the matrix products efficient: on a 2-core CPU, chunks of 10,000
        score about 2.5x more images per second than chunks of 1,000.
        """
        with evaluating(self):
            chunks = images.split(batch_size)
            return torch.cat([self.score(c.to(self.device, non_blocking=True)) for c in chunks])

    def flag(self, scores: torch.Tensor) -> torch.Tensor:
        """``True`` where a score is above the fitted threshold.

        The comparison runs in float32, as in testing (``detection_metrics``) and in exported
        models, so every path flags the same images.
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

    @property
    def weights_step(self) -> int:
        """The optimizer steps behind the current weights: the trainer's count while a
        trainer has trained them, else the step of the checkpoint they were loaded from."""
        trainer = self._trainer
        if trainer is not None and trainer.global_step > 0:
            return trainer.global_step
        return self._checkpoint_step

    @property
    def is_calibrated_on_these_weights(self) -> bool:
        """Whether the threshold was fitted on the current weights (at their step)."""
        return self.is_calibrated and self.calibration.get("step") == self.weights_step

    def training_loss(self, images: torch.Tensor) -> torch.Tensor:
        """The loss of a training batch: the mean squared reconstruction error (the seed's)."""
        return F.mse_loss(self(images), images)

    def validation_loss(
        self, images: torch.Tensor, codes: torch.Tensor, reconstructions: torch.Tensor
    ) -> torch.Tensor:
        """The loss of a validation batch (``val/loss``), from its codes and reconstructions."""
        return F.mse_loss(reconstructions, images)

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        images = self.model_input(batch.images)
        loss = self.training_loss(images)
        value = loss.item()  # the one host sync of a step: the NaN check and the loss curve
        if not math.isfinite(value):
            self._stop_diverged(value)
        self._step_loss = loss.detach()
        self.train_loss_mean.update(self._step_loss, len(images))
        self._loss_history.append(value)
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Batch, batch_idx: int) -> None:
        """Log the step's loss when Lightning will hand it to the loggers.

        A ``self.log`` call costs Lightning's bookkeeping (a fraction of a millisecond on a
        CPU, a tenth of a step of the seed's model), so the step loss is logged only on the
        steps whose logged values Lightning writes: it decides that after this hook
        (``update_train_step_metrics``) with the test asked here, so the loggers get the same
        steps, each with its own batch's loss; the progress bar shows the last of them. The
        epoch mean is a torchmetrics ``MeanMetric`` over every batch.
        """
        trainer = self.trainer
        # Lightning's own test (every log_every_n_steps optimizer steps, or when stopping)
        if trainer._logger_connector.should_update_logs or trainer.fast_dev_run:
            self.log(
                "train/loss_step", self._step_loss, on_step=True, on_epoch=False, prog_bar=True
            )

    def on_train_epoch_start(self) -> None:
        self.train_loss_mean.reset()

    def on_train_epoch_end(self) -> None:
        if self.train_loss_mean.update_count:  # a resumed run may start at an epoch's end
            # the Metric itself: Lightning computes it (synced over DDP ranks) and resets it
            self.log("train/loss_epoch", self.train_loss_mean)

    def _stop_diverged(self, loss: float) -> None:
        """Raise before a NaN or infinite loss is back-propagated, naming the optimizer step
        it would have fed; the weights of earlier checkpoints stay as they are."""
        saved = [
            Path(c.best_model_path) for c in self.trainer.checkpoint_callbacks if c.best_model_path
        ]
        kept = f". Checkpoints of earlier epochs are kept in {saved[0].parent}" if saved else ""
        raise TrainingDivergedError(
            f"the training loss became {loss} at optimizer step {self.global_step + 1} "
            f"(epoch {self.current_epoch}); lower model.lr or look for NaN/inf pixels in the "
            f"data{kept}"
        )

    def training_losses(self) -> torch.Tensor:
        """The loss of every training batch so far (the seed's loss.png)."""
        return torch.tensor(self._loss_history, dtype=torch.float32)

    def validation_losses(self) -> torch.Tensor:
        """``(optimizer step, mean validation loss)`` of every validation so far, ``(n, 2)``."""
        return torch.tensor(self._val_loss_history, dtype=torch.float64).reshape(-1, 2)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        images = self.model_input(batch.images)
        codes = self.encoder(images)
        reconstructions = self.decoder(codes)
        loss = self.validation_loss(images, codes, reconstructions)
        self.val_loss_mean.update(loss.detach(), len(images))
        if not self.trainer.sanity_checking:  # a couple of batches of an untrained model
            scores = self.scorer(images, codes, reconstructions)
            self.validation_scores.update(scores, batch.targets, batch.indices)

    def on_validation_epoch_start(self) -> None:
        self.val_loss_mean.reset()
        self.validation_scores.reset()
        self._scored.pop("validation", None)

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self.scored("validation")  # gathered now, on every process, for later readers
        if not self.val_loss_mean.update_count:
            return
        loss = self.val_loss_mean.compute()  # weighted by batch size, over every DDP rank
        # the same value on every rank already; sync_dist says so to Lightning
        self.log("val/loss", loss, prog_bar=True, sync_dist=True)
        if self.trainer.sanity_checking:
            return
        history = self._val_loss_history  # recorded before checkpoints are written
        if history and history[-1][0] == self.weights_step:
            history.pop()  # these weights again (evaluate, a calibration pass): one point
        history.append((self.weights_step, float(loss)))

    def scored(self, stage: str) -> ScoredImages | None:
        """Every image's score and target of the last ``validation`` or ``test`` epoch, in
        dataset order, on the CPU; ``None`` if no image was scored.

        Gathered across DDP processes when the epoch ends (a collective step each process
        makes in the module's epoch-end hook, or in a callback's before it), then kept, so
        rank-zero code reads it later without communicating.
        """
        if stage not in self._scored:
            collector = {"validation": self.validation_scores, "test": self.test_scores}[stage]
            if not collector.update_count:
                return None
            self._scored[stage] = collector.collected()
        return self._scored[stage]

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self.test_scores.update(self.score(batch.images), batch.targets, batch.indices)

    def on_test_epoch_start(self) -> None:
        self.test_scores.reset()
        self._scored.pop("test", None)
        self._evaluation = None

    def on_test_epoch_end(self) -> None:
        test = self.scored("test")
        if test is None:
            return
        validation, score = self.scored("validation"), self.scorer.description
        self._evaluation = Evaluation.of(self.fitted_threshold(), validation, test, score)
        rates = {f"test/{name}": value for name, value in self._evaluation.rates().items()}
        self.log_dict(rates, rank_zero_only=True)

    @property
    def evaluation(self) -> Evaluation | None:
        """What the last test found (every set's scores, the threshold and the metrics);
        ``None`` before a test."""
        return self._evaluation

    def configure_optimizers(self) -> Any:
        # The fused kernel updates all parameters at once: about a quarter of a CPU training
        # step of the seed's model is Adam's per-tensor arithmetic otherwise.
        fused = self.device.type in ("cpu", "cuda")
        optimizer = torch.optim.Adam(
            self.parameters(),
            lr=self.hparams.lr,
            weight_decay=self.hparams.weight_decay,
            fused=fused,
        )
        schedule = lr_scheduler_config(optimizer, self.hparams, self.trainer)
        return optimizer if schedule is None else {"optimizer": optimizer, "lr_scheduler": schedule}

    def on_fit_start(self) -> None:
        # Lightning restores a resumed run's checkpoint first: its fitted bounds are kept
        fit_on_training_images(self.input_transform, self.trainer)

    def on_train_start(self) -> None:
        if self.hparams.scheduler == "cosine":
            steps = self.trainer.estimated_stepping_batches
            check_resumed_cosine(self.lr_schedulers().T_max, steps)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["anomaly_ae"] = {
            "version": __version__,
            # the LightningModule class the settings are for (model=vae's differs)
            "module": qualified_name(type(self)),
            "calibration": self.calibration,
            "training_losses": self.training_losses(),
            "validation_losses": self.validation_losses(),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        ours = checkpoint.get("anomaly_ae", {})
        self.calibration = dict(ours.get("calibration", {}))
        self._checkpoint_step = int(checkpoint.get("global_step", 0))
        losses = ours.get("training_losses")
        self._loss_history = [] if losses is None else torch.as_tensor(losses).tolist()
        validation = ours.get("validation_losses")
        self._val_loss_history = (
            [] if validation is None else [(int(s), float(v)) for s, v in validation.tolist()]
        )
