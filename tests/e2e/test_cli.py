"""The command-line entry points as a user runs them: exit codes, files, one-line errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO, cli_overrides, run_module, run_train


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


PROBLEMS = ["missing_data", "bad_split", "no_gpu", "bad_checkpoint", "no_inputs", "negative_k"]


@pytest.mark.parametrize("problem", PROBLEMS)
def test_user_errors_are_one_line_and_exit_2(tiny_root: Path, tmp_path: Path, problem: str) -> None:
    """One ``error:`` line on the terminal, the same line in the run's log, and no event files
    (TensorBoard lists no failed run)."""
    task = "train"
    if problem == "missing_data":
        done = run_module("anomaly_ae.train", *cli_overrides(tmp_path / "empty", tmp_path / "r"))
        expected = "MNIST train files are missing"
    elif problem == "bad_split":  # found in the data module's setup, after Lightning opened
        # the TensorBoard writer: its event file, header only, must not stay behind
        overrides = cli_overrides(
            tiny_root, tmp_path / "r", "data.anomaly=mnist_classes", "data.anomaly_classes=[0]"
        )
        done = run_module("anomaly_ae.train", *overrides, "data.train_size=240")
        expected = "data.train_size=240 and data.val_size=40 do not fit"
    elif problem == "negative_k":
        done = run_module(
            "anomaly_ae.train", *cli_overrides(tiny_root, tmp_path / "r"), "threshold.k=-1"
        )
        expected = "threshold.k=-1.0 must be a positive number"
    elif problem == "no_inputs":
        task = "detect"
        done = run_module(
            "anomaly_ae.detect", "ckpt_path=x.ckpt", f"hydra.run.dir={tmp_path / 'r'}"
        )
        expected = "inputs must be given on the command line: inputs=<"
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
        task = "evaluate"
    assert done.returncode == 2, done.stderr[-3000:]
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1 and expected in error_lines[0], done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert error_lines[0] in (tmp_path / "r" / f"{task}.log").read_text()
    assert not list((tmp_path / "r").rglob("events.out.tfevents.*"))


def test_a_mistyped_key_gets_a_suggestion(tmp_path: Path) -> None:
    done = run_module("anomaly_ae.train", "trainer.max_epoch=3", f"hydra.run.dir={tmp_path}")
    assert done.returncode == 1
    assert done.stderr.strip().endswith("did you mean trainer.max_epochs=3?"), done.stderr


def test_make_help_names_the_environment_folder() -> None:
    done = subprocess.run(
        ["make", "--no-print-directory", "help", "VENV=/opt/ae-env"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "create /opt/ae-env and install" in done.stdout and "$(" not in done.stdout


def test_a_run_leaves_no_process_state_behind(tiny_root: Path, tmp_path: Path) -> None:
    """train(cfg) from Python restores the warning filters it narrows, and touches no
    numeric flag of the process (denormals are not flushed: it no longer paid, see Speed)."""
    import warnings

    import torch

    before = list(warnings.filters)
    run_train(tiny_root, tmp_path / "run", "trainer.max_epochs=1")
    assert list(warnings.filters) == before
    assert float(torch.tensor([1e-39]) * 2) != 0.0, "denormals still computed, not flushed"
