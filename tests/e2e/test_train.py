"""Training end to end on tiny data: results.json, checkpoints, the summary, reproducibility,
runs without anomalies or with one class, divergence, broken checkpoints."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from anomaly_ae.checkpoint import load_autoencoder
from anomaly_ae.errors import CheckpointError, TrainingDivergedError
from anomaly_ae.evaluate import evaluate
from anomaly_ae.models import AutoencoderModule
from anomaly_ae.train import train
from tests.helpers import TINY, compose_config, labels_of, run_train, tiny_overrides


def test_train_writes_results_checkpoints_and_tensorboard(trained: tuple[Path, dict]) -> None:
    out, results = trained
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["threshold"] == results["threshold"]
    assert on_disk["metrics"] == results["metrics"]
    assert math.isfinite(results["threshold"])
    assert results["calibration"]["rule"] == "gaussian" and results["calibration"]["k"] == 3.0
    m = results["metrics"]
    assert (m["n_normal"], m["n_anomaly"]) == (TINY["test"], TINY["anomaly"])
    assert 0 <= m["type_I_error"] <= 1 and 0 <= m["type_II_error"] <= 1
    assert m["auroc"] > 0.9, "bright-noise anomalies must be easy to tell from dark squares"
    assert results["data"] == {
        "normal": "MNIST",
        "anomaly": "KMNIST",
        "train_size": 200,
        "val_size": 40,
        "split_seed": 42,
        "n_train": 200,
        "n_validation": 40,
    }
    # the threshold was fitted on the tested weights, which are in last.ckpt
    assert results["training"]["optimizer_steps"] == 20
    assert results["calibration"]["step"] == results["tested"]["step"] == 20
    assert results["tested"]["checkpoint"] == results["checkpoints"]["last"]
    assert results["config"]["model"]["latent_dim"] == 32
    assert results["config"]["trainer"]["max_epochs"] == 2
    assert {"torch", "pytorch-lightning", "torchmetrics", "anomaly_ae"} <= set(results["versions"])
    assert results["timings"]["fit_seconds"] > 0
    assert Path(results["checkpoints"]["last"]).is_file()
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))


def test_summary_is_printed(tiny_root: Path, tmp_path: Path, capsys) -> None:
    run_train(tiny_root, tmp_path / "run", "trainer.max_epochs=1")
    printed = capsys.readouterr().out
    assert "type I" in printed and "type II" in printed and "AUROC" in printed
    assert f"results: {tmp_path / 'run' / 'results.json'}" in printed


def test_same_seed_gives_the_same_threshold_and_metrics(
    trained: tuple[Path, dict], tiny_root: Path, tmp_path: Path
) -> None:
    _, first = trained
    again = run_train(tiny_root, tmp_path / "again")
    assert again["threshold"] == first["threshold"]
    assert again["metrics"] == first["metrics"]
    other = run_train(tiny_root, tmp_path / "other", "seed=1")
    assert other["threshold"] != first["threshold"]


def test_checkpoint_round_trip_keeps_threshold_and_weights(trained: tuple[Path, dict]) -> None:
    _, results = trained
    last = Path(results["checkpoints"]["last"])
    model = load_autoencoder(last)
    assert float(model.threshold.value) == results["threshold"]
    assert model.threshold.calibration == results["calibration"]
    lightning_loaded = AutoencoderModule.load_from_checkpoint(last, weights_only=True)
    assert float(lightning_loaded.threshold.value) == results["threshold"]
    loaded_state = lightning_loaded.state_dict()
    for key, value in model.state_dict().items():
        if isinstance(value, torch.Tensor):
            torch.testing.assert_close(value, loaded_state[key])
        else:  # the threshold's record (extra state)
            assert value == loaded_state[key], key


def test_without_anomaly_set_type_one_only_and_a_note(tiny_root: Path, tmp_path: Path) -> None:
    results = run_train(tiny_root, tmp_path / "run", "data.anomaly=null", "trainer.max_epochs=1")
    m = results["metrics"]
    assert m["n_anomaly"] == 0 and m["type_I_error"] is not None
    assert m["type_II_error"] is None and m["auroc"] is None
    assert results["data"]["anomaly"] is None
    assert "anomaly metrics not computed" in results["notes"][0]


def test_a_test_set_of_one_class_shows_n_a(tiny_root: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    results = run_train(
        tiny_root,
        out,
        "data.eval_batch_size=1",
        "+trainer.limit_test_batches=1",  # one image: a normal one
        "trainer.max_epochs=1",
    )
    m = results["metrics"]
    assert (m["n_normal"], m["n_anomaly"]) == (1, 0)
    assert m["type_II_error"] is None and m["auroc"] is None
    assert "need both are n/a" in results["notes"][0]
    printed = capsys.readouterr().out
    assert "type II n/a" in printed and "AUROC n/a   average precision n/a" in printed
    assert json.loads((out / "results.json").read_text())["metrics"]["auroc"] is None
    assert (out / "report.png").is_file()


def _truncated(src: Path, dst: Path) -> None:
    dst.write_bytes(src.read_bytes()[:2000])


def _foreign(src: Path, dst: Path) -> None:
    torch.save({"weights": torch.zeros(3)}, dst)


def _text(src: Path, dst: Path) -> None:
    dst.write_text("not a checkpoint")


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (_truncated, "could not be read as a checkpoint"),
        (_text, "could not be read as a checkpoint"),
        (_foreign, "not an anomaly_ae checkpoint"),
    ],
)
def test_broken_checkpoints_give_one_clear_line(
    trained: tuple[Path, dict], tmp_path: Path, damage, expected: str
) -> None:
    _, results = trained
    broken = tmp_path / "broken.ckpt"
    damage(Path(results["checkpoints"]["last"]), broken)
    with pytest.raises(CheckpointError, match=expected) as err:
        load_autoencoder(broken)
    assert "\n" not in str(err.value)


def test_every_curve_is_logged_by_lightning_on_its_step_axis(
    tiny_root: Path, tmp_path: Path
) -> None:
    import csv

    out = tmp_path / "run"
    run_train(tiny_root, out, "logger=csv", "trainer.log_every_n_steps=5")
    rows = list(csv.DictReader((out / "csv" / "metrics.csv").open()))

    def steps_of(name: str) -> list[int]:
        return [int(r["step"]) for r in rows if r.get(name)]

    # 200 images in batches of 20: 10 optimizer steps an epoch, 2 epochs. Lightning puts what
    # is logged during or after optimizer step k at x = k - 1, and the test after step 20.
    assert steps_of("train/loss_step") == [4, 9, 14, 19]
    assert steps_of("train/loss_epoch") == [9, 19]
    assert steps_of("val/threshold") == [9, 19]
    assert steps_of("test/type_I_error") == [20]


SIZES = ("data.train_size=", "data.val_size=")


def test_the_command_line_needs_no_sizes(tiny_root: Path, tmp_path: Path) -> None:
    """``python -m anomaly_ae.train data.normal_classes=[3]`` trains on the threes, validates
    on a tenth of them and tests on the full test set; evaluate reads the same split back."""
    out = tmp_path / "run"
    overrides = [o for o in tiny_overrides(tiny_root, out) if not o.startswith(SIZES)]
    overrides.append("data.normal_classes=[3]")
    cfg = compose_config("train", overrides)
    assert (cfg.data.anomaly, cfg.data.val_size) == ("held_out_classes", 0.1)
    results = train(cfg, overrides)
    threes = int((labels_of(tiny_root, "train") == 3).sum())
    data = results["data"]
    assert data["n_train"] + data["n_validation"] == threes
    assert data["n_validation"] == round(0.1 * threes)
    assert (data["normal"], data["anomaly"]) == ("MNIST-classes-3", "MNIST-classes-not-3")
    metrics = results["metrics"]
    test_labels = labels_of(tiny_root, "test")
    assert metrics["n_normal"] == int((test_labels == 3).sum())
    assert metrics["n_normal"] + metrics["n_anomaly"] == len(test_labels), "the full test set"

    again = [o for o in tiny_overrides(tiny_root, tmp_path / "eval") if not o.startswith(SIZES)]
    again.append(f"ckpt_path={results['checkpoints']['last']}")
    evaluated = evaluate(compose_config("evaluate", again), again)
    assert evaluated["data"]["normal_classes"] == [3]
    assert evaluated["metrics"] == results["metrics"]


def test_nan_loss_stops_the_run_naming_the_step(tiny_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(TrainingDivergedError, match=r"became nan at optimizer step 2 \(epoch 0\)"):
        run_train(tiny_root, out, "model.lr=1e30")
    assert not list(out.glob("checkpoints/*.ckpt")), "a diverged model is never checkpointed"
