"""The notebooks run top to bottom on a tiny trained run, so they cannot rot."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from anomaly_ae.config import PROJECT_ROOT
from tests.conftest import compose_config, tiny_overrides

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def tiny_run(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from anomaly_ae.train import train

    out = tmp_path_factory.mktemp("nb") / "run"
    train(compose_config("train", tiny_overrides(tiny_root, out, "trainer.max_epochs=1")))
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"strip outputs of {path}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(
    path: Path, tiny_run: Path, tiny_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANOMALY_AE_RUN", str(tiny_run))
    monkeypatch.setenv("ANOMALY_AE_DATA", str(tiny_root))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute(env=dict(os.environ))
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "type I" in printed
