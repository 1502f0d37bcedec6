"""anomaly_ae.reporting.sweeps: runs that differ only in their seed are summarised as mean and
sd."""

from __future__ import annotations


def test_runs_that_differ_only_in_their_seed_are_summarised_as_mean_and_sd() -> None:
    from anomaly_ae.reporting.sweeps import format_over_seeds

    def row(score: str, seed: int, type_ii: float, fit: float) -> dict:
        return {
            "overrides": ["trainer.max_epochs=30", f"score={score}", f"seed={seed}"],
            "type_I_error": 0.01,
            "type_II_error": type_ii,
            "auroc": 0.999,
            "fit_seconds": fit,
        }

    rows = [
        row("combined", s, t, f) for s, t, f in ((0, 0.010, 100), (1, 0.012, 110), (2, 0.014, 120))
    ]
    rows.append(row("reconstruction", 0, 0.03, 90))
    table = format_over_seeds(rows).splitlines()
    assert table[0] == "| settings | seeds | type I | type II | AUROC | fit s |"
    # mean 1.20 %, sample sd 0.20 %; the shared override is not repeated
    assert (
        table[2]
        == "| `score=combined` | 3 | 1.00 ± 0.00 % | 1.20 ± 0.20 % | 0.9990 ± 0.0000 | 110 ± 10 |"
    )
    assert table[3].startswith("| `score=reconstruction` | 1 |")
    assert format_over_seeds(rows[-1:]) == "", "nothing to average"
