"""The Lightning callbacks that are part of the method: fitting the score before each
validation and the threshold after it.

Reporting callbacks (TensorBoard figures) live in :mod:`anomaly_ae.reporting`.
"""

from anomaly_ae.callbacks.score_fit import FitScore
from anomaly_ae.callbacks.threshold import ThresholdCallback

__all__ = ["FitScore", "ThresholdCallback"]
