"""summary.png of a sweep: its runs side by side, next to summary.md."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure


def varying_overrides(rows: list[dict[str, Any]]) -> list[str]:
    """Each run's overrides that not every run shares: what tells it apart (``""``: nothing)."""
    shared = set.intersection(*(set(r["overrides"]) for r in rows)) if rows else set()
    return [" ".join(o for o in r["overrides"] if o not in shared) for r in rows]


def sweep_figure(rows: list[dict[str, Any]]) -> Figure:
    """Type II against type I error of every run (the detector's trade-off), and every run's
    AUROC, each run labelled with what it changed."""
    labels = [label or row["run"] for row, label in zip(rows, varying_overrides(rows), strict=True)]
    fig = Figure(figsize=(14, max(4.5, 0.35 * len(rows) + 1.5)))
    errors, ranking = fig.subplots(1, 2)
    for row, label in zip(rows, labels, strict=True):
        if row["type_I_error"] is not None and row["type_II_error"] is not None:
            x, y = 100 * row["type_I_error"], 100 * row["type_II_error"]
            errors.plot(x, y, "o")
            errors.annotate(
                f"{row['run']}: {label}",
                (x, y),
                fontsize=7,
                xytext=(4, 2),
                textcoords="offset points",
            )
    errors.set_xlabel("type I error: normal test images flagged (%)")
    errors.set_ylabel("type II error: anomalies not flagged (%)")
    errors.set_title("Errors at each run's threshold (lower left is better)")
    aurocs = [
        (f"{row['run']}: {label}", row["auroc"]) for row, label in zip(rows, labels, strict=True)
    ]
    shown = [(label, value) for label, value in aurocs if value is not None]
    if shown:
        ranking.barh([label for label, _ in shown], [value for _, value in shown])
        low = min(value for _, value in shown)
        ranking.set_xlim(max(0.0, low - max(1 - low, 0.005)), 1.0)
        ranking.ticklabel_format(axis="x", useOffset=False)
        ranking.invert_yaxis()  # the first run on top, as in summary.md
        ranking.tick_params(axis="y", labelsize=7)
    else:
        ranking.text(
            0.5, 0.5, "no AUROC (no anomaly set)", ha="center", transform=ranking.transAxes
        )
    ranking.set_xlabel("AUROC")
    ranking.set_title("AUROC of each run")
    fig.tight_layout()
    return fig
