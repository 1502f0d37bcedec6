"""Sweeps: the grid with its summary, Optuna on a validation objective, the launchers, and
the trainer configs for scaling out."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import hydra
import pytest
from omegaconf import OmegaConf

from anomaly_ae import summarize
from anomaly_ae.errors import ConfigError
from anomaly_ae.train import optimized_metric
from tests.helpers import compose_config, run_module, sweep_overrides


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


def test_summarize_refuses_what_is_not_a_finished_sweep(tmp_path: Path, capsys) -> None:
    assert summarize.main([str(tmp_path / "missing")]) == 2
    assert summarize.main([str(tmp_path)]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and all(e.startswith("error: ") for e in errors)


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


def test_test_metrics_cannot_be_the_objective(tmp_path: Path) -> None:
    cfg = compose_config("train", [f"paths.output_dir={tmp_path}", "optimized_metric=test/auroc"])
    with pytest.raises(ConfigError, match="leaks the anomaly test set"):
        optimized_metric(cfg)
    cfg = compose_config("train", [f"paths.output_dir={tmp_path}", "hparams_search=mnist_optuna"])
    assert optimized_metric(cfg) == "val/loss"


def test_parallel_launcher_runs_the_jobs(tiny_root: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "parallel"
    done = run_module(
        "anomaly_ae.train",
        *sweep_overrides(tiny_root, sweep, "hydra/launcher=local_parallel", "threshold.k=2,3"),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.parent.name for p in sweep.glob("*/results.json")) == ["0", "1"]
    assert (sweep / "summary.md").is_file()


def test_slurm_launcher_composes(tmp_path: Path) -> None:
    cfg = compose_config(
        "train",
        ["hydra/launcher=slurm", "hydra.launcher.partition=gpu", f"paths.output_dir={tmp_path}"],
        return_hydra_config=True,
    )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (launcher.partition, launcher.nodes, launcher.gpus_per_node) == ("gpu", 1, 1)


@pytest.mark.parametrize(
    ("group", "accelerator", "devices"), [("ddp", "gpu", 4), ("ddp_cpu", "cpu", 2)]
)
def test_ddp_trainer_configs(tmp_path: Path, group: str, accelerator: str, devices: int) -> None:
    cfg = compose_config("train", [f"paths.output_dir={tmp_path}", f"trainer={group}"])
    assert (cfg.trainer.accelerator, cfg.trainer.devices) == (accelerator, devices)
    if group == "ddp_cpu":
        trainer = hydra.utils.instantiate(cfg.trainer, logger=False)
        assert trainer.world_size == 2
        assert trainer.strategy.process_group_backend == "gloo"


def test_runs_that_differ_only_in_their_seed_are_summarised_as_mean_and_sd() -> None:
    from anomaly_ae.reporting.sweeps import format_over_seeds

    def row(score: str, seed: int, type_ii: float, fit: float) -> dict:
        return {
            "overrides": ["trainer.max_epochs=30", f"score={score}", f"seed={seed}"],
            "type_I_error": 0.01,
            "type_II_error": type_ii,
            "auroc": 0.999,
            "fit_seconds": fit,
        }

    rows = [
        row("combined", s, t, f) for s, t, f in ((0, 0.010, 100), (1, 0.012, 110), (2, 0.014, 120))
    ]
    rows.append(row("reconstruction", 0, 0.03, 90))
    table = format_over_seeds(rows).splitlines()
    assert table[0] == "| settings | seeds | type I | type II | AUROC | fit s |"
    # mean 1.20 %, sample sd 0.20 %; the shared override is not repeated
    assert (
        table[2]
        == "| `score=combined` | 3 | 1.00 ± 0.00 % | 1.20 ± 0.20 % | 0.9990 ± 0.0000 | 110 ± 10 |"
    )
    assert table[3].startswith("| `score=reconstruction` | 1 |")
    assert format_over_seeds(rows[-1:]) == "", "nothing to average"
