"""Hydra composition: the defaults are the seed's, and every documented override lands."""

from __future__ import annotations

from pathlib import Path

import hydra
import pytest
from omegaconf import OmegaConf

from anomaly_ae.data import AnomalyDataModule
from anomaly_ae.models import AutoencoderModule
from anomaly_ae.thresholds import GaussianThreshold
from tests.conftest import compose_config


def test_default_is_the_hw7_experiment(tmp_path: Path) -> None:
    cfg = compose_config("train", [f"paths.output_dir={tmp_path}"])
    assert cfg.experiment_name == "hw7"
    assert (cfg.data.normal, cfg.data.anomaly) == ("mnist", "kmnist")
    # train_size null: every MNIST training image not in validation, 50,000 of 60,000
    assert (cfg.data.train_size, cfg.data.val_size, cfg.data.batch_size) == (None, 10000, 100)
    assert list(cfg.model.hidden_dims) == [256, 128] and cfg.model.latent_dim == 32
    assert cfg.model.lr == pytest.approx(1e-3)
    assert cfg.trainer.max_epochs == 10
    assert cfg.threshold.k == 3.0
    assert cfg.logger.tensorboard._target_.endswith("TensorBoardLogger")


def test_every_documented_override_reaches_the_objects(tmp_path: Path) -> None:
    cfg = compose_config(
        "train",
        [
            f"paths.output_dir={tmp_path}",
            "trainer.accelerator=gpu",
            "trainer.devices=2",
            "trainer.max_epochs=3",
            "model.latent_dim=8",
            "threshold.k=2.5",
            "data.batch_size=64",
            "seed=7",
        ],
    )
    assert (cfg.trainer.accelerator, cfg.trainer.devices, cfg.trainer.max_epochs) == ("gpu", 2, 3)
    assert cfg.seed == 7
    model = hydra.utils.instantiate(cfg.model)
    assert isinstance(model, AutoencoderModule) and model.hparams.latent_dim == 8
    assert model.encoder.layers[-2].out_features == 8
    assert hydra.utils.instantiate(cfg.threshold) == GaussianThreshold(k=2.5)
    dm = hydra.utils.instantiate(cfg.data)
    assert isinstance(dm, AnomalyDataModule) and dm.hparams.batch_size == 64


@pytest.mark.parametrize("accelerator", ["cpu", "auto"])
def test_cpu_and_auto_accelerators_build_a_trainer(tmp_path: Path, accelerator: str) -> None:
    cfg = compose_config(
        "train",
        [
            f"paths.output_dir={tmp_path}",
            f"trainer.accelerator={accelerator}",
            "trainer.max_epochs=3",
            "trainer.devices=1",
        ],
    )
    trainer = hydra.utils.instantiate(cfg.trainer, logger=False)
    assert trainer.max_epochs == 3 and trainer.num_devices == 1


@pytest.mark.parametrize("group", ["cpu", "gpu"])
def test_trainer_groups_compose(tmp_path: Path, group: str) -> None:
    cfg = compose_config("train", [f"paths.output_dir={tmp_path}", f"trainer={group}"])
    assert cfg.trainer.accelerator == group and cfg.trainer.max_epochs == 10


def test_data_and_logs_default_to_the_directory_a_run_starts_from(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ANOMALY_AE_DATA", "/some/where")
    cfg = compose_config("train", [f"paths.output_dir={tmp_path}"])
    assert cfg.data.root == "/some/where"
    monkeypatch.delenv("ANOMALY_AE_DATA")
    cfg = compose_config("train", [f"paths.output_dir={tmp_path}"])
    assert cfg.data.root == str(tmp_path / "data") and cfg.paths.log_dir == str(tmp_path / "logs")


def test_unknown_keys_are_rejected_at_composition(tmp_path: Path) -> None:
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="acelerator"):
        compose_config("train", [f"paths.output_dir={tmp_path}", "trainer.acelerator=gpu"])


def test_evaluate_config_requires_a_checkpoint(tmp_path: Path) -> None:
    cfg = compose_config("evaluate", [f"paths.output_dir={tmp_path}"])
    assert OmegaConf.is_missing(cfg, "ckpt_path")
    assert cfg.refit_threshold is False
