"""The benchmark runner on tiny data: cells of framework rows and peers, a failing cell that is
reported while the others are kept, resuming without running finished cells again, refusals
before any cell runs; and the table's arithmetic (means and sds over seeds, published rows)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from omegaconf import OmegaConf

from anomaly_ae.benchmark.cells import (
    Cell,
    Launch,
    cell_command,
    cell_settings,
    failure_line,
    set_aside,
)
from anomaly_ae.benchmark.figure import benchmark_figure
from anomaly_ae.benchmark.runner import progress_line
from anomaly_ae.benchmark.tables import (
    Spread,
    detector_rows,
    markdown_table,
    published_rows,
)
from tests.helpers import run_module

pytest.importorskip("pyod", reason="the peer rows need PyOD: pip install -e '.[bench]'")

FAST = '["trainer.enable_progress_bar=false","~callbacks.best_checkpoint","trainer.max_epochs=1"]'


def benchmark(root: Path, out: Path, *extra: str, config_dir: Path | None = None):
    options = [] if config_dir is None else ["--config-dir", str(config_dir)]
    return run_module(
        "anomaly_ae.benchmark",
        *options,
        f"data_root={root}",
        f"hydra.run.dir={out}",
        "classes=[3,5]",
        "seeds=[0]",
        f"train_overrides={FAST}",
        *extra,
    )


MINE = ("detectors=[autoencoders,pyod,mine]", "only=[hw7,pyod_iforest,broken]")


@pytest.fixture(scope="module")
def own_rows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A row of the user's own, in a YAML file of their config folder: one that fails."""
    conf = tmp_path_factory.mktemp("my_conf")
    (conf / "detectors").mkdir()
    (conf / "detectors" / "mine.yaml").write_text(
        'broken:\n  label: broken\n  train: ["data.train_size=100000"]\n'
    )
    return conf


@pytest.fixture(scope="module")
def first_run(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory, own_rows):
    out = tmp_path_factory.mktemp("benchmark") / "one_class"
    done = benchmark(tiny_root, out, *MINE, config_dir=own_rows)
    return out, done


def test_cells_run_and_the_reports_are_written(first_run) -> None:
    out, done = first_run
    assert done.returncode == 1, "a failed cell makes the exit code 1"
    assert "6 cells (3 detectors, 2 classes, 1 seed), 0 finished before, 6 to run" in done.stdout
    assert "[6/6]" in done.stdout
    for name in ("benchmark.md", "benchmark.csv", "benchmark.json", "benchmark.png"):
        assert (out / name).is_file(), name
    rows = list(csv.DictReader((out / "benchmark.csv").open()))
    ok = {(r["detector"], r["normal_class"]) for r in rows if r["status"] == "ok"}
    assert ok == {(d, c) for d in ("hw7", "pyod_iforest") for c in ("3", "5")}
    for row in rows:
        if row["status"] == "ok":
            assert 0.0 <= float(row["auroc"]) <= 1.0
    content = json.loads((out / "benchmark.json").read_text())
    hw7 = next(r for r in content["rows"] if r["key"] == "hw7")
    aurocs = {int(r["normal_class"]): float(r["auroc"]) for r in rows if r["detector"] == "hw7"}
    assert hw7["per_class"][0]["mean"] == pytest.approx(100 * aurocs[3])
    assert hw7["mean"]["mean"] == pytest.approx(50 * (aurocs[3] + aurocs[5]))
    # a framework cell is a whole run of its own, on the one-class split
    results = json.loads((out / "cells/hw7/class3_seed0/results.json").read_text())
    assert results["data"]["normal"] == "MNIST-classes-3"
    peer = json.loads((out / "cells/pyod_iforest/class3_seed0/results.json").read_text())
    assert peer["data"] == results["data"], "the same split of the same images"
    iforest = {int(r["normal_class"]): r for r in rows if r["detector"] == "pyod_iforest"}
    assert peer["metrics"]["auroc"] == pytest.approx(float(iforest[3]["auroc"]))


def test_a_failing_cell_is_reported_and_the_others_kept(first_run) -> None:
    out, done = first_run
    assert "broken · class 3 · seed 0: FAILED: error: data.train_size=100000 and" in done.stdout
    table = (out / "benchmark.md").read_text()
    assert "broken (2 failed)" in table
    assert "Failed cells: 2." in table
    assert (out / "cells/broken/class3_seed0/cell.log").is_file()


def test_a_second_run_reads_finished_cells_back(first_run, tiny_root: Path, own_rows) -> None:
    out, _ = first_run
    record = out / "cells/hw7/class3_seed0/cell.json"
    before = record.read_text()
    done = benchmark(tiny_root, out, *MINE, config_dir=own_rows)
    assert "4 finished before, 2 to run" in done.stdout
    assert record.read_text() == before, "a finished cell is not run again"
    # the failed attempt is kept beside the new one, not deleted
    assert (out / "cells/broken/class3_seed0.attempt-1/cell.log").is_file()


def test_other_settings_for_a_finished_cell_are_refused(first_run, tiny_root: Path) -> None:
    out, _ = first_run
    done = benchmark(
        tiny_root, out, "only=[hw7]", 'detectors.hw7.train=["experiment=hw7","model.latent_dim=8"]'
    )
    assert done.returncode == 2
    assert "holds a cell finished with other settings" in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr


def test_changed_config_files_are_noticed(first_run, tiny_root: Path) -> None:
    """The same overrides over config files that changed since: the cell's digest differs."""
    out, _ = first_run
    record = out / "cells/hw7/class5_seed0/cell.json"
    saved = record.read_text()
    changed = json.loads(saved) | {"config_digest": "0123456789abcdef"}
    record.write_text(json.dumps(changed))
    try:
        done = benchmark(tiny_root, out, "only=[hw7]")
    finally:
        record.write_text(saved)
    assert done.returncode == 2
    assert "config files that have changed since" in done.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("only=[nope]", "only=[...] names no detector ['nope']"),
        ('detectors.hw7.train=["model.latent_dimm=8"]', "detectors.hw7: "),
        ("classes=[11]", "classes=[11]: choose classes among [0, 1, 2"),
        ("classes=[]", "classes=[]: choose classes among"),
        ('detectors.hw7.train=["model.lr=-1"]', "detectors.hw7: model.lr=-1.0 must be positive"),
    ],
)
def test_bad_rows_stop_before_any_cell(tiny_root: Path, tmp_path: Path, override, message):
    done = benchmark(tiny_root, tmp_path / "b", override)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert not (tmp_path / "b" / "cells").exists()


def records(values: dict[tuple[str, int, int], float | None]) -> dict:
    out = {}
    for (detector, c, s), value in values.items():
        status = "failed" if value is None else "ok"
        out[Cell(detector, c, s)] = {
            "status": status,
            "auroc": value,
            "wall_seconds": 10.0 + s,
            "fit_seconds": 2.0 + s,
        }
    return out


def test_means_and_sds_over_seeds() -> None:
    detectors = {"a": SimpleNamespace(label="A", peer=None, note="", max_seeds=None)}
    values = {("a", 0, 0): 0.90, ("a", 0, 1): 0.94, ("a", 1, 0): 0.80, ("a", 1, 1): 0.84}
    (row,) = detector_rows(records(values), detectors, [0, 1], [0, 1], "auroc")
    assert row.per_class[0].mean == pytest.approx(92.0)
    assert row.per_class[0].sd == pytest.approx(2 * 2**0.5)
    # per seed: (90 + 80) / 2 = 85 and (94 + 84) / 2 = 89
    assert (row.mean.mean, row.mean.n) == (pytest.approx(87.0), 2)
    assert row.mean.sd == pytest.approx(2 * 2**0.5)
    assert (row.cell_seconds, row.fit_seconds) == (10.5, 2.5)
    table = markdown_table([row], [0, 1], "title")
    assert "| A | 92.0 ± 2.8 | 82.0 ± 2.8 | **87.0 ± 2.8** | 2.5 s | 10 s |" in table


def test_a_seed_with_a_failed_class_leaves_the_mean() -> None:
    detectors = {"a": SimpleNamespace(label="A", peer=None, note="", max_seeds=None)}
    values = {("a", 0, 0): 0.9, ("a", 1, 0): 0.8, ("a", 0, 1): 0.7, ("a", 1, 1): None}
    (row,) = detector_rows(records(values), detectors, [0, 1], [0, 1], "auroc")
    assert (row.mean.mean, row.mean.sd, row.mean.n) == (pytest.approx(85.0), None, 1)
    assert row.failed == ["class 1 seed 1"]
    assert row.per_class[1].n == 1


def test_published_rows_and_the_markdown_table() -> None:
    published = [
        SimpleNamespace(
            label="P",
            source="Someone 2020, Table 1",
            status="quoted",
            per_class=[90.0, 91.0, 92.0],
            mean=91.0,
            note="",
        ),
        SimpleNamespace(
            label="M",
            source="Other 2019",
            status="checked",
            per_class=None,
            mean=80.0,
            note="means only",
        ),
    ]
    whole = published_rows(published, [0, 1, 2], [0, 1, 2])
    assert [r.mean.mean for r in whole] == [91.0, 80.0]
    subset = published_rows(published, [0, 1, 2], [2])
    assert len(subset) == 1 and subset[0].per_class[0].mean == 92.0
    assert subset[0].mean.mean is None, "a mean over all classes is not one over the subset"
    assert Spread.of([96.0, 97.0]).text() == "96.5 ± 0.7"
    assert Spread.of([96.04]).text() == "96.0"
    table = markdown_table(whole, [0, 1, 2], "title")
    assert "| P [1] | 90.0 | 91.0 | 92.0 | **91.0** |  |  |" in table
    assert "| M [2] |  |  |  | **80.0** |  |  |" in table
    assert "[1] Someone 2020, Table 1 (quoted)" in table
    assert "[2] Other 2019 (checked): means only" in table


def test_the_figure_is_a_png(tmp_path: Path) -> None:
    detectors = {"a": SimpleNamespace(label="A", peer=None, note="", max_seeds=None)}
    values = {("a", 0, 0): 0.9, ("a", 1, 0): 0.8, ("a", 0, 1): 0.7, ("a", 1, 1): 0.75}
    rows = detector_rows(records(values), detectors, [0, 1], [0, 1], "auroc")
    path = benchmark_figure(rows, [0, 1], "title", "auroc", tmp_path / "b.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["b.png"], "no temporary file left"


def test_the_progress_line_counts_each_cell_at_its_detectors_time() -> None:
    ran = {
        Cell("fast", 0, 0): {"status": "ok", "auroc": 0.91234, "wall_seconds": 10.0},
        Cell("slow", 0, 0): {"status": "ok", "auroc": 0.8, "wall_seconds": 600.0},
        Cell("fast", 1, 0): {"status": "failed", "error": "error: boom", "wall_seconds": 20.0},
    }
    left = [Cell("slow", 1, 0), Cell("fast", 2, 0), Cell("new", 0, 0)]
    line = progress_line(Cell("fast", 0, 0), ran, left, 2, "auroc")
    # (600 + 15 + the mean of every cell, 210) / 2 jobs = 412.5 s
    assert line == "[3/6] fast · class 0 · seed 0: auroc 0.9123 (10 s); 3 left, about 7 min"
    failed = progress_line(Cell("fast", 1, 0), ran, [], 2, "auroc")
    assert failed == "[3/3] fast · class 1 · seed 0: FAILED: error: boom (20 s); 0 left"


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
