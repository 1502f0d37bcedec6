"""The typed configs: wrong types and unknown keys stop at composition; Lightning arguments
outside the schema can be added with ``+``."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException

from tests.helpers import compose_config


@pytest.mark.parametrize(
    "override",
    [
        "data.batch_size=big",
        "seed=abc",
        "threshold.k=high",
        "trainer.max_epochs=ten",
        "model.net.hidden_dims=[a,b]",
        "model.hidden_dims=[64]",
        "data.download=maybe",
        "data.batchsize=10",
        "model.depth=3",
    ],
)
def test_wrong_types_and_unknown_keys_stop_at_composition(tmp_path: Path, override: str) -> None:
    with pytest.raises(ConfigCompositionException):
        compose_config("train", [f"paths.output_dir={tmp_path}", override])


def test_lightning_arguments_outside_the_schema_can_be_added(tmp_path: Path) -> None:
    cfg = compose_config(
        "train", [f"paths.output_dir={tmp_path}", "+trainer.limit_val_batches=0.5"]
    )
    assert cfg.trainer.limit_val_batches == 0.5
