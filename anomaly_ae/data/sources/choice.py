"""What ``data.normal`` and ``data.anomaly`` can name, and the source each choice reads.

- a name of the MNIST family (``mnist``, ``kmnist``, ``fashion_mnist``, ``emnist_letters``):
  its IDX files under ``data.root`` (:mod:`anomaly_ae.data.sources.idx`);
- ``folder`` or ``npy``: a folder of images or a ``.npy`` array at ``data.normal_path`` /
  ``data.anomaly_path`` (:mod:`anomaly_ae.data.sources.files`);
- a mapping with ``_target_``: any dataset class (:mod:`anomaly_ae.data.sources.dataset_classes`).

Every source has a ``display_name``, says whether it ``has_test_split``, checks its files
(``ensure``) and reads them (``load``) into
:class:`~anomaly_ae.data.sources.pictures.LabelledImages`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from anomaly_ae.data.sources.dataset_classes import DatasetSource, is_dataset_setting
from anomaly_ae.data.sources.files import FolderSource, NpySource
from anomaly_ae.data.sources.idx import SOURCES
from anomaly_ae.data.sources.pictures import LabelledImages
from anomaly_ae.errors import ConfigError

FILE_KINDS = {"folder": FolderSource, "npy": NpySource}


class ImageSource(Protocol):
    """What the data module needs of a source. ``split`` is ``"train"`` or ``"test"`` where
    the source ``has_test_split``, else ``None`` (all of its images)."""

    @property
    def display_name(self) -> str: ...

    @property
    def has_test_split(self) -> bool: ...

    def ensure(self, root: str | Path, split: Any, download: bool, hint: str = "") -> None:
        """Check the files are there (downloading them where allowed), or raise one line."""

    def load(self, root: str | Path, split: Any) -> LabelledImages:
        """Read the split's images as they are."""


def make_source(setting: Any, path: str | None, role: str, download: bool) -> ImageSource:
    """The source ``role`` (``data.normal`` or ``data.anomaly``) names with ``setting``, and
    ``path`` (its ``_path`` key, read by ``folder`` and ``npy`` only)."""
    key = f"{role}_path"
    if isinstance(setting, Mapping):
        if not is_dataset_setting(setting):
            raise ConfigError(
                f"{role} is a mapping without _target_; name a dataset class, e.g. "
                f"{role}={{_target_: torchvision.datasets.FakeData, size: 100}}"
            )
        _no_path(path, key, role, "a dataset class")
        return DatasetSource(dict(setting), role, download)
    if setting in FILE_KINDS:
        if not path:
            what = "a folder of images" if setting == "folder" else "a .npy file"
            raise ConfigError(f"{role}={setting} needs {key}=<{what}>")
        return FILE_KINDS[setting](str(path), role)
    if setting in SOURCES:
        _no_path(path, key, role, setting)
        return SOURCES[setting]
    choices = ", ".join(sorted(SOURCES))
    raise ConfigError(
        f"{role}={setting} is not a known dataset; choose one of: {choices}; folder or npy "
        f"with {key}=<its path>; or a dataset class as {role}={{_target_: <class>, ...}}"
    )


def anomaly_source(
    setting: Any, path: str | None, held_out: bool, download: bool
) -> ImageSource | None:
    """The source ``data.anomaly`` names with ``setting`` and ``path``: ``None`` for no anomaly
    set, or for ``held_out`` classes (the normal set's own other labels)."""
    if held_out:
        if path:
            raise ConfigError(
                f"data.anomaly_path={path} is read only with data.anomaly=folder "
                f"or data.anomaly=npy, not with {setting}; drop data.anomaly_path"
            )
        return None
    if setting:
        return make_source(setting, path, "data.anomaly", download)
    if path:
        raise ConfigError(
            f"data.anomaly_path={path} is read only with data.anomaly=folder or "
            "data.anomaly=npy; choose one of them, or drop data.anomaly_path"
        )
    return None


def plain_setting(setting: Any) -> Any:
    """A data set setting as plain values (an OmegaConf mapping becomes a dict)."""
    if hasattr(setting, "_metadata") and hasattr(setting, "_get_node"):  # an OmegaConf node
        from omegaconf import OmegaConf  # here: the Detector API loads no configs

        return OmegaConf.to_container(setting, resolve=True)
    return setting


def _no_path(path: str | None, key: str, role: str, what: str) -> None:
    if path:
        raise ConfigError(
            f"{key}={path} is read only with {role}=folder or {role}=npy, not with {what}; "
            f"drop {key}, or choose {role}=folder|npy"
        )
