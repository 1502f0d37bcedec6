"""The autoencoder as a LightningModule: training, per-image scores of validation and test,
and what a test found (its :class:`~anomaly_ae.metrics.Evaluation`)."""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torchmetrics.aggregation import MeanMetric

from anomaly_ae import __version__
from anomaly_ae.data.batches import Batch
from anomaly_ae.errors import ConfigError, TrainingDivergedError
from anomaly_ae.eval_mode import evaluating
from anomaly_ae.metrics import Evaluation, ScoreCollector, ScoredImages
from anomaly_ae.models.input_transform import build_input_transform, fit_on_training_images
from anomaly_ae.models.nets import HW7_NET, build_net, complete_net_config
from anomaly_ae.models.schedules import check_resumed_cosine, checked_schedule, lr_scheduler_config
from anomaly_ae.models.step_logging import lightning_writes_step
from anomaly_ae.scoring import FitScore, build_score, score_config
from anomaly_ae.targets import qualified_name
from anomaly_ae.thresholds import (
    DecisionThreshold,
    build_rule,
    threshold_config,
    upgrade_threshold_state,
)


class AutoencoderModule(pl.LightningModule):
    """An encoder/decoder pair trained with MSE, scoring images by reconstruction error.

    Training follows Lightning's contract: automatic optimization, one training batch per
    ``training_step`` and one optimizer step per batch (or per ``accumulate_grad_batches``
    batches), everything logged with ``self.log``, so every Trainer setting (``max_steps``,
    ``val_check_interval``, clipping, accumulation, schedulers, callbacks) means what
    Lightning documents.

    The constructor's arguments are plain values saved as hyperparameters, so a checkpoint
    alone rebuilds the model. What is fitted on normal data besides the weights is the model's
    too, as components it returns from ``configure_callbacks``: the score's state
    (:class:`~anomaly_ae.scoring.FitScore`, before each validation) and the decision threshold
    (:attr:`threshold`, a :class:`~anomaly_ae.thresholds.DecisionThreshold`, after it).

    Args:
        net: the network's config: ``_target_`` (an ``nn.Module`` class, see
            :mod:`anomaly_ae.models.nets`) and its own settings (``None``: hw7's MLP).
        score: the anomaly score (``score=reconstruction|mahalanobis|combined``).
        threshold: the threshold rule (the ``threshold`` group: ``gaussian``, ``quantile``,
            ``conformal``); ``None``: hw7's mean + 3 std.
        input_shape: ``(C, H, W)`` of the images; training takes the data's.
        latent_dim: the code's size.
        lr, weight_decay: Adam's.
        scheduler: ``None``, ``cosine`` (to 0 over the run's optimizer steps) or ``multistep``
            (``lr`` times ``lr_gamma`` at each epoch of ``lr_milestones``).
        preprocess: ``None`` or ``gcn_minmax``: an input transform fitted on the training
            images when fitting starts, applied to every image the model sees
            (:meth:`model_input`).

    The module keeps every image's score of the last validation and test (:meth:`scored`) and
    what the last test found (:attr:`evaluation`); the threshold and the reports read them.
    """

    #: the network of ``net=None``
    default_net = HW7_NET

    def __init__(
        self,
        net: Mapping[str, Any] | None = None,
        score: Mapping[str, Any] | None = None,
        threshold: Mapping[str, Any] | None = None,
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
        # plain Python values (not OmegaConf containers) keep checkpoints loadable as weights
        input_shape, latent_dim = [int(v) for v in input_shape], int(latent_dim)
        lr, weight_decay = float(lr), float(weight_decay)
        if not lr > 0 or weight_decay < 0:
            raise ConfigError(
                f"model.lr={lr} must be positive and model.weight_decay={weight_decay} not negative"
            )
        lr_milestones, lr_gamma = checked_schedule(scheduler, lr_milestones, lr_gamma)
        net = complete_net_config(net, self.default_net)  # every setting: checkpoints rebuild it
        score = score_config(score)
        threshold = threshold_config(threshold)
        # the arguments as normalised above, named by the signature (not read from the frames,
        # where a subclass's raw arguments would replace them; it adds its own, as beta)
        normalised = locals()
        arguments = list(inspect.signature(AutoencoderModule.__init__).parameters)[1:]
        self.save_hyperparameters({name: normalised[name] for name in arguments}, logger=False)
        # model.preprocess: fitted when fitting starts, applied to every image the model sees
        self.input_transform = build_input_transform(preprocess)
        network = build_net(net, input_shape, latent_dim)
        self.encoder, self.decoder = network.encoder, network.decoder
        # the anomaly score; what it learns from normal data is in its buffers
        self.scorer = build_score(score, latent_dim)
        self.score_fit = FitScore()
        self.threshold = DecisionThreshold(build_rule(threshold))
        # one image through the model fills the FLOPs and size columns of Lightning's summary
        self.example_input_array = torch.zeros(1, *input_shape)
        # every image's score of the last validation and test, gathered over DDP processes
        self.validation_scores = ScoreCollector()
        self.test_scores = ScoreCollector()
        self._scored: dict[str, ScoredImages] = {}  # collected once per epoch, then kept
        self._evaluation: Evaluation | None = None
        # "error": NaN stops training before it gets here; "disable" would drop the weights
        self.train_loss_mean = MeanMetric(nan_strategy="error")
        # "disable": a NaN loss must reach val/loss, not be dropped (checkpoint choice, stopping)
        self.val_loss_mean = MeanMetric(nan_strategy="disable")
        self.checkpoint_step = 0  # the optimizer step of the checkpoint the weights came from
        self._step_loss: tuple[int, torch.Tensor] = (0, torch.tensor(math.nan))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Reconstruct ``images`` given as the network takes them (:meth:`model_input`)."""
        return self.decoder(self.encoder(images))

    def model_input(self, images: torch.Tensor) -> torch.Tensor:
        """``images`` (pixels in [0, 1]) as the network takes them and reconstructs them: through
        the fitted ``model.preprocess`` transform, or as they are."""
        return images if self.input_transform is None else self.input_transform(images)

    def score(self, images: torch.Tensor) -> torch.Tensor:
        """Anomaly score of each image (``model.score``, of the model's input: by default the
        hw7's sum of squared reconstruction error)."""
        x = self.model_input(images)
        codes = self.encoder(x)
        return self.scorer(x, codes, self.decoder(codes))

    @torch.inference_mode()
    def score_images(self, images: torch.Tensor, batch_size: int = 10_000) -> torch.Tensor:
        """Scores of any number of images, in eval mode and without autograd; large chunks
        keep the matrix products efficient (docs/speed.md)."""
        with evaluating(self):
            chunks = images.split(batch_size)
            return torch.cat([self.score(c.to(self.device, non_blocking=True)) for c in chunks])

    @property
    def weights_step(self) -> int:
        """The optimizer steps behind the current weights: the trainer's count once it has
        trained them, else the step of the checkpoint they were loaded from."""
        return self.global_step or self.checkpoint_step

    def configure_callbacks(self) -> list[pl.Callback]:
        return [self.score_fit, self.threshold]

    def keep_calibration(self) -> None:
        """Validations leave the fitted score and threshold as they are (evaluate's default)."""
        self.score_fit.fits_on_validation = self.threshold.fits_on_validation = False

    def training_loss(self, images: torch.Tensor) -> torch.Tensor:
        """The loss of a training batch: the mean squared reconstruction error (hw7's)."""
        return F.mse_loss(self(images), images)

    def validation_loss(
        self, images: torch.Tensor, codes: torch.Tensor, reconstructions: torch.Tensor
    ) -> torch.Tensor:
        """The loss of a validation batch (``val/loss``), from its codes and reconstructions."""
        return F.mse_loss(reconstructions, images)

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        images = self.model_input(batch.images)
        loss = self.training_loss(images)
        if not math.isfinite(loss.item()):  # before a NaN or inf is back-propagated
            self._stop_diverged(loss.item())
        self.train_loss_mean.update(loss.detach(), len(images))
        self._step_loss = (self.global_step, loss.detach())
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Batch, batch_idx: int) -> None:
        # here, after the callbacks' hooks, which may stop training (and so make Lightning log)
        steps_before, loss = self._step_loss
        if lightning_writes_step(self.trainer, steps_before):
            self.log("train/loss_step", loss, on_step=True, on_epoch=False, prog_bar=True)

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
        self._evaluation = Evaluation.of(self.threshold.fitted(), validation, test, score)
        rates = {f"test/{name}": value for name, value in self._evaluation.rates().items()}
        self.log_dict(rates, rank_zero_only=True)

    @property
    def evaluation(self) -> Evaluation | None:
        """What the last test found (every set's scores, the threshold and the metrics);
        ``None`` before a test."""
        return self._evaluation

    def configure_optimizers(self) -> Any:
        # the fused kernel updates all parameters at once, not tensor by tensor (docs/speed.md)
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
        # the LightningModule class the settings are for (model=vae's differs)
        checkpoint["anomaly_ae"] = {"version": __version__, "module": qualified_name(type(self))}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.checkpoint_step = int(checkpoint.get("global_step", 0))
        upgrade_threshold_state(checkpoint)  # before load_state_dict, as Lightning calls this
