"""The detector on a tiny run's checkpoint: the Python API, the detect command, bad inputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from anomaly_ae.checkpoint import load_autoencoder
from anomaly_ae.data import get_source
from anomaly_ae.detector import Detector
from anomaly_ae.inputs import InputError
from tests.helpers import run_module, write_mixed_folder


@pytest.fixture(scope="module")
def detector(trained: tuple[Path, dict]) -> Detector:
    return Detector.from_checkpoint(trained[1]["checkpoints"]["last"])


def test_api_scores_like_the_model_in_every_input_form(
    detector: Detector, digits: np.ndarray
) -> None:
    model = detector.model
    expected = model.score_images(torch.from_numpy(digits).float().div(255)[:, None]).numpy()
    np.testing.assert_allclose(detector.score(digits), expected, rtol=1e-6)
    np.testing.assert_allclose(detector.score(digits[:, None] / 255.0), expected, rtol=1e-5)
    np.testing.assert_allclose(detector.score(torch.from_numpy(digits)), expected, rtol=1e-6)
    np.testing.assert_allclose(detector.score(digits[0]), expected[:1], rtol=1e-6)
    np.testing.assert_array_equal(detector.decision_function(digits), detector.score(digits))
    labels = detector.predict(digits)
    assert labels.dtype == np.int64 and set(labels) <= {0, 1}
    np.testing.assert_array_equal(labels, (expected > detector.threshold_).astype(int))
    assert labels.tolist() == [0, 0, 0, 0, 1, 1], "dark squares normal, bright noise anomalous"


def test_api_converts_only_when_asked(detector: Detector, digits: np.ndarray) -> None:
    big = np.kron(digits, np.ones((2, 2), dtype=np.uint8))
    with pytest.raises(InputError, match="56x56 pixels, the model takes 28x28; pass resize=true"):
        detector.score(big)
    assert detector.score(big, resize=True).shape == (len(digits),)
    colour = np.repeat(digits[..., None], 3, axis=-1)
    with pytest.raises(InputError, match="grayscale=true"):
        detector.score(colour)
    np.testing.assert_allclose(
        detector.score(colour, grayscale=True), detector.score(digits), rtol=1e-5
    )
    with pytest.raises(InputError, match=r"values in \[0, 1\]"):
        detector.score(digits.astype(np.float32))  # 0-255 floats
    with pytest.raises(InputError, match="dtype"):
        detector.score(digits.astype(np.int32))


def test_a_three_by_h_by_w_array_is_never_split_into_three_images(
    detector: Detector, digits: np.ndarray
) -> None:
    three = digits[:3]  # (3, 28, 28): one CHW colour image, or three gray images?
    for images in (three, torch.from_numpy(three), three.astype(np.float32) / 255):
        with pytest.raises(InputError, match=r"one colour image or three gray ones") as err:
            detector.score(images)
        assert "grayscale=true" in str(err.value) and "(3, 1, 28, 28)" in str(err.value)
    one = detector.score(three, grayscale=True)
    assert one.shape == (1,), "grayscale=true reads it as one colour image"
    np.testing.assert_allclose(
        one, detector.score(np.moveaxis(three, 0, -1), grayscale=True), rtol=1e-6
    )
    np.testing.assert_allclose(
        detector.score(three[:, None]), detector.score(digits)[:3], rtol=1e-6
    )
    with pytest.raises(InputError, match="grayscale=true"):
        detector.score(np.moveaxis(three, 0, -1))  # (H, W, 3)
    # a model of three channels takes (3, H, W) as what it is: one image
    from anomaly_ae.inputs import to_model_input

    assert to_model_input(three, (3, 28, 28)).shape == (1, 3, 28, 28)


def test_detect_command_writes_good_files_and_exits_1_for_bad_ones(
    trained: tuple[Path, dict], tmp_path: Path, digits: np.ndarray
) -> None:
    bad = write_mixed_folder(tmp_path / "in", digits)
    out = tmp_path / "detect"
    done = run_module(
        "anomaly_ae.detect",
        f"ckpt_path={trained[1]['checkpoints']['last']}",
        f"inputs={tmp_path / 'in'}",
        f"hydra.run.dir={out}",
    )
    assert done.returncode == 1, done.stderr[-3000:]
    skipped_lines = [line for line in done.stderr.splitlines() if line.startswith("skipped ")]
    assert len(skipped_lines) == len(bad)
    assert "Traceback" not in done.stderr
    rows = list(csv.DictReader((out / "detections.csv").open()))
    assert len(rows) == 8 and set(rows[0]) == {"path", "score", "threshold", "is_anomaly"}
    by_name = {Path(r["path"]).name: r for r in rows}
    assert by_name["digit.png"]["is_anomaly"] == "False"
    assert by_name["noise.jpg"]["is_anomaly"] == "True"
    report = json.loads((out / "detections.json").read_text())
    assert report["n_scored"] == 8 and len(report["skipped"]) == len(bad)
    assert f"of 8 images flagged as anomalies; {len(bad)} file(s) skipped" in done.stdout


def test_detect_command_with_conversions_scores_everything_readable(
    trained: tuple[Path, dict], tmp_path: Path, digits: np.ndarray
) -> None:
    write_mixed_folder(tmp_path / "in", digits)
    out = tmp_path / "detect"
    done = run_module(
        "anomaly_ae.detect",
        f"ckpt_path={trained[1]['checkpoints']['last']}",
        f"inputs={tmp_path / 'in'}",
        "grayscale=true",
        "resize=true",
        f"hydra.run.dir={out}",
    )
    assert done.returncode == 1  # notes.txt, broken.png and the bad IDX file remain
    # ambiguous.npy is one colour image under grayscale=true
    assert len(list(csv.DictReader((out / "detections.csv").open()))) == 11


@pytest.mark.parametrize("problem", ["empty_folder", "torchscript", "truncated"])
def test_detect_command_fatal_problems_are_one_line_exit_2(
    trained: tuple[Path, dict], tmp_path: Path, problem: str
) -> None:
    ckpt = Path(trained[1]["checkpoints"]["last"])
    (tmp_path / "in").mkdir()
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "in" / "a.png")
    inputs = tmp_path / "in"
    if problem == "empty_folder":
        inputs = tmp_path / "empty"
        inputs.mkdir()
        expected = "is an empty folder"
    elif problem == "torchscript":
        from anomaly_ae.export import export_detector

        ckpt = export_detector(load_autoencoder(ckpt), "torchscript", tmp_path / "model.pt")
        expected = "exported TorchScript model, not a training checkpoint"
    else:
        (tmp_path / "cut.ckpt").write_bytes(ckpt.read_bytes()[:5000])
        ckpt = tmp_path / "cut.ckpt"
        expected = "could not be read as a checkpoint"
    done = run_module(
        "anomaly_ae.detect",
        f"ckpt_path={ckpt}",
        f"inputs={inputs}",
        f"hydra.run.dir={tmp_path / 'out'}",
    )
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and expected in errors[0], done.stderr[-2000:]


def test_real_data_idx_files_are_scored(detector: Detector, tiny_root: Path) -> None:
    raw = get_source("kmnist", "data.anomaly").raw_folder(tiny_root)
    detections, skipped = detector.detect_path(raw / "t10k-images-idx3-ubyte")
    assert not skipped and len(detections) == 40
    assert all(d.is_anomaly for d in detections)


def test_files_score_like_the_same_pixels_given_as_arrays(
    detector: Detector, tmp_path: Path, digits: np.ndarray
) -> None:
    colour = np.stack([digits[1]] * 3, -1)
    big = np.kron(digits[2], np.ones((2, 2), np.uint8))
    Image.fromarray(colour).save(tmp_path / "colour.png")
    Image.fromarray(big).save(tmp_path / "big.png")
    detections, skipped = detector.detect_path(tmp_path, grayscale=True, resize=True)
    assert not skipped
    by_name = {Path(d.path).name: d.score for d in detections}
    assert by_name["colour.png"] == pytest.approx(
        float(detector.score(colour, grayscale=True)[0]), rel=1e-6
    )
    assert by_name["big.png"] == pytest.approx(float(detector.score(big, resize=True)[0]), rel=1e-6)
