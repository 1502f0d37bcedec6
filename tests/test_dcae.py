"""model=dcae: Ruff et al. 2018's LeNet autoencoder, its multistep learning-rate schedule and
its GCN + min-max preprocessing, fitted on the training images and carried by the model."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import hydra
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from anomaly_ae.checkpoint import load_autoencoder
from anomaly_ae.detector import Detector
from anomaly_ae.errors import ConfigError
from anomaly_ae.export import check_export, export_detector
from anomaly_ae.models import AutoencoderModule, LeNetAutoencoder
from anomaly_ae.models.input_transform import GcnMinMax, global_contrast_normalization
from anomaly_ae.models.nets import LENET_NET
from anomaly_ae.reporting.reconstruction_figure import inputs_and_reconstructions
from tests.helpers import compose_config, run_train, tiny_overrides

DCAE = {"_target_": LENET_NET}


def ruff_forward(net: LeNetAutoencoder, x: torch.Tensor) -> torch.Tensor:
    """MNIST_LeNet_Autoencoder.forward of lukasruff/Deep-SVDD-PyTorch, line for line, on the
    same layers."""
    e, d = net.encoder, net.decoder
    x = e.conv1(x)
    x = e.pool(F.leaky_relu(e.bn1(x)))
    x = e.conv2(x)
    x = e.pool(F.leaky_relu(e.bn2(x)))
    x = x.view(x.size(0), -1)
    x = e.fc1(x)
    x = x.view(x.size(0), int(32 / 16), 4, 4)
    x = F.interpolate(F.leaky_relu(x), scale_factor=2)
    x = d.deconv1(x)
    x = F.interpolate(F.leaky_relu(d.bn3(x)), scale_factor=2)
    x = d.deconv2(x)
    x = F.interpolate(F.leaky_relu(d.bn4(x)), scale_factor=2)
    x = d.deconv3(x)
    return torch.sigmoid(x)


def ruff_preprocessing(images: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """global_contrast_normalization(x, scale='l1') then Normalize([lo], [hi - lo]), per image,
    in float64."""
    x = images.reshape(len(images), -1).astype(np.float64)
    x = x - x.mean(1, keepdims=True)
    x = x / np.abs(x).mean(1, keepdims=True)
    return ((x - lo) / (hi - lo)).reshape(images.shape)


def test_the_network_is_ruffs_mnist_lenet_autoencoder() -> None:
    net = LeNetAutoencoder((1, 28, 28), latent_dim=32)
    shapes = {name: tuple(p.shape) for name, p in net.named_parameters()}
    assert shapes == {
        "encoder.conv1.weight": (8, 1, 5, 5),
        "encoder.conv2.weight": (4, 8, 5, 5),
        "encoder.fc1.weight": (32, 196),
        "decoder.deconv1.weight": (2, 4, 5, 5),
        "decoder.deconv2.weight": (4, 8, 5, 5),
        "decoder.deconv3.weight": (8, 1, 5, 5),
    }, "bias-free layers, Ruff's names"
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert [m.num_features for m in norms] == [8, 4, 4, 8]
    assert all(not m.affine and m.eps == 1e-4 for m in norms)
    assert all(getattr(m, "bias", None) is None for m in net.modules() if hasattr(m, "weight"))
    torch.manual_seed(0)
    x = torch.rand(5, 1, 28, 28)
    for training in (True, False):
        net.train(training)
        code = net.encoder(x)
        assert code.shape == (5, 32)
        out = net.decoder(code)
        assert out.shape == (5, 1, 28, 28) and bool(((out > 0) & (out < 1)).all())
        torch.testing.assert_close(out, ruff_forward(net, x), rtol=0, atol=0)
    wide = LeNetAutoencoder((1, 28, 28), latent_dim=64)
    assert wide.decoder(wide.encoder(x)).shape == (5, 1, 28, 28)


@pytest.mark.parametrize(
    ("shape", "latent_dim", "message"),
    [
        ((1, 32, 32), 32, "takes 1x28x28 images, not 1x32x32"),
        ((3, 28, 28), 32, "takes 1x28x28 images, not 3x28x28"),
        ((1, 28, 28), 24, r"model\.latent_dim=24 must be a multiple of 16"),
    ],
)
def test_other_shapes_and_codes_are_refused(shape: tuple, latent_dim: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        AutoencoderModule(net=DCAE, input_shape=shape, latent_dim=latent_dim)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"scheduler": "multistep", "lr_milestones": [0]}, "strictly increasing positive"),
        ({"scheduler": "multistep", "lr_milestones": [5, 5]}, "strictly increasing positive"),
        ({"scheduler": "multistep", "lr_milestones": [250, 100]}, "strictly increasing"),
        ({"scheduler": "multistep", "lr_milestones": []}, "strictly increasing positive"),
        ({"scheduler": "multistep", "lr_milestones": [2.5]}, "strictly increasing positive"),
        ({"scheduler": "multistep"}, "scheduler=multistep needs model.lr_milestones"),
        ({"lr_milestones": [250]}, "are for model.scheduler=multistep, not None"),
        ({"scheduler": "cosine", "lr_milestones": [250]}, "multistep, not cosine"),
        ({"scheduler": "multistep", "lr_milestones": [9], "lr_gamma": 0}, "model.lr_gamma=0.0"),
        ({"scheduler": "step"}, "model.scheduler=step is unknown"),
        ({"preprocess": "zca"}, r"model\.preprocess=zca is unknown; choose null or gcn_minmax"),
    ],
)
def test_bad_schedules_and_preprocessing_are_refused(settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        AutoencoderModule(**settings)
    assert "\n" not in str(err.value)


def test_gcn_minmax_is_ruffs_formula() -> None:
    rng = np.random.default_rng(3)
    images = rng.random((6, 1, 28, 28), dtype=np.float32) * rng.random((6, 1, 1, 1)).astype(
        np.float32
    )
    transform = GcnMinMax()
    assert not transform.is_fitted
    transform.fit(torch.from_numpy(images), batch_size=4)  # two chunks
    normalised = ruff_preprocessing(images, 0.0, 1.0)
    lo, hi = float(transform.lo), float(transform.hi)
    assert lo == pytest.approx(normalised.min(), rel=1e-5)
    assert hi == pytest.approx(normalised.max(), rel=1e-5)
    got = transform(torch.from_numpy(images)).numpy()
    np.testing.assert_allclose(got, ruff_preprocessing(images, lo, hi), rtol=1e-5, atol=1e-6)
    assert got.min() == 0.0 and got.max() == pytest.approx(1.0, abs=1e-6), "training spans [0, 1]"
    assert transform.lo.dtype == transform.hi.dtype == torch.float32
    # a black or white image has no contrast: 0 after normalisation, not NaN
    blank = torch.stack([torch.zeros(1, 28, 28), torch.ones(1, 28, 28)])
    assert torch.equal(global_contrast_normalization(blank), torch.zeros_like(blank))
    with pytest.raises(ConfigError, match="needs training images with contrast"):
        GcnMinMax().fit(torch.zeros(3, 1, 28, 28))


def test_the_default_model_has_no_input_transform_and_old_checkpoints_load(
    tmp_path: Path,
) -> None:
    model = AutoencoderModule()
    assert model.input_transform is None and model.hparams.preprocess is None
    assert not [k for k in model.state_dict() if k.startswith("input_transform")]
    x = torch.rand(4, 1, 28, 28)
    assert model.model_input(x) is x
    old = {k: v for k, v in model.hparams.items() if k not in ("preprocess", "lr_milestones")}
    path = tmp_path / "old.ckpt"
    torch.save({"anomaly_ae": {}, "hyper_parameters": old, "state_dict": model.state_dict()}, path)
    loaded = load_autoencoder(path)
    assert loaded.hparams.preprocess is None and loaded.input_transform is None
    assert torch.equal(loaded.score_images(x), model.score_images(x))


def test_model_dcae_composes_with_ruffs_settings() -> None:
    model = compose_config("train", ["model=dcae"]).model
    assert model.net == {"_target_": LENET_NET}
    # their Theano code's 1e-3 on a per-image sum of squared errors, at our per-pixel mean's scale
    assert (model.latent_dim, model.lr) == (32, 1e-4)
    assert model.weight_decay == pytest.approx(1e-3 / 784, rel=1e-4)
    assert (model.scheduler, list(model.lr_milestones), model.lr_gamma) == ("multistep", [250], 0.1)
    assert model.preprocess == "gcn_minmax"
    module = hydra.utils.instantiate(model)
    assert isinstance(module.input_transform, GcnMinMax)


def logged_rates(out: Path) -> list[tuple[int, float]]:
    with open(out / "csv" / "metrics.csv") as f:
        return [(int(r["step"]), float(r["lr-Adam"])) for r in csv.DictReader(f) if r["lr-Adam"]]


def training_images(tiny_root: Path, out: Path) -> torch.Tensor:
    """The training split a tiny run trains on, read by the run's own data module."""
    config = compose_config("train", tiny_overrides(tiny_root, out))
    datamodule = hydra.utils.instantiate(config.data)
    datamodule.setup("fit")
    return datamodule.train_set.images


def test_dcae_trains_end_to_end_with_its_schedule_and_fitted_preprocessing(
    tiny_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    results = run_train(
        tiny_root,
        out,
        "model=dcae",
        "model.preprocess=gcn_minmax",
        "model.scheduler=multistep",
        "model.lr_milestones=[1,2]",
        "trainer.max_epochs=3",
        "callbacks=[default,lr_monitor]",
        "logger=csv",
        "trainer.log_every_n_steps=1",
    )
    assert results["metrics"]["auroc"] is not None
    # 10 optimizer steps an epoch; the rate drops by lr_gamma after epochs 1 and 2
    rates = logged_rates(out)
    assert [step for step, _ in rates] == list(range(30))
    expected = [1e-4] * 10 + [1e-5] * 10 + [1e-6] * 10
    assert [lr for _, lr in rates] == pytest.approx(expected, rel=1e-6)

    ckpt = out / "checkpoints" / "last.ckpt"
    model = load_autoencoder(ckpt)
    assert model.hparams.preprocess == "gcn_minmax" and model.hparams.lr_milestones == [1, 2]
    saved = torch.load(ckpt, weights_only=True)["state_dict"]
    bounds = (float(saved["input_transform.lo"]), float(saved["input_transform.hi"]))
    fitted = GcnMinMax()
    fitted.fit(training_images(tiny_root, tmp_path / "data"))
    assert bounds == (float(fitted.lo), float(fitted.hi)), "fitted on the training images"
    assert (float(model.input_transform.lo), float(model.input_transform.hi)) == bounds

    # the Detector and an exported file score through the same transform as the module
    rng = np.random.default_rng(5)
    images = torch.from_numpy(rng.random((8, 1, 28, 28), dtype=np.float32))
    expected_scores = model.score_images(images)
    pre = torch.from_numpy(ruff_preprocessing(images.numpy(), *bounds)).float()
    with torch.no_grad():
        direct = ((model.eval()(pre) - pre) ** 2).flatten(1).sum(1)
    torch.testing.assert_close(expected_scores, direct, rtol=1e-4, atol=1e-4)
    detector = Detector.from_checkpoint(ckpt)
    np.testing.assert_allclose(detector.score(images.numpy()), expected_scores.numpy(), rtol=1e-6)
    path = export_detector(model, "torchscript", tmp_path / "dcae.pt")
    check = check_export(model, path, "torchscript", images)
    assert check["scores_beyond_tolerance"] == 0 and check["flags_differ"] == 0
    assert check["max_abs_score_difference"] < 1e-3

    # a resumed run keeps the checkpoint's bounds: nothing is fitted again
    def refit(*args: object) -> None:
        raise AssertionError("a resumed run refitted the input transform")

    monkeypatch.setattr(GcnMinMax, "fit", refit)
    more = run_train(tiny_root, tmp_path / "more", f"ckpt_path={ckpt}", "trainer.max_epochs=4")
    assert more["config"]["model"]["preprocess"] == "gcn_minmax"
    resumed = torch.load(more["checkpoints"]["last"], weights_only=True)["state_dict"]
    assert (float(resumed["input_transform.lo"]), float(resumed["input_transform.hi"])) == bounds


def test_the_figure_shows_the_models_inputs_and_leaves_batchnorm_alone() -> None:
    model = AutoencoderModule(net=DCAE, preprocess="gcn_minmax")
    model.input_transform.set_bounds(-0.5, 15.0)
    model.train()
    images = torch.rand(3, 1, 28, 28)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    inputs, reconstructions = inputs_and_reconstructions(model, images)
    torch.testing.assert_close(inputs, model.model_input(images))
    assert reconstructions.shape == images.shape
    assert model.training, "the mode is restored"
    # BatchNorm's running statistics unchanged (and the unfitted threshold still NaN)
    torch.testing.assert_close(model.state_dict(), before, rtol=0, atol=0, equal_nan=True)
    errors = ((inputs - reconstructions) ** 2).flatten(1).sum(1)
    torch.testing.assert_close(errors, model.score_images(images))
    assert not math.isnan(float(errors.sum()))
