"""The Lightning callback that is part of the method: fitting the threshold on validation.

Reporting callbacks (TensorBoard figures) live in :mod:`anomaly_ae.reporting`.
"""

from anomaly_ae.callbacks.threshold import ThresholdCallback

__all__ = ["ThresholdCallback"]
