"""Shared fixtures: tiny data roots, a composed config, an offline machine and one trained run;
and the cores' threads shared between pytest-xdist's workers.

The helpers they are built on (writing the tiny IDX data, composing configs, running the
entry points) live in ``tests/helpers.py``, where test modules import them from.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from omegaconf import DictConfig

from tests.helpers import compose_config, make_tiny_root, run_train, tiny_overrides


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

    monkeypatch.setattr("anomaly_ae.data.sources.download_and_extract_archive", refuse)
    yield


@pytest.fixture(scope="session")
def trained(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """One tiny default training run (2 epochs), shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("trained") / "run"
    return out, run_train(tiny_root, out)
