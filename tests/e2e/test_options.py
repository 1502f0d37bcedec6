"""Models, threshold rules and anomaly sets chosen on the command line, run end to end."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import run_module, sweep_overrides

CONV = "anomaly_ae.models.conv.ConvAutoencoder"


def sweep_results(sweep: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(sweep.glob("*/results.json"))]


def test_models_and_threshold_rules_from_the_command_line(tiny_root: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    done = run_module(
        "anomaly_ae.train",
        *sweep_overrides(
            tiny_root, sweep, "model=mlp,conv", "threshold=gaussian,quantile,conformal"
        ),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    runs = sweep_results(sweep)
    assert len(runs) == 6
    seen = {(r["config"]["model"]["net"]["_target_"], r["calibration"]["rule"]) for r in runs}
    nets = ("anomaly_ae.models.mlp.MlpAutoencoder", CONV)
    assert seen == {(m, t) for m in nets for t in ("gaussian", "quantile", "conformal")}
    for run in runs:
        assert run["metrics"]["auroc"] is not None


def test_anomaly_sets_from_the_command_line(tiny_root: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    done = run_module(
        "anomaly_ae.train",
        *sweep_overrides(
            tiny_root,
            sweep,
            "data.anomaly=kmnist,fashion_mnist,emnist_letters,mnist_classes",
            "data.anomaly_classes=[0]",
            "data.train_size=null",
        ),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    names = [r["data"]["anomaly"] for r in sweep_results(sweep)]
    assert names == ["KMNIST", "FashionMNIST", "EMNIST-letters", "MNIST-classes-0"]
