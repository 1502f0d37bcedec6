"""Shared test helpers: tiny datasets written in the real IDX format, composed configs, and
running the entry points.

The tiny sets are read by the same code as the real ones (torchvision's IDX readers behind
``anomaly_ae.data.sources.idx``). Normal images are dark with one small bright square; anomalies
are bright noise, so even a briefly trained autoencoder separates them.

Test modules import these from here, never from another test module or from conftest.py,
which holds only the fixtures built on them.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from hydra import compose, initialize_config_module
from omegaconf import DictConfig

from anomaly_ae.config import CONFIG_MODULE, register_configs
from anomaly_ae.data import AnomalyDataModule

# the checkout: README, notebooks and benchmarks are read from it
REPO = Path(__file__).resolve().parents[1]

TINY = {"train": 240, "test": 60, "anomaly": 40}
TINY_SPLIT = {"train_size": 200, "val_size": 40}


# ------------------------------------------------------------------------ tiny IDX datasets
def write_idx(path: Path, array: np.ndarray) -> None:
    """Write ``array`` (uint8) as an IDX file: magic 0x0000 0x08 <ndim>, big-endian sizes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.tobytes())


def normal_images(n: int, rng: np.random.Generator) -> np.ndarray:
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    for image, (row, col) in zip(images, rng.integers(4, 20, size=(n, 2)), strict=True):
        image[row : row + 5, col : col + 5] = 255
    return images


def anomaly_images(n: int, rng: np.random.Generator, size: int = 28) -> np.ndarray:
    return rng.integers(128, 256, size=(n, size, size), dtype=np.uint8)


def write_split(raw: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
    write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)


def make_tiny_root(root: Path, sizes: dict[str, int] = TINY) -> Path:
    """MNIST/raw with train and test splits; the test splits of KMNIST, FashionMNIST and
    EMNIST letters (anomalies)."""
    rng = np.random.default_rng(0)
    mnist = root / "MNIST" / "raw"
    for prefix, n in (("train", sizes["train"]), ("t10k", sizes["test"])):
        write_split(mnist, prefix, normal_images(n, rng), rng.integers(0, 10, n, dtype=np.uint8))
    n = sizes["anomaly"]
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    write_split(root / "KMNIST" / "raw", "t10k", anomaly_images(n, rng), labels)
    write_split(root / "FashionMNIST" / "raw", "t10k", anomaly_images(n, rng), labels)
    # EMNIST stores its images transposed, under names of its own
    write_split(
        root / "EMNIST" / "raw",
        "emnist-letters-test",
        anomaly_images(n, rng).transpose(0, 2, 1),
        labels + 1,
    )
    return root


def write_pngs(folder: Path, images: np.ndarray, prefix: str = "image") -> Path:
    """Each of ``images`` (``uint8``, ``(N, H, W)`` gray or ``(N, H, W, 3)`` colour) as a PNG
    file ``<prefix>-<i>.png`` in ``folder``, written by PIL."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{prefix}-{i:03d}.png")
    return folder


def dataset_setting(role: str, target: str, **settings: object) -> str:
    """A ``data.normal=`` / ``data.anomaly=`` override naming a dataset class, in Hydra's
    dictionary syntax: ``data.anomaly={_target_: torchvision.datasets.FakeData, size: 20}``."""
    everything = {"_target_": target, **settings}
    items = ", ".join(f"{k}: {_hydra_value(v)}" for k, v in everything.items())
    return f"data.{role}={{{items}}}"


def _hydra_value(value: object) -> str:
    if isinstance(value, list | tuple):
        return "[" + ",".join(_hydra_value(v) for v in value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def labels_of(root: Path, split: str) -> torch.Tensor:
    """The labels of MNIST's ``split`` (``"train"`` or ``"test"``) under ``root``."""
    from anomaly_ae.data import get_source

    return get_source("mnist", "data.normal").load(root, split).labels


def ruff_preprocessing(images: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Ruff et al.'s preprocessing, as their code does it: global_contrast_normalization(x,
    scale='l1') then Normalize([lo], [hi - lo]), per image, in float64."""
    x = images.reshape(len(images), -1).astype(np.float64)
    x = x - x.mean(1, keepdims=True)
    x = x / np.abs(x).mean(1, keepdims=True)
    return ((x - lo) / (hi - lo)).reshape(images.shape)


def real_data_root() -> Path | None:
    """``ANOMALY_AE_DATA`` when it holds the real MNIST files, else ``None``."""
    value = os.environ.get("ANOMALY_AE_DATA")
    if not value:
        return None
    raw = Path(value) / "MNIST" / "raw"
    needed = [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ]
    return Path(value).resolve() if all((raw / f).is_file() for f in needed) else None


# ---------------------------------------------------------------- data modules and inputs
FAKE = "torchvision.datasets.FakeData"
# FakeData by _target_: 40 colour images of 32x32
COLOUR = {"_target_": FAKE, "size": 40, "image_size": [3, 32, 32]}


def data_module(root: Path, **kwargs) -> AnomalyDataModule:
    """A data module on ``root`` that never downloads, in batches of 20 (32 to evaluate)."""
    settings = {"root": root, "download": False, "batch_size": 20, "eval_batch_size": 32}
    return AnomalyDataModule(**{**settings, **kwargs})


def tiny_module(root: Path, **kwargs) -> AnomalyDataModule:
    """:func:`data_module` with the tiny split sizes (``TINY_SPLIT``)."""
    return data_module(root, **{**TINY_SPLIT, **kwargs})


def assert_matches_hw7_pipeline(
    root: Path, train_size: int, val_size: int, seed: int, check_pixels: int
) -> None:
    """The data module's training and validation sets are what hw7 builds with torchvision's
    MNIST + ToTensor and ``random_split``: the same images, in the same order, pixel for pixel
    (``check_pixels`` images compared through ToTensor, every image through the raw bytes)."""
    from torch.utils.data import random_split
    from torchvision import datasets
    from torchvision.transforms import ToTensor

    dm = AnomalyDataModule(
        root,
        anomaly=None,
        train_size=train_size,
        val_size=val_size,
        split_seed=seed,
        download=False,
    )
    dm.setup("fit")
    hw7_set = datasets.MNIST(str(root), train=True, transform=ToTensor(), download=False)
    generator = torch.Generator().manual_seed(seed)
    hw7_train, hw7_val = random_split(hw7_set, [train_size, val_size], generator=generator)
    for ours, theirs in ((dm.train_set, hw7_train), (dm.val_set, hw7_val)):
        assert len(ours) == len(theirs)
        picks = torch.linspace(0, len(theirs) - 1, min(check_pixels, len(theirs))).long()
        expected = torch.stack([theirs[int(i)][0] for i in picks])
        torch.testing.assert_close(ours.images[picks], expected, rtol=0, atol=0)
        # the whole split, not only the sampled images: same images, same order
        raw = hw7_set.data[torch.as_tensor(theirs.indices)]
        assert torch.equal(ours.images.squeeze(1).mul(255).round().to(torch.uint8), raw)


def write_mixed_folder(folder: Path, digits: np.ndarray) -> dict[str, str]:
    """Good and bad inputs of every kind for ``detect``, made of ``digits`` (the ``digits``
    fixture); returns the bad ones with the expected reason."""
    from PIL import Image

    folder.mkdir()
    Image.fromarray(digits[0]).save(folder / "digit.png")
    Image.fromarray(digits[4]).save(folder / "noise.jpg", quality=100)
    np.save(folder / "batch.npy", digits[:3, None])  # three gray images, (N, 1, H, W)
    np.save(folder / "ambiguous.npy", digits[:3])  # (3, H, W): one colour image or three gray?
    write_idx(folder / "more-images-idx3-ubyte", digits[3:6])
    Image.fromarray(np.stack([digits[1]] * 3, -1)).save(folder / "colour.png")
    Image.fromarray(np.kron(digits[2], np.ones((2, 2), np.uint8))).save(folder / "big.png")
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 20)
    (folder / "bad-images-idx3-ubyte").write_bytes(b"\x12\x34\x56\x78" + bytes(64))
    (folder / ".hidden.png").write_bytes(b"ignored")
    return {
        "ambiguous.npy": "one colour image or three gray ones",
        "colour.png": "grayscale=true",
        "big.png": "pass resize=true",
        "notes.txt": "cannot be read as an image, .npy or IDX file",
        "broken.png": "cannot be read as an image",
        "bad-images-idx3-ubyte": "magic number is not an IDX one",
    }


# --------------------------------------------------------------------- configs and overrides
def tiny_overrides(root: Path, out: Path, *extra: str) -> list[str]:
    """Overrides that make a train/evaluate run fast on the tiny data, on the CPU."""
    return [
        f"data.root={root}",
        f"data.train_size={TINY_SPLIT['train_size']}",
        f"data.val_size={TINY_SPLIT['val_size']}",
        "data.batch_size=20",
        "data.eval_batch_size=32",
        "data.download=false",
        "trainer.max_epochs=2",
        "trainer.accelerator=cpu",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
        "trainer.log_every_n_steps=5",
        "~callbacks.progress_bar",
        f"paths.output_dir={out}",
        f"paths.log_dir={out.parent / 'logs'}",
        *extra,
    ]


def cli_overrides(root: Path, out: Path, *extra: str) -> list[str]:
    """The tiny-run overrides, with the run directory set through Hydra as a user would."""
    overrides = [o for o in tiny_overrides(root, out, *extra) if not o.startswith("paths.output")]
    return [*overrides, f"hydra.run.dir={out}"]


def sweep_overrides(root: Path, sweep: Path, *extra: str) -> list[str]:
    overrides = [o for o in tiny_overrides(root, sweep) if not o.startswith("paths.output")]
    return ["-m", *overrides, "trainer.max_epochs=1", f"hydra.sweep.dir={sweep}", *extra]


def compose_config(
    config_name: str, overrides: list[str], return_hydra_config: bool = False
) -> DictConfig:
    """The config an entry point would get, composed from the installed configs."""
    register_configs()
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        return compose(config_name, overrides, return_hydra_config=return_hydra_config)


# an experiment file of the user's own, in a folder of their own: tiny and quick
USER_EXPERIMENT = f"""# @package _global_
experiment_name: tiny_user
data:
  train_size: {TINY_SPLIT["train_size"]}
  val_size: {TINY_SPLIT["val_size"]}
  batch_size: 20
  eval_batch_size: 32
  download: false
model:
  latent_dim: 8
trainer:
  max_epochs: 1
  accelerator: cpu
  log_every_n_steps: 5
  enable_progress_bar: false
"""


def user_config_dir(parent: Path) -> Path:
    """A config folder of the user's own under ``parent``, holding ``experiment=tiny_user``."""
    experiment = parent / "my_conf" / "experiment" / "tiny_user.yaml"
    experiment.parent.mkdir(parents=True)
    experiment.write_text(USER_EXPERIMENT)
    return experiment.parent.parent


# ----------------------------------------------------------------------- running the jobs
def run_train(root: Path, out: Path, *extra: str) -> dict:
    from anomaly_ae.train import train

    return train(compose_config("train", tiny_overrides(root, out, *extra)))


def run_module(module: str, *args: str, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


# ----------------------------------------------------------------------- benchmark records
def cell_records(values: dict[tuple[str, int, int], float | None]) -> dict:
    """Finished benchmark cells as the runner records them: ``{(detector, class, seed): AUROC}``,
    ``None`` for a failed cell."""
    from anomaly_ae.benchmark.cells import Cell

    out = {}
    for (detector, c, s), value in values.items():
        status = "failed" if value is None else "ok"
        out[Cell(detector, c, s)] = {
            "status": status,
            "auroc": value,
            "wall_seconds": 10.0 + s,
            "fit_seconds": 2.0 + s,
        }
    return out
