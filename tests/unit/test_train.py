"""anomaly_ae.train's checks before any training: a missing anomaly set, a data shape the model
does not take, a bad label, a test metric as the objective."""

from __future__ import annotations

from pathlib import Path

import pytest

from anomaly_ae.errors import ConfigError, DataNotFoundError
from anomaly_ae.train import optimized_metric, train
from tests.helpers import FAKE, compose_config, dataset_setting, run_train, tiny_overrides

SIZES = ("data.train_size=", "data.val_size=")


def test_missing_anomaly_set_stops_before_training(
    fresh_root: Path, tmp_path: Path, no_network: None
) -> None:
    for f in (fresh_root / "KMNIST" / "raw").iterdir():
        f.unlink()
    out = tmp_path / "run"
    with pytest.raises(DataNotFoundError, match=r"data\.anomaly=null"):
        run_train(fresh_root, out, "data.download=true")
    assert not (out / "checkpoints").exists(), "nothing may be trained before the data check"


def test_the_model_takes_the_data_shape_and_refuses_another(
    tiny_root: Path, tmp_path: Path
) -> None:
    overrides = tiny_overrides(
        tiny_root,
        tmp_path / "run",
        dataset_setting("normal", FAKE, size=40, image_size=[3, 32, 32]),
        "data.anomaly=null",
        "data.train_size=null",
        "data.val_size=5",
        "data.test_size=5",
        "model.input_shape=[1,28,28]",
    )
    with pytest.raises(ConfigError, match=r"model.input_shape=\[1, 28, 28\] but the data"):
        train(compose_config("train", overrides), overrides)


def test_a_bad_label_stops_the_run_before_training(tiny_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    overrides = [o for o in tiny_overrides(tiny_root, out) if not o.startswith(SIZES)]
    overrides.append("data.normal_classes=[11]")
    with pytest.raises(ConfigError, match="its labels are 0-9"):
        train(compose_config("train", overrides), overrides)
    assert not (out / "checkpoints").exists()


def test_test_metrics_cannot_be_the_objective(tmp_path: Path) -> None:
    cfg = compose_config("train", [f"paths.output_dir={tmp_path}", "optimized_metric=test/auroc"])
    with pytest.raises(ConfigError, match="leaks the anomaly test set"):
        optimized_metric(cfg)
    cfg = compose_config("train", [f"paths.output_dir={tmp_path}", "hparams_search=mnist_optuna"])
    assert optimized_metric(cfg) == "val/loss"
