"""anomaly_ae.models.input_transform: GCN + min-max is Ruff et al.'s formula; the default model
has no input transform and older checkpoints still load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from anomaly_ae.checkpoint import load_autoencoder
from anomaly_ae.errors import ConfigError
from anomaly_ae.models import AutoencoderModule
from anomaly_ae.models.input_transform import GcnMinMax, global_contrast_normalization
from tests.helpers import ruff_preprocessing


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
