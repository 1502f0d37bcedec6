"""``experiment=kmnist_strong`` composed: hw7's experiment with the settings the validation
search chose (docs/experiments-and-results.md, "A stronger detector"), and nothing else."""

from __future__ import annotations

import re

from omegaconf import OmegaConf

from tests.helpers import REPO, compose_config

# what experiment=kmnist_strong changes in hw7, and nothing else
CHOSEN = {
    "experiment_name": "kmnist_strong",
    "model.net.hidden_dims": [512, 256],
    "model.net.latent_relu": False,
    "model.latent_dim": 64,
    "model.scheduler": "cosine",
    "trainer.max_epochs": 30,
    "threshold": {"_target_": "anomaly_ae.thresholds.ConformalThreshold", "alpha": 0.01},
}


def flat(cfg) -> dict:
    """``cfg`` as ``{dotted key: value}``, thresholds kept whole (their keys differ by rule)."""
    plain = OmegaConf.to_container(cfg, resolve=False)
    out = {}

    def walk(node, prefix: str) -> None:
        if isinstance(node, dict) and prefix != "threshold":
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else key)
        else:
            out[prefix] = node

    walk(plain, "")
    return out


def test_it_is_hw7_with_the_chosen_settings() -> None:
    hw7 = flat(compose_config("train", []))
    strong = flat(compose_config("train", ["experiment=kmnist_strong"]))
    changed = {key: strong[key] for key in strong if strong[key] != hw7.get(key)}
    assert changed == CHOSEN
    assert set(strong) == set(hw7)  # no setting added or dropped
    # hw7's data, split, batch, optimiser and score stay
    for key in ("data.normal", "data.anomaly", "data.val_size", "data.batch_size", "model.lr"):
        assert strong[key] == hw7[key]
    assert strong["model.score._target_"] == "anomaly_ae.scoring.ReconstructionScore"


def test_the_docs_table_of_changed_settings_is_the_configs() -> None:
    """docs/experiments-and-results.md, "A stronger detector": each row
    ``| `key` | hw7's | kmnist_strong's |``."""
    text = (REPO / "docs" / "experiments-and-results.md").read_text()
    table = text.split("## A stronger detector", 1)[1].split("| setting | hw7 | kmnist_strong |")[1]
    rows = re.findall(r"^\| `([a-z_.]+)` \| ([^|]+) \| ([^|]+) \|$", table.split("\n\n")[0], re.M)
    configs = {
        "hw7": flat(compose_config("train", [])),
        "kmnist_strong": flat(compose_config("train", ["experiment=kmnist_strong"])),
    }
    assert {key for key, _, _ in rows} == set(CHOSEN) - {"experiment_name"}
    for key, *cells in rows:
        for (name, config), cell in zip(configs.items(), cells, strict=True):
            value = config[key]
            if key == "threshold":
                rule = value["_target_"].rsplit(".", 1)[1].removesuffix("Threshold").lower()
                settings = [f"{v:g}" for k, v in value.items() if k != "_target_"]
                assert cell.startswith(rule) and all(v in cell for v in settings), (name, cell)
            else:
                shown = "null" if value is None else str(value)
                assert cell.split(":")[0].strip() == shown.lower(), (name, key, cell)


def test_other_choices_combine_with_it() -> None:
    cfg = compose_config("train", ["experiment=kmnist_strong", "threshold=gaussian", "seed=3"])
    assert cfg.threshold._target_.endswith("GaussianThreshold") and cfg.seed == 3
    cfg = compose_config("train", ["experiment=kmnist_strong", "score=combined"])
    assert cfg.model.score._target_.endswith("CombinedScore") and cfg.model.latent_dim == 64
