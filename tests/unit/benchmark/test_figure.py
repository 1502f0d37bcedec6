"""anomaly_ae.benchmark.figure: the benchmark's figure is written as one PNG."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from anomaly_ae.benchmark.figure import benchmark_figure
from anomaly_ae.benchmark.tables import detector_rows
from tests.helpers import cell_records


def test_the_figure_is_a_png(tmp_path: Path) -> None:
    detectors = {"a": SimpleNamespace(label="A", peer=None, note="", max_seeds=None)}
    values = {("a", 0, 0): 0.9, ("a", 1, 0): 0.8, ("a", 0, 1): 0.7, ("a", 1, 1): 0.75}
    rows = detector_rows(cell_records(values), detectors, [0, 1], [0, 1], "auroc")
    path = benchmark_figure(rows, [0, 1], "title", "auroc", tmp_path / "b.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["b.png"], "no temporary file left"
