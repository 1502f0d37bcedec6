"""anomaly_ae: autoencoder-based anomaly and out-of-distribution detection."""

__version__ = "0.1.0"

# Registers the ${project_root:} resolver that conf/paths uses, for every entry point and test.
from anomaly_ae import config as _config  # noqa: F401
