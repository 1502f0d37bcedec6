"""anomaly_ae: autoencoder-based anomaly and out-of-distribution detection.

``from anomaly_ae import Detector`` is the Python API of a trained detector. Importing the
package loads neither Hydra nor the configs: those come with the entry points
(``python -m anomaly_ae.train``, ``anomaly-ae-train``, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.3.0"
__all__ = ["Detection", "Detector", "__version__"]

if TYPE_CHECKING:
    from anomaly_ae.detector import Detection, Detector


def __getattr__(name: str) -> Any:
    """``Detector`` and ``Detection`` on first use (PEP 562), so that ``import anomaly_ae``
    costs nothing until they are needed."""
    if name in ("Detector", "Detection"):
        from anomaly_ae import detector

        return getattr(detector, name)
    raise AttributeError(f"module 'anomaly_ae' has no attribute {name!r}")
