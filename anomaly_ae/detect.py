"""``python -m anomaly_ae.detect ckpt_path=... inputs=<file or folder>``: flag anomalies.

Scores PNG/JPEG images, ``.npy`` arrays and IDX files with a trained detector, prints the
results and writes ``detections.csv`` and ``detections.json`` into the run directory. Files
that cannot be scored are reported one line each on stderr and skipped; the others are still
scored and written, and the exit code is then 1.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from anomaly_ae.cli import exit_on_user_error, require_values
from anomaly_ae.config import CONFIG_PATH, register_configs
from anomaly_ae.detector import Detection, Detector
from anomaly_ae.inputs import InputError, Skipped
from anomaly_ae.key_hints import hints_for_unknown_keys


def detector_threshold(detections: list[Detection]) -> float | None:
    """The threshold for JSON: ``None`` when there is none or it is +inf (never flags)."""
    value = detections[0].threshold if detections else None
    return value if value is not None and math.isfinite(value) else None


def write_detections(
    detections: list[Detection],
    skipped: list[Skipped],
    out_dir: str | Path,
    checkpoint: str,
    detector: Detector,
) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = out_dir / "detections.csv", out_dir / "detections.json"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "score", "threshold", "is_anomaly"])
        writer.writeheader()
        writer.writerows(asdict(d) for d in detections)
    threshold = detector_threshold(detections)
    report = {
        "checkpoint": checkpoint,
        "threshold": threshold,
        "calibration": detector.calibration,
        "data": detector.data,
        "n_scored": len(detections),
        "n_anomalies": sum(d.is_anomaly for d in detections),
        "detections": [{**asdict(d), "threshold": threshold} for d in detections],
        "skipped": [asdict(s) for s in skipped],
    }
    json_path.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    return csv_path, json_path


def detect(cfg: DictConfig) -> dict[str, Any]:
    """Score ``cfg.inputs`` with ``cfg.ckpt_path``; returns detections and skipped files."""
    require_values(cfg)
    detector = Detector.from_checkpoint(cfg.ckpt_path, device=cfg.device)
    detections, skipped = detector.detect_path(cfg.inputs, cfg.grayscale, cfg.resize)
    for item in skipped:
        print(f"skipped {item.path}: {item.reason}", file=sys.stderr, flush=True)
    if not detections:
        raise InputError(
            f"nothing in {cfg.inputs} could be scored ({len(skipped)} file(s) "
            "skipped, reasons above)"
        )
    csv_path, json_path = write_detections(
        detections, skipped, cfg.output_dir, str(cfg.ckpt_path), detector
    )
    print(f"{'score':>10}  {'anomaly':>7}  path   (threshold {detector.threshold_:.4f})")
    for d in detections[: cfg.print_limit]:
        print(f"{d.score:>10.4f}  {'yes' if d.is_anomaly else 'no':>7}  {d.path}")
    if len(detections) > cfg.print_limit:
        print(f"... {len(detections) - cfg.print_limit} more in {csv_path}")
    flagged = sum(d.is_anomaly for d in detections)
    print(
        f"{flagged} of {len(detections)} images flagged as anomalies"
        + (f"; {len(skipped)} file(s) skipped" if skipped else "")
    )
    print(f"written: {csv_path}, {json_path}", flush=True)
    return {"detections": detections, "skipped": skipped}


register_configs()


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="detect")
def run(cfg: DictConfig) -> None:
    with exit_on_user_error():
        result = detect(cfg)
    if result["skipped"]:
        raise SystemExit(1)


def main() -> None:
    """``anomaly-ae-detect``, the same as ``python -m anomaly_ae.detect``."""
    with hints_for_unknown_keys("detect"):
        run()


if __name__ == "__main__":
    main()
