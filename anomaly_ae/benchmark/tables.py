"""A benchmark's table: one row per detector (this framework's configurations, the peers) and
per published result, one column per class and the mean, each cell mean ± sd over seeds.

The mean column is the mean over the classes of one seed, then mean ± sd over the seeds whose
every class finished; the sd is the sample sd (n - 1), left out with one seed. Values are in
percent, as the literature prints them.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from anomaly_ae.benchmark.cells import Cell, seeds_of


@dataclass(frozen=True)
class Spread:
    """Mean and sample sd of ``n`` values (``None`` where there are none, or one for sd)."""

    mean: float | None
    sd: float | None
    n: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        values = list(values)
        mean = statistics.fmean(values) if values else None
        sd = statistics.stdev(values) if len(values) > 1 else None
        return cls(mean, sd, len(values))

    def text(self) -> str:
        if self.mean is None:
            return "n/a"
        return f"{self.mean:.1f}" if self.sd is None else f"{self.mean:.1f} ± {self.sd:.1f}"


@dataclass
class Row:
    key: str
    label: str
    kind: str  # "anomaly_ae", "peer" or "published"
    per_class: list[Spread]
    mean: Spread
    cell_seconds: float | None = None  # median wall time of a finished cell (the process)
    fit_seconds: float | None = None  # median time of its fit alone
    failed: list[str] = field(default_factory=list)  # cells that failed, named
    source: str = ""
    status: str = ""
    note: str = ""


def detector_rows(
    records: Mapping[Cell, Mapping[str, Any]],
    detectors: Mapping[str, Any],
    classes: Sequence[int],
    seeds: Sequence[int],
    metric: str,
) -> list[Row]:
    """The rows of the detectors run, from the cells' records (fractions, shown in percent)."""
    rows = []
    for key, detector in detectors.items():
        row_seeds = seeds_of(detector, list(seeds))
        value: dict[tuple[int, int], float] = {}
        seconds, fits, failed = [], [], []
        for c in classes:
            for s in row_seeds:
                record = records.get(Cell(key, c, s))
                if record is None:
                    continue
                if record.get("status") == "ok":
                    value[c, s] = 100 * float(record[metric])
                    seconds.append(float(record["wall_seconds"]))
                    if record.get("fit_seconds") is not None:
                        fits.append(float(record["fit_seconds"]))
                else:
                    failed.append(f"class {c} seed {s}")
        per_class = [Spread.of(value[c, s] for s in row_seeds if (c, s) in value) for c in classes]
        complete = [s for s in row_seeds if all((c, s) in value for c in classes)]
        means = [statistics.fmean(value[c, s] for c in classes) for s in complete]
        rows.append(
            Row(
                key=key,
                label=detector.label,
                kind="peer" if detector.peer else "anomaly_ae",
                per_class=per_class,
                mean=Spread.of(means),
                cell_seconds=statistics.median(seconds) if seconds else None,
                fit_seconds=statistics.median(fits) if fits else None,
                failed=failed,
                note=detector.note,
            )
        )
    return rows


def published_rows(
    published: Iterable[Any], all_classes: Sequence[int], classes: Sequence[int]
) -> list[Row]:
    """The published results, restricted to ``classes`` where a benchmark runs a subset (the
    printed mean is kept only when every class is shown)."""
    rows = []
    for i, entry in enumerate(published):
        figures = entry.per_class
        per_class = [
            Spread(None if figures is None else float(figures[all_classes.index(c)]), None, 1)
            for c in classes
        ]
        whole = list(classes) == list(all_classes)
        if figures is None and not whole:
            continue  # only a mean over every class was published: nothing to show here
        rows.append(
            Row(
                key=f"published_{i}",
                label=entry.label,
                kind="published",
                per_class=per_class,
                mean=Spread(float(entry.mean) if whole else None, None, 1),
                source=entry.source,
                status=entry.status,
                note=entry.note,
            )
        )
    return rows


def markdown_table(rows: Sequence[Row], classes: Sequence[int], title: str) -> str:
    """The table, the published rows' sources as numbered notes below it; ``fit`` and
    ``cell`` are the median seconds of a cell's fit and of its whole process."""
    head = ["detector", *map(str, classes), "mean", "fit", "cell"]
    lines = [f"**{title}**", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    for row in rows:
        label = row.label
        if row.kind == "published":
            notes.append(f"[{len(notes) + 1}] {row.source} ({row.status})" + _note(row.note))
            label = f"{label} [{len(notes)}]"
        elif row.failed:
            label = f"{label} ({len(row.failed)} failed)"
        times = [_seconds(row.fit_seconds), _seconds(row.cell_seconds)]
        mean = "" if row.mean.mean is None else f"**{row.mean.text()}**"
        per_class = ["" if s.mean is None else s.text() for s in row.per_class]
        lines.append("| " + " | ".join([label, *per_class, mean, *times]) + " |")
    return "\n".join([*lines, "", *notes])


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f} s" if value < 10 else f"{value:.0f} s"


def _note(note: str) -> str:
    return f": {note}" if note else ""


def cells_csv(records: Mapping[Cell, Mapping[str, Any]], metric: str) -> str:
    """One line per cell: detector, class, seed, status, the metric (a fraction), times."""
    out = io.StringIO()
    columns = [
        "detector",
        "normal_class",
        "seed",
        "status",
        metric,
        "fit_seconds",
        "wall_seconds",
        "error",
    ]
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for cell in sorted(records, key=lambda c: (c.detector, c.normal_class, c.seed)):
        writer.writerow(records[cell])
    return out.getvalue()


def rows_as_json(rows: Sequence[Row], classes: Sequence[int]) -> list[dict[str, Any]]:
    return [{**asdict(row), "classes": list(classes), "unit": "percent"} for row in rows]
