"""A peer's benchmark cell: ``python -m anomaly_ae.benchmark.peer_cell peer=<name>
[settings=<JSON>] out=<folder> <train overrides>``.

The data are the framework's own: the ``train`` config composed with the overrides gives the
data module, whose training images (the normal class's training split, validation images
left out) the peer is fitted on and whose test set (normal and anomalous) it is scored on. So
a peer and a framework row of the same class and seed see the same images. ``results.json``
in ``out`` holds the metric, the timings, the data and the peer's settings.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from anomaly_ae.errors import ConfigError, one_line

_OWN_KEYS = ("peer", "settings", "out")


def parse(argv: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """This command's own ``key=value`` arguments, and the train config's overrides."""
    own, overrides = {}, []
    for arg in argv:
        key, _, value = arg.partition("=")
        if key in _OWN_KEYS:
            own[key] = value
        else:
            overrides.append(arg)
    missing = [k for k in ("peer", "out") if k not in own]
    if missing:
        raise ConfigError(f"{' and '.join(missing)} must be given: peer=<name> out=<folder>")
    return own, overrides


def run(argv: Sequence[str]) -> dict[str, Any]:
    import hydra
    from hydra import compose, initialize_config_module
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from anomaly_ae.benchmark.peers import run_peer
    from anomaly_ae.config import CONFIG_MODULE, register_configs
    from anomaly_ae.data.batches import ANOMALY
    from anomaly_ae.files import write_text_atomically

    own, overrides = parse(argv)
    settings = json.loads(own.get("settings") or "{}")
    register_configs()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            cfg = compose("train", overrides)
    except (HydraException, OmegaConfBaseException) as err:
        raise ConfigError(one_line(err, 2000)) from err
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup()
    train, test = datamodule.train_set, datamodule.test_set
    if not bool((test.targets == ANOMALY).any()):
        raise ConfigError("the test set holds no anomaly (data.anomaly=null?): AUROC needs both")
    outcome = run_peer(own["peer"], settings, train.images, test.images, test.targets, cfg.seed)
    results = {
        "task": "peer",
        "peer": own["peer"],
        "metrics": {"auroc": outcome["auroc"]},
        "timings": {
            "fit_seconds": outcome["fit_seconds"],
            "score_seconds": outcome["score_seconds"],
        },
        "data": datamodule.describe(),
        "detector": {k: v for k, v in outcome.items() if k not in ("auroc",)},
        "seed": cfg.seed,
    }
    out = Path(own["out"])
    write_text_atomically(out / "results.json", json.dumps(results, indent=2, default=str) + "\n")
    return results


def main(argv: Sequence[str] | None = None) -> None:
    from anomaly_ae.cli import exit_on_user_error

    with exit_on_user_error():  # one error: line and exit code 2 for what the user can fix
        results = run(sys.argv[1:] if argv is None else argv)
    print(f"{results['peer']}: AUROC {results['metrics']['auroc']:.4f}")


if __name__ == "__main__":
    main()
