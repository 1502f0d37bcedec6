"""hw7 reproduced side by side: Problem 7's loop as written and anomaly_ae's
default experiment, N seeds each, in one run on the same machine and the same data.

    python benchmarks/reproduce_hw7.py [--seeds 5] [--epochs 10] [--data DIR]
                                        [--out logs/reproduce/reproduce_hw7]

For every seed s, one after the other (so a slow spell of a shared machine hits both):
  - hw7's loop (benchmarks/hw7_loop.py) with torch.manual_seed(s): its own random split,
    initialisation and shuffling, threshold, type I and type II errors, plus the AUROC;
  - ``python -m anomaly_ae.train seed=s`` (the default experiment: split seed 42, seed s for
    initialisation and shuffling), read back from its results.json.
Each runs in a fresh process. It prints and writes (JSON and Markdown) threshold, type I,
type II, AUROC, final training loss and fit time as mean ± sd (sample sd over the seeds), and
the difference of the means in units of the hw7 loop's sd, next to the hw7 document's run.
Needs the real MNIST files and KMNIST's test split under ANOMALY_AE_DATA (or --data).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from hw7_loop import KMNIST_TEST_FILES, MNIST_FILES

PROJECT_ROOT = Path(__file__).resolve().parents[1]
NEEDED = tuple(f"MNIST/raw/{name}" for name in MNIST_FILES) + tuple(
    f"KMNIST/raw/{name}" for name in KMNIST_TEST_FILES
)
# (name in the table, key, format, unit); the errors are fractions, shown in percent
QUANTITIES = (
    ("threshold", "threshold", "{:.2f}", ""),
    ("type I", "type_I_error", "{:.2f}", " %"),
    ("type II", "type_II_error", "{:.2f}", " %"),
    ("AUROC", "auroc", "{:.5f}", ""),
    ("final training loss", "final_loss", "{:.6f}", ""),
    ("fit time", "fit_seconds", "{:.1f}", " s"),
)
COMPARED = ("type_I_error", "type_II_error", "auroc")  # the target: within one sd of the hw7 loop
# hw7 Problem 7's printed run (one GPU): threshold, 108 / 10,000 flagged, 9,756 / 10,000
# flagged, the last batch's loss and "Time ellapsed in training"
HW7_DOCUMENT = {
    "threshold": 22.62565851211548,
    "type_I_error": 0.0108,
    "type_II_error": 0.0244,
    "auroc": None,
    "final_loss": 0.010582,
    "fit_seconds": 33.234450817108154,
}


class RunFailed(RuntimeError):
    """One run of either side failed; carries its stderr, to be saved beside the results."""

    def __init__(self, what: str, stderr: str) -> None:
        lines = stderr.strip().splitlines()
        # the line that names the error, not Hydra's closing hint or a traceback's last frame
        errors = [line for line in lines if line.startswith("error:") or "Error" in line]
        reason = (errors or lines or ["(no output)"])[-1].strip()
        super().__init__(f"{what} failed: {reason}")
        self.stderr = stderr


def hw7_loop_run(root: Path, epochs: int, seed: int) -> dict:
    """Inside a child process: hw7's Steps 1-7 with ``torch.manual_seed(seed)``."""
    from hw7_loop import evaluate_hw7_loop, train_hw7_loop

    enc, dec, validation, fit = train_hw7_loop(root, epochs, seed=seed)
    return {
        **evaluate_hw7_loop(enc, dec, validation, root),
        "final_loss": fit["final_loss"],
        "fit_seconds": fit["seconds"],
    }


def framework_run(root: Path, epochs: int, seed: int, run_dir: Path) -> dict:
    """``python -m anomaly_ae.train seed=<seed>`` as a user runs it; its results.json."""
    command = [
        sys.executable,
        "-m",
        "anomaly_ae.train",
        f"seed={seed}",
        f"data.root={root}",
        "data.download=false",
        f"trainer.max_epochs={epochs}",
        "trainer.enable_progress_bar=false",
        f"hydra.run.dir={run_dir}",
    ]
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    if done.returncode != 0:
        raise RunFailed(f"anomaly_ae (seed {seed})", done.stderr)
    results = json.loads((run_dir / "results.json").read_text())
    metrics = results["metrics"]
    return {
        "threshold": results["threshold"],
        "type_I_error": metrics["type_I_error"],
        "type_II_error": metrics["type_II_error"],
        "auroc": metrics["auroc"],
        "final_loss": _or_nan(results.get("training", {}).get("last_batch_loss")),
        "fit_seconds": results["timings"]["fit_seconds"],
        "calibration_step": results["calibration"]["step"],
        "tested_step": results["tested"]["step"],
        "command": " ".join(command[1:]),
    }


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value


def run_hw7_loop_in_child(root: Path, epochs: int, seed: int) -> dict:
    command = [sys.executable, __file__, f"--child-seed={seed}", f"--data={root}"]
    done = subprocess.run(
        [*command, f"--epochs={epochs}"], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RunFailed(f"the hw7 loop (seed {seed})", done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def mean_sd(values: list[float]) -> dict[str, float]:
    return {
        "mean": statistics.fmean(values),
        "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
    }


def summarise(hw7_runs: list[dict], framework_runs: list[dict]) -> dict:
    """Mean ± sd of every quantity for both, and the difference of the means in hw7-loop sds."""
    summary = {}
    for _, key, _, _ in QUANTITIES:
        ours = mean_sd([r[key] for r in framework_runs])
        theirs = mean_sd([r[key] for r in hw7_runs])
        gap = ours["mean"] - theirs["mean"]
        summary[key] = {
            "hw7_loop": theirs,
            "anomaly_ae": ours,
            "difference": gap,
            "difference_in_hw7_sd": gap / theirs["sd"] if theirs["sd"] > 0 else None,
        }
    # True / False; None where the hw7 loop's runs do not spread, so no sd to judge in
    summary["within_one_sd"] = {
        key: None
        if summary[key]["difference_in_hw7_sd"] is None
        else abs(summary[key]["difference_in_hw7_sd"]) <= 1.0
        for key in COMPARED
    }
    return summary


def _cell(value: float | None, fmt: str, unit: str, percent: bool) -> str:
    if value is None:
        return "n/a"
    return fmt.format(value * 100 if percent else value) + unit


def markdown(summary: dict, n: int, header: list[str]) -> str:
    names = [name for name, _, _, _ in QUANTITIES]
    lines = [*header, "", "| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]

    def row(label: str, cells: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row(
        "hw7 document (one GPU run)",
        [_cell(HW7_DOCUMENT[k], f, u, u == " %") for _, k, f, u in QUANTITIES],
    )
    for label, side in (
        (f"hw7's loop here, mean ± sd of {n}", "hw7_loop"),
        (f"anomaly_ae here, mean ± sd of {n}", "anomaly_ae"),
    ):
        cells = []
        for _, key, fmt, unit in QUANTITIES:
            stats = summary[key][side]
            percent = unit == " %"
            cells.append(
                f"{_cell(stats['mean'], fmt, '', percent)} ± {_cell(stats['sd'], fmt, '', percent)}"
                + unit
            )
        row(label, cells)
    gaps = []
    for _, key, _, _ in QUANTITIES:
        gap = summary[key]["difference_in_hw7_sd"]
        gaps.append("n/a" if gap is None else f"{gap:+.2f}")
    row("difference of means, in hw7-loop sds", gaps)
    within = summary["within_one_sd"]
    words = {True: "yes", False: "NO", None: "n/a (no spread in the hw7 loop's runs)"}
    verdict = ", ".join(f"{k}: {words[ok]}" for k, ok in within.items())
    lines += ["", f"anomaly_ae within one sd of hw7's loop: {verdict}"]
    return "\n".join(lines) + "\n"


def data_root(candidate: str | None) -> Path:
    missing = [f for f in NEEDED if not candidate or not (Path(candidate) / f).is_file()]
    if missing:
        raise SystemExit(
            f"error: reproduce_hw7 needs the real MNIST files and KMNIST's test split; "
            f"{'ANOMALY_AE_DATA is not set' if not candidate else f'{candidate} lacks'} "
            f"{', '.join(missing[:2])}{' ...' if len(missing) > 2 else ''}: set "
            "ANOMALY_AE_DATA (or --data) to a folder in torchvision's raw layout"
        )
    return Path(candidate).resolve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("ANOMALY_AE_DATA"))
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 for each side")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument(
        "--out",
        default=str(PROJECT_ROOT / "logs" / "reproduce" / "reproduce_hw7"),
        help="writes <out>.json and <out>.md",
    )
    parser.add_argument("--child-seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    root = data_root(args.data)
    if args.child_seed is not None:
        print(json.dumps(hw7_loop_run(root, args.epochs, args.child_seed)))
        return

    if args.seeds < 2:
        raise SystemExit("error: --seeds must be at least 2: mean ± sd needs two runs a side")
    import torch

    seeds = list(range(args.seeds))
    machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        + (torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU")
        + f", torch {torch.__version__}"
    )
    command = f'make reproduce ARGS="--seeds {args.seeds} --epochs {args.epochs}"'
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "complete": False,
        "command": command,
        "data": str(root),
        "machine": machine,
        "epochs": args.epochs,
        "seeds": seeds,
        "hw7_document": HW7_DOCUMENT,
        "hw7_loop_runs": [],
        "anomaly_ae_runs": [],
    }
    print(f"data: {root}; {args.epochs} epochs; seeds {seeds}; {machine}", flush=True)
    with tempfile.TemporaryDirectory(prefix="anomaly_ae_reproduce_") as tmp:
        for seed in seeds:
            try:
                theirs = run_hw7_loop_in_child(root, args.epochs, seed)
                ours = framework_run(root, args.epochs, seed, Path(tmp) / f"seed{seed}")
            except RunFailed as failed:
                log = out.with_suffix(".stderr.txt")
                log.write_text(failed.stderr)
                raise SystemExit(
                    f"error: {failed}; its output is in {log}, and the seeds finished before "
                    f"it in {out.with_suffix('.json')}"
                ) from None
            report["hw7_loop_runs"].append({"seed": seed, **theirs})
            report["anomaly_ae_runs"].append({"seed": seed, **ours})
            # every finished seed is on disk at once: a later failure loses none of them
            out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
            for label, r in (("hw7 loop ", theirs), ("anomaly_ae", ours)):
                print(
                    f"seed {seed} {label}: threshold {r['threshold']:.2f}  "
                    f"type I {r['type_I_error']:.2%}  type II {r['type_II_error']:.2%}  "
                    f"AUROC {r['auroc']:.5f}  loss {r['final_loss']:.6f}  "
                    f"fit {r['fit_seconds']:.1f} s",
                    flush=True,
                )
    summary = summarise(report["hw7_loop_runs"], report["anomaly_ae_runs"])
    header = [
        f"# hw7 reproduced: {args.epochs} epochs, seeds 0-{args.seeds - 1}",
        "",
        f"`{command}` (`benchmarks/reproduce_hw7.py`), data {root}, on {machine}.",
        "Type I / II errors in percent; ± is the sample sd over the seeds. Fit time: hw7's",
        "training loop alone; anomaly_ae's Trainer.fit with its per-epoch validation, threshold",
        "fits, checkpoints and TensorBoard views.",
    ]
    table = markdown(summary, len(seeds), header)
    print("\n" + table)
    report.update(complete=True, summary=summary)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(table)
    print(f"written: {out.with_suffix('.json')}, {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
