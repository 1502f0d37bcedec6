"""The notebooks run top to bottom on tiny data, so they cannot rot."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.helpers import REPO, TINY_SPLIT, compose_config, tiny_overrides

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
# what each notebook must print and how many figures it must show, on the tiny data
EXPECTED = {
    "inspect_run.ipynb": (["type I", "threshold:", "calibration:"], 3),
    "hw7_walkthrough.ipynb": (["type I error", "type II error", "AUROC"], 1),
    "hw7_maths.ipynb": (
        [
            "equal to y upsampled / 4: True",
            "depthwise: True",
            "equals softmax: True",
            "one-hot of the arg max: True",
            "KL(Q||P)",
            "non-negative for every f: True",
            "dL/dw = C*_x^T g: True",
        ],
        0,
    ),
}


@pytest.fixture(scope="module")
def tiny_run(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from anomaly_ae.train import train

    out = tmp_path_factory.mktemp("nb") / "run"
    train(compose_config("train", tiny_overrides(tiny_root, out, "trainer.max_epochs=1")))
    return out


def test_every_notebook_has_expectations() -> None:
    assert {p.name for p in NOTEBOOKS} == set(EXPECTED)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"strip outputs of {path}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tiny_run: Path, tiny_root: Path) -> None:
    env = {
        **os.environ,
        "ANOMALY_AE_RUN": str(tiny_run),
        "ANOMALY_AE_DATA": str(tiny_root),
        "HW7_EPOCHS": "2",
        "HW7_SPLIT": f"{TINY_SPLIT['train_size']},{TINY_SPLIT['val_size']}",
        "HW7_BATCH": "20",
    }
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute(env=env)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    printed = "".join(o.get("text", "") for o in outputs)
    figures = sum("image/png" in o.get("data", {}) for o in outputs)
    words, min_figures = EXPECTED[path.name]
    for word in words:
        assert word in printed, f"{path.name} printed no {word!r}"
    assert figures >= min_figures
