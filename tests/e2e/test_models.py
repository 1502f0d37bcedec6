"""Each model trained end to end on tiny data: a network of one's own by ``_target_``,
model=dcae with its schedule and fitted preprocessing, model=vae scored, calibrated,
evaluated, detected and exported like the plain autoencoder."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import hydra
import numpy as np
import pytest
import torch

from anomaly_ae.checkpoint import load_autoencoder
from anomaly_ae.detector import Detector
from anomaly_ae.errors import CheckpointError
from anomaly_ae.evaluate import evaluate
from anomaly_ae.export import check_export, export_detector
from anomaly_ae.models.input_transform import GcnMinMax
from anomaly_ae.models.vae import VaeModule
from tests.helpers import (
    cli_overrides,
    compose_config,
    ruff_preprocessing,
    run_module,
    run_train,
    tiny_overrides,
)

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
    assert model.threshold.fitted() == pytest.approx(results["threshold"])


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


@pytest.mark.parametrize("score", ["reconstruction", "mahalanobis"])
def test_model_vae_runs_end_to_end(score: str, tiny_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "train"
    results = run_train(tiny_root, out, "model=vae", "model.beta=0.5", f"score={score}")
    assert results["metrics"]["auroc"] is not None
    ckpt = out / "checkpoints" / "last.ckpt"
    model = load_autoencoder(ckpt)
    assert isinstance(model, VaeModule) and model.hparams.beta == 0.5
    overrides = tiny_overrides(tiny_root, tmp_path / "eval", f"ckpt_path={ckpt}")
    again = evaluate(compose_config("evaluate", overrides), overrides)
    assert again["threshold"] == pytest.approx(results["threshold"], rel=1e-6)
    for key, value in results["metrics"].items():
        assert again["metrics"][key] == pytest.approx(value, abs=1e-6), key
    images = torch.rand(8, 1, 28, 28)
    detector = Detector.from_checkpoint(ckpt)
    np.testing.assert_allclose(detector.score(images.numpy()), model.score_images(images).numpy())
    path = export_detector(model, "torchscript", tmp_path / "vae.pt")
    check = check_export(model, path, "torchscript", images)
    assert check["scores_beyond_tolerance"] == 0 and check["flags_differ"] == 0
    # resuming it without repeating model=vae keeps the VAE
    more = run_train(tiny_root, tmp_path / "more", f"ckpt_path={ckpt}", "trainer.max_epochs=3")
    assert more["config"]["model"]["_target_"] == "anomaly_ae.models.vae.VaeModule"
    assert more["config"]["model"]["beta"] == 0.5
