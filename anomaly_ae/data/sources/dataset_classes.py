"""Any dataset class as a data set, by ``_target_``: ``data.anomaly={_target_:
torchvision.datasets.FakeData, size: 50, image_size: [1, 28, 28]}``.

The class is built with :func:`hydra.utils.instantiate` from the mapping's settings, which are
plain values (nothing nested is instantiated: the preprocessing is ``data.grayscale`` and
``data.resize``, the same for every source). Settings the mapping leaves out are filled in
where the class takes them: ``root`` (``data.root``), ``download`` (``data.download``) and
``train``. Every item is read once (a PIL image, an array or a tensor, with its label) into one
set of images, then held in memory like the IDX sets.

Splits: a class that takes ``train`` (MNIST, CIFAR10, ...) has a training and a test split: as
the normal set ``train=True`` gives the training and validation images (the seeded split) and
``train=False`` the normal test images; as the anomaly set ``train=False`` alone is read. A
class without ``train``, or a mapping that sets it, is one collection of images, split like a
folder (:func:`anomaly_ae.data.splits.sizes.holdout_split`) when it is the normal set.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from anomaly_ae.data.sources.pictures import LabelledImages, picture_tensor, stack_pictures
from anomaly_ae.errors import ConfigError, DataNotFoundError, one_line
from anomaly_ae.targets import TRUSTED_ENV

EXAMPLE = "torchvision.datasets.FakeData"
# modules whose dataset classes a checkpoint's data settings may name without being trusted
TRUSTED_DATASETS = ("torchvision.datasets",)


def is_dataset_setting(setting: Any) -> bool:
    """Whether ``data.normal`` / ``data.anomaly`` names a dataset class (a ``_target_``)."""
    return isinstance(setting, Mapping) and "_target_" in setting


def check_dataset_trusted(setting: Any, key: str) -> None:
    """Refuse, before importing it, a dataset class that a checkpoint names outside
    torchvision's datasets unless its module is listed in ``$ANOMALY_AE_TRUSTED_NETS``:
    importing a module runs its code."""
    if not is_dataset_setting(setting):
        return
    target = str(setting["_target_"])
    module = target.rpartition(".")[0]
    env = [m.strip() for m in os.environ.get(TRUSTED_ENV, "").split(",")]
    trusted = ["anomaly_ae", *TRUSTED_DATASETS, *env]
    if not any(m and (module == m or module.startswith(f"{m}.")) for m in trusted):
        raise ConfigError(
            f"the checkpoint's {key} names {target}: importing {module} runs its code, so it is "
            f"opened only if you trust it: set {TRUSTED_ENV}={module}, or pass {key} yourself"
        )


def _check_plain(value: Any, where: str) -> None:
    if isinstance(value, Mapping):
        if any(str(k).startswith("_") for k in value):
            raise ConfigError(
                f"{where} holds {sorted(str(k) for k in value if str(k).startswith('_'))}: a "
                "data set's settings are plain values, nothing nested is instantiated "
                "(the preprocessing is data.grayscale and data.resize)"
            )
        for k, v in value.items():
            _check_plain(v, f"{where}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_plain(v, f"{where}[{i}]")


@dataclass(frozen=True)
class DatasetSource:
    """A dataset class and its settings (``_target_`` and plain values)."""

    settings: Mapping[str, Any]
    role: str  # "data.normal" or "data.anomaly"
    download: bool = field(default=True)

    def __post_init__(self) -> None:
        for key, value in self.settings.items():
            if key != "_target_":
                _check_plain(value, f"{self.role}.{key}")
        self.dataset_class  # noqa: B018 - refuse a bad _target_ when the data module is made

    @property
    def target(self) -> str:
        return str(self.settings["_target_"])

    @cached_property
    def dataset_class(self) -> type:
        from hydra.utils import get_class  # here: the Detector API loads no Hydra

        try:
            found = get_class(self.target)
        except Exception as err:  # hydra raises ImportError or ValueError, with long messages
            raise ConfigError(
                f"{self.role}._target_={self.target} cannot be imported "
                f"({one_line(err.__cause__ or err, 160)}); name a dataset class such as "
                f"{EXAMPLE}, importable where the run starts"
            ) from err
        return found

    @cached_property
    def parameters(self) -> set[str]:
        return set(inspect.signature(self.dataset_class).parameters)

    @property
    def has_test_split(self) -> bool:
        """A ``train`` argument the mapping leaves to us: ``True`` and ``False`` are the splits."""
        return "train" in self.parameters and "train" not in self.settings

    @property
    def display_name(self) -> str:
        """The class's name (``CIFAR10``, ``FakeData``)."""
        return self.dataset_class.__name__

    def ensure(self, root: str | Path, split: str | None, download: bool, hint: str = "") -> None:
        """Nothing to check before the class is built (it downloads what it needs itself)."""

    def load(self, root: str | Path, split: str | None = None) -> LabelledImages:
        """Build the dataset (``split``: ``train`` or ``test`` where it has both) and read
        every item once."""
        dataset = self._instantiate(root, split)
        pictures, labels = [], []
        for i in range(len(dataset)):
            item = dataset[i]
            picture, label = item, None
            if isinstance(item, tuple | list):  # (image, label, ...) as torchvision's give
                picture, label = item[0], item[1] if len(item) > 1 else None
            try:
                pictures.append(picture_tensor(picture))
            except TypeError as err:
                raise ConfigError(
                    f"{self.role}: item {i} of {self.display_name} is not an image ({err}); a "
                    "data set gives PIL images, (H, W[, C]) arrays or (C, H, W) tensors"
                ) from err
            labels.append(_label(label))
        if not pictures:
            raise DataNotFoundError(f"{self.role}: {self.display_name} holds no images")
        return LabelledImages(stack_pictures(pictures), torch.tensor(labels, dtype=torch.long))

    def _instantiate(self, root: str | Path, split: str | None) -> Any:
        config = dict(self.settings)
        fill = {"root": str(root), "download": self.download}
        for key, value in fill.items():
            if key in self.parameters and key not in config:
                config[key] = value
        if self.has_test_split:
            config["train"] = split != "test"
        from hydra.utils import instantiate

        try:
            dataset = instantiate(config, _convert_="all")
        except Exception as err:  # the class's own errors, wrapped by Hydra
            cause = err.__cause__ or err
            settings = ", ".join(f"{k}={v}" for k, v in config.items() if k != "_target_")
            hint = " (data.download=true lets it download)" if "download" in self.parameters else ""
            raise DataNotFoundError(
                f"{self.role}: {self.target}({settings}) failed: {one_line(cause, 200)}; check "
                f"its settings and data.root{hint}"
            ) from err
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise ConfigError(
                f"{self.role}._target_={self.target} made a {type(dataset).__name__}, not a "
                f"dataset (len() and [i]); name a dataset class such as {EXAMPLE}"
            )
        return dataset


def _label(label: Any) -> int:
    """An item's class label, ``-1`` where it has none a number can say."""
    if isinstance(label, torch.Tensor) and label.numel() == 1:
        return int(label)
    try:
        return int(label) if label is not None and not isinstance(label, str) else -1
    except (TypeError, ValueError):
        return -1
