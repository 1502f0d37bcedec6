"""Trusting a run: resume after a kill, divergence stops, typed configs, faithful exports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.errors import ConfigCompositionException

from anomaly_ae.checkpoint import load_autoencoder
from anomaly_ae.errors import TrainingDivergedError
from anomaly_ae.export import check_export, export_detector, run_exported
from tests.helpers import (
    anomaly_images,
    compose_config,
    make_tiny_root,
    normal_images,
    run_module,
    run_train,
    tiny_overrides,
)

# big enough that an epoch lasts a good fraction of a second, so the kill lands mid-run
SLOW = {"train": 2400, "test": 60, "anomaly": 40}
SLOW_RUN = ("data.train_size=2000", "data.val_size=400", "trainer.max_epochs=6")


def saved_epoch(path: Path) -> int:
    """The epoch of a checkpoint, -1 while it is missing or still being written."""
    try:
        return torch.load(path, weights_only=True, map_location="cpu")["epoch"]
    except Exception:
        return -1


@pytest.mark.slow
def test_killed_run_resumed_with_ckpt_path_last_matches_an_uninterrupted_one(
    tmp_path: Path,
) -> None:
    root = make_tiny_root(tmp_path / "data", SLOW)
    logs = tmp_path / "logs"
    first = logs / "train" / "runs" / "first"
    overrides = [
        o
        for o in tiny_overrides(root, first, *SLOW_RUN)
        if not o.startswith(("paths.output_dir", "paths.log_dir"))
    ]
    command = [sys.executable, "-m", "anomaly_ae.train", *overrides, f"paths.log_dir={logs}"]

    run = subprocess.Popen(
        [*command, f"hydra.run.dir={first}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    last = first / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 240
    while saved_epoch(last) < 1:  # kill once two of the six epochs are saved
        assert run.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    run.kill()
    assert run.wait() == -9
    assert not (first / "results.json").exists(), "killed before it finished"

    second = logs / "train" / "runs" / "second"
    resumed = subprocess.run(
        [*command, "ckpt_path=last", f"hydra.run.dir={second}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    results = json.loads((second / "results.json").read_text())
    assert Path(results["resumed_from"]).parent == first / "checkpoints"
    assert (results["training"]["epochs"], results["training"]["optimizer_steps"]) == (6, 600)

    uninterrupted = run_train(root, tmp_path / "whole", *SLOW_RUN)
    assert results["threshold"] == uninterrupted["threshold"]
    assert results["metrics"] == uninterrupted["metrics"]


def test_nan_loss_stops_the_run_naming_the_step(tiny_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(TrainingDivergedError, match=r"became nan at optimizer step 2 \(epoch 0\)"):
        run_train(tiny_root, out, "model.lr=1e30")
    assert not list(out.glob("checkpoints/*.ckpt")), "a diverged model is never checkpointed"


@pytest.mark.parametrize(
    "override",
    [
        "data.batch_size=big",
        "seed=abc",
        "threshold.k=high",
        "trainer.max_epochs=ten",
        "model.net.hidden_dims=[a,b]",
        "model.hidden_dims=[64]",
        "data.download=maybe",
        "data.batchsize=10",
        "model.depth=3",
    ],
)
def test_wrong_types_and_unknown_keys_stop_at_composition(tmp_path: Path, override: str) -> None:
    with pytest.raises(ConfigCompositionException):
        compose_config("train", [f"paths.output_dir={tmp_path}", override])


def test_lightning_arguments_outside_the_schema_can_be_added(tmp_path: Path) -> None:
    cfg = compose_config(
        "train", [f"paths.output_dir={tmp_path}", "+trainer.limit_val_batches=0.5"]
    )
    assert cfg.trainer.limit_val_batches == 0.5


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_export_agrees_with_the_checkpoint(
    trained: tuple[Path, dict], tmp_path: Path, fmt: str
) -> None:
    model = load_autoencoder(trained[1]["checkpoints"]["last"])
    path = export_detector(model, fmt, tmp_path / f"detector.{fmt}")
    rng = np.random.default_rng(0)
    # normal-like and anomaly-like images, so that the flags differ from image to image
    raw = np.concatenate([normal_images(32, rng), anomaly_images(32, rng)])
    images = torch.from_numpy(raw).float().div(255)[:, None]
    check = check_export(model, path, fmt, images)
    assert check["flags_differ"] == 0 and check["flagged"] == 32
    assert check["max_rel_score_difference"] < 1e-4
    # the baked-in threshold lies between the scores of the two kinds of image
    threshold = model.fitted_threshold()
    scores, _ = run_exported(path, fmt, images)
    assert scores.min() < threshold < scores.max()
    scores, flags = run_exported(path, fmt, images[:5])  # any batch size
    assert scores.shape == (5,) and flags.dtype == np.bool_


def test_export_command(trained: tuple[Path, dict], tmp_path: Path) -> None:
    out = tmp_path / "export"
    done = run_module(
        "anomaly_ae.export",
        f"ckpt_path={trained[1]['checkpoints']['last']}",
        "format=torchscript",
        f"hydra.run.dir={out}",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "detector.pt").is_file()
    assert "0 flags differ" in done.stdout
    assert "input 'images': float32 [N, 1, 28, 28], values in [0, 1]" in done.stdout
    wrong = run_module(
        "anomaly_ae.export",
        f"ckpt_path={trained[1]['checkpoints']['last']}",
        "format=tflite",
        f"hydra.run.dir={out}",
    )
    assert wrong.returncode == 2 and "format=tflite is not supported" in wrong.stderr


def test_onnx_export_is_one_self_contained_file(trained: tuple[Path, dict], tmp_path: Path) -> None:
    import onnxruntime

    model = load_autoencoder(trained[1]["checkpoints"]["last"])
    path = export_detector(model, "onnx", tmp_path / "out" / "detector.onnx")
    assert [p.name for p in path.parent.iterdir()] == ["detector.onnx"], "no weights file beside"
    shipped = tmp_path / "elsewhere" / "detector.onnx"
    shipped.parent.mkdir()
    shipped.write_bytes(path.read_bytes())
    session = onnxruntime.InferenceSession(str(shipped), providers=["CPUExecutionProvider"])
    (images,) = session.get_inputs()
    assert images.name == "images" and images.type == "tensor(float)"
    assert images.shape[1:] == [1, 28, 28]
    assert [o.name for o in session.get_outputs()] == ["score", "is_anomaly"]
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    scores, flags = session.run(None, {"images": x})
    assert flags.dtype == np.bool_
    np.testing.assert_allclose(scores, model.score_images(torch.from_numpy(x)).numpy(), rtol=1e-5)


def test_export_check_fails_in_one_line_when_the_file_disagrees(
    trained: tuple[Path, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from anomaly_ae import export as export_module
    from anomaly_ae.cli import exit_on_user_error

    real = export_module.run_exported

    def off_by_a_little(path, fmt, images):
        scores, flags = real(path, fmt, images)
        scores[::7] += 0.01  # beyond 1e-4 + 1e-5 x score for scores below ~1000
        return scores, flags

    monkeypatch.setattr(export_module, "run_exported", off_by_a_little)
    out = tmp_path / "export"
    cfg = compose_config(
        "export",
        [
            f"ckpt_path={trained[1]['checkpoints']['last']}",
            "format=torchscript",
            f"paths.output_dir={out}",
        ],
    )
    with pytest.raises(SystemExit) as stop, exit_on_user_error():
        export_module.export(cfg)
    assert stop.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "disagrees with the checkpoint" in errors[0]
    assert "scores differ by more than 0.0001 + 1e-05 x score" in errors[0]
    assert (out / "detector.pt").is_file(), "the file is kept for inspection"


def test_export_check_tolerates_flipped_flags_only_at_the_threshold(
    trained: tuple[Path, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flag that differs for a score within the tolerance of the threshold is float
    rounding, not a broken export; anywhere else it fails the check."""
    from anomaly_ae import export as export_module

    model = load_autoencoder(trained[1]["checkpoints"]["last"])
    images = export_module.check_images((1, 28, 28), 16, seed=0)
    with torch.no_grad():
        expected = model.score(images)
    model.threshold.fill_(float(expected[0]))  # image 0 sits exactly on the threshold
    path = export_detector(model, "torchscript", tmp_path / "detector.pt")
    real = export_module.run_exported

    def flipped(indices):
        def run(path, fmt, images):
            scores, flags = real(path, fmt, images)
            flags[indices] = ~flags[indices]
            return scores, flags

        return run

    monkeypatch.setattr(export_module, "run_exported", flipped([0]))
    check = check_export(model, path, "torchscript", images)
    assert check["flags_differ"] == 1 and check["flags_differ_beyond_tolerance"] == 0
    export_module.require_agreement(check, path)

    def nan_scores(path, fmt, images):
        scores, flags = real(path, fmt, images)
        return np.full_like(scores, np.nan), flags

    monkeypatch.setattr(export_module, "run_exported", nan_scores)
    assert check_export(model, path, "torchscript", images)["scores_beyond_tolerance"] == 16

    far = int(torch.argmax((expected - expected[0]).abs()))
    monkeypatch.setattr(export_module, "run_exported", flipped([0, far]))
    check = check_export(model, path, "torchscript", images)
    assert check["flags_differ"] == 2 and check["flags_differ_beyond_tolerance"] == 1
    with pytest.raises(export_module.ExportMismatchError, match="1 flags differ"):
        export_module.require_agreement(check, path)
