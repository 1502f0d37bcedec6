"""``anomaly-ae-summarize <sweep dir>`` (or ``python -m anomaly_ae.summarize``): the summary
table of a finished sweep.

Writes ``summary.csv`` and ``summary.md`` into the sweep directory (as the end of a ``-m``
run does) and prints the table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from anomaly_ae.reporting.sweeps import summarize


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="anomaly-ae-summarize",
        description="The summary table of a finished sweep (the same as python -m "
        "anomaly_ae.summarize): writes summary.csv and summary.md into the sweep directory, as "
        "the end of a -m run does, and prints the table.",
    )
    parser.add_argument(
        "sweep_dir", type=Path, help="a -m sweep's directory (logs/train/multiruns/...)"
    )
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        print(
            f"error: {args.sweep_dir} is not a directory; pass a sweep directory such as "
            "logs/train/multiruns/<date>_<time>",
            file=sys.stderr,
        )
        return 2
    table, rows = summarize(args.sweep_dir)
    if not rows:
        print(
            f"error: no results.json below {args.sweep_dir}; its runs have not finished "
            "testing (or it is not a sweep directory)",
            file=sys.stderr,
        )
        return 2
    print(table)
    print(f"\nwritten: {args.sweep_dir / 'summary.csv'}, {args.sweep_dir / 'summary.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
