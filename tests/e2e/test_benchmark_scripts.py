"""The benchmark scripts run end to end (one epoch, synthetic data) and report every figure
they promise; they assert what is reported, never how fast anything is."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

BENCHMARKS = REPO / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import train_speed  # noqa: E402
from train_speed import write_synthetic_root  # noqa: E402

HAS_PYOD = importlib.util.find_spec("pyod") is not None


def run_script(script: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ANOMALY_AE_DATA"}
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random images in MNIST's shapes and counts (hw7's loop splits exactly 60,000)."""
    return write_synthetic_root(tmp_path_factory.mktemp("synthetic"))


@pytest.mark.slow
def test_speed_benchmark_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = run_script("train_speed.py", "--epochs", "1", "--repeats", "1", "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "SYNTHETIC" in done.stdout
    for label in (
        "round 1/1",
        "(a) hw7 loop",
        "(b) bare tensor loop",
        "(c) anomaly_ae fit",
        "peak RSS",
        "c / b",
        "a / c",
        "c / b  of the fastest",
        "(d) scoring",
        "AUROC of the last (c)",
        "(e) PyOD",
    ):
        assert label in done.stdout
    report = json.loads(out.read_text())
    assert report["complete"] and report["steps"] == 500 and report["repeats"] == 1
    assert len(report["rounds"]) == 1 and set(report["fastest"]) == {
        "ratio_c_over_b",
        "ratio_a_over_c",
    }
    for key in (
        "a_hw7_seconds",
        "b_bare_seconds",
        "c_framework_fit_seconds",
        "c_framework_peak_rss_mb",
        "d_score_images_per_second",
        "ratio_c_over_b",
        "ratio_a_over_c",
    ):
        assert report[key] > 0
    # the round's line shows c/b and a/c of the times it shows, which are the ones recorded
    a, b, c = (report["rounds"][0][case]["seconds"] for case in ("hw7", "bare", "framework"))
    printed = re.search(
        r"round 1/1: \(a\) (\S+) s  \(b\) (\S+) s  \(c\) (\S+) s  c/b (\S+)  a/c (\S+)",
        done.stdout,
    )
    assert printed is not None, done.stdout
    assert printed.groups() == (f"{a:.2f}", f"{b:.2f}", f"{c:.2f}", f"{c / b:.3f}", f"{a / c:.2f}")
    # the report's figures are the summary of its own rounds
    assert report["summary"] == train_speed.summarise(report["rounds"])
    assert report["fastest"] == train_speed.fastest_ratios(report["summary"])
    for key, values in report["summary"].items():
        assert report[key] == values["median"]
    if HAS_PYOD:
        assert report["e_peer"]["seconds"] > 0 and 0 <= report["e_peer"]["auroc"] <= 1
        assert report["e_peer"]["settings"]["hidden_neuron_list"] == [256, 128, 32]
    else:
        assert report["e_peer"] == {"skipped": "PyOD is not installed: pip install -e '.[bench]'"}


@pytest.mark.slow
@pytest.mark.skipif(not HAS_PYOD, reason="PyOD is not installed (pip install -e '.[bench]')")
def test_pyod_peer_has_hw7s_layer_sizes_and_no_extras(synthetic_root: Path) -> None:
    import torch
    from pyod.models.auto_encoder import AutoEncoder
    from pyod_peer import pyod_settings

    detector = AutoEncoder(**pyod_settings(epochs=1))
    detector.fit(torch.rand(200, 784).numpy())
    layers = [m for m in detector.model.modules() if isinstance(m, torch.nn.Linear)]
    sizes = [layers[0].in_features] + [layer.out_features for layer in layers]
    assert sizes == [784, 256, 128, 32, 128, 256, 784]
    kinds = {type(m).__name__ for m in detector.model.modules()}
    assert not kinds & {"BatchNorm1d", "Dropout"}


@pytest.mark.slow
def test_reproduce_prints_and_writes_the_side_by_side_table(
    synthetic_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "reproduce"
    done = run_script(
        "reproduce_hw7.py",
        "--data",
        str(synthetic_root),
        "--seeds",
        "2",
        "--epochs",
        "1",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = out.with_suffix(".md").read_text()
    assert table in done.stdout
    for row in (
        "| hw7 document (one GPU run) | 22.63 | 1.08 % | 2.44 % | n/a |",
        "| hw7's loop here, mean ± sd of 2 |",
        "| anomaly_ae here, mean ± sd of 2 |",
        "| difference of means, in hw7-loop sds |",
        "anomaly_ae within one sd of hw7's loop:",
    ):
        assert row in table
    report = json.loads(out.with_suffix(".json").read_text())
    assert [r["seed"] for r in report["anomaly_ae_runs"]] == [0, 1]
    for run in report["anomaly_ae_runs"]:
        # every number of the framework comes from its tested, calibrated final weights
        assert run["calibration_step"] == run["tested_step"] == 500
        assert "seed=" in run["command"]
    for run in report["hw7_loop_runs"] + report["anomaly_ae_runs"]:
        assert run["fit_seconds"] > 0 and 0 <= run["auroc"] <= 1 and run["final_loss"] > 0


def test_reproduce_refuses_a_folder_without_the_real_files(tmp_path: Path) -> None:
    done = run_script("reproduce_hw7.py", "--data", str(tmp_path))
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: reproduce_hw7 needs the real MNIST")


def test_reproduce_needs_two_seeds_a_side(synthetic_root: Path) -> None:
    done = run_script("reproduce_hw7.py", "--data", str(synthetic_root), "--seeds", "1")
    assert done.returncode != 0
    assert done.stderr.strip() == (
        "error: --seeds must be at least 2: mean ± sd needs two runs a side"
    )
