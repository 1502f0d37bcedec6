"""The summary of a sweep: one row per run, written next to the runs (summary.csv, summary.md,
summary.png) and printed.

Hydra calls :class:`SweepSummary` when a ``-m`` sweep ends (any launcher or sweeper);
``python -m anomaly_ae.summarize <sweep dir>`` makes the same files afterwards.
"""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from anomaly_ae.reporting.sweep_figure import sweep_figure, varying_overrides

COLUMNS = (
    "run",
    "overrides",
    "threshold",
    "type_I_error",
    "type_II_error",
    "auroc",
    "average_precision",
    "val_loss",
    "fit_seconds",
)


def collect_runs(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """One row per ``results.json`` below ``sweep_dir``, in job order."""
    sweep_dir = Path(sweep_dir)
    runs = sorted(sweep_dir.rglob("results.json"), key=lambda p: _job_order(p.parent, sweep_dir))
    rows = []
    for path in runs:
        results = json.loads(path.read_text())
        metrics = results.get("metrics", {})
        rows.append(
            {
                "run": str(path.parent.relative_to(sweep_dir)),
                "overrides": _job_overrides(path.parent),
                "threshold": results.get("threshold"),
                "type_I_error": metrics.get("type_I_error"),
                "type_II_error": metrics.get("type_II_error"),
                "auroc": metrics.get("auroc"),
                "average_precision": metrics.get("average_precision"),
                "val_loss": results.get("validation", {}).get("val/loss"),
                "fit_seconds": results.get("timings", {}).get("fit_seconds"),
            }
        )
    return rows


def write_summary(sweep_dir: str | Path, rows: list[dict[str, Any]]) -> tuple[Path, Path]:
    """``summary.csv`` (every override) and ``summary.md`` (what varies) in ``sweep_dir``."""
    sweep_dir = Path(sweep_dir)
    csv_path, md_path = sweep_dir / "summary.csv", sweep_dir / "summary.md"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "overrides": " ".join(row["overrides"])})
    over_seeds = format_over_seeds(rows)
    extra = f"\n\nmean ± sd over seeds:\n\n{over_seeds}" if over_seeds else ""
    md_path.write_text(format_table(rows) + extra + "\n")
    return csv_path, md_path


def format_table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table; overrides shared by every run are listed once above it."""
    shared = set.intersection(*(set(r["overrides"]) for r in rows)) if rows else set()
    varying = varying_overrides(rows)
    lines = []
    if shared:
        lines += [f"shared overrides: `{' '.join(sorted(shared))}`", ""]
    header = [
        "run",
        "overrides",
        "threshold",
        "type I",
        "type II",
        "AUROC",
        "AP",
        "val loss",
        "fit s",
    ]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row, changed in zip(rows, varying, strict=True):
        cells = [
            row["run"],
            f"`{changed or '-'}`",
            _number(row["threshold"], "{:.3f}"),
            _number(row["type_I_error"], "{:.2%}"),
            _number(row["type_II_error"], "{:.2%}"),
            _number(row["auroc"], "{:.4f}"),
            _number(row["average_precision"], "{:.4f}"),
            _number(row["val_loss"], "{:.5f}"),
            _number(row["fit_seconds"], "{:.1f}"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# what the table over seeds gives as mean ± sd, and how
SEED_COLUMNS = (
    ("type I", "type_I_error", 100, "{:.2f} ± {:.2f} %"),
    ("type II", "type_II_error", 100, "{:.2f} ± {:.2f} %"),
    ("AUROC", "auroc", 1, "{:.4f} ± {:.4f}"),
    ("fit s", "fit_seconds", 1, "{:.0f} ± {:.0f}"),
)


def format_over_seeds(rows: list[dict[str, Any]]) -> str:
    """Runs that differ only in ``seed=`` grouped into one row each: the mean ± sd (sample
    sd, n - 1) of their errors, AUROC and fit time; ``""`` when no two runs share settings."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        settings = tuple(o for o in row["overrides"] if not o.startswith("seed="))
        groups.setdefault(settings, []).append(row)
    if not any(len(runs) > 1 for runs in groups.values()):
        return ""
    shared = set.intersection(*(set(settings) for settings in groups))
    header = ["settings", "seeds", *(name for name, *_ in SEED_COLUMNS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for settings, runs in groups.items():
        cells = [f"`{' '.join(o for o in settings if o not in shared) or '-'}`", str(len(runs))]
        for _, key, factor, pattern in SEED_COLUMNS:
            values = [factor * r[key] for r in runs if r[key] is not None]
            if not values:
                cells.append("n/a")
                continue
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(pattern.format(statistics.fmean(values), sd))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summarize(sweep_dir: str | Path) -> tuple[str, list[dict[str, Any]]]:
    """Collect, write (summary.csv, summary.md, summary.png) and format a sweep's summary;
    returns the table and the rows."""
    rows = collect_runs(sweep_dir)
    if rows:
        write_summary(sweep_dir, rows)
        sweep_figure(rows).savefig(Path(sweep_dir) / "summary.png", dpi=110)
    over_seeds = format_over_seeds(rows)
    table = format_table(rows) + (f"\n\nmean ± sd over seeds:\n{over_seeds}" if over_seeds else "")
    return table, rows


class SweepSummary(Callback):
    """Hydra callback: summarise the sweep directory when a multirun ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        table, rows = summarize(sweep_dir)
        if rows:
            print(
                f"\nsweep summary ({len(rows)} runs): {sweep_dir / 'summary.md'}\n{table}",
                flush=True,
            )


def _job_overrides(run_dir: Path) -> list[str]:
    overrides = run_dir / ".hydra" / "overrides.yaml"
    return [str(o) for o in OmegaConf.load(overrides)] if overrides.is_file() else []


def _job_order(run_dir: Path, sweep_dir: Path) -> tuple:
    parts = run_dir.relative_to(sweep_dir).parts
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def _number(value: float | None, pattern: str) -> str:
    return "n/a" if value is None else pattern.format(value)
