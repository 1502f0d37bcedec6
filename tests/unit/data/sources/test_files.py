"""anomaly_ae.data.sources.files: folders of images (PNG) and .npy arrays, each written by the
test in its real format, as the normal or the anomaly set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from anomaly_ae.data import ANOMALY, NORMAL, holdout_split
from anomaly_ae.errors import ConfigError, DataNotFoundError
from anomaly_ae.inputs import read_inputs
from tests.helpers import TINY, TINY_SPLIT, anomaly_images, data_module, normal_images, write_pngs


# --------------------------------------------------------------------------- folders of images
def test_a_folder_of_another_size_is_resized_exactly_as_detect_resizes_it(
    tiny_root: Path, pngs_32: Path
) -> None:
    dm = data_module(
        tiny_root, anomaly="folder", anomaly_path=str(pngs_32), resize=True, **TINY_SPLIT
    )
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
    dm = data_module(tiny_root, anomaly="folder", anomaly_path=str(pngs_32), **TINY_SPLIT)
    with pytest.raises(ConfigError) as err:
        dm.setup("fit")
    assert str(err.value) == (
        "data.anomaly (pngs) images are (1, 32, 32) but data.normal (MNIST) images are "
        "(1, 28, 28); pass data.resize=true to resize them"
    )


def test_a_folder_without_images_is_one_clear_error(tiny_root: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an image")
    dm = data_module(tiny_root, anomaly="folder", anomaly_path=str(empty))
    with pytest.raises(DataNotFoundError) as err:
        dm.prepare_data()
    assert f"data.anomaly_path={empty} holds no images (.bmp, .gif" in str(err.value)
    assert "\n" not in str(err.value)
    gone = data_module(tiny_root, anomaly="folder", anomaly_path=str(tmp_path / "gone"))
    with pytest.raises(DataNotFoundError, match=r"anomaly_path=.*gone does not exist"):
        gone.prepare_data()
    with pytest.raises(ConfigError, match=r"data\.anomaly=folder needs data\.anomaly_path=<"):
        data_module(tiny_root, anomaly="folder")


def test_mixed_sizes_need_resize_and_go_to_the_first_or_the_chosen_size(
    tiny_root: Path, tmp_path: Path
) -> None:
    rng = np.random.default_rng(3)
    folder = write_pngs(tmp_path / "mixed", normal_images(30, rng), prefix="a")
    write_pngs(folder, anomaly_images(10, rng, size=32), prefix="b")
    sizes = {"val_size": 5, "test_size": 5}
    mixed = data_module(tiny_root, normal="folder", normal_path=str(folder), anomaly=None, **sizes)
    with pytest.raises(ConfigError) as err:
        mixed.setup("fit")
    assert "data.normal (mixed) holds images of 2 sizes (28x28, 32x32); pass data.resize=true" in (
        str(err.value)
    )
    resized = data_module(
        tiny_root, normal="folder", normal_path=str(folder), anomaly=None, resize=True, **sizes
    )
    resized.setup()
    assert resized.input_shape == (1, 28, 28)
    assert (len(resized.train_set), len(resized.val_set), len(resized.test_set)) == (30, 5, 5)
    chosen = data_module(
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
    dm = data_module(
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
    dm = data_module(tiny_root, normal="npy", normal_path=str(tmp_path / "colour.npy"), **sizes)
    dm.setup()
    assert dm.input_shape == (3, 32, 32)
    whole = torch.from_numpy(last).permute(0, 3, 1, 2)
    train, *_ = holdout_split(30, None, 5, 5, seed=42, name="colour")
    assert torch.equal(dm.train_set.images, whole[train].contiguous())
    gray = data_module(
        tiny_root, normal="npy", normal_path=str(tmp_path / "colour.npy"), grayscale=True, **sizes
    )
    assert gray.input_shape == (1, 32, 32)
    with pytest.raises(DataNotFoundError, match=r"normal_path=.*none\.npy does not exist"):
        data_module(tiny_root, normal="npy", normal_path=str(tmp_path / "none.npy")).prepare_data()
