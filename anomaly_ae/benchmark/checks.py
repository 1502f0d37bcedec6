"""What a benchmark checks before any cell runs: the rows (typed, each a configuration or a
peer), the classes, PyOD for the peers, and every row's train config composed for every class,
with its values tried once. Each composed config's digest goes into the cells' records, so that
a resumed benchmark notices a row whose config files changed since its cells ran.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from anomaly_ae.benchmark.cells import Cell, cell_settings, train_overrides
from anomaly_ae.benchmark.schema import DetectorConfig
from anomaly_ae.errors import ConfigError, one_line


def chosen_detectors(cfg: DictConfig) -> dict[str, DictConfig]:
    """The rows to run: ``detectors``, or those of ``only``; each a framework configuration
    (``train``) or a peer (``peer``, whose own ``train`` overrides may set its data)."""
    from anomaly_ae.benchmark.peers import PEERS

    detectors = {key: typed_row(key, row) for key, row in cfg.detectors.items()}
    if cfg.only is not None:
        unknown = sorted(set(cfg.only) - set(detectors))
        if unknown:
            raise ConfigError(
                f"only=[...] names no detector {unknown}; the detectors are {', '.join(detectors)}"
            )
        detectors = {k: detectors[k] for k in cfg.only}
    if not detectors:
        raise ConfigError("no detector to run: choose some with detectors=[autoencoders,pyod]")
    for key, row in detectors.items():
        if not row.peer and row.train is None:
            raise ConfigError(
                f"detectors.{key} needs train: [<overrides>] (a configuration of anomaly_ae) "
                "or peer: <name> (a peer detector)"
            )
        if row.peer and row.peer not in PEERS:
            raise ConfigError(
                f"detectors.{key}.peer={row.peer} is not a peer; choose one of {', '.join(PEERS)}"
            )
    return detectors


def typed_row(key: str, row: Any) -> DictConfig:
    """A detector row checked against :class:`DetectorConfig` (keys and types), or one line."""
    from omegaconf.errors import OmegaConfBaseException

    try:
        return OmegaConf.merge(OmegaConf.structured(DetectorConfig), row)
    except OmegaConfBaseException as err:
        raise ConfigError(f"detectors.{key}: {one_line(err, 300)}") from err


def chosen_classes(cfg: DictConfig) -> list[int]:
    classes = list(cfg.protocol.classes)
    if cfg.classes is None:
        return classes
    unknown = sorted(set(cfg.classes) - set(classes))
    if unknown or not cfg.classes:
        raise ConfigError(f"classes={list(cfg.classes)}: choose classes among {classes}")
    return [c for c in classes if c in set(cfg.classes)]


def check_peers_available(detectors: Mapping[str, Any]) -> None:
    peers = [k for k, row in detectors.items() if row.peer]
    if not peers:
        return
    try:
        import pyod  # noqa: F401
    except ImportError as err:
        raise ConfigError(
            f"the detectors {', '.join(peers)} need PyOD: pip install 'anomaly_ae[bench]', or "
            "leave them out with only=[...]"
        ) from err


def composed_rows(
    cfg: DictConfig, detectors: Mapping[str, Any], classes: Sequence[int]
) -> dict[tuple[str, int], str]:
    """Compose every row's train config for every class, so that a misspelt override stops the
    benchmark in one line naming the row, and build its model and data module once, so that a
    bad value does too; then fetch the data once (cells in parallel would each download them).
    Returns each (row, class)'s config digest (:func:`config_digest`)."""
    import hydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from anomaly_ae.cli import user_error_in

    digests, datamodule = {}, None
    for key, row in detectors.items():
        for c in classes:
            settings = cell_settings(Cell(key, c, 0), row, list(cfg.protocol.cell), [])
            overrides = [*train_overrides(settings), f"data.root={cfg.data_root}"]
            try:
                composed = hydra.compose("train", overrides)
                if c == classes[0]:  # the values, once per row
                    datamodule = hydra.utils.instantiate(composed.data)
                    if not row.peer:
                        hydra.utils.instantiate(composed.model)
            except (HydraException, OmegaConfBaseException, ValueError, TypeError) as err:
                cause = user_error_in(err) or err
                raise ConfigError(f"detectors.{key}: {one_line(cause, 400)}") from err
            digests[key, c] = config_digest(composed, row)
    if datamodule is not None:
        datamodule.prepare_data()
    return digests


def config_digest(composed: DictConfig, row: Any) -> str:
    """A short hash of what decides a cell's result besides its seed: the composed train
    config (where the data are and the run folder left out), and a peer's name and settings;
    a peer's result depends on the config's data alone."""
    config = OmegaConf.to_container(composed, resolve=False)
    for key in ("paths", "seed"):
        config.pop(key, None)
    config["data"].pop("root", None)
    if row.peer:
        config = {"data": config["data"], "peer": row.peer}
        config["settings"] = OmegaConf.to_container(row.settings) if row.settings else {}
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
