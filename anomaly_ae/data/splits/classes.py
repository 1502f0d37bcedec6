"""Which labels of a labelled normal set are normal and which are anomalies.

``data.normal_classes`` names the normal labels; ``data.anomaly=held_out_classes`` (or
``<normal>_classes``, e.g. ``mnist_classes``) makes the normal set's other labels the anomaly
set, narrowed by ``data.anomaly_classes`` where given. One-class MNIST is
``data.normal_classes=[3] data.anomaly=held_out_classes``: the threes train, validate and are
the normal test images; the other nine digits of the test split are the anomalies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from anomaly_ae.errors import ConfigError

#: ``data.anomaly`` value whose anomalies are the normal set's images of other labels
HELD_OUT = "held_out_classes"


def is_held_out(anomaly: object, normal: object) -> bool:
    """Whether ``data.anomaly`` names the normal set's own other labels: ``held_out_classes``,
    or ``<name>_classes`` for a normal set named ``<name>``."""
    return anomaly == HELD_OUT or (isinstance(normal, str) and anomaly == f"{normal}_classes")


def _labels(values: Sequence[int] | None) -> tuple[int, ...] | None:
    return None if values is None else tuple(sorted({int(v) for v in values}))


def _listed(values: Sequence[int]) -> str:
    return f"[{', '.join(map(str, values))}]"


@dataclass(frozen=True)
class ClassChoice:
    """The normal labels and, with ``held_out``, the anomalous ones.

    ``normal=None`` means every label that is not an anomaly; ``anomalous=None`` every label
    that is not normal. Without ``held_out`` the anomalies come from another set and only
    ``normal`` applies (``None``: every image of the normal set is normal).
    """

    normal: tuple[int, ...] | None = None
    anomalous: tuple[int, ...] | None = None
    held_out: bool = False

    @classmethod
    def of(
        cls,
        normal_classes: Sequence[int] | None,
        anomaly_classes: Sequence[int] | None,
        held_out: bool,
        anomaly: object,
    ) -> ClassChoice:
        """The choice the settings make, or one line saying why they contradict each other."""
        normal, anomalous = _labels(normal_classes), _labels(anomaly_classes)
        if normal == ():
            raise ConfigError(
                "data.normal_classes=[] names no label; name the normal ones, e.g. [3]"
            )
        if not held_out:
            return cls(normal, None, False)
        if anomalous == ():
            raise ConfigError(
                f"data.anomaly={anomaly} with data.anomaly_classes=[] names no anomaly; drop "
                "data.anomaly_classes (every label not in data.normal_classes is an anomaly)"
            )
        if normal is None and anomalous is None:
            raise ConfigError(
                f"data.anomaly={anomaly} needs data.normal_classes (the normal labels, every "
                "other label an anomaly), e.g. data.normal_classes=[3], or data.anomaly_classes "
                "(the anomalous labels), e.g. [0]"
            )
        shared = sorted(set(normal or ()) & set(anomalous or ()))
        if shared:
            raise ConfigError(
                f"data.normal_classes={_listed(normal)} and data.anomaly_classes="
                f"{_listed(anomalous)} share {_listed(shared)}: a label is normal or an "
                "anomaly, not both; drop data.anomaly_classes to make every other label an anomaly"
            )
        return cls(normal, anomalous, True)

    @property
    def selects(self) -> bool:
        """Whether the labels decide anything (else every normal-set image is normal)."""
        return self.held_out or self.normal is not None

    def is_normal(self, labels: torch.Tensor) -> torch.Tensor:
        if self.normal is not None:
            return torch.isin(labels, torch.tensor(self.normal, dtype=labels.dtype))
        if self.anomalous is not None:
            return ~torch.isin(labels, torch.tensor(self.anomalous, dtype=labels.dtype))
        return torch.ones_like(labels, dtype=torch.bool)

    def is_anomalous(self, labels: torch.Tensor) -> torch.Tensor:
        """The held-out anomalies among ``labels`` (none without ``held_out``)."""
        if not self.held_out:
            return torch.zeros_like(labels, dtype=torch.bool)
        if self.anomalous is not None:
            return torch.isin(labels, torch.tensor(self.anomalous, dtype=labels.dtype))
        return ~self.is_normal(labels)

    def name(self, set_name: str, anomalies: bool) -> str:
        """How results name the normal (``MNIST-classes-3``) or the held-out anomaly set."""
        labels = self.anomalous if anomalies else self.normal
        if labels is None:
            return set_name if not anomalies else f"{set_name}-classes-not-{_join(self.normal)}"
        return f"{set_name}-classes-{_join(labels)}"

    def check(self, set_name: str, train: torch.Tensor, test: torch.Tensor | None) -> None:
        """Refuse, before any training, labels the set does not have, an empty normal
        training or test part, and held-out anomalies that match no test image.
        ``train``/``test``: the labels of the normal set's training and test images
        (``test=None``: a set without a test split, whose images ``train`` holds)."""
        if not self.selects:
            return
        known = torch.unique(train if test is None else torch.cat([train, test]))
        if bool((known < 0).all()):
            raise ConfigError(
                f"data.normal ({set_name}) has no class labels, so data.normal_classes and held-"
                "out classes cannot apply; use a labelled set (the MNIST family by name, a "
                "dataset class whose items are (image, label))"
            )
        have = set(known[known >= 0].tolist())
        for key, labels in (("normal_classes", self.normal), ("anomaly_classes", self.anomalous)):
            unknown = sorted(set(labels or ()) - have)
            if unknown:
                raise ConfigError(
                    f"data.{key}={_listed(labels)}: {set_name} has no label "
                    f"{_listed(unknown)}; its labels are {_ranges(sorted(have))}"
                )
        parts = [("training", train)] + ([] if test is None else [("test", test)])
        for part, labels in parts:
            if not bool(self.is_normal(labels).any()):
                raise ConfigError(
                    f"no normal image is left in the {part} images of {set_name}: "
                    f"{self._described()} leave none of its labels normal; keep at least one"
                )
        if self.held_out and not bool(self.is_anomalous(train if test is None else test).any()):
            raise ConfigError(
                f"{self._described()} leave no anomaly among the test images of {set_name}; "
                "leave out at least one label"
            )

    def _described(self) -> str:
        given = [("normal_classes", self.normal), ("anomaly_classes", self.anomalous)]
        return " and ".join(f"data.{k}={_listed(v)}" for k, v in given if v is not None)


def _join(labels: tuple[int, ...] | None) -> str:
    return "-".join(map(str, labels or ()))


def _ranges(labels: list[int]) -> str:
    """``[0, 1, 2, 3, 7]`` as ``0-3, 7``: a set's labels in one short phrase."""
    runs: list[list[int]] = []
    for label in labels:
        if runs and label == runs[-1][-1] + 1:
            runs[-1].append(label)
        else:
            runs.append([label])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs)
