"""``python -m anomaly_ae.export ckpt_path=... format=onnx|torchscript``: a stand-alone detector.

The exported model takes images ``(B, C, H, W)`` as floats in [0, 1] and returns the
anomaly score of each image and whether it is above the threshold, which is baked in. After
writing it, the command runs the exported file on a batch of images and checks it against
the checkpoint.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig
from torch import nn

from anomaly_ae.checkpoint import load_autoencoder
from anomaly_ae.cli import exit_on_user_error, prepare_process
from anomaly_ae.errors import ConfigError
from anomaly_ae.models import AutoencoderModule
from anomaly_ae.scoring import reconstruction_error

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}


class ExportedDetector(nn.Module):
    """Encoder, decoder and threshold: images -> (scores, is_anomaly)."""

    def __init__(self, model: AutoencoderModule) -> None:
        super().__init__()
        self.encoder = model.encoder
        self.decoder = model.decoder
        # float32, as the scores: the same comparison the module makes when it tests
        self.register_buffer(
            "threshold", torch.tensor(model.fitted_threshold(), dtype=torch.float32)
        )

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = reconstruction_error(images, self.decoder(self.encoder(images)))
        return scores, scores > self.threshold


def file_suffix(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ConfigError(f"format={fmt} is not supported; choose one of {', '.join(FORMATS)}")
    return FORMATS[fmt]


def check_images(shape: tuple[int, ...], count: int, seed: int) -> torch.Tensor:
    """Noise images from black to full brightness: their scores run from below the
    threshold of a trained detector to far above it, so the flags are compared on both
    sides."""
    generator = torch.Generator().manual_seed(seed)
    brightness = torch.linspace(0, 1, count).view(-1, *([1] * len(shape)))
    return torch.rand(count, *shape, generator=generator) * brightness


def export_detector(model: AutoencoderModule, fmt: str, path: str | Path) -> Path:
    """Write ``model`` with its threshold as ``fmt`` (``onnx`` or ``torchscript``) to ``path``."""
    file_suffix(fmt)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = ExportedDetector(model.cpu()).eval()
    example = torch.rand(2, *model.hparams.input_shape)
    if fmt == "torchscript":
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # TorchScript is deprecated upstream; it still runs
            torch.jit.save(torch.jit.trace(module, example), str(path))
        return path
    _require("onnx", "onnxscript")
    batch = torch.export.Dim("batch")
    torch.onnx.export(
        module,
        (example,),
        str(path),
        input_names=["images"],
        output_names=["score", "is_anomaly"],
        dynamic_shapes={"images": {0: batch}},
        dynamo=True,
        verbose=False,
    )
    return path


def run_exported(path: str | Path, fmt: str, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Scores and flags of ``images`` from the exported file."""
    if fmt == "torchscript":
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # deprecation notices of TorchScript
            scores, flags = torch.jit.load(str(path))(images)
        return scores.numpy(), flags.numpy()
    _require("onnxruntime")
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    scores, flags = session.run(None, {"images": images.numpy()})
    return scores, flags


def check_export(
    model: AutoencoderModule, path: str | Path, fmt: str, images: torch.Tensor
) -> dict[str, float]:
    """Compare the exported file with the checkpoint's model on ``images``."""
    with torch.no_grad():
        expected = model.cpu().eval().score(images)
    flags_expected = model.flag(expected).numpy()
    scores, flags = run_exported(path, fmt, images)
    difference = np.abs(scores - expected.numpy())
    return {
        "images": len(images),
        "max_abs_score_difference": float(difference.max()),
        "max_rel_score_difference": float((difference / np.maximum(expected.numpy(), 1e-12)).max()),
        "flags_differ": int((flags != flags_expected).sum()),
        "flagged": int(flags_expected.sum()),
    }


def _require(*packages: str) -> None:
    missing = [p for p in packages if importlib.util.find_spec(p) is None]
    if missing:
        raise ConfigError(f"this export needs {', '.join(missing)}: pip install -e '.[export]'")


def export(cfg: DictConfig) -> dict:
    prepare_process(cfg.flush_denormal)
    model = load_autoencoder(cfg.ckpt_path)
    suffix = file_suffix(cfg.format)
    path = Path(cfg.output or Path(cfg.paths.output_dir) / f"detector{suffix}")
    export_detector(model, cfg.format, path)
    images = check_images(tuple(model.hparams.input_shape), cfg.check_images, cfg.seed)
    check = check_export(model, path, cfg.format, images)
    print(f"written: {path} ({cfg.format}; threshold {model.fitted_threshold():.4f} baked in)")
    print(
        f"checked on {check['images']} images against the checkpoint: scores differ by at most "
        f"{check['max_abs_score_difference']:.2e} ({check['max_rel_score_difference']:.1e} "
        f"relative), {check['flags_differ']} flags differ ({check['flagged']} flagged)"
    )
    return {"path": str(path), "check": check}


@hydra.main(version_base="1.3", config_path="../conf", config_name="export")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        export(cfg)


if __name__ == "__main__":
    main()
