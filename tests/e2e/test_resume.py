"""A run killed mid-training and resumed with ckpt_path=last ends like an uninterrupted one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.helpers import make_tiny_root, run_train, tiny_overrides

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


def as_written_before_0_3_0(path: Path, old: Path) -> None:
    """``path``'s checkpoint as anomaly_ae 0.2.0 wrote it: the threshold a buffer of the module,
    its record and the loss histories in the model's part, no threshold rule in its settings."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    state = checkpoint["state_dict"]
    state["threshold"] = state.pop("threshold.value")
    calibration = state.pop("threshold._extra_state")["calibration"]
    checkpoint["hyper_parameters"].pop("threshold")
    losses = checkpoint["callbacks"].pop("LossHistory")
    checkpoint["callbacks"].pop("DecisionThreshold", None)
    checkpoint["anomaly_ae"] |= {
        "version": "0.2.0",
        "calibration": calibration,
        "training_losses": losses["training"],
        "validation_losses": losses["validation"],
    }
    torch.save(checkpoint, old)


def test_a_checkpoint_of_0_2_0_resumes_and_evaluates(tiny_root: Path, tmp_path: Path) -> None:
    first = run_train(tiny_root, tmp_path / "first")
    old = tmp_path / "old.ckpt"
    as_written_before_0_3_0(Path(first["checkpoints"]["last"]), old)
    more = run_train(tiny_root, tmp_path / "more", "trainer.max_epochs=3", f"ckpt_path={old}")
    assert more["resumed_from"] == str(old)
    assert more["training"]["optimizer_steps"] == 30
    resumed = torch.load(more["checkpoints"]["last"], map_location="cpu", weights_only=True)
    assert len(resumed["callbacks"]["LossHistory"]["training"]) == 30, "the old curve goes on"
    assert resumed["hyper_parameters"]["threshold"]["k"] == 3.0
