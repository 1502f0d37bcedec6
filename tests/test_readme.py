"""The README's example output keeps the format of what a run prints (numbers aside: they
depend on the machine and the data, and the README says where its own came from)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import REPO, run_train

README = REPO / "README.md"


def fenced_block_starting_with(prefix: str) -> list[str]:
    """The lines of the README's first ``` block whose first line starts with ``prefix``."""
    for block in re.findall(r"```[a-z]*\n(.*?)```", README.read_text(), flags=re.S):
        if block.startswith(prefix):
            return block.rstrip("\n").splitlines()
    raise AssertionError(f"README.md has no example block starting with {prefix!r}")


def shape_of(line: str) -> str:
    """A printed line with its numbers, paths and column padding taken out."""
    line = re.sub(r"^(results|report): .*/", r"\1: <run dir>/", line)
    line = re.sub(r"\d+(\.\d+)?", "#", line)
    return re.sub(r"\s+", " ", line).strip()


def test_readme_example_is_what_a_training_run_prints(
    tiny_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_train(tiny_root, tmp_path / "run")
    printed = capsys.readouterr().out.rstrip("\n").splitlines()
    example = fenced_block_starting_with("threshold ")
    # the summary is the last thing a run prints
    assert [shape_of(s) for s in printed[-len(example) :]] == [shape_of(s) for s in example]


def test_readme_quotes_the_line_a_run_without_anomalies_prints(
    tiny_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_train(tiny_root, tmp_path / "run", "data.anomaly=null")
    printed = capsys.readouterr().out
    quoted = re.search(
        r'give way to "(no anomaly set[^"]*)"', README.read_text().replace("\n", " ")
    )
    assert quoted, "README.md no longer quotes the data.anomaly=null line"
    assert quoted.group(1) in printed
