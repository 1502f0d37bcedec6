"""anomaly_ae.summarize refuses what is not a finished sweep, in one line each."""

from __future__ import annotations

from pathlib import Path

from anomaly_ae import summarize


def test_summarize_refuses_what_is_not_a_finished_sweep(tmp_path: Path, capsys) -> None:
    assert summarize.main([str(tmp_path / "missing")]) == 2
    assert summarize.main([str(tmp_path)]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and all(e.startswith("error: ") for e in errors)
