"""The seed's architecture, the anomaly score, and the module's score/predict API."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from anomaly_ae.checkpoint import load_autoencoder
from anomaly_ae.errors import CheckpointError, ConfigError
from anomaly_ae.models import AutoencoderModule, MlpAutoencoder
from anomaly_ae.scoring import reconstruction_error
from tests.helpers import cli_overrides, run_module


def layers_of(module: nn.Module) -> list[str]:
    names = []
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            names.append(f"Linear({layer.in_features},{layer.out_features})")
        elif isinstance(layer, nn.ReLU | nn.Sigmoid):
            names.append(type(layer).__name__)
    return names


def test_default_encoder_and_decoder_are_the_seeds() -> None:
    seed = MlpAutoencoder((1, 28, 28), latent_dim=32)  # the class's defaults: the seed's
    assert layers_of(seed.encoder) == [
        "Linear(784,256)",
        "ReLU",
        "Linear(256,128)",
        "ReLU",
        "Linear(128,32)",
        "ReLU",
    ]
    assert layers_of(seed.decoder) == [
        "Linear(32,128)",
        "ReLU",
        "Linear(128,256)",
        "ReLU",
        "Linear(256,784)",
        "Sigmoid",
    ]
    model = AutoencoderModule()
    seed_params = (784 * 256 + 256) + (256 * 128 + 128) + (128 * 32 + 32)
    seed_params += (32 * 128 + 128) + (128 * 256 + 256) + (256 * 784 + 784)
    assert sum(p.numel() for p in model.parameters()) == seed_params


def test_sizes_are_configurable_and_shapes_round_trip() -> None:
    model = AutoencoderModule(
        net={"_target_": "anomaly_ae.models.MlpAutoencoder", "hidden_dims": [64]}, latent_dim=8
    )
    assert layers_of(model.encoder) == ["Linear(784,64)", "ReLU", "Linear(64,8)", "ReLU"]
    x = torch.rand(5, 1, 28, 28)
    z = model.encoder(x)
    assert z.shape == (5, 8) and bool((z >= 0).all())
    out = model(x)
    assert out.shape == x.shape
    assert bool(((out > 0) & (out < 1)).all())


def test_latent_relu_false_leaves_the_code_linear_and_keeps_the_weights_names() -> None:
    net = {"_target_": "anomaly_ae.models.MlpAutoencoder", "hidden_dims": [64]}
    seeded = AutoencoderModule(net=net, latent_dim=8)
    linear = AutoencoderModule(net={**net, "latent_relu": False}, latent_dim=8)
    assert layers_of(linear.encoder) == ["Linear(784,64)", "ReLU", "Linear(64,8)"]
    assert linear.hparams.net["latent_relu"] is False
    assert seeded.hparams.net["latent_relu"] is True  # the seed's, recorded in checkpoints
    # the same parameters under the same names: only the code's activation differs
    linear.load_state_dict(seeded.state_dict())
    x = torch.rand(64, 1, 28, 28)
    with torch.no_grad():
        pre_activation = linear.encoder(x)
        assert bool((pre_activation < 0).any())
        torch.testing.assert_close(seeded.encoder(x), pre_activation.clamp(min=0))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"latent_dim": 0},
        {"net": {"_target_": "anomaly_ae.models.MlpAutoencoder", "hidden_dims": [128, -1]}},
        {"net": {"_target_": "anomaly_ae.models.Transformer"}},
        {"net": {"_target_": "os.system"}},
        {"net": {"_target_": "torch.nn.Identity"}},
        {"net": {"_target_": "anomaly_ae.models.MlpAutoencoder", "depth": 3}},
        {"lr": -1.0},
        {"lr": 0.0},
        {"weight_decay": -0.1},
    ],
)
def test_bad_model_settings_are_config_errors(kwargs: dict) -> None:
    with pytest.raises(ConfigError, match=r"model\."):
        AutoencoderModule(**kwargs)


def test_score_is_per_image_sum_of_squared_error() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((4, 1, 28, 28), dtype=np.float32)
    r = rng.random((4, 1, 28, 28), dtype=np.float32)
    expected = ((x - r) ** 2).sum(axis=(1, 2, 3))
    got = reconstruction_error(torch.from_numpy(x), torch.from_numpy(r)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_flagging_needs_a_fitted_threshold_and_uses_it() -> None:
    model = AutoencoderModule().eval()
    with torch.no_grad():
        scores = model.score(torch.rand(6, 1, 28, 28))
    assert not model.is_calibrated
    with pytest.raises(ConfigError, match="no fitted threshold"):
        model.flag(scores)
    model.set_threshold(float(scores.median()), {"rule": "manual"})
    flags = model.flag(scores)
    assert math.isclose(model.fitted_threshold(), float(scores.median()), rel_tol=1e-12)
    assert torch.equal(flags, scores > scores.median())


USER_NET = '''
from torch import nn


class TinyNet(nn.Module):
    """A network of a user's own: one hidden layer of `width` units."""

    def __init__(self, input_shape, latent_dim, width=16):
        super().__init__()
        pixels = input_shape[0] * input_shape[1] * input_shape[2]
        self.encoder = nn.Sequential(
            nn.Flatten(), nn.Linear(pixels, width), nn.ReLU(), nn.Linear(width, latent_dim)
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, pixels), nn.Sigmoid(), nn.Unflatten(1, tuple(input_shape))
        )
'''


def test_a_network_of_ones_own_is_plugged_in_by_target(
    tiny_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """lightning-hydra-template's net: pattern: a user's nn.Module named by model.net._target_
    in a config of their own trains, calibrates, tests, and comes back from its checkpoint."""
    code, configs = tmp_path / "code", tmp_path / "configs"
    (code).mkdir()
    (code / "my_nets.py").write_text(USER_NET)
    (configs / "model").mkdir(parents=True)
    (configs / "model" / "tiny.yaml").write_text(
        "defaults:\n  - /model_schema@_here_\n  - _self_\n\n"
        "net:\n  _target_: my_nets.TinyNet\n  width: 8\n"
    )
    out = tmp_path / "run"
    done = run_module(
        "anomaly_ae.train",
        "--config-dir",
        str(configs),
        *cli_overrides(tiny_root, out, "model=tiny", "model.net.width=12", "model.latent_dim=5"),
        env={"PYTHONPATH": str(code)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["model"]["net"] == {"_target_": "my_nets.TinyNet", "width": 12}
    assert results["metrics"]["auroc"] is not None
    monkeypatch.syspath_prepend(str(code))
    with pytest.raises(CheckpointError, match="ANOMALY_AE_TRUSTED_NETS=my_nets"):
        load_autoencoder(out / "checkpoints" / "last.ckpt")  # importing runs the module's code
    monkeypatch.setenv("ANOMALY_AE_TRUSTED_NETS", "my_nets")
    model = load_autoencoder(out / "checkpoints" / "last.ckpt")
    assert type(model.encoder[1]).__name__ == "Linear" and model.encoder[1].out_features == 12
    assert model.hparams.net == {"_target_": "my_nets.TinyNet", "width": 12}
    assert model.fitted_threshold() == pytest.approx(results["threshold"])


def test_the_shipped_networks_record_every_setting() -> None:
    """A checkpoint rebuilds its network alone: the module completes the net config with the
    class's defaults, so a later change of a default does not change an old model."""
    model = AutoencoderModule(net={"_target_": "anomaly_ae.models.ConvAutoencoder"})
    assert model.hparams.net == {
        "_target_": "anomaly_ae.models.conv.ConvAutoencoder",  # the class's own module
        "channels": [32, 64],
        "upsampling": "transpose",
    }
    seed = AutoencoderModule()
    assert seed.hparams.net == {
        "_target_": "anomaly_ae.models.mlp.MlpAutoencoder",
        "hidden_dims": [256, 128],
        "latent_relu": True,
    }


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


@pytest.mark.parametrize(
    "net",
    [
        {"hidden_dims": {"_target_": "pathlib.Path.touch", "_args_": ["/tmp/x"]}},
        {"_args_": [1]},
        {"_partial_": True},
        {"hidden_dims": [64], "extra": object()},
    ],
)
def test_network_settings_are_plain_data(net: dict) -> None:
    with pytest.raises(ConfigError, match=r"model\.net"):
        AutoencoderModule(net={"_target_": "anomaly_ae.models.MlpAutoencoder", **net})


def test_a_network_must_train_what_it_holds() -> None:
    """The model keeps the encoder and decoder; a network with parameters elsewhere would
    train and save only part of itself, so it is refused."""
    with pytest.raises(ConfigError, match="parameters outside its encoder and decoder"):
        AutoencoderModule(net={"_target_": f"{__name__}.NetWithAHead"})


class NetWithAHead(nn.Module):
    def __init__(self, input_shape, latent_dim):
        super().__init__()
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, latent_dim))
        self.decoder = nn.Sequential(nn.Linear(latent_dim, 784), nn.Unflatten(1, (1, 28, 28)))
        self.head = nn.Linear(latent_dim, 1)


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
    model.set_threshold(4.5, {"rule": "gaussian", "step": 7})
    saved = {k: v for k, v in model.hparams.items() if k != "net"}
    path = tmp_path / "old.ckpt"
    torch.save(
        {
            "anomaly_ae": {"version": "0.1.0", "calibration": model.calibration},
            "hyper_parameters": {**saved, "architecture": architecture, **old},
            "state_dict": model.state_dict(),
        },
        path,
    )
    loaded = load_autoencoder(path)
    assert loaded.hparams.net["_target_"].endswith(f"{architecture.capitalize()}Autoencoder")
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(loaded.score_images(x), model.score_images(x))
    assert loaded.fitted_threshold() == 4.5


def test_a_network_config_without_its_defaults_matches_its_checkpoint() -> None:
    """A config of one's own may leave a network's defaults out and name the class through a
    shorter module path; ckpt_path=last and resuming still recognise the checkpoint."""
    from omegaconf import OmegaConf

    from anomaly_ae.checkpoint_settings import differences

    net = {"_target_": "anomaly_ae.models.ConvAutoencoder", "channels": [8, 16]}
    model = AutoencoderModule(net=net, latent_dim=6)
    config = OmegaConf.create({**model.hparams, "net": net})
    assert differences({"hyper_parameters": dict(model.hparams)}, config, OmegaConf.create()) == []
    config.net.upsampling = "nearest"
    assert differences({"hyper_parameters": dict(model.hparams)}, config, OmegaConf.create()) == [
        "model.net={'_target_': 'anomaly_ae.models.conv.ConvAutoencoder', 'channels': [8, 16], "
        "'upsampling': 'transpose'}"
    ]
