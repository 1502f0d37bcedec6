"""A user's own config folder registers the schemas of its classes, on a real command line."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import REPO, run_module
from tests.unit.conf.test_config import MEDIAN_YAML


def test_the_command_line_s_config_dirs_register_their_schemas(tmp_path: Path) -> None:
    from anomaly_ae.schema_registry import command_line_config_dirs

    (tmp_path / "threshold").mkdir()
    (tmp_path / "threshold" / "median.yaml").write_text(MEDIAN_YAML)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    line = ["-cd", str(a), f"hydra.searchpath=[file://{b},pkg://anomaly_ae.conf]", "seed=1"]
    assert command_line_config_dirs(line) == [a, b, REPO / "conf"]
    done = run_module(
        "anomaly_ae.train",
        "--config-dir",
        str(tmp_path),
        "threshold=median",
        "threshold.margin=1",
        "--cfg",
        "job",
        "--package",
        "threshold",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "_target_: tests.unit.conf.test_config.MedianThreshold\nmargin: 1.0" in done.stdout
