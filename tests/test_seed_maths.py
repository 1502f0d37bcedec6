"""hw7 Problems 1-5, the mathematics under the framework, as executable checks.

Explained step by step in notebooks/seed_maths.ipynb.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from anomaly_ae.thresholds import QuantileThreshold


# ---------------------------------------------------------------- Problem 1: pooling adjoint
def test_adjoint_of_2x2_average_pooling_is_a_quarter_of_nearest_upsampling() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8)
    y = torch.randn(2, 3, 4, 4)  # a cotangent in the pooled space
    # the vector-Jacobian product of a linear map T is its adjoint applied to y: T^T y
    _, vjp = torch.func.vjp(lambda t: F.avg_pool2d(t, 2), x)
    (adjoint_y,) = vjp(y)
    expected = F.interpolate(y, scale_factor=2, mode="nearest") / 4
    torch.testing.assert_close(adjoint_y, expected)
    # and the defining identity <T x, y> = <x, T^T y>
    torch.testing.assert_close((F.avg_pool2d(x, 2) * y).sum(), (x * expected).sum())


# ----------------------------------------------- Problem 2: transposed convolution upsampling
@pytest.mark.parametrize("r", [2, 3])
def test_transposed_convolution_with_ones_is_nearest_upsampling(r: int) -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 1, 5, 5)
    layer = nn.ConvTranspose2d(1, 1, r, stride=r, bias=False)
    layer.weight.data = torch.ones_like(layer.weight.data)
    torch.testing.assert_close(layer(x), nn.Upsample(scale_factor=r)(x))


def test_with_several_channels_the_ones_kernel_must_not_mix_them() -> None:
    """The seed sets every weight to one; with C > 1 channels that sums the channels, so the
    equality needs a per-channel (depthwise, groups=C) kernel, and no bias."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, 4)
    mixing = nn.ConvTranspose2d(3, 3, 2, stride=2, bias=False)
    mixing.weight.data = torch.ones_like(mixing.weight.data)
    upsampled = nn.Upsample(scale_factor=2)(x)
    torch.testing.assert_close(mixing(x), upsampled.sum(1, keepdim=True).expand(-1, 3, -1, -1))
    depthwise = nn.ConvTranspose2d(3, 3, 2, stride=2, groups=3, bias=False)
    depthwise.weight.data = torch.ones_like(depthwise.weight.data)
    torch.testing.assert_close(depthwise(x), upsampled)


# ------------------------------------------------------ Problem 3: log-sum-exp and softmax
def smooth_max(x: torch.Tensor, beta: float) -> torch.Tensor:
    return torch.logsumexp(beta * x, dim=-1) / beta


def test_log_sum_exp_tends_to_the_max_within_log_n_over_beta() -> None:
    x = torch.tensor([0.3, -1.2, 2.5, 2.4, 0.0], dtype=torch.float64)
    for beta in (1.0, 10.0, 100.0, 1e4):
        v = smooth_max(x, beta).item()
        assert x.max().item() <= v <= x.max().item() + math.log(len(x)) / beta + 1e-12
    assert smooth_max(x, 1e6).item() == pytest.approx(2.5, abs=1e-6)


def test_gradient_of_log_sum_exp_is_softmax_and_tends_to_the_argmax() -> None:
    x = torch.tensor([0.3, -1.2, 2.5, 2.4, 0.0], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(smooth_max(x, 1.0), x)
    torch.testing.assert_close(grad, torch.softmax(x.detach(), dim=0))
    (grad,) = torch.autograd.grad(smooth_max(x, 1e3), x)
    torch.testing.assert_close(grad, F.one_hot(torch.tensor(2), 5).double(), atol=1e-12, rtol=0)


# ----------------------------------------------------------- Problem 4: inverse-CDF sampling
def generalized_inverse(u: np.ndarray, support: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """G(u) = inf{x : u <= F(x)} for a CDF given on a sorted support."""
    return support[np.searchsorted(cdf, u, side="left")]


def test_inverse_cdf_sampling_reproduces_a_discrete_cdf() -> None:
    support = np.array([-1.0, 0.0, 0.5, 2.0, 7.0])
    probabilities = np.array([0.1, 0.35, 0.05, 0.3, 0.2])
    cdf = np.cumsum(probabilities)
    cdf[-1] = 1.0
    u = np.random.default_rng(4).random(200_000)
    samples = generalized_inverse(u, support, cdf)
    frequencies = np.array([(samples == s).mean() for s in support])
    # chi-square statistic with 4 degrees of freedom; 18.47 is its 0.999 quantile
    chi2 = len(u) * ((frequencies - probabilities) ** 2 / probabilities).sum()
    assert chi2 < 18.47
    # F at the atoms is reproduced: P(G(U) <= x) = F(x)
    np.testing.assert_allclose([(samples <= s).mean() for s in support], cdf, atol=0.005)


def test_inverse_cdf_sampling_reproduces_a_continuous_cdf() -> None:
    u = np.random.default_rng(5).random(100_000)
    samples = -np.log1p(-u) / 2.0  # G of the exponential CDF F(x) = 1 - exp(-2x)
    grid = np.linspace(0, 3, 301)
    empirical = np.searchsorted(np.sort(samples), grid, side="right") / len(samples)
    ks = np.abs(empirical - (1 - np.exp(-2 * grid))).max()
    assert ks < 1.95 / math.sqrt(len(samples))  # Kolmogorov-Smirnov at the 0.001 level


def test_quantile_threshold_is_the_generalized_inverse_of_the_empirical_cdf() -> None:
    scores = torch.tensor([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0])
    values = np.sort(scores.numpy().astype(np.float64))
    empirical_cdf = np.array([(values <= v).mean() for v in values])
    for alpha in (0.05, 0.1, 0.25, 0.5, 0.75):
        u = 1 - alpha
        brute = min(v for v, f in zip(values, empirical_cdf, strict=True) if u <= f)
        assert QuantileThreshold(alpha).fit(scores).value == brute


# ------------------------------------------------------------------- Problem 5: f-divergences
def f_divergence(f, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """D_f(X || Y) = sum_x f(p(x) / q(x)) q(x), the seed's convention."""
    return (f(p / q) * q).sum()


def random_distributions(seed: int, n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    p = torch.rand(n, generator=generator, dtype=torch.float64) + 0.01
    q = torch.rand(n, generator=generator, dtype=torch.float64) + 0.01
    return p / p.sum(), q / q.sum()


F_CONVEX = {
    "-log t": lambda t: -torch.log(t),
    "t log t": lambda t: t * torch.log(t),
    "(t-1)^2": lambda t: (t - 1) ** 2,
    "|t-1|/2": lambda t: (t - 1).abs() / 2,
    "(sqrt t - 1)^2": lambda t: (t.sqrt() - 1) ** 2,
}


@pytest.mark.parametrize("name", list(F_CONVEX))
def test_f_divergences_are_non_negative_and_zero_on_equal_distributions(name: str) -> None:
    f = F_CONVEX[name]
    for seed in range(20):
        p, q = random_distributions(seed)
        assert f_divergence(f, p, q).item() >= -1e-12
        assert f_divergence(f, p, p).item() == pytest.approx(0.0, abs=1e-12)


def test_minus_log_and_t_log_t_give_the_two_kl_directions() -> None:
    from torch.distributions import Categorical, kl_divergence

    for seed in range(10):
        p, q = random_distributions(seed)
        kl_pq = kl_divergence(Categorical(probs=p), Categorical(probs=q))
        kl_qp = kl_divergence(Categorical(probs=q), Categorical(probs=p))
        torch.testing.assert_close(f_divergence(F_CONVEX["t log t"], p, q), kl_pq)
        torch.testing.assert_close(f_divergence(F_CONVEX["-log t"], p, q), kl_qp)
