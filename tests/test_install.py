"""anomaly_ae as users install it: a wheel installed elsewhere and run from another directory,
the console scripts, a light ``import anomaly_ae``, and configs of the user's own."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import REPO, TINY_SPLIT

BIN = Path(sys.executable).parent
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
OFFLINE = ["--no-index", "--no-deps"]  # the package alone, no downloads
COMMANDS = ["train", "evaluate", "detect", "export", "summarize"]

# an experiment file of the user's own, in a folder of their own: tiny and quick
USER_EXPERIMENT = f"""# @package _global_
experiment_name: tiny_user
data:
  train_size: {TINY_SPLIT["train_size"]}
  val_size: {TINY_SPLIT["val_size"]}
  batch_size: 20
  eval_batch_size: 32
  download: false
model:
  latent_dim: 8
trainer:
  max_epochs: 1
  accelerator: cpu
  log_every_n_steps: 5
  enable_progress_bar: false
"""


def run(command: list[str], cwd: Path, env: dict[str, str | None] | None = None):
    """``command`` in ``cwd``; ``env`` adds variables to this process's, or removes them (None)."""
    merged = {**os.environ, **(env or {})}
    return subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={key: value for key, value in merged.items() if value is not None},
    )


def user_config_dir(parent: Path) -> Path:
    experiment = parent / "my_conf" / "experiment" / "tiny_user.yaml"
    experiment.parent.mkdir(parents=True)
    experiment.write_text(USER_EXPERIMENT)
    return experiment.parent.parent


def build_wheel(tmp_path: Path) -> Path:
    """Build the wheel from a copy of what the repository ships, offline (no index, no build
    isolation), so the checkout gets no build/ or egg-info folders."""
    source = tmp_path / "source"
    for name in ("anomaly_ae", "conf"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    wheels = tmp_path / "wheels"
    done = run(
        [*PIP, "wheel", *OFFLINE, "--no-build-isolation", "-w", str(wheels), str(source)],
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (wheel,) = wheels.glob("anomaly_ae-*.whl")
    return wheel


@pytest.mark.slow
def test_a_wheel_installed_elsewhere_trains_and_detects_from_another_directory(
    tiny_root: Path, tmp_path: Path
) -> None:
    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "anomaly_ae").rglob("*.py")}
    configs = {
        "anomaly_ae/" + p.relative_to(REPO).as_posix()
        for p in (REPO / "conf").rglob("*")
        if p.suffix in (".yaml", ".py")
    }
    assert modules <= names, f"modules missing from the wheel: {sorted(modules - names)}"
    assert configs <= names, f"configs missing from the wheel: {sorted(configs - names)}"

    site = tmp_path / "site"
    done = run(
        [*PIP, "install", *OFFLINE, "--target", str(site), str(wheel)],
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    work = tmp_path / "my_project"
    work.mkdir()
    config_dir = user_config_dir(work)
    # the wheel, not the checkout: the installed package first on the path, outside the repo
    env = {"PYTHONPATH": str(site), "ANOMALY_AE_DATA": None}
    code = "import anomaly_ae.conf as c, anomaly_ae as a; print(a.__file__); print(c.__file__)"
    where = run([sys.executable, "-c", code], work, env)
    assert where.stdout.split() == [
        str(site / "anomaly_ae" / "__init__.py"),
        str(site / "anomaly_ae" / "conf" / "__init__.py"),
    ]

    trained = run(
        [
            str(site / "bin" / "anomaly-ae-train"),
            *("--config-dir", str(config_dir), "experiment=tiny_user", f"data.root={tiny_root}"),
        ],
        work,
        env,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    (results_file,) = work.glob("logs/train/runs/*/results.json")
    results = json.loads(results_file.read_text())
    assert results["config"]["experiment_name"] == "tiny_user"
    assert results["config"]["model"]["latent_dim"] == 8
    output = trained.stdout + trained.stderr
    assert "Tip:" not in output, "Lightning's advertising tips are not shown"
    # the model summary's FLOPs are counted (rich's table or Lightning's plain one)
    assert "FLOPs" in output and not re.search(r"Total FLOPs: 0\b|^0 +Total Flops", output, re.M)

    images = work / "images"
    images.mkdir()
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(images / "dark.png")
    Image.fromarray(np.full((28, 28), 200, dtype=np.uint8)).save(images / "bright.png")
    detected = run(
        [
            str(site / "bin" / "anomaly-ae-detect"),
            *(f"inputs={images}", f"ckpt_path={results['checkpoints']['last']}"),
        ],
        work,
        env,
    )
    assert detected.returncode == 0, detected.stderr[-3000:]
    (detections,) = work.glob("logs/detect/runs/*/detections.json")
    assert json.loads(detections.read_text())["n_scored"] == 2
    assert {p.name for p in work.iterdir()} == {"my_conf", "images", "logs"}, "no data/ made"


def test_importing_the_package_loads_neither_hydra_nor_torch() -> None:
    code = (
        "import sys, anomaly_ae\n"
        "assert 'torch' not in sys.modules, 'import anomaly_ae imported torch'\n"
        "from anomaly_ae import Detector, Detection\n"
        "hydra = sorted(m for m in sys.modules if m.split('.')[0] in ('hydra', 'omegaconf'))\n"
        "assert not hydra, hydra\n"
        "print(anomaly_ae.__version__, Detector.__module__)\n"
    )
    done = run([sys.executable, "-c", code], REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["0.2.0", "anomaly_ae.detector"]


@pytest.fixture
def hydra_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """Run an entry point's ``main()`` in this process as its command line would (much faster
    than a new Python process each time); returns ``(exit code, stdout, stderr)``. Hydra's
    global state is cleared afterwards, so later tests see no command line of this one."""
    from hydra.core.hydra_config import HydraConfig

    def run_main(command: str, *args: str, cwd: Path = REPO) -> tuple[int, str, str]:
        module = importlib.import_module(f"anomaly_ae.{command}")
        monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, "argv", [f"anomaly-ae-{command}", *args])
        capsys.readouterr()
        try:
            module.main()
            code = 0
        except SystemExit as stop:
            code = stop.code or 0
        out, err = capsys.readouterr()
        return code, out, err

    yield run_main
    HydraConfig.instance().cfg = None


def test_console_scripts_are_the_entry_points_main() -> None:
    """Each console script calls the same ``main`` as ``python -m anomaly_ae.<command>`` (the
    wheel test runs two of them from an installed wheel)."""
    scripts = {e.name: e.value for e in entry_points(group="console_scripts")}
    for command in COMMANDS:
        assert scripts[f"anomaly-ae-{command}"] == f"anomaly_ae.{command}:main"
        assert (BIN / f"anomaly-ae-{command}").is_file(), "make install puts it in the venv"


@pytest.mark.parametrize("command", ["train", "evaluate", "detect", "export"])
def test_help_describes_the_command_and_lists_only_real_choices(command: str, hydra_cli) -> None:
    code, text, err = hydra_cli(command, "--help")
    assert code == 0, err[-2000:]
    assert f"anomaly-ae-{command} (or: python -m anomaly_ae.{command})" in text
    assert "Examples:" in text and "--hydra-help" in text
    groups = text.split("== Configuration groups ==")[1].split("== Config ==")[0]
    assert "schema" not in groups
    if command == "train":
        assert (
            "model: conv, dcae, mlp, vae" in groups
            and "trainer: cpu, ddp, ddp_cpu, default, gpu" in groups
        )


def test_schemas_are_not_choices(hydra_cli) -> None:
    code, _, err = hydra_cli("train", "model=mlp_schema")
    assert code == 1
    assert "Could not find 'model/mlp_schema'" in err


@pytest.mark.parametrize("command", ["train", "evaluate", "detect", "export"])
def test_cfg_job_resolve_prints_the_config(command: str, tmp_path: Path, hydra_cli) -> None:
    code, out, err = hydra_cli(command, "--cfg", "job", "--resolve", cwd=tmp_path)
    assert code == 0, err[-2000:]
    assert f"log_dir: {tmp_path}/logs" in out
    # the run directory exists only once a run starts
    assert "output_dir: null" in out
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize("how", ["config_dir", "searchpath"])
def test_user_experiments_compose_from_a_folder_of_their_own(
    how: str, tmp_path: Path, hydra_cli
) -> None:
    config_dir = user_config_dir(tmp_path)
    where = (
        ["--config-dir", str(config_dir)]
        if how == "config_dir"
        else [f"hydra.searchpath=[file://{config_dir}]"]
    )
    code, out, err = hydra_cli(
        "train", *where, "experiment=tiny_user", "--cfg", "job", cwd=tmp_path
    )
    assert code == 0, err[-2000:]
    assert "experiment_name: tiny_user" in out and "latent_dim: 8" in out
    if how == "config_dir":  # --help lists the user's experiments next to the shipped ones
        _, shipped, _ = hydra_cli("train", *where, "--help", cwd=tmp_path)
        assert "experiment: hw7, kmnist_strong, tiny_user" in shipped
