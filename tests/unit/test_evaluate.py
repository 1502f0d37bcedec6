"""anomaly_ae.evaluate's checks before any test run: a checkpoint path is required."""

from __future__ import annotations

from pathlib import Path

import pytest

from anomaly_ae.errors import ConfigError
from anomaly_ae.evaluate import evaluate
from tests.helpers import compose_config, tiny_overrides


def test_evaluate_without_checkpoint_path_is_a_config_error(
    tiny_root: Path, tmp_path: Path
) -> None:
    cfg = compose_config("evaluate", tiny_overrides(tiny_root, tmp_path / "eval"))
    with pytest.raises(ConfigError, match="ckpt_path must be given"):
        evaluate(cfg)
