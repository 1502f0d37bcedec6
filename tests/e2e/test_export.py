"""Exports of a tiny run's checkpoint agree with it: TorchScript and ONNX, the export command, one
self-contained ONNX file, one line when the check fails."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from anomaly_ae.checkpoint import load_autoencoder
from anomaly_ae.export import check_export, export_detector, run_exported
from tests.helpers import anomaly_images, compose_config, normal_images, run_module


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_export_agrees_with_the_checkpoint(
    trained: tuple[Path, dict], tmp_path: Path, fmt: str
) -> None:
    model = load_autoencoder(trained[1]["checkpoints"]["last"])
    path = export_detector(model, fmt, tmp_path / f"detector.{fmt}")
    rng = np.random.default_rng(0)
    # normal-like and anomaly-like images, so that the flags differ from image to image
    raw = np.concatenate([normal_images(32, rng), anomaly_images(32, rng)])
    images = torch.from_numpy(raw).float().div(255)[:, None]
    check = check_export(model, path, fmt, images)
    assert check["flags_differ"] == 0 and check["flagged"] == 32
    assert check["max_rel_score_difference"] < 1e-4
    # the baked-in threshold lies between the scores of the two kinds of image
    threshold = model.threshold.fitted()
    scores, _ = run_exported(path, fmt, images)
    assert scores.min() < threshold < scores.max()
    scores, flags = run_exported(path, fmt, images[:5])  # any batch size
    assert scores.shape == (5,) and flags.dtype == np.bool_


def test_export_command(trained: tuple[Path, dict], tmp_path: Path) -> None:
    out = tmp_path / "export"
    done = run_module(
        "anomaly_ae.export",
        f"ckpt_path={trained[1]['checkpoints']['last']}",
        "format=torchscript",
        f"hydra.run.dir={out}",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "detector.pt").is_file()
    assert "0 flags differ" in done.stdout
    assert "input 'images': float32 [N, 1, 28, 28], values in [0, 1]" in done.stdout
    wrong = run_module(
        "anomaly_ae.export",
        f"ckpt_path={trained[1]['checkpoints']['last']}",
        "format=tflite",
        f"hydra.run.dir={out}",
    )
    assert wrong.returncode == 2 and "format=tflite is not supported" in wrong.stderr


def test_onnx_export_is_one_self_contained_file(trained: tuple[Path, dict], tmp_path: Path) -> None:
    import onnxruntime

    model = load_autoencoder(trained[1]["checkpoints"]["last"])
    path = export_detector(model, "onnx", tmp_path / "out" / "detector.onnx")
    assert [p.name for p in path.parent.iterdir()] == ["detector.onnx"], "no weights file beside"
    shipped = tmp_path / "elsewhere" / "detector.onnx"
    shipped.parent.mkdir()
    shipped.write_bytes(path.read_bytes())
    session = onnxruntime.InferenceSession(str(shipped), providers=["CPUExecutionProvider"])
    (images,) = session.get_inputs()
    assert images.name == "images" and images.type == "tensor(float)"
    assert images.shape[1:] == [1, 28, 28]
    assert [o.name for o in session.get_outputs()] == ["score", "is_anomaly"]
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    scores, flags = session.run(None, {"images": x})
    assert flags.dtype == np.bool_
    np.testing.assert_allclose(scores, model.score_images(torch.from_numpy(x)).numpy(), rtol=1e-5)


def test_export_check_fails_in_one_line_when_the_file_disagrees(
    trained: tuple[Path, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from anomaly_ae import export as export_module
    from anomaly_ae.cli import exit_on_user_error

    real = export_module.run_exported

    def off_by_a_little(path, fmt, images):
        scores, flags = real(path, fmt, images)
        scores[::7] += 0.01  # beyond 1e-4 + 1e-5 x score for scores below ~1000
        return scores, flags

    monkeypatch.setattr(export_module, "run_exported", off_by_a_little)
    out = tmp_path / "export"
    cfg = compose_config(
        "export",
        [
            f"ckpt_path={trained[1]['checkpoints']['last']}",
            "format=torchscript",
            f"paths.output_dir={out}",
        ],
    )
    with pytest.raises(SystemExit) as stop, exit_on_user_error():
        export_module.export(cfg)
    assert stop.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "disagrees with the checkpoint" in errors[0]
    assert "scores differ by more than 0.0001 + 1e-05 x score" in errors[0]
    assert (out / "detector.pt").is_file(), "the file is kept for inspection"
