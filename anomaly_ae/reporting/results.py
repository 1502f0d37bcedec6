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
    data: dict[str, Any],
    tested: dict[str, Any],
    config: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The content of ``results.json``.

    ``data`` says which images the run used (sets, split sizes and seed), ``tested`` which
    weights were tested (their optimizer step and checkpoint), ``calibration`` how and at which
    step the threshold was fitted; ``extra`` adds run facts (timings, device).
    """
    notes = []
    if math.isinf(threshold):
        notes.append(
            "the threshold is +inf: threshold.alpha is below 1 / (n + 1) for the "
            f"{calibration.get('n')} validation scores, so no image can be flagged"
        )
    names = ", ".join(ANOMALY_METRICS)
    if data.get("anomaly") is None:
        notes.append(f"anomaly metrics not computed ({names}): data.anomaly=null")
    elif not (metrics.get("n_normal") and metrics.get("n_anomaly")):
        notes.append(
            f"the test set held {metrics.get('n_normal')} normal and {metrics.get('n_anomaly')} "
            "anomalous images: the metrics that need both are n/a (null)"
        )
    return {
        "task": task,
        "threshold": threshold if math.isfinite(threshold) else None,
        "calibration": calibration,
        "tested": tested,
        "data": data,
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
    """A short table in hw7's terms: images flagged per set, type I and type II errors."""
    m, data, cal = results["metrics"], results["data"], results["calibration"]
    rule = _describe_rule(cal)
    threshold = results["threshold"]
    shown = "+inf" if threshold is None else f"{threshold:.4f}"
    step = f", step {cal['step']}" if "step" in cal else ""
    lines = [f"threshold {shown} ({rule}{step})"]
    score = results.get("score") or {}
    if score and not score["_target_"].endswith(".ReconstructionScore"):  # not hw7's
        lines.insert(0, f"score: {score['description']}")
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
            f"  AUROC {_decimal(m['auroc'])}   average precision "
            f"{_decimal(m['average_precision'])}   FPR at 95% TPR {_decimal(m['fpr_at_95_tpr'])}"
        )
    return "\n".join(lines)


def _decimal(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


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
