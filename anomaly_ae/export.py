"""``python -m anomaly_ae.export ckpt_path=... format=onnx|torchscript``: a stand-alone detector.

The exported model is one self-contained file (the ONNX file embeds its weights). Its input
``images`` is a float32 tensor ``[N, C, H, W]`` (``[N, 1, 28, 28]`` for hw7's model) with
values in [0, 1]; its outputs are ``score`` (float32 ``[N]``, the sum of squared
reconstruction error) and ``is_anomaly`` (bool ``[N]``, score above the baked-in threshold).
After writing it, the command runs the exported file on a batch of images and compares it with
the checkpoint; if scores differ beyond the tolerance, or flags differ other than for scores
within the tolerance of the threshold, it exits with an error line (the file is kept).
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
from anomaly_ae.cli import exit_on_user_error, require_values
from anomaly_ae.config import CONFIG_PATH, register_configs
from anomaly_ae.errors import AnomalyAEError, ConfigError
from anomaly_ae.key_hints import hints_for_unknown_keys
from anomaly_ae.models import AutoencoderModule
from anomaly_ae.schemas import ExportConfig
from anomaly_ae.scoring import ReconstructionScore

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}


class ExportMismatchError(AnomalyAEError):
    """The exported file does not compute what the checkpoint computes."""


def input_contract(shape: tuple[int, ...], score: str = ReconstructionScore.description) -> str:
    """What the exported file takes and returns, in one line (``score``: what it computes)."""
    dims = ", ".join(str(d) for d in shape)
    return (
        f"input 'images': float32 [N, {dims}], values in [0, 1]; outputs 'score': float32 [N] "
        f"({score}), 'is_anomaly': bool [N] (score > threshold)"
    )


class ExportedDetector(nn.Module):
    """The fitted input transform (``model.preprocess``), encoder, decoder, the fitted score and
    the threshold: images -> (scores, is_anomaly), as :meth:`AutoencoderModule.score`."""

    def __init__(self, model: AutoencoderModule) -> None:
        super().__init__()
        transform = model.input_transform
        self.input_transform = nn.Identity() if transform is None else transform
        self.encoder = model.encoder
        self.decoder = model.decoder
        self.scorer = model.scorer
        # float32, as the scores: the same comparison the module makes when it tests
        self.register_buffer(
            "threshold", torch.tensor(model.threshold.fitted(), dtype=torch.float32)
        )

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.input_transform(images)
        codes = self.encoder(x)
        scores = self.scorer(x, codes, self.decoder(codes))
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
        external_data=False,  # one file: the weights are embedded (hw7's model: ~2 MB)
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
    model: AutoencoderModule,
    path: str | Path,
    fmt: str,
    images: torch.Tensor,
    rtol: float = ExportConfig.rtol,
    atol: float = ExportConfig.atol,
) -> dict[str, float]:
    """Compare the exported file with the checkpoint's model on ``images``.

    A score agrees when ``|exported - expected| <= atol + rtol * |expected|``; a flag that
    differs counts against the export unless its expected score lies within that tolerance
    of the threshold (where float rounding may fall either way).
    """
    with torch.no_grad():
        expected = model.cpu().eval().score(images)
    flags_expected = model.threshold.flag(expected).numpy()
    expected = expected.numpy()
    scores, flags = run_exported(path, fmt, images)
    if scores.shape != expected.shape or flags.shape != flags_expected.shape:
        raise ExportMismatchError(
            f"the exported {path} returns scores {scores.shape} and flags {flags.shape} for "
            f"{len(images)} images, not ({len(images)},); the file is kept for inspection"
        )
    difference = np.abs(scores - expected)
    tolerance = atol + rtol * np.abs(expected)
    borderline = np.abs(expected - model.threshold.fitted()) <= tolerance
    return {
        "images": len(images),
        "max_abs_score_difference": float(difference.max()),
        "max_rel_score_difference": float((difference / np.maximum(expected, 1e-12)).max()),
        # "not within" rather than "beyond": a NaN score is never within the tolerance
        "scores_beyond_tolerance": int((~(difference <= tolerance)).sum()),
        "flags_differ": int((flags != flags_expected).sum()),
        "flags_differ_beyond_tolerance": int(((flags != flags_expected) & ~borderline).sum()),
        "flagged": int(flags_expected.sum()),
        "rtol": rtol,
        "atol": atol,
    }


def require_agreement(check: dict[str, float], path: str | Path) -> None:
    """Raise :class:`ExportMismatchError` (one line) when the check found a disagreement."""
    if check["scores_beyond_tolerance"] or check["flags_differ_beyond_tolerance"]:
        raise ExportMismatchError(
            f"the exported {path} disagrees with the checkpoint on {check['images']} check "
            f"images: {check['scores_beyond_tolerance']} scores differ by more than "
            f"{check['atol']:g} + {check['rtol']:g} x score (at most "
            f"{check['max_abs_score_difference']:.3g}), {check['flags_differ_beyond_tolerance']} "
            "flags differ; the file is kept for inspection, do not ship it (check the "
            "onnx/onnxruntime versions, or export format=torchscript)"
        )


def _require(*packages: str) -> None:
    missing = [p for p in packages if importlib.util.find_spec(p) is None]
    if missing:
        raise ConfigError(f"this export needs {', '.join(missing)}: pip install -e '.[export]'")


def export(cfg: DictConfig) -> dict:
    require_values(cfg)
    model = load_autoencoder(cfg.ckpt_path)
    suffix = file_suffix(cfg.format)
    path = Path(cfg.output or Path(cfg.paths.output_dir) / f"detector{suffix}")
    export_detector(model, cfg.format, path)
    shape = tuple(model.hparams.input_shape)
    images = check_images(shape, cfg.check_images, cfg.seed)
    check = check_export(model, path, cfg.format, images, cfg.rtol, cfg.atol)
    print(f"written: {path} ({cfg.format}; threshold {model.threshold.fitted():.4f} baked in)")
    print(input_contract(shape, model.scorer.description))
    print(
        f"checked on {check['images']} images against the checkpoint: scores differ by at most "
        f"{check['max_abs_score_difference']:.2e} ({check['max_rel_score_difference']:.1e} "
        f"relative; tolerance {cfg.atol:g} + {cfg.rtol:g} x score), {check['flags_differ']} "
        f"flags differ ({check['flagged']} flagged)",
        flush=True,
    )
    require_agreement(check, path)
    return {"path": str(path), "check": check}


register_configs()


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="export")
def run(cfg: DictConfig) -> None:
    with exit_on_user_error():
        export(cfg)


def main() -> None:
    """``anomaly-ae-export``, the same as ``python -m anomaly_ae.export``."""
    with hints_for_unknown_keys("export"):
        run()


if __name__ == "__main__":
    main()
