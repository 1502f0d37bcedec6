"""Hydra composition: the defaults are the seed's, and every documented override lands."""

from __future__ import annotations

from pathlib import Path

import hydra
import pytest
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from anomaly_ae.data import AnomalyDataModule
from anomaly_ae.models import AutoencoderModule
from anomaly_ae.thresholds import GaussianThreshold
from tests.helpers import REPO, compose_config


def test_default_is_the_hw7_experiment(tmp_path: Path) -> None:
    cfg = compose_config("train", [f"paths.output_dir={tmp_path}"])
    assert cfg.experiment_name == "hw7"
    assert (cfg.data.normal, cfg.data.anomaly) == ("mnist", "kmnist")
    # train_size null: every MNIST training image not in validation, 50,000 of 60,000
    assert (cfg.data.train_size, cfg.data.val_size, cfg.data.batch_size) == (None, 10000, 100)
    assert list(cfg.model.net.hidden_dims) == [256, 128] and cfg.model.latent_dim == 32
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


def _schema_of(yaml_file: Path) -> type | None:
    """The schema a config file starts from (``/data_schema@_here_`` or ``train_schema``)."""
    from anomaly_ae import schemas
    from anomaly_ae.benchmark import schema as benchmark_schemas
    from anomaly_ae.config import register_configs

    register_configs()
    first = OmegaConf.load(yaml_file).get("defaults", [None])[0]
    if not isinstance(first, str) or "schema" not in first:
        return None
    name = first.lstrip("/").split("@")[0]
    modules = (schemas, benchmark_schemas)
    nodes = {n: getattr(m, n) for m in modules for n in dir(m) if n.endswith("Config")}
    stored = ConfigStore.instance().repo[f"{name}.yaml"].node
    return next(c for c in nodes.values() if OmegaConf.get_type(stored) is c)


def test_yaml_files_only_choose_and_override() -> None:
    """Each default is written once: a config file that starts from a schema sets only what
    differs from it (interpolations such as ${paths.data_dir}, the task's name), never a
    schema's default again."""
    checked = 0
    for path in sorted((REPO / "conf").rglob("*.yaml")):
        schema = _schema_of(path)
        if schema is None:
            continue
        checked += 1
        defaults = OmegaConf.structured(schema)
        written = OmegaConf.load(path)
        repeated = [
            key
            for key in written
            if key != "defaults"
            and key in defaults
            and not OmegaConf.is_missing(defaults, key)
            and not OmegaConf.is_interpolation(written, key)
            and written[key] == defaults[key]
        ]
        assert not repeated, f"{path.relative_to(REPO)} repeats its schema's {repeated}"
    assert checked >= 10


def test_schemas_take_the_defaults_of_the_classes_they_build() -> None:
    """The data module's, the model's, its networks' and the threshold rules' defaults live in
    their constructors; the schemas read them there."""
    import inspect

    from hydra.utils import get_class

    from anomaly_ae import schemas

    checked = 0
    for name in dir(schemas):
        schema = getattr(schemas, name)
        if not (name.endswith("Config") and hasattr(schema, "__dataclass_fields__")):
            continue
        target = getattr(schema.__dataclass_fields__.get("_target_"), "default", None)
        if not isinstance(target, str) or not target.startswith("anomaly_ae."):
            continue
        parameters = inspect.signature(get_class(target)).parameters
        for field_name in schema.__dataclass_fields__:
            if field_name.startswith("_") or field_name not in parameters:
                continue
            node = OmegaConf.structured(schema)
            if OmegaConf.is_missing(node, field_name):  # data.root: no default anywhere
                continue
            expected = parameters[field_name].default
            if isinstance(expected, tuple):
                expected = list(expected)
            assert node[field_name] == expected, f"{name}.{field_name}"
            checked += 1
    assert checked >= 20
