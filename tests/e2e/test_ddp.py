"""Two-process CPU DDP gives the same threshold and test metrics as one process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anomaly_ae.evaluate import evaluate
from anomaly_ae.train import train
from tests.helpers import cli_overrides, compose_config, make_tiny_root, run_module, tiny_overrides

# 39 validation and 61 + 40 test images: odd counts, so the distributed sampler pads each rank
ODD_SIZES = {"train": 240, "test": 61, "anomaly": 40}


@pytest.mark.slow
@pytest.mark.parametrize("score", ["reconstruction", "combined"])
def test_cpu_ddp_threshold_and_metrics_equal_single_process(score: str, tmp_path: Path) -> None:
    """With the threshold re-fitted (and a fitted score such as score=combined: its
    Mahalanobis mean and precision and its scales) on two processes."""
    root = make_tiny_root(tmp_path / "data", ODD_SIZES)
    odd = ("data.val_size=39", "data.eval_batch_size=8")
    train(
        compose_config(
            "train",
            tiny_overrides(
                root, tmp_path / "train", *odd, "trainer.max_epochs=3", f"score={score}"
            ),
        )
    )
    ckpt = f"ckpt_path={tmp_path / 'train' / 'checkpoints' / 'last.ckpt'}"

    single = evaluate(
        compose_config(
            "evaluate",
            tiny_overrides(root, tmp_path / "single", *odd, ckpt, "refit_threshold=true"),
        )
    )

    done = run_module(
        "anomaly_ae.evaluate",
        *cli_overrides(
            root,
            tmp_path / "ddp",
            *odd,
            ckpt,
            "refit_threshold=true",
            "trainer=ddp_cpu",
        ),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ddp = json.loads((tmp_path / "ddp" / "results.json").read_text())

    assert ddp["device"]["devices"] == 2
    assert ddp["calibration"]["n"] == single["calibration"]["n"] == 39
    # float32 scores of the same images in other batch compositions: equal to rounding (the
    # combined score's standardised parts are sums of terms some hundred times larger)
    assert ddp["threshold"] == pytest.approx(single["threshold"], rel=1e-5, abs=1e-6)
    assert ddp["metrics"]["n_normal"] == 61 and ddp["metrics"]["n_anomaly"] == 40
    assert single["metrics"]["n_anomaly_flagged"] > 0, "the check needs a model that flags"
    for name, value in single["metrics"].items():
        assert ddp["metrics"][name] == pytest.approx(value, abs=1e-6), name


@pytest.mark.slow
def test_cpu_ddp_training_splits_the_batches_between_processes(
    tiny_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ddp_train"
    done = run_module(
        "anomaly_ae.train",
        *cli_overrides(tiny_root, out, "trainer.max_epochs=1", "trainer=ddp_cpu"),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    # 200 training images in batches of 20: 10 steps alone, 5 on each of two processes
    assert results["training"]["optimizer_steps"] == 5
    assert results["calibration"]["n"] == 40
