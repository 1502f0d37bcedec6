"""Data sets beyond the named IDX ones, each written by the test in its real format: folders
of images (PNG), .npy arrays and dataset classes by ``_target_``, chosen independently for the
normal and the anomaly set. The image shape follows the normal set and the models take it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.datasets import FakeData
from torchvision.transforms import ToTensor

from anomaly_ae.checkpoint import DATA_KEY
from anomaly_ae.checkpoint_settings import data_config_for_checkpoint
from anomaly_ae.data import ANOMALY, NORMAL, AnomalyDataModule, holdout_split
from anomaly_ae.data.preprocessing import InputError, to_model_input
from anomaly_ae.errors import ConfigError, DataNotFoundError
from anomaly_ae.inputs import read_inputs
from tests.helpers import (
    TINY,
    TINY_SPLIT,
    anomaly_images,
    cli_overrides,
    compose_config,
    dataset_setting,
    normal_images,
    run_module,
    sweep_overrides,
    tiny_overrides,
    write_pngs,
)

FAKE = "torchvision.datasets.FakeData"
COLOUR = {"_target_": FAKE, "size": 40, "image_size": [3, 32, 32]}


def module(root: Path, **kwargs) -> AnomalyDataModule:
    settings = {"root": root, "download": False, "batch_size": 20, "eval_batch_size": 32}
    return AnomalyDataModule(**{**settings, **kwargs})


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


@pytest.fixture
def pngs_32(tmp_path: Path) -> Path:
    """Twelve 32x32 gray PNGs (bright noise: anomalies for the tiny MNIST)."""
    return write_pngs(tmp_path / "pngs", anomaly_images(12, np.random.default_rng(7), size=32))


# --------------------------------------------------------------------------- folders of images
def test_a_folder_of_another_size_is_resized_exactly_as_detect_resizes_it(
    tiny_root: Path, pngs_32: Path
) -> None:
    dm = module(tiny_root, anomaly="folder", anomaly_path=str(pngs_32), resize=True, **TINY_SPLIT)
    dm.setup()
    assert dm.input_shape == (1, 28, 28) and dm.anomaly_name == "pngs"
    anomalies = dm.test_set.images[dm.test_set.targets == ANOMALY]
    detected, skipped = read_inputs(pngs_32, (1, 28, 28), resize=True)
    assert not skipped and len(anomalies) == 12
    assert torch.equal(anomalies, detected.images), "the preprocessing of detect, image by image"
    assert int((dm.test_set.targets == NORMAL).sum()) == TINY["test"]


def test_a_folder_of_another_size_without_resize_is_refused_before_training(
    tiny_root: Path, pngs_32: Path
) -> None:
    dm = module(tiny_root, anomaly="folder", anomaly_path=str(pngs_32), **TINY_SPLIT)
    with pytest.raises(ConfigError) as err:
        dm.setup("fit")
    assert str(err.value) == (
        "data.anomaly (pngs) images are (1, 32, 32) but data.normal (MNIST) images are "
        "(1, 28, 28); pass data.resize=true to resize them"
    )


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


def test_a_folder_without_images_is_one_clear_error(tiny_root: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an image")
    dm = module(tiny_root, anomaly="folder", anomaly_path=str(empty))
    with pytest.raises(DataNotFoundError) as err:
        dm.prepare_data()
    assert f"data.anomaly_path={empty} holds no images (.bmp, .gif" in str(err.value)
    assert "\n" not in str(err.value)
    gone = module(tiny_root, anomaly="folder", anomaly_path=str(tmp_path / "gone"))
    with pytest.raises(DataNotFoundError, match=r"anomaly_path=.*gone does not exist"):
        gone.prepare_data()
    with pytest.raises(ConfigError, match=r"data\.anomaly=folder needs data\.anomaly_path=<"):
        module(tiny_root, anomaly="folder")


def test_mixed_sizes_need_resize_and_go_to_the_first_or_the_chosen_size(
    tiny_root: Path, tmp_path: Path
) -> None:
    rng = np.random.default_rng(3)
    folder = write_pngs(tmp_path / "mixed", normal_images(30, rng), prefix="a")
    write_pngs(folder, anomaly_images(10, rng, size=32), prefix="b")
    sizes = {"val_size": 5, "test_size": 5}
    mixed = module(tiny_root, normal="folder", normal_path=str(folder), anomaly=None, **sizes)
    with pytest.raises(ConfigError) as err:
        mixed.setup("fit")
    assert "data.normal (mixed) holds images of 2 sizes (28x28, 32x32); pass data.resize=true" in (
        str(err.value)
    )
    resized = module(
        tiny_root, normal="folder", normal_path=str(folder), anomaly=None, resize=True, **sizes
    )
    resized.setup()
    assert resized.input_shape == (1, 28, 28)
    assert (len(resized.train_set), len(resized.val_set), len(resized.test_set)) == (30, 5, 5)
    chosen = module(
        tiny_root,
        normal="folder",
        normal_path=str(folder),
        anomaly="kmnist",
        resize=True,
        image_size=[32, 32],
        **sizes,
    )
    chosen.setup()
    assert chosen.input_shape == (1, 32, 32) and chosen.test_set.images.shape[1:] == (1, 32, 32)


# --------------------------------------------------------------------------------- .npy arrays
def test_an_npy_normal_set_is_split_into_train_validation_and_test(
    tiny_root: Path, tmp_path: Path
) -> None:
    images = normal_images(50, np.random.default_rng(4))
    np.save(tmp_path / "digits.npy", images)
    dm = module(
        tiny_root, normal="npy", normal_path=str(tmp_path / "digits.npy"), val_size=10, test_size=8
    )
    dm.setup()
    train, val, test = holdout_split(50, None, 10, 8, seed=42, name="digits")
    expected = torch.from_numpy(images)[:, None].to(torch.float32) / 255.0
    assert torch.equal(dm.train_set.images, expected[train])
    assert torch.equal(dm.val_set.images, expected[val])
    assert torch.equal(dm.test_set.images[dm.test_set.targets == NORMAL], expected[test])
    assert int((dm.test_set.targets == ANOMALY).sum()) == TINY["anomaly"]
    described = dm.describe()
    assert (described["normal"], described["anomaly"], described["test_size"]) == (
        "digits",
        "KMNIST",
        8,
    )
    assert (described["n_train"], described["n_validation"]) == (32, 10)


def test_a_colour_npy_array_keeps_its_channels_unless_made_gray(
    tiny_root: Path, tmp_path: Path
) -> None:
    last = np.random.default_rng(5).random((30, 32, 32, 3), dtype=np.float32)
    np.save(tmp_path / "colour.npy", last)
    sizes = {"val_size": 5, "test_size": 5, "anomaly": None}
    dm = module(tiny_root, normal="npy", normal_path=str(tmp_path / "colour.npy"), **sizes)
    dm.setup()
    assert dm.input_shape == (3, 32, 32)
    whole = torch.from_numpy(last).permute(0, 3, 1, 2)
    train, *_ = holdout_split(30, None, 5, 5, seed=42, name="colour")
    assert torch.equal(dm.train_set.images, whole[train].contiguous())
    gray = module(
        tiny_root, normal="npy", normal_path=str(tmp_path / "colour.npy"), grayscale=True, **sizes
    )
    assert gray.input_shape == (1, 32, 32)
    with pytest.raises(DataNotFoundError, match=r"normal_path=.*none\.npy does not exist"):
        module(tiny_root, normal="npy", normal_path=str(tmp_path / "none.npy")).prepare_data()


def test_the_holdout_split_is_seeded_and_keeps_test_and_validation_apart_from_training() -> None:
    train, val, test = holdout_split(100, None, 10, 20, seed=1, name="x")
    assert (len(train), len(val), len(test)) == (70, 10, 20)
    assert len(set(torch.cat([train, val, test]).tolist())) == 100
    smaller, val_again, test_again = holdout_split(100, 30, 10, 20, seed=1, name="x")
    assert torch.equal(val, val_again) and torch.equal(test, test_again)
    assert set(smaller.tolist()) <= set(train.tolist())
    assert not torch.equal(test, holdout_split(100, None, 10, 20, seed=2, name="x")[2])
    default_test = holdout_split(100, None, 10, None, seed=1, name="x")[2]
    assert len(default_test) == 10, "test_size=None: as many as val_size"
    with pytest.raises(ConfigError, match=r"leave no images to train on: x has 30 images"):
        holdout_split(30, None, 10, 20, seed=1, name="x")
    with pytest.raises(ConfigError, match=r"data.train_size=10, .* do not fit the 30 images"):
        holdout_split(30, 10, 10, 20, seed=1, name="x")


# ------------------------------------------------------------------ dataset classes by _target_
def test_a_dataset_class_with_train_splits_as_the_named_set_does(tiny_root: Path) -> None:
    by_name = module(tiny_root, anomaly=None, **TINY_SPLIT)
    by_class = module(
        tiny_root, normal={"_target_": "torchvision.datasets.MNIST"}, anomaly=None, **TINY_SPLIT
    )
    for dm in (by_name, by_class):
        dm.setup()
    assert by_class.normal_name == "MNIST"
    for split in ("train_set", "val_set", "test_set"):
        assert torch.equal(getattr(by_class, split).images, getattr(by_name, split).images)


def test_fake_data_by_target_gives_colour_images_converted_once(tiny_root: Path) -> None:
    dm = module(tiny_root, normal=COLOUR, anomaly=None, val_size=5, test_size=5)
    dm.setup()
    assert dm.input_shape == (3, 32, 32) and dm.normal_name == "FakeData"
    reference = FakeData(size=40, image_size=(3, 32, 32), transform=ToTensor())
    expected = torch.stack([reference[i][0] for i in range(40)])
    train, _, test = holdout_split(40, None, 5, 5, seed=42, name="FakeData")
    assert torch.equal(dm.train_set.images, expected[train])
    assert torch.equal(dm.test_set.images, expected[test])
    with pytest.raises(ConfigError, match=r"model takes images of shape \(1, 28, 28\) but"):
        dm.check_input_shape((1, 28, 28), "the checkpoint's model")
    gray = module(tiny_root, normal=COLOUR, anomaly=None, grayscale=True, val_size=5, test_size=5)
    assert gray.input_shape == (1, 32, 32)


def test_sets_of_different_shapes_are_refused_naming_both_and_the_fix(tiny_root: Path) -> None:
    gray_anomalies = module(tiny_root, normal=COLOUR, anomaly="kmnist", val_size=5, test_size=5)
    with pytest.raises(ConfigError) as err:
        gray_anomalies.setup("fit")
    assert str(err.value).startswith(
        "data.anomaly (KMNIST) images are (1, 28, 28) but data.normal (FakeData) images are "
        "(3, 32, 32): 1-channel images cannot become 3-channel ones"
    )
    colour_anomalies = module(tiny_root, anomaly=COLOUR, **TINY_SPLIT)
    with pytest.raises(ConfigError) as err:
        colour_anomalies.setup("fit")
    assert str(err.value) == (
        "data.anomaly (FakeData) images are (3, 32, 32) but data.normal (MNIST) images are "
        "(1, 28, 28); pass data.grayscale=true to make them gray and data.resize=true to "
        "resize them"
    )
    made_fit = module(tiny_root, anomaly=COLOUR, grayscale=True, resize=True, **TINY_SPLIT)
    made_fit.setup()
    assert int((made_fit.test_set.targets == ANOMALY).sum()) == 40


def test_dataset_settings_are_plain_and_their_class_must_import(tiny_root: Path) -> None:
    nested = {"_target_": FAKE, "transform": {"_target_": "torchvision.transforms.ToTensor"}}
    with pytest.raises(ConfigError, match=r"data.anomaly.transform holds \['_target_'\]"):
        module(tiny_root, anomaly=nested)
    with pytest.raises(ConfigError, match="NoSuchSet cannot be imported"):
        module(tiny_root, anomaly={"_target_": "torchvision.datasets.NoSuchSet"})
    with pytest.raises(ConfigError, match=r"data.normal=images is not a known dataset; .*folder"):
        module(tiny_root, normal="images")
    with pytest.raises(ConfigError, match=r"data.anomaly_path=/x is read only with"):
        module(tiny_root, anomaly_path="/x")


def test_a_checkpoint_opens_dataset_classes_outside_torchvision_only_if_trusted(
    tiny_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = compose_config("train", tiny_overrides(tiny_root, tmp_path / "run")).data
    foreign = {DATA_KEY: {"anomaly": {"_target_": "os.system", "command": "true"}}}
    with pytest.raises(ConfigError, match="set ANOMALY_AE_TRUSTED_NETS=os"):
        data_config_for_checkpoint(data, foreign, [])
    # one's own choice on the command line is not the checkpoint's
    assert data_config_for_checkpoint(data, foreign, ["data.anomaly=kmnist"]).anomaly == "kmnist"
    monkeypatch.setenv("ANOMALY_AE_TRUSTED_NETS", "os")
    assert data_config_for_checkpoint(data, foreign, []).anomaly._target_ == "os.system"
    ours = {DATA_KEY: {"anomaly": COLOUR}}
    monkeypatch.delenv("ANOMALY_AE_TRUSTED_NETS")
    assert data_config_for_checkpoint(data, ours, []).anomaly.image_size == [3, 32, 32]


def test_the_model_takes_the_data_shape_and_refuses_another(
    tiny_root: Path, tmp_path: Path
) -> None:
    from anomaly_ae.train import train

    overrides = tiny_overrides(
        tiny_root,
        tmp_path / "run",
        dataset_setting("normal", FAKE, size=40, image_size=[3, 32, 32]),
        "data.anomaly=null",
        "data.train_size=null",
        "data.val_size=5",
        "data.test_size=5",
        "model.input_shape=[1,28,28]",
    )
    with pytest.raises(ConfigError, match=r"model.input_shape=\[1, 28, 28\] but the data"):
        train(compose_config("train", overrides), overrides)


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


# ---------------------------------------------------------------------- colour in preprocessing
def test_a_colour_model_takes_colour_channels_first_or_last(tmp_path: Path) -> None:
    rgb = np.random.default_rng(6).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    expected = torch.from_numpy(rgb).permute(0, 3, 1, 2).to(torch.float32) / 255.0
    assert torch.equal(to_model_input(rgb, (3, 8, 8)), expected)
    assert torch.equal(to_model_input(np.moveaxis(rgb, -1, 1), (3, 8, 8)), expected)
    rgba = np.concatenate([rgb, np.full((2, 8, 8, 1), 255, np.uint8)], axis=-1)
    assert torch.equal(to_model_input(rgba, (3, 8, 8)), expected), "alpha is dropped"
    with pytest.raises(InputError, match="pass grayscale=true"):
        to_model_input(rgb, (1, 8, 8))
    inputs, skipped = read_inputs(write_pngs(tmp_path / "colour", rgb), (3, 8, 8))
    assert not skipped and torch.equal(inputs.images, expected)
