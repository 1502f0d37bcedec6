"""The content of ``results.json`` and the summary table printed at the end of a run."""

from __future__ import annotations

import json
import math
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

_PACKAGES = (
    "anomaly_ae",
    "torch",
    "torchvision",
    "pytorch-lightning",
    "torchmetrics",
    "hydra-core",
    "omegaconf",
    "numpy",
)

ANOMALY_METRICS = ("type_II_error", "auroc", "average_precision", "fpr_at_95_tpr")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def build_results(
    *,
    task: str,
    threshold: float,
    calibration: dict[str, Any],
    metrics: dict[str, Any],
    normal_name: str,
    anomaly_name: str | None,
    config: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The content of ``results.json``; ``extra`` adds run facts (checkpoints, timings, device)."""
    notes = []
    if math.isinf(threshold):
        notes.append(
            "the threshold is +inf: threshold.alpha is below 1 / (n + 1) for the "
            f"{calibration.get('n')} validation scores, so no image can be flagged"
        )
    if anomaly_name is None:
        names = ", ".join(ANOMALY_METRICS)
        notes.append(f"anomaly metrics not computed ({names}): data.anomaly=null")
    return {
        "task": task,
        "threshold": threshold if math.isfinite(threshold) else None,
        "calibration": calibration,
        "data": {"normal": normal_name, "anomaly": anomaly_name},
        "metrics": metrics,
        "notes": notes,
        **(extra or {}),
        "config": config,
        "versions": package_versions(),
    }


def write_results(results: dict[str, Any], run_dir: str | Path) -> Path:
    path = Path(run_dir) / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return path


def format_summary(results: dict[str, Any]) -> str:
    """A short table in the seed's terms: images flagged per set, type I and type II errors."""
    m, data, cal = results["metrics"], results["data"], results["calibration"]
    rule = _describe_rule(cal)
    threshold = results["threshold"]
    shown = "+inf" if threshold is None else f"{threshold:.4f}"
    lines = [f"threshold {shown} ({rule})"]
    names = [data["normal"] + " test"] + ([data["anomaly"] + " test"] if data["anomaly"] else [])
    width = max(16, *(len(n) + 2 for n in names))
    lines.append(f"  {'set':<{width}}{'images':>8}{'flagged':>9}  error")
    lines.append(
        f"  {names[0]:<{width}}{m['n_normal']:>8}{m['n_normal_flagged']:>9}  "
        f"type I  {percent(m['type_I_error'])}"
    )
    if data["anomaly"] is None:
        lines.append(
            "  no anomaly set (data.anomaly=null): type II error, AUROC, AP and FPR at "
            "95% TPR were not computed"
        )
    else:
        lines.append(
            f"  {names[1]:<{width}}{m['n_anomaly']:>8}{m['n_anomaly_flagged']:>9}  "
            f"type II {percent(m['type_II_error'])}"
        )
        lines.append(
            f"  AUROC {m['auroc']:.4f}   average precision {m['average_precision']:.4f}   "
            f"FPR at 95% TPR {m['fpr_at_95_tpr']:.4f}"
        )
    return "\n".join(lines)


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f} %"


def _describe_rule(calibration: dict[str, Any]) -> str:
    rule, n = calibration.get("rule"), calibration.get("n")
    if rule == "gaussian":
        return (
            f"mean {calibration['mean']:.4f} + {calibration['k']:g} x std "
            f"{calibration['std']:.4f} of {n} validation scores"
        )
    if rule == "quantile":
        return (
            f"empirical {1 - calibration['alpha']:g} quantile (rank {calibration['rank']}) of "
            f"{n} validation scores"
        )
    if rule == "conformal":
        return f"split-conformal p-value <= {calibration['alpha']:g} against {n} validation scores"
    return ", ".join(f"{k}={v}" for k, v in calibration.items()) or "fitted earlier"
