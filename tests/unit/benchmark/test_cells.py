"""anomaly_ae.benchmark.cells: a cell's settings and command line, its failure line, and earlier
attempts set aside."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from anomaly_ae.benchmark.cells import (
    Cell,
    Launch,
    cell_command,
    cell_settings,
    failure_line,
    set_aside,
)


def test_a_cells_settings_and_command() -> None:
    peer = OmegaConf.create(
        {"peer": "pyod_autoencoder", "settings": {"hidden_neuron_list": [128, 64]}, "train": None}
    )
    protocol = ["data.normal_classes=[{normal_class}]", "data.anomaly=held_out_classes"]
    settings = cell_settings(Cell("p", 3, 1), peer, protocol, ["trainer.max_epochs=1"])
    assert settings == [
        "peer=pyod_autoencoder",
        'settings={"hidden_neuron_list": [128, 64]}',
        "data.normal_classes=[3]",
        "data.anomaly=held_out_classes",
        "seed=1",
    ], "a peer's settings as one JSON override; the training overrides are not a peer's"
    launch = Launch("/data", ("/a", "/b"), "auroc", 1)
    command = cell_command(settings, Path("/out/c"), launch)
    assert command[1:3] == ["-m", "anomaly_ae.benchmark.peer_cell"]
    assert command[-3:] == [
        "data.root=/data",
        "hydra.searchpath=[file:///a,file:///b]",
        "out=/out/c",
    ]
    row = OmegaConf.create({"peer": None, "settings": {}, "train": ["model=conv"]})
    settings = cell_settings(Cell("c", 0, 2), row, protocol, ["trainer.max_epochs=1"])
    assert settings[0] == "model=conv" and settings[-2:] == ["trainer.max_epochs=1", "seed=2"]
    command = cell_command(settings, Path("/out/d"), Launch("/data", (), "auroc", 1))
    assert command[1:3] == ["-m", "anomaly_ae.train"] and command[-1] == "hydra.run.dir=/out/d"


def test_failure_lines_and_attempts_set_aside(tmp_path: Path) -> None:
    log = tmp_path / "cell.log"
    log.write_text("Seed set to 0\nerror: data.normal_classes=[11]: MNIST has no label\n")
    assert failure_line(log, 2) == "error: data.normal_classes=[11]: MNIST has no label"
    log.write_text("Traceback\n  File x\nRuntimeError: boom\n")
    assert failure_line(log, 1) == "RuntimeError: boom"
    log.write_text("")
    assert failure_line(log, 9) == "exit code 9, no output"
    cell = tmp_path / "class3_seed0"
    assert set_aside(cell) is None
    cell.mkdir()
    assert set_aside(cell) == tmp_path / "class3_seed0.attempt-1"
    cell.mkdir()
    assert set_aside(cell) == tmp_path / "class3_seed0.attempt-2"
