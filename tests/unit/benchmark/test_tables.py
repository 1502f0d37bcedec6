"""anomaly_ae.benchmark.tables: means and sds over seeds and classes, failed cells, published
rows and the Markdown table."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from anomaly_ae.benchmark.tables import Spread, detector_rows, markdown_table, published_rows
from tests.helpers import cell_records


def test_means_and_sds_over_seeds() -> None:
    detectors = {"a": SimpleNamespace(label="A", peer=None, note="", max_seeds=None)}
    values = {("a", 0, 0): 0.90, ("a", 0, 1): 0.94, ("a", 1, 0): 0.80, ("a", 1, 1): 0.84}
    (row,) = detector_rows(cell_records(values), detectors, [0, 1], [0, 1], "auroc")
    assert row.per_class[0].mean == pytest.approx(92.0)
    assert row.per_class[0].sd == pytest.approx(2 * 2**0.5)
    # per seed: (90 + 80) / 2 = 85 and (94 + 84) / 2 = 89
    assert (row.mean.mean, row.mean.n) == (pytest.approx(87.0), 2)
    assert row.mean.sd == pytest.approx(2 * 2**0.5)
    assert (row.cell_seconds, row.fit_seconds) == (10.5, 2.5)
    table = markdown_table([row], [0, 1], "title")
    assert "| A | 92.0 ± 2.8 | 82.0 ± 2.8 | **87.0 ± 2.8** | 2.5 s | 10 s |" in table


def test_a_seed_with_a_failed_class_leaves_the_mean() -> None:
    detectors = {"a": SimpleNamespace(label="A", peer=None, note="", max_seeds=None)}
    values = {("a", 0, 0): 0.9, ("a", 1, 0): 0.8, ("a", 0, 1): 0.7, ("a", 1, 1): None}
    (row,) = detector_rows(cell_records(values), detectors, [0, 1], [0, 1], "auroc")
    assert (row.mean.mean, row.mean.sd, row.mean.n) == (pytest.approx(85.0), None, 1)
    assert row.failed == ["class 1 seed 1"]
    assert row.per_class[1].n == 1


def test_published_rows_and_the_markdown_table() -> None:
    published = [
        SimpleNamespace(
            label="P",
            source="Someone 2020, Table 1",
            status="quoted",
            per_class=[90.0, 91.0, 92.0],
            mean=91.0,
            note="",
        ),
        SimpleNamespace(
            label="M",
            source="Other 2019",
            status="checked",
            per_class=None,
            mean=80.0,
            note="means only",
        ),
    ]
    whole = published_rows(published, [0, 1, 2], [0, 1, 2])
    assert [r.mean.mean for r in whole] == [91.0, 80.0]
    subset = published_rows(published, [0, 1, 2], [2])
    assert len(subset) == 1 and subset[0].per_class[0].mean == 92.0
    assert subset[0].mean.mean is None, "a mean over all classes is not one over the subset"
    assert Spread.of([96.0, 97.0]).text() == "96.5 ± 0.7"
    assert Spread.of([96.04]).text() == "96.0"
    table = markdown_table(whole, [0, 1, 2], "title")
    assert "| P [1] | 90.0 | 91.0 | 92.0 | **91.0** |  |  |" in table
    assert "| M [2] |  |  |  | **80.0** |  |  |" in table
    assert "[1] Someone 2020, Table 1 (quoted)" in table
    assert "[2] Other 2019 (checked): means only" in table
