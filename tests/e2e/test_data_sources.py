"""Training and evaluating on data sets beyond the named IDX ones: a folder of PNGs from the
command line, colour data resumed with ckpt_path=last, colour 32x32 data through both models."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import (
    FAKE,
    TINY,
    cli_overrides,
    compose_config,
    dataset_setting,
    run_module,
    sweep_overrides,
    tiny_overrides,
)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


def test_a_folder_of_pngs_is_the_anomaly_set_from_the_command_line(
    tiny_root: Path, pngs_32: Path, tmp_path: Path
) -> None:
    folder = ("data.anomaly=folder", f"data.anomaly_path={pngs_32}", "trainer.max_epochs=1")
    refused = run_module("anomaly_ae.train", *cli_overrides(tiny_root, tmp_path / "no", *folder))
    assert refused.returncode == 2, refused.stderr[-3000:]
    lines = error_lines(refused.stderr)
    assert len(lines) == 1 and "Traceback" not in refused.stderr
    assert "(1, 32, 32) but data.normal (MNIST) images are (1, 28, 28)" in lines[0]
    assert "pass data.resize=true" in lines[0]
    assert not list((tmp_path / "no").rglob("*.ckpt")), "refused before any training"

    out = tmp_path / "run"
    done = run_module(
        "anomaly_ae.train", *cli_overrides(tiny_root, out, *folder, "data.resize=true")
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["data"]["anomaly"] == "pngs"
    assert results["data"]["anomaly_path"] == str(pngs_32) and results["data"]["resize"] is True
    assert (results["metrics"]["n_normal"], results["metrics"]["n_anomaly"]) == (TINY["test"], 12)
    assert "pngs test" in done.stdout


def test_a_run_on_colour_data_resumes_with_ckpt_path_last(tiny_root: Path, tmp_path: Path) -> None:
    """``ckpt_path=last`` with the same command line (``model=conv`` included) finds the run:
    the model's input shape is the data's, not a setting the command line compares."""
    from anomaly_ae.train import train

    logs = tmp_path / "logs"
    runs = logs / "train" / "runs"
    data = (
        dataset_setting("normal", FAKE, size=40, image_size=[3, 32, 32]),
        "data.anomaly=null",
        "data.train_size=null",
        "data.val_size=5",
        "data.test_size=5",
        "model=conv",
    )

    def run(name: str, *extra: str) -> dict:
        overrides = tiny_overrides(tiny_root, runs / name, "trainer.max_epochs=1", *data, *extra)
        overrides = [o for o in overrides if not o.startswith("paths.log_dir")]
        overrides.append(f"paths.log_dir={logs}")
        return train(compose_config("train", overrides), overrides)

    run("first")
    resumed = run("again", "ckpt_path=last", "trainer.max_epochs=2")
    assert Path(resumed["resumed_from"]) == runs / "first" / "checkpoints" / "last.ckpt"
    assert resumed["config"]["model"]["input_shape"] == [3, 32, 32]
    assert resumed["training"]["epochs"] == 2


def test_colour_32x32_data_train_mlp_and_conv_and_evaluate_again(
    tiny_root: Path, tmp_path: Path
) -> None:
    """FakeData by _target_ as both sets (3 x 32 x 32): both models take the data's shape, and
    a checkpoint evaluated again from the command line gives the same numbers."""
    sweep = tmp_path / "sweep"
    normal = dataset_setting("normal", FAKE, size=50, image_size=[3, 32, 32])
    anomaly = dataset_setting("anomaly", FAKE, size=20, image_size=[3, 32, 32], random_offset=99)
    sizes = ("data.train_size=null", "data.val_size=10", "data.test_size=10")
    done = run_module(
        "anomaly_ae.train",
        *sweep_overrides(tiny_root, sweep, "model=mlp,conv", normal, anomaly, *sizes),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    runs = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/results.json"))]
    by_net = {r["config"]["model"]["net"]["_target_"].rsplit(".", 1)[-1]: r for r in runs}
    assert set(by_net) == {"MlpAutoencoder", "ConvAutoencoder"}
    for results in runs:
        assert results["config"]["model"]["input_shape"] == [3, 32, 32]
        assert (results["data"]["normal"], results["data"]["anomaly"]) == (
            "FakeData",
            "FakeData-anomaly",
        )
        assert (results["metrics"]["n_normal"], results["metrics"]["n_anomaly"]) == (10, 20)
    conv = by_net["ConvAutoencoder"]
    checkpoint = f"ckpt_path={conv['tested']['checkpoint']}"
    # the data settings are the checkpoint's: no data.* sizes on this command line
    overrides = [
        o
        for o in cli_overrides(tiny_root, tmp_path / "eval", checkpoint)
        if not o.startswith(("data.train_size", "data.val_size"))
    ]
    evaluated = run_module("anomaly_ae.evaluate", *overrides)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    again = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert again["metrics"] == conv["metrics"] and again["threshold"] == conv["threshold"]
    assert again["data"]["normal"] == "FakeData"
