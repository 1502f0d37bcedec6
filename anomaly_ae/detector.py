"""The trained detector as a small Python API, in the spirit of PyOD.

    detector = Detector.from_checkpoint("logs/train/runs/<run>/checkpoints/last.ckpt")
    scores = detector.score(images)        # also: decision_function(images)
    labels = detector.predict(images)      # 1 = anomaly (score > threshold_), 0 = normal

``images`` are arrays or tensors: ``(H, W)``, ``(N, H, W)`` or ``(N, C, H, W)``, ``uint8``
0-255 or floats in [0, 1]. Images of another size or with colour channels are refused
unless ``resize=True`` / ``grayscale=True`` say to convert them; so is a ``(3, H, W)`` array,
which could be one colour image or three gray ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from anomaly_ae.checkpoint import autoencoder_from_checkpoint, read_checkpoint, saved_split
from anomaly_ae.data.model_input import to_model_input
from anomaly_ae.inputs import Skipped, read_inputs
from anomaly_ae.models import AutoencoderModule


@dataclass(frozen=True)
class Detection:
    path: str
    score: float
    threshold: float
    is_anomaly: bool


class Detector:
    """Scores images with a trained autoencoder and flags those above its fitted threshold."""

    def __init__(
        self,
        model: AutoencoderModule,
        device: str | torch.device = "cpu",
        batch_size: int = 10_000,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.model = model.to(device).eval()
        self.threshold_ = model.threshold.fitted()
        self.batch_size = batch_size
        # what the detector learnt "normal" from and was calibrated on (sets, split, seed)
        self.data = dict(data or {})

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | torch.device = "cpu") -> Detector:
        """A detector from a training checkpoint (read with ``weights_only=True``), with the
        data settings the checkpoint carries."""
        checkpoint = read_checkpoint(path, map_location=device)
        model = autoencoder_from_checkpoint(checkpoint, path)
        return cls(model, device, data=saved_split(checkpoint))

    @property
    def calibration(self) -> dict[str, Any]:
        """How the threshold was fitted: rule, its numbers, validation images, step."""
        return dict(self.model.threshold.calibration)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.model.hparams.input_shape)

    def score(self, images, grayscale: bool = False, resize: bool = False) -> np.ndarray:
        """Anomaly scores (the model's score; by default the sum of squared reconstruction
        error), higher = more anomalous."""
        return self._scores(images, grayscale, resize).cpu().numpy()

    decision_function = score  # PyOD's name for the same thing

    def predict(self, images, grayscale: bool = False, resize: bool = False) -> np.ndarray:
        """1 where an image is an anomaly (score above ``threshold_``), else 0."""
        scores = self._scores(images, grayscale, resize)
        return self.model.threshold.flag(scores).cpu().numpy().astype(np.int64)

    def _scores(self, images, grayscale: bool, resize: bool) -> torch.Tensor:
        x = to_model_input(images, self.input_shape, grayscale, resize)
        return self.model.score_images(x, self.batch_size)

    def detect_path(
        self, path: str | Path, grayscale: bool = False, resize: bool = False
    ) -> tuple[list[Detection], list[Skipped]]:
        """Score every image in a file or folder; bad files are skipped with the reason."""
        inputs, skipped = read_inputs(path, self.input_shape, grayscale, resize)
        if not inputs.names:
            return [], skipped
        scores = self.model.score_images(inputs.images, self.batch_size)
        flags = self.model.threshold.flag(scores).cpu().tolist()
        detections = [
            Detection(name, score, self.threshold_, flag)
            for name, score, flag in zip(inputs.names, scores.cpu().tolist(), flags, strict=True)
        ]
        return detections, skipped
