"""anomaly_ae.reporting.tensorboard: the HParams columns of a run."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import compose_config


def test_hparams_hold_the_main_settings_and_overrides_with_test_metrics(
    tiny_root: Path, tmp_path: Path
) -> None:
    from anomaly_ae.reporting.tensorboard import run_hparams

    overrides = [
        "model=conv",
        "threshold.k=2.5",
        "seed=3",
        f"data.root={tiny_root}",
        "trainer.enable_progress_bar=false",
        "model.weight_decay=0.01",
        "~callbacks.progress_bar",
    ]
    columns = run_hparams(compose_config("train", overrides), overrides)
    # the five columns TensorBoard ticks by default (the first in name order), then the rest
    assert sorted(columns) == [
        "model",
        "model.latent_dim",
        "model.lr",
        "model.weight_decay",
        "seed",
        "threshold",
        "trainer.max_epochs",
    ]
    assert columns["model"] == "conv" and columns["model.latent_dim"] == 32
    assert columns["threshold"] == "gaussian k=2.5", "rule and k in one column"
    assert columns["seed"] == 3 and columns["trainer.max_epochs"] == 10
    assert "data.root" not in columns and "trainer.enable_progress_bar" not in columns
    assert columns["model.weight_decay"] == 0.01, "a model setting changed on the command line"
    assert not [key for key in columns if "callbacks" in key], "a removal is no setting"
    defaults = run_hparams(compose_config("train", []), [])
    assert sorted(defaults) == [
        "model",
        "model.latent_dim",
        "model.lr",
        "threshold",
        "trainer.max_epochs",
    ]
    assert not [key for key in columns if "_target_" in key]
    assert all(isinstance(v, str | int | float | bool) for v in columns.values())
