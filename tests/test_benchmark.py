"""The speed benchmark runs end to end (one epoch, synthetic data); it asserts what it
reports, never how fast anything is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from anomaly_ae.config import PROJECT_ROOT


@pytest.mark.slow
def test_benchmark_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if k != "ANOMALY_AE_DATA"}
    done = subprocess.run(
        [sys.executable, "benchmarks/train_speed.py", "--epochs", "1", "--out", str(out)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "SYNTHETIC" in done.stdout
    for label in (
        "(a) seed loop",
        "(b) bare tensor loop",
        "(c) anomaly_ae fit",
        "peak RSS",
        "(d) scoring",
        "c / b",
        "a / c",
    ):
        assert label in done.stdout
    report = json.loads(out.read_text())
    assert report["steps"] == 500
    for key in (
        "a_seed_seconds",
        "b_bare_seconds",
        "c_framework_fit_seconds",
        "c_framework_peak_rss_mb",
        "d_score_images_per_second",
        "ratio_c_over_b",
        "ratio_a_over_c",
    ):
        assert report[key] > 0
