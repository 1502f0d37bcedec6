"""One cell of a benchmark: a detector trained on one normal class with one seed, run in a
process of its own, its outcome kept in ``cell.json`` in its folder.

A framework row runs ``python -m anomaly_ae.train`` with the detector's overrides, the
protocol's data settings for the class and the seed, in the cell's folder (its results.json,
checkpoint and report stay there); a peer row runs :mod:`anomaly_ae.benchmark.peer_cell` on
the same data settings. ``cell.json`` records the settings and the outcome, so a benchmark run
again reads finished cells back instead of running them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from anomaly_ae.files import write_text_atomically

RECORD = "cell.json"
LOG = "cell.log"
CLASS_PLACEHOLDER = "{normal_class}"


@dataclass(frozen=True)
class Cell:
    detector: str
    normal_class: int
    seed: int

    @property
    def folder(self) -> Path:
        """Where the cell runs, relative to the benchmark's directory."""
        return Path("cells") / self.detector / f"class{self.normal_class}_seed{self.seed}"

    def __str__(self) -> str:
        return f"{self.detector} · class {self.normal_class} · seed {self.seed}"


def cell_settings(
    cell: Cell, detector: Any, protocol_cell: list[str], train_overrides: list[str]
) -> list[str]:
    """The overrides that decide a cell's result: the detector's, the protocol's for the class
    and the seed (where the data are, and the run folder, are added when it runs)."""
    data = [o.replace(CLASS_PLACEHOLDER, str(cell.normal_class)) for o in protocol_cell]
    own = list(detector.train or [])
    if detector.peer:
        return [
            f"peer={detector.peer}",
            *_settings_overrides(detector.settings),
            *own,
            *data,
            f"seed={cell.seed}",
        ]
    return [*own, *data, *train_overrides, f"seed={cell.seed}"]


def train_overrides(settings: list[str]) -> list[str]:
    """The overrides of the ``train`` config among a cell's settings (a peer's ``peer=`` and
    ``settings=`` are its own)."""
    return [o for o in settings if not o.startswith(("peer=", "settings="))]


def seeds_of(row: Any, seeds: list[int]) -> list[int]:
    """The seeds a detector runs: the benchmark's, or their first ``max_seeds``."""
    return list(seeds) if row.max_seeds is None else list(seeds)[: row.max_seeds]


@dataclass(frozen=True)
class Launch:
    """How every cell of a benchmark runs: where the data are, the config folders the user
    added (``--config-dir``), the metric read back, and each process's torch threads."""

    data_root: str
    search_path: tuple[str, ...]
    metric: str
    threads: int


def _settings_overrides(settings: Any) -> list[str]:
    """A peer's keyword arguments as one JSON override (plain values, in a stable order)."""
    plain = OmegaConf.to_container(settings) if OmegaConf.is_config(settings) else settings
    plain = dict(plain or {})
    return [f"settings={json.dumps(plain, sort_keys=True)}"] if plain else []


def cell_command(settings: list[str], cell_dir: Path, launch: Launch) -> list[str]:
    """The command line of a cell with ``settings`` (:func:`cell_settings`)."""
    where = [f"data.root={launch.data_root}"]
    if launch.search_path:
        where.append(f"hydra.searchpath=[{','.join(f'file://{p}' for p in launch.search_path)}]")
    if settings and settings[0].startswith("peer="):
        module, folder = "anomaly_ae.benchmark.peer_cell", f"out={cell_dir}"
    else:
        module, folder = "anomaly_ae.train", f"hydra.run.dir={cell_dir}"
    return [sys.executable, "-m", module, *settings, *where, folder]


def read_record(cell_dir: Path) -> dict[str, Any] | None:
    """A cell's ``cell.json``, or ``None`` where it has not finished (or never ran)."""
    path = cell_dir / RECORD
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def set_aside(cell_dir: Path) -> Path | None:
    """Move what an unfinished or failed attempt left in ``cell_dir`` to a numbered sibling
    (``class3_seed0.attempt-1``), so a new attempt starts clean and nothing is deleted."""
    if not cell_dir.exists():
        return None
    n = 1
    while (aside := cell_dir.with_name(f"{cell_dir.name}.attempt-{n}")).exists():
        n += 1
    cell_dir.rename(aside)
    return aside


def run_cell(
    cell: Cell, settings: list[str], digest: str, cell_dir: Path, launch: Launch
) -> dict[str, Any]:
    """Run the cell in a process of its own; its record (``digest``: its config's, kept in
    the record for a resumed benchmark to compare)."""
    set_aside(cell_dir)
    cell_dir.mkdir(parents=True)
    command = cell_command(settings, cell_dir, launch)
    threads, metric = str(launch.threads), launch.metric
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    started = time.perf_counter()
    with open(cell_dir / LOG, "w") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, text=True)
    record: dict[str, Any] = {
        "detector": cell.detector,
        "normal_class": cell.normal_class,
        "seed": cell.seed,
        "settings": settings,
        "config_digest": digest,
        "command": " ".join(command[1:]),
        "wall_seconds": round(time.perf_counter() - started, 2),
    }
    results_path = cell_dir / "results.json"
    if done.returncode == 0 and results_path.is_file():
        results = json.loads(results_path.read_text())
        value = results.get("metrics", {}).get(metric)
        record |= {
            "status": "ok" if value is not None else "failed",
            metric: value,
            "fit_seconds": results.get("timings", {}).get("fit_seconds"),
        }
        if value is None:
            record["error"] = f"results.json holds no {metric}"
    else:
        record |= {"status": "failed", "error": failure_line(cell_dir / LOG, done.returncode)}
    write_text_atomically(cell_dir / RECORD, json.dumps(record, indent=2) + "\n")
    return record


def failure_line(log: Path, returncode: int) -> str:
    """The line that says why a cell failed: its ``error:`` line, else the last line that
    names an error (a traceback's last frame says less), else the exit code."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    named = [line for line in lines if "Error" in line or "error" in line]
    return (errors or named or [f"exit code {returncode}, no output"])[-1][:500]
