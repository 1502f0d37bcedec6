"""The options beyond the seed: anomaly sets, the convolutional model, threshold rules, each
read from its real on-disk format and run end to end from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from anomaly_ae.data import ANOMALY, NORMAL, AnomalyDataModule, get_source
from anomaly_ae.errors import ConfigError
from anomaly_ae.models import AutoencoderModule
from tests.helpers import TINY, run_module, sweep_overrides, write_idx

CONV = "anomaly_ae.models.conv.ConvAutoencoder"


@pytest.mark.parametrize(
    ("name", "folder"), [("fashion_mnist", "FashionMNIST"), ("emnist_letters", "EMNIST")]
)
def test_anomaly_sets_read_their_own_files(tiny_root: Path, name: str, folder: str) -> None:
    source = get_source(name, "data.anomaly")
    assert source.folder == folder
    assert source.missing_files(tiny_root, "test") == []
    test = source.load(tiny_root, "test")
    assert test.images.shape == (TINY["anomaly"], 28, 28)


def test_emnist_images_are_turned_upright(tmp_path: Path) -> None:
    image = np.zeros((1, 28, 28), np.uint8)
    image[0, 2, 20] = 255  # stored transposed: row 2, column 20
    raw = tmp_path / "EMNIST" / "raw"
    write_idx(raw / "emnist-letters-test-images-idx3-ubyte", image)
    write_idx(raw / "emnist-letters-test-labels-idx1-ubyte", np.ones(1, np.uint8))
    upright = get_source("emnist_letters", "data.anomaly").load(tmp_path, "test").images
    assert upright[0, 20, 2] == 255 and upright[0, 2, 20] == 0


def test_held_out_classes_are_the_anomalies(tiny_root: Path) -> None:
    dm = AnomalyDataModule(
        tiny_root,
        anomaly="mnist_classes",
        anomaly_classes=[3, 5],
        train_size=None,
        val_size=40,
        download=False,
    )
    dm.prepare_data()
    dm.setup()
    labels = get_source("mnist", "data.normal").load(tiny_root, "train").labels
    kept = int((~torch.isin(labels, torch.tensor([3, 5]))).sum())
    assert len(dm.train_set) + len(dm.val_set) == kept
    test_labels = get_source("mnist", "data.normal").load(tiny_root, "test").labels
    held = torch.isin(test_labels, torch.tensor([3, 5]))
    assert int((dm.test_set.targets == ANOMALY).sum()) == int(held.sum())
    assert int((dm.test_set.targets == NORMAL).sum()) == int((~held).sum())
    assert dm.anomaly_name == "MNIST-classes-3-5"
    with pytest.raises(ConfigError, match="anomaly_classes"):
        AnomalyDataModule(tiny_root, anomaly="mnist_classes", anomaly_classes=[])


@pytest.mark.parametrize("upsampling", ["transpose", "nearest"])
def test_conv_model_reconstructs_images_of_the_input_shape(upsampling: str) -> None:
    net = {"_target_": CONV, "channels": [8, 16], "upsampling": upsampling}
    model = AutoencoderModule(net=net, latent_dim=6)
    x = torch.rand(3, 1, 28, 28)
    assert model.encoder(x).shape == (3, 6)
    out = model(x)
    assert out.shape == x.shape and bool(((out > 0) & (out < 1)).all())
    kinds = {type(m).__name__ for m in model.decoder.modules()}
    assert ("ConvTranspose2d" in kinds) == (upsampling == "transpose")
    assert ("Upsample" in kinds) == (upsampling == "nearest")


@pytest.mark.parametrize(
    "bad", [{"channels": [8]}, {"upsampling": "bicubic"}, {"input_shape": [1, 30, 30]}]
)
def test_conv_model_settings_are_checked(bad: dict) -> None:
    shape = bad.pop("input_shape", [1, 28, 28])
    with pytest.raises(ConfigError, match="model"):
        AutoencoderModule(net={"_target_": CONV, **bad}, input_shape=shape)


def sweep_results(sweep: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(sweep.glob("*/results.json"))]


def test_models_and_threshold_rules_from_the_command_line(tiny_root: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    done = run_module(
        "anomaly_ae.train",
        *sweep_overrides(
            tiny_root, sweep, "model=mlp,conv", "threshold=gaussian,quantile,conformal"
        ),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    runs = sweep_results(sweep)
    assert len(runs) == 6
    seen = {(r["config"]["model"]["net"]["_target_"], r["calibration"]["rule"]) for r in runs}
    nets = ("anomaly_ae.models.mlp.MlpAutoencoder", CONV)
    assert seen == {(m, t) for m in nets for t in ("gaussian", "quantile", "conformal")}
    for run in runs:
        assert run["metrics"]["auroc"] is not None


def test_anomaly_sets_from_the_command_line(tiny_root: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    done = run_module(
        "anomaly_ae.train",
        *sweep_overrides(
            tiny_root,
            sweep,
            "data.anomaly=kmnist,fashion_mnist,emnist_letters,mnist_classes",
            "data.anomaly_classes=[0]",
            "data.train_size=null",
        ),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    names = [r["data"]["anomaly"] for r in sweep_results(sweep)]
    assert names == ["KMNIST", "FashionMNIST", "EMNIST-letters", "MNIST-classes-0"]
