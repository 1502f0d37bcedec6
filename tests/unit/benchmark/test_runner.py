"""anomaly_ae.benchmark.runner: the progress line and its estimate of the time left."""

from __future__ import annotations

from anomaly_ae.benchmark.cells import Cell
from anomaly_ae.benchmark.runner import progress_line


def test_the_progress_line_counts_each_cell_at_its_detectors_time() -> None:
    ran = {
        Cell("fast", 0, 0): {"status": "ok", "auroc": 0.91234, "wall_seconds": 10.0},
        Cell("slow", 0, 0): {"status": "ok", "auroc": 0.8, "wall_seconds": 600.0},
        Cell("fast", 1, 0): {"status": "failed", "error": "error: boom", "wall_seconds": 20.0},
    }
    left = [Cell("slow", 1, 0), Cell("fast", 2, 0), Cell("new", 0, 0)]
    line = progress_line(Cell("fast", 0, 0), ran, left, 2, "auroc")
    # (600 + 15 + the mean of every cell, 210) / 2 jobs = 412.5 s
    assert line == "[3/6] fast · class 0 · seed 0: auroc 0.9123 (10 s); 3 left, about 7 min"
    failed = progress_line(Cell("fast", 1, 0), ran, [], 2, "auroc")
    assert failed == "[3/3] fast · class 1 · seed 0: FAILED: error: boom (20 s); 0 left"
