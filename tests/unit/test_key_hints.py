"""Did-you-mean hints for unknown keys and groups."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_no_hints_after_a_run_that_started(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """Exit code 1 from a run Hydra composed (detect's skipped files) is no refused key."""
    from hydra.core.hydra_config import HydraConfig

    from anomaly_ae.key_hints import hints_for_unknown_keys

    monkeypatch.setattr(HydraConfig, "initialized", staticmethod(lambda: True))
    with pytest.raises(SystemExit), hints_for_unknown_keys("train", ["trainer.max_epoch=3"]):
        raise SystemExit(1)
    assert "did you mean" not in capsys.readouterr().err
    monkeypatch.setattr(HydraConfig, "initialized", staticmethod(lambda: False))
    with pytest.raises(SystemExit), hints_for_unknown_keys("train", ["trainer.max_epoch=3"]):
        raise SystemExit(1)
    assert "did you mean trainer.max_epochs=3?" in capsys.readouterr().err


def test_suggestions_cover_groups_and_keys_of_the_chosen_options(tmp_path: Path) -> None:
    from anomaly_ae.key_hints import unknown_key_hints

    hints = unknown_key_hints(
        "train", ["modle=conv", "data.batch_sise=3", "model.latent_dim=8,16", "-m", "seed=1"]
    )
    assert hints == ["did you mean model=conv?", "did you mean data.batch_size=3?"]
    # a group that is not a key of the config is a choice, not a typo
    assert unknown_key_hints("train", ["experiment=hw7", "hparams_search=mnist_optuna"]) == []
    # the user's own config folder and config name are honoured
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "mine.yaml").write_text("# @package _global_\nseed: 3\n")
    assert unknown_key_hints(
        "train", ["--config-dir", str(tmp_path), "experiment=mine", "trainer.max_epoch=3"]
    ) == ["did you mean trainer.max_epochs=3?"]
    assert unknown_key_hints("train", ["-cn", "detect", "input=b"]) == ["did you mean inputs=b?"]
    # keys of the option chosen on the command line: conv's network has channels, mlp's not
    assert unknown_key_hints("train", ["model=conv", "model.net.chanels=[8,16]"]) == [
        "did you mean model.net.channels=[8,16]?"
    ]
    # a network's settings sit under model.net
    assert unknown_key_hints("train", ["model=conv", "model.upsampling=nearest"]) == [
        "did you mean model.net.upsampling=nearest?"
    ]
    assert unknown_key_hints("detect", ["ckpt_path=a", "input=b"]) == ["did you mean inputs=b?"]
    assert unknown_key_hints("train", ["+trainer.gradient_clip_val=1", "~callbacks.x"]) == []
