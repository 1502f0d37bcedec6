"""The command-line entry points as a user runs them: exit codes, files, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from anomaly_ae.config import PROJECT_ROOT
from tests.conftest import tiny_overrides


def run_module(module: str, *args: str, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def cli_overrides(root: Path, out: Path, *extra: str) -> list[str]:
    """The tiny-run overrides, with the run directory set through Hydra as a user would."""
    overrides = [o for o in tiny_overrides(root, out, *extra) if not o.startswith("paths.output")]
    return [*overrides, f"hydra.run.dir={out}"]


def test_train_then_evaluate_from_the_command_line(tiny_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = run_module("anomaly_ae.train", *cli_overrides(tiny_root, out))
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert "type I" in done.stdout and "results:" in done.stdout
    assert (out / "train.log").is_file()
    assert (out / ".hydra" / "config.yaml").is_file()

    evaluated = run_module(
        "anomaly_ae.evaluate",
        *cli_overrides(
            tiny_root, tmp_path / "eval", f"ckpt_path={out / 'checkpoints' / 'last.ckpt'}"
        ),
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    again = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert again["metrics"] == results["metrics"]


@pytest.mark.parametrize("problem", ["missing_data", "no_gpu", "bad_checkpoint"])
def test_user_errors_are_one_line_and_exit_2(tiny_root: Path, tmp_path: Path, problem: str) -> None:
    if problem == "missing_data":
        done = run_module("anomaly_ae.train", *cli_overrides(tmp_path / "empty", tmp_path / "r"))
        expected = "MNIST train files are missing"
    elif problem == "no_gpu":
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU, so trainer.accelerator=gpu is not an error")
        done = run_module(
            "anomaly_ae.train", *cli_overrides(tiny_root, tmp_path / "r"), "trainer.accelerator=gpu"
        )
        expected = "trainer.accelerator=cpu or auto"
    else:
        (tmp_path / "bad.ckpt").write_text("garbage")
        done = run_module(
            "anomaly_ae.evaluate",
            *cli_overrides(tiny_root, tmp_path / "r", f"ckpt_path={tmp_path / 'bad.ckpt'}"),
        )
        expected = "could not be read as a checkpoint"
    assert done.returncode == 2, done.stderr[-3000:]
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1 and expected in error_lines[0], done.stderr[-3000:]
    assert "Traceback" not in done.stderr


def test_a_run_leaves_no_process_state_behind(tiny_root: Path, tmp_path: Path) -> None:
    """train(cfg) from Python restores the warning filters it narrows, and touches no
    numeric flag of the process (denormals are not flushed: it no longer paid, see Speed)."""
    import warnings

    import torch

    from tests.conftest import run_train

    before = list(warnings.filters)
    run_train(tiny_root, tmp_path / "run", "trainer.max_epochs=1")
    assert list(warnings.filters) == before
    assert float(torch.tensor([1e-39]) * 2) != 0.0, "denormals still computed, not flushed"
