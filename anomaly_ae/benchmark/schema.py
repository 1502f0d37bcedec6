"""The typed schemas of a benchmark's configs: the protocol (``conf/protocol/``), the detector
rows (``conf/detectors/``) and the run (``conf/benchmark.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING

# Optional[...] rather than "X | None": OmegaConf reads these annotations at runtime.


@dataclass
class DetectorConfig:
    """A row: a configuration of this framework (``train``: overrides of ``python -m
    anomaly_ae.train``) or a peer (``peer``: a name of :data:`anomaly_ae.benchmark.peers.PEERS`,
    with ``settings``, its keyword arguments beyond the library's defaults)."""

    label: str = MISSING
    train: Optional[list[str]] = None  # noqa: UP045
    peer: Optional[str] = None  # noqa: UP045
    settings: dict[str, Any] = field(default_factory=dict)
    # run only the benchmark's first max_seeds seeds (a costly row); null: every seed
    max_seeds: Optional[int] = None  # noqa: UP045
    note: str = ""


@dataclass
class PublishedRow:
    """A published result of the protocol: the figure per class (in ``protocol.classes``
    order, or null where only the mean is printed) and the mean, in the metric's percent."""

    label: str = MISSING
    source: str = MISSING  # the citation: authors, year, venue, table
    # checked: read in the source; quoted: taken from a later paper or a third party
    status: str = "quoted"
    per_class: Optional[list[float]] = None  # noqa: UP045
    mean: float = MISSING
    note: str = ""


@dataclass
class ProtocolConfig:
    name: str = MISSING
    title: str = MISSING
    classes: list[int] = MISSING
    # the overrides of every cell of a class, "{normal_class}" standing for it
    cell: list[str] = MISSING
    # a key of results.json's metrics, reported in percent
    metric: str = "auroc"
    published: list[PublishedRow] = field(default_factory=list)


@dataclass
class BenchmarkConfig:
    protocol: ProtocolConfig = MISSING
    # name -> a row (DetectorConfig); typed when the benchmark starts, since OmegaConf cannot
    # add a key given on the command line (+detectors.mine={...}) to a dict of dataclasses
    detectors: dict[str, Any] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    # a subset of the protocol's classes, and of the detectors (null: all of them)
    classes: Optional[list[int]] = None  # noqa: UP045
    only: Optional[list[str]] = None  # noqa: UP045
    # cells run at once, each in its own process (null: one per `threads` cores)
    jobs: Optional[int] = None  # noqa: UP045
    threads: int = 1  # torch threads of each cell
    # added to every training cell: no progress bars, no best-epoch checkpoint (last.ckpt stays)
    train_overrides: list[str] = field(
        default_factory=lambda: ["trainer.enable_progress_bar=false", "~callbacks.best_checkpoint"]
    )
    data_root: str = MISSING
    paths: Any = MISSING
    task_name: str = "benchmark"


def register_benchmark_schemas() -> None:
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    store.store(name="benchmark_schema", node=BenchmarkConfig)
    store.store(name="protocol_schema", node=ProtocolConfig)
