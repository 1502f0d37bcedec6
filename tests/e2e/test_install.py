"""anomaly_ae as users install it: a wheel installed elsewhere trains and detects from another
directory, with configs of the user's own; ``import anomaly_ae`` in a fresh interpreter stays
light."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import REPO, user_config_dir

PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
OFFLINE = ["--no-index", "--no-deps"]  # the package alone, no downloads


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
    assert done.stdout.split() == ["0.3.0", "anomaly_ae.detector"]
