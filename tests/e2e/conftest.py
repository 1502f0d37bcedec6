"""The end-to-end tier's shared fixture: one tiny training run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_train


@pytest.fixture(scope="session")
def trained(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """One tiny default training run (2 epochs), shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("trained") / "run"
    return out, run_train(tiny_root, out)
