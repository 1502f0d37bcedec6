"""anomaly_ae.reporting.reconstruction_figure: which images it shows, and that it shows the
model's inputs without changing the model."""

from __future__ import annotations

import math

import torch

from anomaly_ae.models import AutoencoderModule
from anomaly_ae.models.nets import LENET_NET
from anomaly_ae.reporting.reconstruction_figure import inputs_and_reconstructions, typical_and_worst


def test_typical_images_are_nearest_the_median_and_worst_are_the_likeliest_errors() -> None:
    scores = torch.tensor([5.0, 1.0, 9.0, 4.5, 7.0, 20.0, 0.5])  # median 5
    picks = typical_and_worst(scores, anomalous=False, n=2)
    assert picks == [("typical", 0), ("typical", 3), ("worst", 5), ("worst", 2)]
    # anomalies: the worst are the lowest scores, the ones a threshold misses first
    assert typical_and_worst(scores, anomalous=True, n=2)[2:] == [("worst", 6), ("worst", 1)]


DCAE = {"_target_": LENET_NET}


def test_the_figure_shows_the_models_inputs_and_leaves_batchnorm_alone() -> None:
    model = AutoencoderModule(net=DCAE, preprocess="gcn_minmax")
    model.input_transform.set_bounds(-0.5, 15.0)
    model.train()
    images = torch.rand(3, 1, 28, 28)
    before = {k: v.clone() for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)}
    inputs, reconstructions = inputs_and_reconstructions(model, images)
    torch.testing.assert_close(inputs, model.model_input(images))
    assert reconstructions.shape == images.shape
    assert model.training, "the mode is restored"
    # BatchNorm's running statistics unchanged (and the unfitted threshold still NaN)
    after = {k: v for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)}
    torch.testing.assert_close(after, before, rtol=0, atol=0, equal_nan=True)
    errors = ((inputs - reconstructions) ** 2).flatten(1).sum(1)
    torch.testing.assert_close(errors, model.score_images(images))
    assert not math.isnan(float(errors.sum()))
