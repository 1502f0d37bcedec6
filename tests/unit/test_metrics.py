"""anomaly_ae.metrics: detection metrics against their definitions, and the de-duplicating score
collector."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from anomaly_ae.metrics import ScoreCollector, detection_metrics


def rank_auroc(scores: np.ndarray, targets: np.ndarray) -> float:
    """P(score of a random anomaly > score of a random normal), ties counting one half."""
    pos, neg = scores[targets == 1], scores[targets == 0]
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return (greater + 0.5 * ties) / (len(pos) * len(neg))


def test_error_rates_and_counts_follow_hw7() -> None:
    scores = torch.tensor([1.0, 2.0, 30.0, 4.0, 25.0, 26.0, 3.0, 40.0])
    targets = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    m = detection_metrics(scores, targets, threshold=20.0)
    assert (m["n_normal"], m["n_normal_flagged"]) == (4, 1)
    assert (m["n_anomaly"], m["n_anomaly_flagged"]) == (4, 3)
    assert m["type_I_error"] == pytest.approx(0.25)
    assert m["type_II_error"] == pytest.approx(0.25)


def test_a_score_equal_to_the_threshold_is_not_flagged() -> None:
    m = detection_metrics(torch.tensor([5.0, 5.0]), torch.tensor([0, 1]), threshold=5.0)
    assert m["n_normal_flagged"] == 0 and m["n_anomaly_flagged"] == 0


def test_ranking_metrics_match_definitions_on_large_scores() -> None:
    # Scores far above 1: torchmetrics would squash them with a sigmoid into ties at 1.0.
    rng = np.random.default_rng(0)
    normal = rng.normal(30, 8, 500)
    anomaly = rng.normal(60, 15, 300)
    scores = np.concatenate([normal, anomaly]).astype(np.float32)
    targets = np.concatenate([np.zeros(500), np.ones(300)]).astype(np.int64)
    m = detection_metrics(torch.from_numpy(scores), torch.from_numpy(targets), threshold=50.0)
    assert m["auroc"] == pytest.approx(rank_auroc(scores, targets), abs=1e-6)

    # FPR at 95% TPR: the smallest share of normals above a threshold that keeps 95% of anomalies
    order = np.sort(scores[targets == 1])
    cut = order[int(np.floor(0.05 * len(order)))]
    assert m["fpr_at_95_tpr"] == pytest.approx((scores[targets == 0] >= cut).mean(), abs=1e-6)

    # Average precision: mean precision at the rank of every anomaly
    ranked = targets[np.argsort(-scores, kind="stable")]
    hits = np.cumsum(ranked)
    precision_at_hits = hits[ranked == 1] / (np.flatnonzero(ranked == 1) + 1)
    assert m["average_precision"] == pytest.approx(precision_at_hits.mean(), abs=1e-6)


def test_without_anomalies_only_type_one_is_computed() -> None:
    m = detection_metrics(torch.tensor([1.0, 9.0, 3.0]), torch.tensor([0, 0, 0]), threshold=5.0)
    assert m["type_I_error"] == pytest.approx(1 / 3)
    assert m["n_anomaly"] == 0
    for key in ("type_II_error", "auroc", "average_precision", "fpr_at_95_tpr"):
        assert m[key] is None


@pytest.mark.filterwarnings("ignore:.*was called before the ``update`` method")
def test_collector_orders_by_index_and_drops_padding_duplicates() -> None:
    collector = ScoreCollector()
    # as two DDP ranks would see 5 items padded to 6: rank 0 gets 0, 2, 4; rank 1 gets 1, 3, 0
    collector.update(
        torch.tensor([10.0, 12.0, 14.0]), torch.tensor([0, 0, 1]), torch.tensor([0, 2, 4])
    )
    collector.update(
        torch.tensor([11.0, 13.0, 10.0]), torch.tensor([0, 1, 0]), torch.tensor([1, 3, 0])
    )
    scores, targets = collector.compute()
    assert scores.tolist() == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert targets.tolist() == [0, 0, 0, 1, 1]
    collector.reset()
    assert collector.compute()[0].numel() == 0
