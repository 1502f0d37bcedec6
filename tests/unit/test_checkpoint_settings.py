"""anomaly_ae.checkpoint_settings without a training run: a network config without its defaults
matches its checkpoint; a checkpoint's dataset classes outside torchvision need trust."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from anomaly_ae.checkpoint import DATA_KEY
from anomaly_ae.checkpoint_settings import data_config_for_checkpoint, differences
from anomaly_ae.errors import ConfigError
from anomaly_ae.models import AutoencoderModule
from tests.helpers import COLOUR, compose_config, tiny_overrides


def test_a_network_config_without_its_defaults_matches_its_checkpoint() -> None:
    """A config of one's own may leave a network's defaults out and name the class through a
    shorter module path; ckpt_path=last and resuming still recognise the checkpoint."""
    net = {"_target_": "anomaly_ae.models.ConvAutoencoder", "channels": [8, 16]}
    model = AutoencoderModule(net=net, latent_dim=6)
    config = OmegaConf.create({**model.hparams, "net": net})
    assert differences({"hyper_parameters": dict(model.hparams)}, config, OmegaConf.create()) == []
    config.net.upsampling = "nearest"
    assert differences({"hyper_parameters": dict(model.hparams)}, config, OmegaConf.create()) == [
        "model.net={'_target_': 'anomaly_ae.models.conv.ConvAutoencoder', 'channels': [8, 16], "
        "'upsampling': 'transpose'}"
    ]


def test_a_checkpoint_opens_dataset_classes_outside_torchvision_only_if_trusted(
    tiny_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = compose_config("train", tiny_overrides(tiny_root, tmp_path / "run")).data
    foreign = {DATA_KEY: {"anomaly": {"_target_": "os.system", "command": "true"}}}
    with pytest.raises(ConfigError, match="set ANOMALY_AE_TRUSTED_NETS=os"):
        data_config_for_checkpoint(data, foreign, [])
    # one's own choice on the command line is not the checkpoint's
    assert data_config_for_checkpoint(data, foreign, ["data.anomaly=kmnist"]).anomaly == "kmnist"
    monkeypatch.setenv("ANOMALY_AE_TRUSTED_NETS", "os")
    assert data_config_for_checkpoint(data, foreign, []).anomaly._target_ == "os.system"
    ours = {DATA_KEY: {"anomaly": COLOUR}}
    monkeypatch.delenv("ANOMALY_AE_TRUSTED_NETS")
    assert data_config_for_checkpoint(data, ours, []).anomaly.image_size == [3, 32, 32]
