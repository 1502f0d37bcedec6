"""evaluate on a tiny run's checkpoint: the training's test reproduced, the threshold refitted
with another k, threshold settings it is told not to use refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from anomaly_ae.errors import ConfigError
from anomaly_ae.evaluate import evaluate
from tests.helpers import compose_config, tiny_overrides


def test_evaluate_reproduces_the_training_test(
    trained: tuple[Path, dict], tiny_root: Path, tmp_path: Path
) -> None:
    _, results = trained
    cfg = compose_config(
        "evaluate",
        tiny_overrides(tiny_root, tmp_path / "eval", f"ckpt_path={results['checkpoints']['last']}"),
    )
    evaluated = evaluate(cfg)
    assert evaluated["threshold"] == results["threshold"]
    assert evaluated["metrics"] == results["metrics"]
    assert (tmp_path / "eval" / "results.json").is_file()


@pytest.mark.parametrize("asked", [["refit_threshold=true"], []], ids=["refit=true", "k alone"])
def test_evaluate_refits_the_threshold_with_another_k(
    trained: tuple[Path, dict], tiny_root: Path, tmp_path: Path, asked: list[str]
) -> None:
    """threshold.k on the command line re-fits the threshold, with or without refit_threshold."""
    _, results = trained
    overrides = tiny_overrides(
        tiny_root,
        tmp_path / "eval",
        f"ckpt_path={results['checkpoints']['last']}",
        *asked,
        "threshold.k=1",
    )
    evaluated = evaluate(compose_config("evaluate", overrides), overrides)
    cal = results["calibration"]
    assert evaluated["threshold"] == pytest.approx(cal["mean"] + cal["std"], rel=1e-6)
    assert evaluated["calibration"]["k"] == 1.0
    assert evaluated["config"]["refit_threshold"] is True


def test_evaluate_refuses_threshold_settings_it_is_told_not_to_use(
    trained: tuple[Path, dict], tiny_root: Path, tmp_path: Path
) -> None:
    overrides = tiny_overrides(
        tiny_root,
        tmp_path / "eval",
        f"ckpt_path={trained[1]['checkpoints']['last']}",
        "++refit_threshold=false",
        "threshold=quantile",
    )
    with pytest.raises(ConfigError, match="threshold=quantile has no effect with refit_thres"):
        evaluate(compose_config("evaluate", overrides), overrides)
    assert not (tmp_path / "eval").exists(), "refused before anything was computed"
