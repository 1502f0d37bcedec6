"""python -m anomaly_ae.benchmark on tiny data: cells of framework rows and peers, a failing cell
that is reported while the others are kept, resuming without running finished cells again,
refusals before any cell runs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

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
