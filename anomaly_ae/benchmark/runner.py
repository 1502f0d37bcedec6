"""Running a benchmark: plan its cells, check every row before any runs, read back the cells a
previous run finished, run the others in parallel processes with progress, write the reports.

Cells run seed by seed (all classes and detectors of the first seed first), so an interrupted
benchmark has whole tables of its first seeds. ``benchmark.json``, ``.md`` and ``.csv`` are
rewritten after every cell, the figure at the end; all are written to a temporary name and
renamed, so none is ever half-written.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from anomaly_ae.benchmark.cells import (
    Cell,
    Launch,
    cell_settings,
    read_record,
    run_cell,
    seeds_of,
)
from anomaly_ae.benchmark.checks import (
    check_peers_available,
    chosen_classes,
    chosen_detectors,
    composed_rows,
)
from anomaly_ae.benchmark.report import Report
from anomaly_ae.errors import ConfigError, one_line


def plan(detectors: Mapping[str, Any], classes: list[int], seeds: list[int]) -> list[Cell]:
    """Every cell, seed by seed, each detector with its own seeds (:func:`seeds_of`)."""
    return [
        Cell(d, c, s)
        for s in seeds
        for c in classes
        for d, row in detectors.items()
        if s in seeds_of(row, seeds)
    ]


def finished_cells(
    cells: list[Cell],
    settings: Mapping[Cell, list[str]],
    digests: Mapping[tuple[str, int], str],
    out: Path,
) -> dict[Cell, dict[str, Any]]:
    """The records of cells a previous run finished with these settings and configs; a
    finished cell of other ones stops the benchmark in one line (its results stay)."""
    done = {}
    for cell in cells:
        record = read_record(out / cell.folder)
        if record is None or record.get("status") != "ok":
            continue
        digest = record.get("config_digest")  # records of the first version have none
        if record.get("settings") != settings[cell]:
            other = f"other settings ({' '.join(record.get('settings', []))})"
        elif digest is not None and digest != digests[cell.detector, cell.normal_class]:
            other = "the same overrides but config files that have changed since"
        else:
            done[cell] = record
            continue
        raise ConfigError(
            f"{out / cell.folder} holds a cell finished with {other}; run this benchmark in "
            "another folder (hydra.run.dir=...) or move that one away"
        )
    return done


def run_benchmark(cfg: DictConfig, out: Path) -> dict[str, Any]:
    """Run (or resume) the benchmark ``cfg`` in ``out``; returns benchmark.json's content."""
    protocol = cfg.protocol
    detectors = chosen_detectors(cfg)
    classes, seeds = chosen_classes(cfg), list(cfg.seeds)
    if not seeds:
        raise ConfigError("seeds=[] runs nothing; give at least one seed, e.g. [0]")
    check_peers_available(detectors)
    digests = composed_rows(cfg, detectors, classes)
    cells = plan(detectors, classes, seeds)
    settings = {
        c: cell_settings(c, detectors[c.detector], list(protocol.cell), list(cfg.train_overrides))
        for c in cells
    }
    records = finished_cells(cells, settings, digests, out)
    todo = [c for c in cells if c not in records]
    jobs = cfg.jobs or max(1, len(os.sched_getaffinity(0)) // cfg.threads)
    print(
        f"{protocol.name}: {len(cells)} cells ({_count(detectors, 'detector')}, "
        f"{_count(classes, 'class')}, {_count(seeds, 'seed')}), {len(records)} finished before, "
        f"{len(todo)} to run, "
        f"{jobs} at a time with {cfg.threads} thread(s) each; results in {out}",
        flush=True,
    )
    started = time.perf_counter()
    report = Report(cfg, detectors, classes, seeds, out, jobs)
    ran: dict[Cell, dict[str, Any]] = {}

    launch = Launch(str(cfg.data_root), user_config_dirs(), protocol.metric, cfg.threads)

    def run(cell: Cell) -> dict[str, Any]:
        digest = digests[cell.detector, cell.normal_class]
        try:
            return run_cell(cell, settings[cell], digest, out / cell.folder, launch)
        except Exception as err:  # a full disk, an unreadable results.json: this cell alone
            return {
                "detector": cell.detector,
                "normal_class": cell.normal_class,
                "seed": cell.seed,
                "settings": settings[cell],
                "status": "failed",
                "error": f"{type(err).__name__}: {one_line(err, 400)}",
                "wall_seconds": 0.0,
            }

    queue = list(todo)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running: dict[Future, Cell] = {}
        try:
            while queue or running:
                while queue and len(running) < jobs:
                    cell = queue.pop(0)
                    running[pool.submit(run, cell)] = cell
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    cell = running.pop(future)
                    records[cell] = ran[cell] = future.result()
                    left = [*queue, *running.values()]
                    print(progress_line(cell, ran, left, jobs, protocol.metric), flush=True)
                    report.write(records, time.perf_counter() - started, len(ran), figure=False)
        except KeyboardInterrupt:
            # the cells' processes got the same Ctrl-C; what finished is on disk
            queue.clear()
            raise ConfigError(
                f"interrupted: {len(records)} of {len(cells)} cells are finished and kept in "
                f"{out}; run the same command again to resume"
            ) from None
    return report.write(records, time.perf_counter() - started, len(ran), figure=True)


def user_config_dirs() -> tuple[str, ...]:
    """The config folders the user added (``--config-dir``), for the cells' own composition."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return ()
    sources = HydraConfig.get().runtime.config_sources
    return tuple(
        str(Path(s.path).resolve())
        for s in sources
        if s.schema == "file" and s.provider == "command-line"
    )


def progress_line(
    cell: Cell, ran: Mapping[Cell, Mapping[str, Any]], left: list[Cell], jobs: int, metric: str
) -> str:
    """``[12/40] hw7 · class 3 · seed 0: auroc 0.9612 (31 s); 28 left, about 7 min``: the time
    left counts each cell at the mean time of its detector's finished cells."""
    record = ran[cell]
    outcome = (
        f"{metric} {record[metric]:.4f}"
        if record["status"] == "ok"
        else f"FAILED: {record.get('error', '')}"
    )
    times: dict[str, list[float]] = {}
    for done, r in ran.items():
        times.setdefault(done.detector, []).append(r["wall_seconds"])
    overall = statistics.fmean(t for ts in times.values() for t in ts)
    expected = sum(statistics.fmean(times.get(c.detector, [overall])) for c in left)
    eta = f", about {_duration(expected / jobs)}" if left else ""
    took = f"{record['wall_seconds']:.0f} s"
    return f"[{len(ran)}/{len(ran) + len(left)}] {cell}: {outcome} ({took}); {len(left)} left{eta}"


def _count(items: Any, noun: str) -> str:
    plural = noun + ("es" if noun.endswith("s") else "s")
    return f"{len(items)} {noun if len(items) == 1 else plural}"


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"
