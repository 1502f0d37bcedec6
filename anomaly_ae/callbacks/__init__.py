"""Lightning callbacks of the framework."""

from anomaly_ae.callbacks.threshold import ThresholdCallback

__all__ = ["ThresholdCallback"]
