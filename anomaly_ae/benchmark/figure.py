"""benchmark.png: the metric per class for every row of the table, this framework's rows as
solid lines with their sd over seeds, the peers dashed, the published rows dotted and grey."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from anomaly_ae.benchmark.tables import Row
from anomaly_ae.files import write_atomically

_STYLE = {
    "anomaly_ae": {"linestyle": "-", "marker": "o", "linewidth": 1.8},
    "peer": {"linestyle": "--", "marker": "s", "linewidth": 1.2},
    "published": {"linestyle": ":", "linewidth": 1.0},
}
_PUBLISHED_MARKERS = ("x", "+", "^", "v", "d", "*", "<", ">")


def benchmark_figure(
    rows: Sequence[Row], classes: Sequence[int], title: str, metric: str, path: Path
) -> Path:
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    fig = Figure(figsize=(11, 6), layout="constrained")
    ax = fig.add_subplot()
    x = list(range(len(classes)))
    published = 0
    for row in rows:
        shown = [(i, s) for i, s in zip(x, row.per_class, strict=True) if s.mean is not None]
        if not shown:
            continue  # a published mean without per-class figures: in the table only
        xs, spreads = [i for i, _ in shown], [s for _, s in shown]
        ys = [s.mean for s in spreads]
        mean = "" if row.mean.mean is None else f" (mean {row.mean.mean:.1f})"
        style = dict(_STYLE[row.kind])
        if row.kind == "published":  # told apart by marker and shade
            style["marker"] = _PUBLISHED_MARKERS[published % len(_PUBLISHED_MARKERS)]
            style["color"] = str(0.25 + 0.5 * (published % 4) / 3)
            published += 1
        line = ax.plot(xs, ys, label=f"{row.label}{mean}", markersize=4, **style)[0]
        if row.kind != "published" and any(s.sd for s in spreads):
            low = [s.mean - (s.sd or 0) for s in spreads]
            high = [s.mean + (s.sd or 0) for s in spreads]
            ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.15, linewidth=0)
    ax.set_xticks(x, [str(c) for c in classes])
    ax.set_xlabel("normal class")
    ax.set_ylabel(f"{metric.upper()} (%)")
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return write_atomically(path, lambda temporary: fig.savefig(temporary, dpi=120))
