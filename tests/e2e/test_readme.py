"""The README and the docs quote what a run prints in its format (numbers aside: they depend on
the machine and the data, and the text says where its own came from), and the README's links
lead somewhere."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from tests.helpers import REPO, run_train

README = REPO / "README.md"
# the page that keeps the example output with its context (docs/experiments-and-results.md)
RESULTS_PAGE = REPO / "docs" / "experiments-and-results.md"


def fenced_block_starting_with(page: Path, prefix: str) -> list[str]:
    """The lines of ``page``'s first ``` block whose first line starts with ``prefix``."""
    for block in re.findall(r"```[a-z]*\n(.*?)```", page.read_text(), flags=re.S):
        if block.startswith(prefix):
            return block.rstrip("\n").splitlines()
    raise AssertionError(f"{page.name} has no example block starting with {prefix!r}")


def shape_of(line: str) -> str:
    """A printed line with its numbers, paths and column padding taken out."""
    line = re.sub(r"^(results|report): .*/", r"\1: <run dir>/", line)
    line = re.sub(r"\d+(\.\d+)?", "#", line)
    return re.sub(r"\s+", " ", line).strip()


def test_the_example_output_is_what_a_training_run_prints(
    tiny_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_train(tiny_root, tmp_path / "run")
    printed = capsys.readouterr().out.rstrip("\n").splitlines()
    for page in (README, RESULTS_PAGE):
        example = fenced_block_starting_with(page, "threshold ")
        # the summary is the last thing a run prints
        shapes = [shape_of(s) for s in printed[-len(example) :]]
        assert shapes == [shape_of(s) for s in example], page.name


def test_the_docs_quote_the_line_a_run_without_anomalies_prints(
    tiny_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_train(tiny_root, tmp_path / "run", "data.anomaly=null")
    printed = capsys.readouterr().out
    quoted = re.search(
        r'give way to "(no anomaly set[^"]*)"', RESULTS_PAGE.read_text().replace("\n", " ")
    )
    assert quoted, f"{RESULTS_PAGE.name} no longer quotes the data.anomaly=null line"
    assert quoted.group(1) in printed


def anchors_of(page: Path) -> set[str]:
    """The ids MkDocs gives ``page``'s headings (Python-Markdown's toc slugify, markup removed)."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    ids = set()
    for heading in re.findall(r"^#+ (.+)$", text, flags=re.M):
        plain = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", r"\1", heading)
        plain = unicodedata.normalize("NFKD", plain).encode("ascii", "ignore").decode()
        plain = re.sub(r"[^\w\s-]", "", plain).strip().lower()
        ids.add(re.sub(r"[-\s]+", "-", plain))
    return ids


def test_the_readme_links_resolve() -> None:
    """Every relative link of the README names a file of the repository, and an anchor of a
    page a heading of that page (MkDocs checks the links inside docs/: make docs)."""
    text = re.sub(r"```.*?```", "", README.read_text(), flags=re.S)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    relative = [link for link in links if not re.match(r"[a-z]+:", link)]
    assert relative, "the README links to no page of the docs"
    for link in relative:
        path, _, anchor = link.partition("#")
        target = REPO / path
        assert target.is_file(), f"README links to {link}: no such file"
        if anchor:
            assert anchor in anchors_of(target), f"README links to {link}: no such heading"
