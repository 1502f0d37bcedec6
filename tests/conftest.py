"""Shared fixtures: tiny data roots, a composed config, an offline machine and a few digits;
the cores' threads shared between pytest-xdist's workers; and the ``e2e`` marker on every test
under tests/e2e (the tier ``make test-fast`` leaves out). The one trained run the end-to-end
tests share is in ``tests/e2e/conftest.py``.

The helpers they are built on (writing the tiny IDX data, composing configs, running the
entry points) live in ``tests/helpers.py``, where test modules import them from.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from omegaconf import DictConfig

from tests.helpers import (
    anomaly_images,
    compose_config,
    make_tiny_root,
    normal_images,
    tiny_overrides,
    write_pngs,
)

E2E = Path(__file__).parent / "e2e"


def pytest_configure(config: pytest.Config) -> None:
    """In each of pytest-xdist's workers, use its share of the cores for torch's threads, in
    this process and in the training jobs it starts (``OMP_NUM_THREADS`` is inherited).

    Two workers that each run torch on every core of a 2-core machine spend their time
    waiting on each other's threads: a real-data run here took five times as long.
    """
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers is None:  # -n 0 or -p no:xdist: one process, every core
        return
    threads = max(1, len(os.sched_getaffinity(0)) // int(workers))
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/e2e is an end-to-end one: it runs whole jobs."""
    for item in items:
        if item.path.is_relative_to(E2E):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only-by-convention tiny data root shared by the whole session."""
    return make_tiny_root(tmp_path_factory.mktemp("tiny_data"))


@pytest.fixture
def fresh_root(tmp_path: Path) -> Path:
    """A tiny data root of this test's own, free to damage."""
    return make_tiny_root(tmp_path / "data")


@pytest.fixture
def train_cfg(tiny_root: Path, tmp_path: Path) -> DictConfig:
    return compose_config("train", tiny_overrides(tiny_root, tmp_path / "run"))


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make every dataset download fail the way it does on an offline machine."""
    from urllib.error import URLError

    def refuse(*args, **kwargs):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr("anomaly_ae.data.sources.idx.download_and_extract_archive", refuse)
    yield


@pytest.fixture(scope="session")
def digits() -> np.ndarray:
    """Four tiny normal digits and two anomalies (bright noise), 28x28 uint8."""
    rng = np.random.default_rng(7)
    return np.concatenate([normal_images(4, rng), anomaly_images(2, rng)])


@pytest.fixture
def pngs_32(tmp_path: Path) -> Path:
    """Twelve 32x32 gray PNGs (bright noise: anomalies for the tiny MNIST)."""
    return write_pngs(tmp_path / "pngs", anomaly_images(12, np.random.default_rng(7), size=32))
