"""Shared test helpers: tiny datasets written in the real IDX format, composed configs, and
running the entry points.

The tiny sets are read by the same code as the real ones (torchvision's IDX readers behind
``anomaly_ae.data.sources``). Normal images are dark with one small bright square; anomalies
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
from hydra import compose, initialize_config_module
from omegaconf import DictConfig

from anomaly_ae.config import CONFIG_MODULE, register_configs

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
