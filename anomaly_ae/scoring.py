"""The anomaly score: how badly an image is reconstructed."""

import torch


def reconstruction_error(images: torch.Tensor, reconstructions: torch.Tensor) -> torch.Tensor:
    """Per-image sum of squared reconstruction error, shape ``(B,)`` (the seed's score)."""
    return (images - reconstructions).square().flatten(1).sum(1)
