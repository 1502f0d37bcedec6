"""Shared fixtures: tiny data roots, a composed config, an offline machine and one trained run.

The helpers they are built on (writing the tiny IDX data, composing configs, running the
entry points) live in ``tests/helpers.py``, where test modules import them from.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from omegaconf import DictConfig

from tests.helpers import compose_config, make_tiny_root, run_train, tiny_overrides


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
