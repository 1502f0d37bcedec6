"""The configs for scaling out: the Slurm launcher and the DDP trainer groups compose."""

from __future__ import annotations

from pathlib import Path

import hydra
import pytest

from tests.helpers import compose_config


def test_slurm_launcher_composes(tmp_path: Path) -> None:
    cfg = compose_config(
        "train",
        ["hydra/launcher=slurm", "hydra.launcher.partition=gpu", f"paths.output_dir={tmp_path}"],
        return_hydra_config=True,
    )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (launcher.partition, launcher.nodes, launcher.gpus_per_node) == ("gpu", 1, 1)


@pytest.mark.parametrize(
    ("group", "accelerator", "devices"), [("ddp", "gpu", 4), ("ddp_cpu", "cpu", 2)]
)
def test_ddp_trainer_configs(tmp_path: Path, group: str, accelerator: str, devices: int) -> None:
    cfg = compose_config("train", [f"paths.output_dir={tmp_path}", f"trainer={group}"])
    assert (cfg.trainer.accelerator, cfg.trainer.devices) == (accelerator, devices)
    if group == "ddp_cpu":
        trainer = hydra.utils.instantiate(cfg.trainer, logger=False)
        assert trainer.world_size == 2
        assert trainer.strategy.process_group_backend == "gloo"
