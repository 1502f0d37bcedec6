"""Hydra's configs for anomaly_ae, installed as the package ``anomaly_ae.conf``
(``pkg://anomaly_ae.conf``); see ``[tool.setuptools]`` in pyproject.toml."""
