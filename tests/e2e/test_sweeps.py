"""Sweeps run: the grid with its summary, Optuna on a validation objective, the parallel
launcher."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from anomaly_ae import summarize
from tests.helpers import run_module, sweep_overrides


def test_grid_sweep_writes_and_prints_its_summary(tiny_root: Path, tmp_path: Path, capsys) -> None:
    sweep = tmp_path / "sweep"
    done = run_module(
        "anomaly_ae.train",
        *sweep_overrides(tiny_root, sweep, "model.latent_dim=4,8", "threshold.k=2,3"),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "sweep summary (4 runs)" in done.stdout

    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    assert [r["run"] for r in rows] == ["0", "1", "2", "3"]
    for row in rows:
        results = json.loads((sweep / row["run"] / "results.json").read_text())
        assert float(row["threshold"]) == pytest.approx(results["threshold"])
        assert float(row["type_I_error"]) == pytest.approx(results["metrics"]["type_I_error"])
        assert float(row["fit_seconds"]) == pytest.approx(results["timings"]["fit_seconds"])
        assert f"model.latent_dim={results['config']['model']['latent_dim']}" in row["overrides"]
    table = (sweep / "summary.md").read_text()
    assert "| 3 | `model.latent_dim=8 threshold.k=3` |" in table
    assert (sweep / "summary.png").is_file(), "the runs compared in a figure"
    # TensorBoard names each job's run after its overrides
    (run,) = (sweep / "3" / "tensorboard").iterdir()
    assert "model.latent_dim=8" in run.name and "threshold.k=3" in run.name
    assert str(tiny_root) not in run.name, "paths are left out of the name"
    assert table.startswith("shared overrides:")

    (sweep / "summary.md").unlink()
    assert summarize.main([str(sweep)]) == 0
    assert (sweep / "summary.md").read_text() == table
    assert "model.latent_dim=8 threshold.k=3" in capsys.readouterr().out


def test_optuna_search_optimises_a_validation_quantity(tiny_root: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "optuna"
    # a fixed value on the command line would take data.batch_size out of the search space
    overrides = [o for o in sweep_overrides(tiny_root, sweep) if not o.startswith("data.batch")]
    done = run_module(
        "anomaly_ae.train",
        *overrides,
        "hparams_search=mnist_optuna",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.sampler.n_startup_trials=2",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    best = OmegaConf.load(sweep / "optimization_results.yaml")
    assert set(best.best_params) == {"model.lr", "model.latent_dim", "data.batch_size"}
    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    assert len(rows) == 3
    assert best.best_value == pytest.approx(min(float(r["val_loss"]) for r in rows))


def test_parallel_launcher_runs_the_jobs(tiny_root: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "parallel"
    done = run_module(
        "anomaly_ae.train",
        *sweep_overrides(tiny_root, sweep, "hydra/launcher=local_parallel", "threshold.k=2,3"),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.parent.name for p in sweep.glob("*/results.json")) == ["0", "1"]
    assert (sweep / "summary.md").is_file()
