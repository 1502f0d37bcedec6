"""Lightning callbacks of the framework."""

from anomaly_ae.callbacks.tensorboard_views import TensorBoardViews
from anomaly_ae.callbacks.threshold import ThresholdCallback

__all__ = ["TensorBoardViews", "ThresholdCallback"]
