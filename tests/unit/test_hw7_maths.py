"""hw7 Problems 1-6, the mathematics under the framework, checked on anomaly_ae's own code.

Every test here runs a network, rule or metric of the package and fails if it stops being what
hw7's mathematics says it is. The identities that involve torch or numpy alone (the
adjoint of pooling, the all-ones transposed convolution, log-sum-exp and softmax, inverse-CDF
sampling, f-divergences) are worked through in notebooks/hw7_maths.ipynb.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from anomaly_ae.metrics import detection_metrics, scores_to_unit_interval
from anomaly_ae.models.conv import ConvDecoder, ConvEncoder
from anomaly_ae.models.mlp import Encoder
from anomaly_ae.thresholds import ConformalThreshold, QuantileThreshold


def of_type(module: nn.Module, kind: type[nn.Module]) -> list[nn.Module]:
    """The submodules of ``module`` of type ``kind``, in the order they run."""
    return [m for m in module.modules() if isinstance(m, kind)]


# ---------------------------------------------------------------- Problem 1: pooling adjoint
def test_backprop_through_the_nearest_decoder_upsampling_is_four_times_average_pooling() -> None:
    """The adjoint of 2x2 average pooling T is nearest upsampling / 4, so the gradient that
    backpropagation sends through each of ``upsampling=nearest``'s ``Upsample`` layers U = 4 T^T
    is 4 T applied to the gradient at its output."""
    torch.manual_seed(0)
    decoder = ConvDecoder((2, 12, 16), channels=(3, 5), latent_dim=6, upsampling="nearest")
    upsamplers = of_type(decoder, nn.Upsample)
    assert len(upsamplers) == 2  # H/4 -> H/2 -> H

    seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def keep(_module: nn.Module, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
        inputs[0].retain_grad()
        output.retain_grad()
        seen.append((inputs[0], output))

    hooks = [layer.register_forward_hook(keep) for layer in upsamplers]
    out = decoder(torch.randn(4, 6))
    (out * torch.randn_like(out)).sum().backward()
    for hook in hooks:
        hook.remove()

    assert len(seen) == 2
    for layer, (before, after) in zip(upsamplers, seen, strict=True):
        assert after.shape[-2:] == (2 * before.shape[-2], 2 * before.shape[-1])
        torch.testing.assert_close(before.grad, 4 * F.avg_pool2d(after.grad, 2))
        # and the defining identity <T x, y> = <x, T^T y> = <x, U y> / 4 with the layer itself
        x, y = torch.randn_like(after), torch.randn_like(before)
        torch.testing.assert_close((F.avg_pool2d(x, 2) * y).sum(), (x * layer(y)).sum() / 4)


# ----------------------------------------------- Problem 2: transposed convolution upsampling
@pytest.mark.parametrize(
    ("input_shape", "channels"),
    [((1, 8, 8), (1, 1)), ((1, 28, 28), (4, 8)), ((3, 12, 16), (2, 5))],
    ids=["one-channel", "mnist", "rgb-like"],
)
def test_nearest_decoder_is_the_transpose_decoder_with_ones_kernels(
    input_shape: tuple[int, int, int], channels: tuple[int, int]
) -> None:
    """A transposed convolution with an all-ones r x r kernel and stride r is nearest
    upsampling by r. So ``upsampling=nearest`` (Upsample, then a 3x3 convolution) with only
    the centre tap of each 3x3 kernel, M[o, i], equals ``upsampling=transpose`` (a 2x2,
    stride-2 transposed convolution) with the kernels M[o, i] x ones(2, 2): with one channel
    and M = 1, hw7's all-ones layer. Checked on the two whole decoders."""
    torch.manual_seed(0)
    nearest = ConvDecoder(input_shape, channels, latent_dim=5, upsampling="nearest")
    transpose = ConvDecoder(input_shape, channels, latent_dim=5, upsampling="transpose")
    convs, transposed = of_type(nearest, nn.Conv2d), of_type(transpose, nn.ConvTranspose2d)
    assert len(convs) == len(transposed) == 2
    with torch.no_grad():
        (linear_n,), (linear_t,) = of_type(nearest, nn.Linear), of_type(transpose, nn.Linear)
        linear_t.load_state_dict(linear_n.state_dict())
        for conv, up in zip(convs, transposed, strict=True):
            assert conv.kernel_size == (3, 3) and up.kernel_size == up.stride == (2, 2)
            out_c, in_c = conv.out_channels, conv.in_channels
            mix = torch.ones(out_c, in_c) if out_c == in_c == 1 else torch.randn(out_c, in_c)
            conv.weight.zero_()
            conv.weight[:, :, 1, 1] = mix
            up.weight.copy_(mix.T[:, :, None, None].expand(-1, -1, 2, 2))  # (in, out, 2, 2)
            up.bias.copy_(conv.bias)
        z = torch.randn(6, 5)
        out = nearest(z)
        assert out.shape == (6, *input_shape)
        torch.testing.assert_close(out, transpose(z))


# ------------------------------------------------------ Problem 3: log-sum-exp and softmax
def test_unit_interval_rescaling_keeps_the_order_a_saturated_sigmoid_ties() -> None:
    """A sigmoid is the softmax of (x, 0): exp(x - logsumexp(x, 0)). By Problem 3,
    logsumexp(x, 0) lies within log(2) of max(x, 0) = x, and in float32 it *is* x above ~17,
    so every large reconstruction error becomes 1.0. The metrics' rescaling must keep all of
    their order: anomalies that score above every normal image get an AUROC of 1."""
    normal = torch.tensor([18.0, 25.0, 40.0, 60.0, 95.0])
    anomaly = torch.tensor([120.0, 300.0, 1e3, 5e3])
    scores = torch.cat([normal, anomaly])
    pair = torch.stack([scores, torch.zeros_like(scores)])
    assert torch.equal(torch.logsumexp(pair, 0), scores)  # the log-sum-exp equals the max
    assert torch.equal(torch.sigmoid(scores), torch.ones_like(scores))  # all tied

    probs = scores_to_unit_interval(scores)
    assert probs.min() >= 0 and probs.max() == 1
    assert bool((probs.diff() > 0).all()), "the rescaled scores lost the scores' order"
    shuffled = torch.randperm(len(scores), generator=torch.Generator().manual_seed(0))
    assert torch.equal(scores_to_unit_interval(scores[shuffled]), probs[shuffled])

    targets = torch.cat([torch.zeros(len(normal)), torch.ones(len(anomaly))]).long()
    metrics = detection_metrics(scores, targets, threshold=100.0)
    assert metrics["auroc"] == pytest.approx(1.0)  # a sigmoid's ties would give 0.5
    assert metrics["average_precision"] == pytest.approx(1.0)
    assert metrics["fpr_at_95_tpr"] == 0.0


# ----------------------------------------------------------- Problem 4: inverse-CDF sampling
def generalized_inverse(u: Fraction, sample: Sequence[float]) -> float:
    """G(u) = inf{x : u <= F_n(x)} of the empirical CDF F_n(x) = #{s <= x} / n, by its
    definition in exact arithmetic: F_n only jumps at the sample's values, so the infimum is
    the smallest of them at which F_n reaches u."""
    values = sorted(sample)
    return next(x for x in values if u <= Fraction(bisect_right(values, x), len(values)))


# levels as a user writes them; at 0.18, 0.45 and 0.7 float rounding puts n * (1 - alpha) just
# above a whole number for some n (10 * (1 - 0.7) = 3.0000000000000004): the rule must not
# take the next score for it
ALPHAS = ["0.001", "0.01", "0.02", "0.05", "0.1", "0.125", "0.18", "0.2", "0.25", "0.3"]


ALPHAS += ["0.45", "0.5", "0.7", "0.75", "0.9", "0.95"]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 10, 20, 40, 99, 100, 150, 250, 1000, 2000])
def test_quantile_threshold_is_the_inverse_cdf_of_the_validation_scores(n: int) -> None:
    """QuantileThreshold(alpha) is G(1 - alpha) of the scores' empirical CDF, at every level,
    whatever the sample size and however many scores tie (n (1 - alpha) is often a whole
    number here: G picks the lower value at the CDF's jumps)."""
    rng = np.random.default_rng(n)
    for sample in (rng.integers(0, max(2, n // 4), n), rng.gamma(2.0, 10.0, n)):
        scores = torch.from_numpy(sample.astype(np.float32))
        values = scores.double().tolist()
        for alpha in ALPHAS:
            expected = generalized_inverse(1 - Fraction(alpha), values)
            assert QuantileThreshold(float(alpha)).fit(scores).value == expected, alpha


def test_quantile_threshold_turns_uniforms_into_samples_of_the_distribution() -> None:
    """Problem 4 with the package's rule as G: for U uniform on (0, 1), G(U) has the CDF F.
    F is the empirical CDF of 20 values (atoms with probabilities k / 20), and U runs over the
    midpoints of 2,000 equal cells, so P(G(U) <= x) = F(x) holds exactly."""
    atoms = [-1.0, 0.0, 0.5, 2.0, 7.0]
    counts = [2, 7, 1, 6, 4]  # probabilities 0.1, 0.35, 0.05, 0.3, 0.2
    scores = torch.tensor([a for a, c in zip(atoms, counts, strict=True) for _ in range(c)])
    scores = scores[torch.randperm(len(scores), generator=torch.Generator().manual_seed(0))]
    cells = 2000
    u = (np.arange(cells) + 0.5) / cells
    samples = np.array([QuantileThreshold(1 - v).fit(scores).value for v in u])
    cdf = np.cumsum(counts) / sum(counts)
    np.testing.assert_allclose([(samples <= a).mean() for a in atoms], cdf, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n", [3, 9, 19, 49, 99, 250])
def test_conformal_threshold_is_the_inverse_cdf_with_one_more_score_at_infinity(n: int) -> None:
    """Split conformal prediction adds the new image to the validation scores: with
    F_{n+1} the empirical CDF of the n scores and +inf, the p-value (1 + #{s_i >= s}) / (n + 1)
    is the upper tail P_{n+1}(X >= s), and ConformalThreshold(alpha) is G_{n+1}(1 - alpha),
    infinite when alpha < 1 / (n + 1). So p(s) <= alpha exactly when s is above it."""
    rng = np.random.default_rng(n)
    calibration = torch.from_numpy(rng.integers(0, 12, n).astype(np.float32))  # with ties
    augmented = [*calibration.double().tolist(), math.inf]
    test = torch.from_numpy(rng.integers(-1, 15, 200).astype(np.float32))
    for alpha in ALPHAS:
        fit = ConformalThreshold(float(alpha)).fit(calibration)
        assert fit.value == generalized_inverse(1 - Fraction(alpha), augmented), alpha
        p = ConformalThreshold.p_values(calibration, test)
        upper_tail = [sum(x >= s for x in augmented) / (n + 1) for s in test.tolist()]
        torch.testing.assert_close(p, torch.tensor(upper_tail, dtype=torch.float64))
        assert torch.equal(test > fit.value, p <= float(alpha)), alpha


# ------------------------------------------------ Problem 6: backpropagation through a layer
def hw7_backprop(
    layers: list[tuple[nn.Module, int, int]], x: torch.Tensor, readout: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
    """hw7's forward and backward passes through y_l = relu(A_{w_l} y_{l-1} + b_l).

    ``layers`` holds ``(module, stride, padding)`` of ``Conv2d`` and ``Linear`` layers (a
    linear layer is a convolution whose one patch is the whole input). A_w y = W C*_y, with
    C*_y the matrix of y's patches (``unfold``). Backwards from v_L = readout (the scalar
    y_L = <readout, y>): g_l = v_l * relu'(pre_l), dy_L/dW_l = g_l C*_{y_{l-1}}^T,
    dy_L/db_l = g_l 1 and v_{l-1} = A_{w_l}^T g_l, the ``fold`` of W^T g_l (a transposed
    convolution). Returns the output, the weight and bias gradients in the order of ``layers``,
    and the gradient at the input.
    """
    batch, y, tape = x.shape[0], x, []
    for module, stride, padding in layers:
        weight = module.weight.reshape(module.weight.shape[0], -1)
        if isinstance(module, nn.Conv2d):
            patches = F.unfold(y, module.kernel_size, padding=padding, stride=stride)
            size = [
                (s + 2 * padding - k) // stride + 1
                for s, k in zip(y.shape[2:], module.kernel_size, strict=True)
            ]
        else:
            patches, size = y.reshape(batch, -1, 1), []
        pre = weight @ patches + module.bias[:, None]  # (B, out, number of patches)
        tape.append((module, stride, padding, y.shape, patches, weight, pre))
        y = pre.clamp(min=0).reshape(batch, -1, *size)

    grads: list[torch.Tensor] = []
    v = readout
    for module, stride, padding, in_shape, patches, weight, pre in reversed(tape):
        g = v.reshape(pre.shape) * (pre > 0)
        weight_grad = (g @ patches.transpose(1, 2)).sum(0).reshape(module.weight.shape)
        grads = [weight_grad, g.sum((0, 2)), *grads]
        back = weight.T @ g
        if isinstance(module, nn.Conv2d):
            v = F.fold(back, in_shape[2:], module.kernel_size, padding=padding, stride=stride)
        else:
            v = back.reshape(in_shape)
    return y.reshape(batch, -1), grads, v


@pytest.mark.parametrize("network", ["mlp", "conv"])
def test_encoder_gradients_are_hw7s_backpropagation(network: str) -> None:
    """The package's encoders are hw7's networks y_l = relu(A_{w_l} y_{l-1} + b_l): the
    MLP's dense layers (784-256-128-32 in hw7's MlpAutoencoder) and the conv encoder's
    two 3x3, stride-2, padding-1 convolutions and its linear map to the code, ReLU after each.
    Their forward pass and autograd's gradients equal hw7's hand-derived recursion."""
    torch.manual_seed(0)
    if network == "mlp":
        encoder = Encoder((1, 10, 10), hidden_dims=(16, 12), latent_dim=6).double()
        layers = [(m, 1, 0) for m in of_type(encoder, nn.Linear)]
        assert len(layers) == 3
    else:
        encoder = ConvEncoder((2, 12, 8), channels=(3, 4), latent_dim=6).double()
        convs, linears = of_type(encoder, nn.Conv2d), of_type(encoder, nn.Linear)
        assert len(convs) == 2 and len(linears) == 1
        layers = [(convs[0], 2, 1), (convs[1], 2, 1), (linears[0], 1, 0)]
    shape = (5, 1, 10, 10) if network == "mlp" else (5, 2, 12, 8)
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    readout = torch.randn(5, 6, dtype=torch.float64)  # the scalar y_L = <readout, code>

    code = encoder(x)
    (code * readout).sum().backward()
    with torch.no_grad():
        expected, grads, at_input = hw7_backprop(layers, x.detach(), readout)
    torch.testing.assert_close(code.detach(), expected)
    autograd = [p.grad for module, _, _ in layers for p in (module.weight, module.bias)]
    assert len(autograd) == len(list(encoder.parameters()))
    for got, hand in zip(autograd, grads, strict=True):
        torch.testing.assert_close(got, hand)
    torch.testing.assert_close(x.grad, at_input)
