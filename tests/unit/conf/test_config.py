"""Hydra composition: hw7's defaults, every documented override, schemas from constructors."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import pytest
import torch
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from anomaly_ae.data import AnomalyDataModule
from anomaly_ae.models import AutoencoderModule
from anomaly_ae.thresholds import GaussianThreshold, ThresholdFit
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


def _schemas_in(yaml_file: Path) -> list[tuple[str, DictConfig, DictConfig]]:
    """``(name, stored schema, the part of the file it types)`` for each schema a config file
    starts from (``/data_schema@_here_``, ``/conv_net_schema@net``, ``train_schema``)."""
    from anomaly_ae.config import register_configs

    register_configs()
    written = OmegaConf.load(yaml_file)
    found = []
    for entry in written.get("defaults") or []:
        if not isinstance(entry, str) or not entry.split("@")[0].endswith("_schema"):
            continue
        name, _, place = entry.lstrip("/").partition("@")
        place = "" if place in ("", "_here_") else place
        part = OmegaConf.select(written, place) if place else written
        found.append((name, ConfigStore.instance().repo[f"{name}.yaml"].node, part))
    return found


def test_yaml_files_only_choose_and_override() -> None:
    """Each default is written once: a config file that starts from a schema sets only what
    differs from it (interpolations such as ${paths.data_dir}, the task's name) and names the
    class it builds (``_target_``, where the schema is made from), never a default again."""
    checked = 0
    for path in sorted((REPO / "conf").rglob("*.yaml")):
        for name, schema, written in _schemas_in(path):
            checked += 1
            repeated = [
                key
                for key in written
                if key not in ("defaults", "_target_")
                and key in schema
                and not OmegaConf.is_missing(schema, key)
                and not OmegaConf.is_interpolation(written, key)
                and written[key] == schema[key]
            ]
            assert not repeated, f"{path.relative_to(REPO)} repeats {name}'s {repeated}"
    assert checked >= 20


def _keyword_parameters(cls: type) -> dict[str, inspect.Parameter]:
    """What ``cls`` takes by keyword, its ``**settings`` standing for its base class's."""
    own = dict(inspect.signature(cls).parameters)
    if any(p.kind is p.VAR_KEYWORD for p in own.values()):
        own = {**_keyword_parameters(cls.__mro__[1]), **own}
    return {n: p for n, p in own.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def test_schemas_are_the_signatures_of_the_classes_the_configs_name() -> None:
    """The data module's, the model's, its networks', the scores' and the threshold rules'
    settings are their constructors' parameters, with their defaults: the schema of each class
    a YAML file names is made from the signature (no hand-written copy), and schemas.py
    writes by hand no schema of a class of ours."""
    from hydra.utils import get_object

    from anomaly_ae import schemas
    from anomaly_ae.schema_registry import named_schemas

    compose_config("train", [])  # registers the schemas
    named = list(named_schemas(REPO / "conf"))
    assert {n.package for n in named} == {"data", "model", "model.net", "model.score", "threshold"}
    for item in named:
        schema = ConfigStore.instance().repo[f"{item.name}.yaml"].node
        given = schemas.GIVEN_BY_PARENT.get(item.package, ())
        parameters = {
            n: p for n, p in _keyword_parameters(get_object(item.target)).items() if n not in given
        }
        assert schema._target_ == item.target
        assert [k for k in schema if not k.startswith("_")] == list(parameters), item.name
        for name, parameter in parameters.items():
            if parameter.default is inspect.Parameter.empty:  # data.root: required
                assert OmegaConf.is_missing(schema, name)
                continue
            expected = parameter.default
            expected = list(expected) if isinstance(expected, tuple) else expected
            assert schema[name] == expected, f"{item.name}.{name}"
    assert len({n.name for n in named}) >= 12
    hand_written = [
        name
        for name in dir(schemas)
        if dataclasses.is_dataclass(getattr(schemas, name))
        and "anomaly_ae." in str(getattr(getattr(schemas, name), "_target_", ""))
    ]
    assert hand_written == []


class _Everything:
    def __init__(
        self,
        required: int,
        ratio: float = 0.5,
        name: str | None = None,
        sizes: Sequence[int] = (1, 2),
        options: Mapping[str, Any] | None = None,
        either: str | Mapping[str, Any] = "a",
        path: str | Path = "x",
        loose=3,
        count: int | float = 1,
        **ignored: Any,
    ) -> None:
        pass


def test_schema_of_types_what_omegaconf_can_check() -> None:
    from omegaconf import ValidationError

    from anomaly_ae.config_schema import schema_of

    schema = schema_of(_Everything)
    types = {f.name: f.type for f in dataclasses.fields(schema)}
    assert types == {
        "_target_": str,
        # a mapping is a config the class builds itself: passed as plain values
        "_recursive_": bool,
        "_convert_": str,
        "required": int,
        "ratio": float,
        "name": str | None,
        "sizes": list[int],
        "options": Any,
        "either": Any,
        "path": str,
        "loose": Any,
        "count": float,
    }
    node = OmegaConf.structured(schema)
    assert node._target_ == f"{__name__}._Everything" and node._recursive_ is False
    assert OmegaConf.is_missing(node, "required") and node.sizes == [1, 2]
    with pytest.raises(ValidationError):
        node.ratio = "wide"


class _Opaque:
    def __init__(self, transform: Callable[[float], float] = abs) -> None:
        pass


def test_a_class_a_config_cannot_hold_is_refused_in_one_line() -> None:
    from anomaly_ae.config_schema import SchemaError, schema_of

    with pytest.raises(SchemaError, match=r"_Opaque\(transform\) is typed") as refused:
        schema_of(_Opaque)
    assert "\n" not in str(refused.value)


@dataclass(frozen=True)
class MedianThreshold:
    """A rule of the test's own: the median of the validation scores plus ``margin``."""

    margin: float = 0.0

    def fit(self, scores: torch.Tensor) -> ThresholdFit:
        return ThresholdFit(float(scores.double().median()) + self.margin, {"rule": "median"})


MEDIAN_YAML = """defaults:
  - /median_threshold_schema@_here_
  - _self_

_target_: tests.unit.conf.test_config.MedianThreshold
"""


def test_a_new_threshold_rule_is_its_class_and_one_yaml_file(tmp_path: Path) -> None:
    """No edit of schemas.py: the file names the rule's schema and class, and the rule's
    settings are typed at composition from its signature, then built."""
    from hydra.errors import ConfigCompositionException

    from anomaly_ae.schemas import register_schemas

    configs = tmp_path / "configs"
    (configs / "threshold").mkdir(parents=True)
    (configs / "threshold" / "median.yaml").write_text(MEDIAN_YAML)
    register_schemas(configs)  # what --config-dir / hydra.searchpath do on a command line
    where = [f"paths.output_dir={tmp_path}", f"hydra.searchpath=[file://{configs}]"]
    cfg = compose_config("train", [*where, "threshold=median", "threshold.margin=2"])
    assert cfg.threshold == {
        "_target_": "tests.unit.conf.test_config.MedianThreshold",
        "margin": 2.0,
    }
    assert hydra.utils.instantiate(cfg.threshold) == MedianThreshold(margin=2.0)
    for wrong in ("threshold.margin=wide", "threshold.margn=1"):
        with pytest.raises(ConfigCompositionException, match=r"margi?n"):
            compose_config("train", [*where, "threshold=median", wrong])


def test_a_yaml_naming_a_class_no_config_can_type_stops_registration(tmp_path: Path) -> None:
    from anomaly_ae.config_schema import SchemaError
    from anomaly_ae.schemas import register_schemas

    (tmp_path / "threshold").mkdir()
    bad = tmp_path / "threshold" / "opaque.yaml"
    bad.write_text(
        "defaults:\n  - /opaque_threshold_schema@_here_\n  - _self_\n\n"
        "_target_: tests.unit.conf.test_config._Opaque\n"
    )
    with pytest.raises(SchemaError, match=r"opaque\.yaml: .*transform") as refused:
        register_schemas(tmp_path)
    assert "\n" not in str(refused.value)
    for rule in ("Gaussian", "Quantile"):
        (tmp_path / "twice").mkdir(exist_ok=True)
        (tmp_path / "twice" / f"{rule}.yaml").write_text(
            f"defaults:\n  - /twice_threshold_schema@_here_\n\n"
            f"_target_: anomaly_ae.thresholds.{rule}Threshold\n"
        )
    with pytest.raises(SchemaError, match="a schema name of its own"):
        register_schemas(tmp_path / "twice")
