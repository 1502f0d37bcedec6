"""anomaly_ae.checkpoint: opening a checkpoint runs no code, old checkpoints still load, a
missing one says what to pass."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from anomaly_ae.checkpoint import load_autoencoder
from anomaly_ae.errors import CheckpointError
from anomaly_ae.models import AutoencoderModule


def test_a_checkpoint_cannot_name_a_function_to_call(tmp_path: Path) -> None:
    """Opening a checkpoint runs no code: its network must name an nn.Module class."""
    model = AutoencoderModule()
    path = tmp_path / "bad.ckpt"
    checkpoint = {
        "anomaly_ae": {"version": "0.1.0"},
        "hyper_parameters": {**model.hparams, "net": {"_target_": "os.system", "command": "x"}},
        "state_dict": model.state_dict(),
    }
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match=r"os\.system, outside anomaly_ae"):
        load_autoencoder(path)
    # nothing nested is instantiated either: a setting naming a function stays refused
    nested = {"_target_": "anomaly_ae.models.MlpAutoencoder", "hidden_dims": {"_target_": "x"}}
    torch.save({**checkpoint, "hyper_parameters": {**model.hparams, "net": nested}}, path)
    with pytest.raises(CheckpointError, match=r"model\.net\.hidden_dims holds \['_target_'\]"):
        load_autoencoder(path)


@pytest.mark.parametrize("architecture", ["mlp", "conv"])
def test_checkpoints_from_before_network_configs_still_load(
    architecture: str, tmp_path: Path
) -> None:
    """anomaly_ae 0.1.0 checkpoints named a closed architecture with its settings beside it."""
    if architecture == "mlp":
        net, old = (
            {"_target_": "anomaly_ae.models.MlpAutoencoder", "hidden_dims": [64]},
            {"hidden_dims": [64]},
        )
    else:
        net = {"_target_": "anomaly_ae.models.ConvAutoencoder", "channels": [8, 16]}
        net["upsampling"] = "nearest"
        old = {"channels": [8, 16], "upsampling": "nearest"}
    model = AutoencoderModule(net=net, latent_dim=6)
    model.threshold.value.fill_(4.5)
    model.threshold.calibration = {"rule": "gaussian", "step": 7}
    saved = {k: v for k, v in model.hparams.items() if k not in ("net", "threshold")}
    # as 0.1.0 wrote it: the threshold a buffer of the module, its record beside the weights
    state = model.state_dict()
    state["threshold"] = state.pop("threshold.value")
    del state["threshold._extra_state"]
    path = tmp_path / "old.ckpt"
    torch.save(
        {
            "anomaly_ae": {"version": "0.1.0", "calibration": model.threshold.calibration},
            "hyper_parameters": {**saved, "architecture": architecture, **old},
            "state_dict": state,
        },
        path,
    )
    loaded = load_autoencoder(path)
    assert loaded.hparams.net["_target_"].endswith(f"{architecture.capitalize()}Autoencoder")
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(loaded.score_images(x), model.score_images(x))
    assert loaded.threshold.fitted() == 4.5
    assert loaded.threshold.calibration == {"rule": "gaussian", "step": 7}


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_checkpoints_are_loaded_without_running_their_code(tmp_path: Path) -> None:
    marker = tmp_path / "code_ran"
    evil = tmp_path / "evil.ckpt"
    torch.save(
        {"anomaly_ae": {}, "hyper_parameters": _Exploit(marker), "state_dict": {}},
        evil,
    )
    with pytest.raises(CheckpointError, match="could not be read as a checkpoint"):
        load_autoencoder(evil)
    assert not marker.exists()


def test_missing_checkpoint_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist; pass ckpt_path="):
        load_autoencoder(tmp_path / "nope.ckpt")
