"""``python -m anomaly_ae.benchmark`` (``anomaly-ae-benchmark``): run a benchmark protocol for
every detector over its classes and seeds, resuming where a previous run stopped."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from anomaly_ae.cli import exit_on_user_error
from anomaly_ae.config import CONFIG_PATH, register_configs
from anomaly_ae.key_hints import hints_for_unknown_keys

register_configs()


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="benchmark")
def run(cfg: DictConfig) -> None:
    from anomaly_ae.benchmark.runner import run_benchmark

    with exit_on_user_error():
        content = run_benchmark(cfg, Path(HydraConfig.get().runtime.output_dir))
    if content["failed"]:
        sys.exit(1)


def main() -> None:
    """``anomaly-ae-benchmark``, the same as ``python -m anomaly_ae.benchmark``."""
    with hints_for_unknown_keys("benchmark"):
        run()


if __name__ == "__main__":
    main()
