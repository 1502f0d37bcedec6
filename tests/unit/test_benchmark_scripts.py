"""The benchmark scripts' arithmetic (benchmarks/train_speed.py, benchmarks/reproduce_hw7.py):
ratios within rounds and of the fastest runs, means, sds and the gap in sds."""

from __future__ import annotations

import sys

import pytest

from tests.helpers import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

import reproduce_hw7
import train_speed


def test_ratios_are_taken_within_rounds_and_of_the_fastest_runs() -> None:
    """c/b and a/c are medians of the ratios within each round (not ratios of the medians),
    and the "fastest" ratios divide the fastest run of each case."""

    def round_(hw7: float, bare: float, framework: float) -> dict:
        return {
            "hw7": {"seconds": hw7},
            "bare": {"seconds": bare},
            "framework": {"seconds": framework, "run_seconds": framework + 5},
            "framework_rss": 1000 + framework,
        }

    rounds = [round_(30, 10, 13), round_(40, 8, 16), round_(60, 20, 22)]
    summary = train_speed.summarise(rounds)
    assert summary["b_bare_seconds"] == {"median": 10, "min": 8, "max": 20}
    assert summary["c_framework_run_seconds"] == {"median": 21, "min": 18, "max": 27}
    assert summary["c_framework_peak_rss_mb"]["median"] == 1016
    # within rounds c/b is 1.3, 2.0 and 1.1; the ratio of the median times would be 1.6
    assert summary["ratio_c_over_b"] == pytest.approx({"median": 1.3, "min": 1.1, "max": 2.0})
    assert summary["ratio_a_over_c"] == pytest.approx(
        {"median": 2.5, "min": 30 / 13, "max": 60 / 22}
    )
    fastest = train_speed.fastest_ratios(summary)
    assert fastest == pytest.approx({"ratio_c_over_b": 13 / 8, "ratio_a_over_c": 30 / 13})


def test_summary_is_mean_sd_and_the_gap_in_hw7_loop_sds() -> None:
    def runs(type_ii: list[float]) -> list[dict]:
        return [
            {
                "threshold": 20.0,
                "type_I_error": 0.01,
                "type_II_error": t,
                "auroc": 0.99,
                "final_loss": 0.01,
                "fit_seconds": 1.0 + i,
            }
            for i, t in enumerate(type_ii)
        ]

    theirs, ours = runs([0.02, 0.03, 0.04]), runs([0.04, 0.05, 0.06])
    summary = reproduce_hw7.summarise(theirs, ours)
    type_ii = summary["type_II_error"]
    assert type_ii["hw7_loop"]["mean"] == pytest.approx(0.03)
    assert type_ii["hw7_loop"]["sd"] == pytest.approx(0.01)  # sample sd
    assert type_ii["difference_in_hw7_sd"] == pytest.approx(2.0)
    # a quantity without spread has no sd to measure a gap in
    assert summary["type_I_error"]["difference_in_hw7_sd"] is None
    # type I and AUROC do not spread over the hw7 loop's runs: no sd to judge a gap in
    assert summary["within_one_sd"] == {
        "type_I_error": None,
        "type_II_error": False,
        "auroc": None,
    }
    table = reproduce_hw7.markdown(summary, 3, ["# t"])
    assert "| 3.00 ± 1.00 % |" in table and "| 5.00 ± 1.00 % |" in table and "+2.00" in table
    assert "type_I_error: n/a (no spread in the hw7 loop's runs), type_II_error: NO" in table
