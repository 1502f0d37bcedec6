"""data.normal_classes (anomaly_ae.data.splits.classes): one class of a labelled set is normal,
the others (the full test set) are the anomalies; refusals before any training."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from anomaly_ae.data import ANOMALY, NORMAL, AnomalyDataModule, get_source
from anomaly_ae.errors import ConfigError
from tests.helpers import labels_of, write_pngs


def one_class_module(root: Path, **settings: object) -> AnomalyDataModule:
    chosen = {"normal_classes": [3], "anomaly": "held_out_classes", "val_size": 0.1}
    return AnomalyDataModule(root, download=False, **{**chosen, **settings})


def test_one_class_uses_the_class_to_train_and_the_full_test_set(tiny_root: Path) -> None:
    dm = one_class_module(tiny_root)
    dm.prepare_data()
    dm.setup()
    threes = int((labels_of(tiny_root, "train") == 3).sum())
    assert len(dm.train_set) + len(dm.val_set) == threes
    assert len(dm.val_set) == round(0.1 * threes)
    test_labels = labels_of(tiny_root, "test")
    assert len(dm.test_set) == len(test_labels), "the full test set"
    assert int((dm.test_set.targets == NORMAL).sum()) == int((test_labels == 3).sum())
    assert int((dm.test_set.targets == ANOMALY).sum()) == int((test_labels != 3).sum())
    assert (dm.normal_name, dm.anomaly_name) == ("MNIST-classes-3", "MNIST-classes-not-3")
    assert dm.describe()["normal_classes"] == [3]


def test_the_training_images_are_the_class_images(tiny_root: Path) -> None:
    """Every training and validation image is one of the class's, each once."""
    dm = one_class_module(tiny_root, val_size=4)
    dm.setup("fit")
    part = get_source("mnist", "data.normal").load(tiny_root, "train")
    threes = part.images[part.labels == 3].float().div(255).flatten(1)
    used = torch.cat([dm.train_set.images, dm.val_set.images]).flatten(1)
    assert sorted(map(tuple, used.tolist())) == sorted(map(tuple, threes.tolist()))


def test_normal_classes_against_another_anomaly_set(tiny_root: Path) -> None:
    dm = AnomalyDataModule(
        tiny_root, normal_classes=[1, 2], anomaly="kmnist", val_size=0.25, download=False
    )
    dm.setup()
    test_labels = labels_of(tiny_root, "test")
    normal_test = int(torch.isin(test_labels, torch.tensor([1, 2])).sum())
    assert int((dm.test_set.targets == NORMAL).sum()) == normal_test
    assert dm.anomaly_name == "KMNIST" and dm.normal_name == "MNIST-classes-1-2"


def test_anomaly_classes_narrow_the_held_out_labels(tiny_root: Path) -> None:
    dm = one_class_module(tiny_root, anomaly_classes=[5, 7])
    dm.setup("test")
    test_labels = labels_of(tiny_root, "test")
    assert int((dm.test_set.targets == ANOMALY).sum()) == int(
        torch.isin(test_labels, torch.tensor([5, 7])).sum()
    )
    assert dm.anomaly_name == "MNIST-classes-5-7"


def test_a_labelled_dataset_class_without_a_test_split(tiny_root: Path) -> None:
    fake = {"_target_": "torchvision.datasets.FakeData", "size": 60, "image_size": [1, 28, 28]}
    dm = AnomalyDataModule(
        tiny_root,
        normal=fake,
        normal_classes=[0, 1, 2, 3, 4],
        anomaly="held_out_classes",
        val_size=0.2,
        test_size=0.2,
        download=False,
    )
    dm.setup()
    from torchvision.datasets import FakeData

    targets = torch.tensor(
        [int(FakeData(size=60, image_size=(1, 28, 28))[i][1]) for i in range(60)]
    )
    normal = int((targets < 5).sum())
    held = len(dm.train_set) + len(dm.val_set) + int((dm.test_set.targets == NORMAL).sum())
    assert held == normal
    assert int((dm.test_set.targets == ANOMALY).sum()) == 60 - normal


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"normal_classes": [11]}, r"MNIST has no label \[11\]; its labels are 0-9"),
        ({"normal_classes": [3], "anomaly_classes": [12]}, r"has no label \[12\]"),
        (
            {"normal_classes": None, "anomaly_classes": list(range(10))},
            "no normal image is left in the training images of MNIST",
        ),
    ],
)
def test_labels_are_checked_before_training(tiny_root: Path, settings: dict, message: str) -> None:
    dm = one_class_module(tiny_root, **settings)
    with pytest.raises(ConfigError, match=message):
        dm.setup("fit")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"normal_classes": [3], "anomaly_classes": [3, 5]},
            r"share \[3\]: a label is normal or an anomaly, not both",
        ),
        ({"normal_classes": None}, "needs data.normal_classes"),
        ({"normal_classes": []}, r"data.normal_classes=\[\] names no label"),
    ],
)
def test_contradictions_are_refused_when_the_module_is_made(
    tiny_root: Path, settings: dict, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        one_class_module(tiny_root, **settings)


def test_an_unlabelled_normal_set_has_no_classes(tiny_root: Path, tmp_path: Path) -> None:
    import numpy as np

    folder = write_pngs(tmp_path / "pngs", np.zeros((20, 28, 28), np.uint8))
    dm = AnomalyDataModule(
        tiny_root,
        normal="folder",
        normal_path=str(folder),
        normal_classes=[1],
        anomaly=None,
        val_size=2,
        download=False,
    )
    with pytest.raises(ConfigError, match=r"has no class labels, so data.normal_classes"):
        dm.setup("fit")


def test_no_normal_test_image_left_is_refused(tmp_path: Path) -> None:
    """A label with training images but no test image: refused before training, naming it."""
    import numpy as np

    from tests.helpers import normal_images, write_split

    rng = np.random.default_rng(0)
    raw = tmp_path / "MNIST" / "raw"
    write_split(raw, "train", normal_images(40, rng), np.array([3, 4] * 20, np.uint8))
    write_split(raw, "t10k", normal_images(10, rng), np.full(10, 4, np.uint8))
    dm = one_class_module(tmp_path)
    with pytest.raises(ConfigError, match="no normal image is left in the test images of MNIST"):
        dm.setup("fit")
