"""A checkpoint carries its data and model settings: evaluate, resume and ckpt_path=last use
them; what the user sets on the command line still wins, and says so where it matters."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import torch

from anomaly_ae.checkpoint import DATA_KEY, read_checkpoint
from anomaly_ae.checkpoint_settings import differences, model_config_for_resume
from anomaly_ae.errors import CheckpointError, ConfigError
from anomaly_ae.evaluate import evaluate
from anomaly_ae.train import train
from tests.helpers import compose_config, run_train, tiny_overrides

SPLIT_KEYS = ("data.train_size", "data.val_size")


def without_split(overrides: list[str]) -> list[str]:
    """The tiny-run overrides minus the split sizes, so that the checkpoint's are used."""
    return [o for o in overrides if not o.startswith(SPLIT_KEYS)]


def evaluate_as_user(root: Path, out: Path, ckpt: str, *extra: str) -> dict:
    """``python -m anomaly_ae.evaluate ckpt_path=... <extra>`` with the tiny data."""
    overrides = without_split(tiny_overrides(root, out, f"ckpt_path={ckpt}", *extra))
    return evaluate(compose_config("evaluate", overrides), overrides)


@pytest.fixture(scope="module")
def other_split(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A run trained on another split than the configs' default."""
    out = tmp_path_factory.mktemp("other_split") / "run"
    return run_train(tiny_root, out, "data.split_seed=7", "data.val_size=30", "data.train_size=210")


def test_evaluate_uses_the_checkpoints_split(other_split: dict, tiny_root: Path, tmp_path: Path):
    results = evaluate_as_user(tiny_root, tmp_path / "eval", other_split["checkpoints"]["last"])
    assert results["data"]["split_seed"] == 7
    assert results["data"]["val_size"] == results["data"]["n_validation"] == 30
    assert results["config"]["data"]["split_seed"] == 7, "results.json's config is what ran"
    assert results["threshold"] == other_split["threshold"]
    assert results["metrics"] == other_split["metrics"]


def test_evaluate_refit_calibrates_on_the_checkpoints_validation_split(
    other_split: dict, tiny_root: Path, tmp_path: Path
) -> None:
    results = evaluate_as_user(
        tiny_root, tmp_path / "eval", other_split["checkpoints"]["last"], "refit_threshold=true"
    )
    assert results["calibration"]["n"] == 30
    assert results["calibration"]["step"] == other_split["tested"]["step"]
    assert results["threshold"] == pytest.approx(other_split["threshold"], rel=1e-6)


def test_an_explicit_split_override_wins_and_says_so(
    other_split: dict, tiny_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        results = evaluate_as_user(
            tiny_root, tmp_path / "eval", other_split["checkpoints"]["last"], "data.split_seed=3"
        )
    assert results["data"]["split_seed"] == 3 and results["data"]["val_size"] == 30
    warnings = [r.getMessage() for r in caplog.records if "data.split_seed=3" in r.getMessage()]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert "replaces the checkpoint's 7" in warnings[0] and "calibrated" in warnings[0]


def test_another_anomaly_set_is_a_silent_choice(
    other_split: dict, tiny_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        results = evaluate_as_user(
            tiny_root,
            tmp_path / "eval",
            other_split["checkpoints"]["last"],
            "data.anomaly=fashion_mnist",
        )
    assert results["data"]["anomaly"] == "FashionMNIST" and results["data"]["split_seed"] == 7
    assert not [r for r in caplog.records if "replaces the checkpoint" in r.getMessage()]


def test_held_out_classes_travel_with_the_checkpoint(tiny_root: Path, tmp_path: Path) -> None:
    trained = run_train(
        tiny_root,
        tmp_path / "run",
        "data.anomaly=mnist_classes",
        "data.anomaly_classes=[3]",
        "data.train_size=null",
        "trainer.max_epochs=1",
    )
    results = evaluate_as_user(tiny_root, tmp_path / "eval", trained["checkpoints"]["last"])
    assert results["data"]["anomaly"] == "MNIST-classes-3", "not KMNIST, the config's default"
    assert results["data"]["anomaly_classes"] == [3]
    assert results["metrics"] == trained["metrics"]


def test_resume_takes_the_checkpoints_model_and_refuses_to_change_it(
    tiny_root: Path, tmp_path: Path
) -> None:
    first = run_train(tiny_root, tmp_path / "first", "model.latent_dim=8", "trainer.max_epochs=1")
    ckpt = first["checkpoints"]["last"]
    # resumed without repeating model.latent_dim: the checkpoint's model goes on training
    overrides = tiny_overrides(tiny_root, tmp_path / "more", f"ckpt_path={ckpt}")
    resumed = train(compose_config("train", overrides), overrides)
    assert resumed["config"]["model"]["latent_dim"] == 8
    assert resumed["training"]["optimizer_steps"] == 20
    overrides = tiny_overrides(
        tiny_root, tmp_path / "clash", f"ckpt_path={ckpt}", "model.latent_dim=16"
    )
    with pytest.raises(ConfigError, match=r"model\.latent_dim=16 \(the checkpoint has 8\)"):
        train(compose_config("train", overrides), overrides)
    overrides = tiny_overrides(tiny_root, tmp_path / "clash", f"ckpt_path={ckpt}", "model=conv")
    mlp = r"model\.net\._target_=anomaly_ae\.models\.conv\.ConvAutoencoder \(the checkpoint has "
    with pytest.raises(ConfigError, match=mlp + r"anomaly_ae\.models\.mlp\.MlpAutoencoder\)"):
        train(compose_config("train", overrides), overrides)


def test_a_finished_run_extended_from_its_last_ckpt_equals_a_longer_run(
    trained: tuple[Path, dict], tiny_root: Path, tmp_path: Path
) -> None:
    _, two_epochs = trained
    one = run_train(tiny_root, tmp_path / "one", "trainer.max_epochs=1")
    more = run_train(
        tiny_root, tmp_path / "more", f"ckpt_path={one['checkpoints']['last']}"
    )  # tiny_overrides train 2 epochs
    assert more["training"] == two_epochs["training"]
    assert more["threshold"] == two_epochs["threshold"]
    assert more["metrics"] == two_epochs["metrics"]


def test_resume_keeps_its_training_order(tiny_root: Path, tmp_path: Path) -> None:
    first = run_train(tiny_root, tmp_path / "first", "trainer.max_epochs=1")
    overrides = tiny_overrides(
        tiny_root,
        tmp_path / "clash",
        f"ckpt_path={first['checkpoints']['last']}",
        "data.batch_size=25",
    )
    with pytest.raises(ConfigError, match=r"keeps its training order, but data\.batch_size=25"):
        train(compose_config("train", overrides), overrides)


def test_ckpt_path_last_resumes_only_a_run_of_the_same_settings(
    tiny_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    logs = tmp_path / "logs"
    runs = logs / "train" / "runs"

    def run(name: str, *extra: str) -> dict:
        overrides = tiny_overrides(tiny_root, runs / name, "trainer.max_epochs=1", *extra)
        overrides = [o for o in overrides if not o.startswith("paths.log_dir")]
        return train(
            compose_config("train", [*overrides, f"paths.log_dir={logs}"]),
            [*overrides, f"paths.log_dir={logs}"],
        )

    run("a_default")
    run("b_small", "model.latent_dim=8")
    newest = runs / "b_small" / "checkpoints" / "last.ckpt"
    os.utime(newest, (newest.stat().st_atime, newest.stat().st_mtime + 60))

    with caplog.at_level(logging.INFO):
        resumed = run("c_resume", "ckpt_path=last", "trainer.max_epochs=2")
    assert Path(resumed["resumed_from"]) == runs / "a_default" / "checkpoints" / "last.ckpt"
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ckpt_path=last")]
    assert len(said) == 1 and "1 newer one(s) have other settings" in said[0]

    with pytest.raises(CheckpointError, match=r"none with this run's model and data settings"):
        run("d_none", "ckpt_path=last", "data.split_seed=5")


def test_a_checkpoint_from_before_a_network_setting_matches_its_default(
    trained: tuple[Path, dict], tiny_root: Path, tmp_path: Path
) -> None:
    """A network setting added later (``latent_relu``) is missing from older checkpoints; its
    default is the network they were trained as, so they still match this run's settings."""
    run_dir, _ = trained
    saved = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    del saved["hyper_parameters"]["net"]["latent_relu"]
    old = tmp_path / "old.ckpt"
    torch.save(saved, old)
    overrides = tiny_overrides(tiny_root, tmp_path / "run")
    cfg = compose_config("train", overrides)
    assert differences(read_checkpoint(old), cfg.model, cfg.data) == []

    # resumed with the setting spelt out as the default: the same network, not a change
    def resume(setting: str):
        given = [*overrides, setting]
        model = compose_config("train", given).model
        return model_config_for_resume(model, read_checkpoint(old), given)

    assert resume("model.net.latent_relu=true").net.latent_relu is True
    with pytest.raises(ConfigError, match=r"latent_relu=False \(the checkpoint has True\)"):
        resume("model.net.latent_relu=false")


def test_ckpt_path_last_still_finds_checkpoints_of_earlier_versions(trained) -> None:
    """Checkpoints written before data.normal_classes existed hold anomaly_classes=[0] (the old
    default) beside data.anomaly=kmnist, where it meant nothing: they still match."""
    out, results = trained
    checkpoint = read_checkpoint(results["checkpoints"]["last"])
    config = compose_config("train", tiny_overrides(Path(results["config"]["data"]["root"]), out))
    assert differences(checkpoint, config.model, config.data) == []
    older = {**checkpoint, DATA_KEY: {**checkpoint[DATA_KEY], "anomaly_classes": [0]}}
    older[DATA_KEY].pop("normal_classes")
    assert differences(older, config.model, config.data) == []
    held_out = {**older, DATA_KEY: {**older[DATA_KEY], "anomaly": "mnist_classes"}}
    assert differences(held_out, config.model, config.data) != [], "there it decides the split"
