"""What a benchmark writes into its folder from the cells' records: benchmark.md, .csv and .json
after every cell, and benchmark.png at the end (each written to a temporary name and renamed)."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from anomaly_ae.benchmark.cells import Cell
from anomaly_ae.benchmark.figure import benchmark_figure
from anomaly_ae.benchmark.tables import (
    cells_csv,
    detector_rows,
    markdown_table,
    published_rows,
    rows_as_json,
)
from anomaly_ae.files import write_text_atomically


class Report:
    """benchmark.json, .md, .csv (and .png) in the benchmark's folder ``out``, from the records
    of the ``detectors`` run over ``classes`` and ``seeds``."""

    def __init__(
        self,
        cfg: DictConfig,
        detectors: Mapping[str, Any],
        classes: Sequence[int],
        seeds: Sequence[int],
        out: Path,
        jobs: int,
    ) -> None:
        self.cfg, self.detectors, self.out, self.jobs = cfg, detectors, out, jobs
        self.classes, self.seeds = list(classes), list(seeds)

    def write(
        self, records: Mapping[Cell, Mapping[str, Any]], elapsed: float, ran: int, figure: bool
    ) -> dict[str, Any]:
        """Write the reports (the figure too with ``figure``); returns benchmark.json's content."""
        protocol = self.cfg.protocol
        rows = detector_rows(records, self.detectors, self.classes, self.seeds, protocol.metric)
        rows += published_rows(protocol.published, list(protocol.classes), self.classes)
        cell_seconds = sum(r["wall_seconds"] for r in records.values())
        failed = [f"{c}: {r.get('error')}" for c, r in records.items() if r["status"] != "ok"]
        content = {
            "protocol": OmegaConf.to_container(protocol, resolve=True),
            "detectors": {
                k: OmegaConf.to_container(v, resolve=True) for k, v in self.detectors.items()
            },
            "classes": self.classes,
            "seeds": self.seeds,
            "rows": rows_as_json(rows, self.classes),
            "cells": [{**r} for r in records.values()],
            "failed": failed,
            "timings": {
                "elapsed_seconds": round(elapsed, 1),  # this run's, which ran `ran` cells
                "cells_run": ran,
                "cells_wall_seconds": round(cell_seconds, 1),
            },
            "machine": {
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "jobs": self.jobs,
                "threads": self.cfg.threads,
            },
        }
        table = markdown_table(rows, self.classes, protocol.title)
        timing = (
            f"\n\nCells' wall time: {cell_seconds / 60:.1f} min in all; this run: {ran} cells in "
            f"{elapsed / 60:.1f} min. Failed cells: {len(failed)}.\n"
            + "".join(f"\n- failed: {line}" for line in failed)
            + ("\n" if failed else "")
        )
        write_text_atomically(self.out / "benchmark.md", table + timing)
        write_text_atomically(self.out / "benchmark.csv", cells_csv(records, protocol.metric))
        write_text_atomically(self.out / "benchmark.json", json.dumps(content, indent=2) + "\n")
        if figure:
            benchmark_figure(
                rows, self.classes, protocol.title, protocol.metric, self.out / "benchmark.png"
            )
            print(f"\n{table}{timing}\nwritten: {self.out}/benchmark.md, .csv, .json, .png")
        return content
