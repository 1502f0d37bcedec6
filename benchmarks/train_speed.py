"""Side-by-side speed of hw7's loop, a bare tensor loop, anomaly_ae's fit, scoring, and
the detector a user would pick instead.

    python benchmarks/train_speed.py [--epochs 10] [--repeats 3] [--no-peer]
                                     [--out logs/bench/train_speed.json]

Every case runs in a fresh child process (so one cannot warm another's caches, and the
framework's peak memory is its own), on the same machine in one run:

  (a) hw7        hw7 Problem 7 as written (benchmarks/hw7_loop.py): torchvision MNIST +
                 ToTensor, random_split, DataLoader(batch_size=100, shuffle=True), loss.item()
                 and a print each step
  (b) bare       the same model, Adam, batch size and number of steps on in-memory tensors,
                 no framework, with the framework's optimizer (fused Adam), so that c/b is the
                 framework's own overhead
  (c) framework  python -m anomaly_ae.train with the default experiment (fit time: the
                 Trainer's fit, with its per-epoch validation, threshold fits and checkpoints)
  (d) scoring    images/s of the trained model from (c) scoring 20,000 images
  (e) peer       PyOD's AutoEncoder with the same layer sizes, epochs and batch size
                 (benchmarks/pyod_peer.py; the optional `bench` extra, skipped when absent):
                 fit time and AUROC next to (c)'s

(a), (b) and (c) run in rounds (--repeats, 3 by default), and c/b and a/c are taken within
each round: the machine's speed drifts, so only ratios of runs made minutes apart compare.
It prints the median and range over the rounds, and writes every round to a JSON file. Real
MNIST is used when ANOMALY_AE_DATA (or --data) holds it; otherwise synthetic images of MNIST's
shape are written in the IDX format to a temporary folder, and the output says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hw7_loop import MNIST_FILES

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BATCH_SIZE, LR, SCORE_IMAGES = 100, 1e-3, 20_000
CASES = ("hw7", "bare", "framework", "score", "peer")


# ----------------------------------------------------------------------------- the cases
def case_hw7(root: Path, epochs: int) -> dict:
    """hw7 Problem 7, Steps 1-4, as written (benchmarks/hw7_loop.py), seeded like (b)."""
    from hw7_loop import train_hw7_loop

    return train_hw7_loop(root, epochs, seed=0)[3]


def case_bare(root: Path, epochs: int) -> dict:
    """The same model and optimiser on in-memory tensors, without any framework."""
    import torch
    import torch.nn.functional as F
    from torchvision.datasets.mnist import read_image_file

    from anomaly_ae.models.mlp import MlpAutoencoder

    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    images = read_image_file(str(root / "MNIST" / "raw" / MNIST_FILES[0]))
    images = images.unsqueeze(1).float().div(255).to(device)
    train = images[torch.randperm(len(images))[:50_000]]
    net = MlpAutoencoder((1, 28, 28), latent_dim=32).to(device)  # hw7's network
    encoder, decoder = net.encoder, net.decoder
    params = [*encoder.parameters(), *decoder.parameters()]
    optimizer = torch.optim.Adam(params, lr=LR, fused=True)  # the framework's optimiser
    steps = 0
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(train), device=device)
        for first in range(0, len(train), BATCH_SIZE):
            x = train[order[first : first + BATCH_SIZE]]
            loss = F.mse_loss(decoder(encoder(x)), x)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
    final_loss = loss.item()  # one sync at the end, so GPU timings are complete
    return {"seconds": time.perf_counter() - start, "steps": steps, "final_loss": final_loss}


def case_framework(root: Path, epochs: int, out: Path, anomaly: str) -> dict:
    """anomaly_ae's own training job with the default experiment."""
    from hydra import compose, initialize_config_module

    from anomaly_ae.config import CONFIG_MODULE
    from anomaly_ae.train import train  # registers the configs

    overrides = [
        f"data.root={root}",
        f"data.anomaly={anomaly}",
        "data.download=false",
        f"trainer.max_epochs={epochs}",
        f"paths.output_dir={out}",
    ]
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    start = time.perf_counter()
    results = train(cfg)
    return {
        "seconds": results["timings"]["fit_seconds"],
        "run_seconds": time.perf_counter() - start,
        "checkpoint": results["checkpoints"]["last"],
        "type_I_error": results["metrics"]["type_I_error"],
        "auroc": results["metrics"]["auroc"],
        "threshold": results["threshold"],
    }


def case_peer(root: Path, epochs: int) -> dict:
    """PyOD's AutoEncoder with hw7's layer sizes (benchmarks/pyod_peer.py)."""
    from pyod_peer import PeerUnavailable, case_pyod

    try:
        return case_pyod(root, epochs)
    except PeerUnavailable as missing:
        return {"skipped": str(missing)}
    except Exception as failed:  # the peer's failure must not cost the rounds already timed
        return {"skipped": f"PyOD's fit failed: {type(failed).__name__}: {failed}"}


def case_score(root: Path, checkpoint: str) -> dict:
    """Images per second of the trained detector's batch scoring API."""
    import torch
    from torchvision.datasets.mnist import read_image_file

    from anomaly_ae.checkpoint import load_autoencoder
    from anomaly_ae.data.model_input import to_float_images

    model = load_autoencoder(checkpoint)
    raw = root / "MNIST" / "raw"
    images = torch.cat(
        [read_image_file(str(raw / MNIST_FILES[2])), read_image_file(str(raw / MNIST_FILES[0]))]
    )[:SCORE_IMAGES]
    images = to_float_images(images).to(model.device)
    model.score_images(images)  # warm-up
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        scores = model.score_images(images)
        if scores.is_cuda:
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return {"seconds": best, "images": len(images), "images_per_second": len(images) / best}


# ----------------------------------------------------------------------------- the driver
def real_root(candidate: str | None) -> Path | None:
    if candidate and all((Path(candidate) / "MNIST" / "raw" / f).is_file() for f in MNIST_FILES):
        return Path(candidate).resolve()
    return None


def write_synthetic_root(root: Path) -> Path:
    """Random images of MNIST's shape and counts, in the IDX format (MNIST and KMNIST test)."""
    import numpy as np

    rng = np.random.default_rng(0)

    def idx(path: Path, array: np.ndarray) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
        path.write_bytes(header + array.astype(np.uint8).tobytes())

    for folder, splits in (
        ("MNIST", (("train", 60_000), ("t10k", 10_000))),
        ("KMNIST", (("t10k", 10_000),)),
    ):
        for prefix, n in splits:
            raw = root / folder / "raw"
            idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
            idx(raw / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n))
    return root


def run_case(name: str, *args: str) -> tuple[dict, float]:
    """Run one case in a fresh interpreter; returns its result and its peak RSS in MB."""
    command = [sys.executable, __file__, "--case", name, *args]
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=PROJECT_ROOT
    )
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(
            f"case {name} failed (exit {child.returncode}); run it alone: {' '.join(command)}"
        )
    result = json.loads(output.strip().splitlines()[-1])
    return result, usage.ru_maxrss / 1024  # Linux reports KiB


def run_child_case(args: argparse.Namespace) -> None:
    """Inside a child process: run one case and print its result as JSON."""
    root = Path(args.root)
    result = {
        "hw7": lambda: case_hw7(root, args.epochs),
        "bare": lambda: case_bare(root, args.epochs),
        "framework": lambda: case_framework(root, args.epochs, Path(args.run_dir), args.anomaly),
        "score": lambda: case_score(root, args.checkpoint),
        "peer": lambda: case_peer(root, args.epochs),
    }[args.case]()
    print(json.dumps(result))


def run_rounds(
    root: Path, tmp: Path, epochs: int, repeats: int, anomaly: str, out: Path
) -> list[dict]:
    """(a), (b) and (c), one after the other, ``repeats`` times: each round's ratios compare
    runs made minutes apart, so a slow spell of a shared machine shows as one odd round."""
    common = ["--root", str(root), "--epochs", str(epochs)]
    rounds = []
    for number in range(repeats):
        hw7, _ = run_case("hw7", *common)
        bare, _ = run_case("bare", *common)
        run_dir = ["--run-dir", str(tmp / f"run{number}"), "--anomaly", anomaly]
        framework, rss = run_case("framework", *common, *run_dir)
        rounds.append({"hw7": hw7, "bare": bare, "framework": framework, "framework_rss": rss})
        # every finished round is on disk at once: a later failure loses none of them
        out.write_text(json.dumps({"complete": False, "rounds": rounds}, indent=2) + "\n")
        a, b, c = hw7["seconds"], bare["seconds"], framework["seconds"]
        print(
            f"round {number + 1}/{repeats}: (a) {a:.2f} s  (b) {b:.2f} s  (c) {c:.2f} s  "
            f"c/b {c / b:.3f}  a/c {a / c:.2f}",
            flush=True,
        )
    return rounds


def summarise(rounds: list[dict]) -> dict[str, dict[str, float]]:
    """Median and range over the rounds of every time and of the ratios taken within a round."""
    series = {
        "a_hw7_seconds": [r["hw7"]["seconds"] for r in rounds],
        "b_bare_seconds": [r["bare"]["seconds"] for r in rounds],
        "c_framework_fit_seconds": [r["framework"]["seconds"] for r in rounds],
        "c_framework_run_seconds": [r["framework"]["run_seconds"] for r in rounds],
        "c_framework_peak_rss_mb": [r["framework_rss"] for r in rounds],
        "ratio_c_over_b": [r["framework"]["seconds"] / r["bare"]["seconds"] for r in rounds],
        "ratio_a_over_c": [r["hw7"]["seconds"] / r["framework"]["seconds"] for r in rounds],
    }
    return {
        name: {"median": statistics.median(values), "min": min(values), "max": max(values)}
        for name, values in series.items()
    }


def fastest_ratios(summary: dict[str, dict[str, float]]) -> dict[str, float]:
    """c/b and a/c of the fastest run of each case: a shared machine's noise only ever adds
    time, so the fastest run is the closest to a case's own cost, and these ratios are a
    second, less noisy estimate next to the medians of the ratios within rounds."""
    a, b, c = (
        summary[k]["min"] for k in ("a_hw7_seconds", "b_bare_seconds", "c_framework_fit_seconds")
    )
    return {"ratio_c_over_b": c / b, "ratio_a_over_c": a / c}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("ANOMALY_AE_DATA"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3, help="rounds of (a), (b), (c)")
    parser.add_argument("--no-peer", action="store_true", help="skip PyOD's AutoEncoder (e)")
    parser.add_argument("--out", default=str(PROJECT_ROOT / "logs" / "bench" / "train_speed.json"))
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", help=argparse.SUPPRESS)
    parser.add_argument("--anomaly", help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        run_child_case(args)
        return

    with tempfile.TemporaryDirectory(prefix="anomaly_ae_bench_") as tmp:
        root = real_root(args.data)
        data_note = f"real MNIST from {root}"
        if root is None:
            root = write_synthetic_root(Path(tmp) / "data")
            data_note = "SYNTHETIC random images of MNIST's shape (no real MNIST found)"
        kmnist = (root / "KMNIST" / "raw" / "t10k-images-idx3-ubyte").is_file()
        common = ["--root", str(root), "--epochs", str(args.epochs)]
        print(
            f"data: {data_note}; {args.epochs} epochs of {50_000 // BATCH_SIZE} steps; "
            f"{args.repeats} rounds of (a), (b), (c)",
            flush=True,
        )
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        anomaly = "kmnist" if kmnist else "null"
        rounds = run_rounds(root, Path(tmp), args.epochs, args.repeats, anomaly, out)
        last = rounds[-1]["framework"]
        score, _ = run_case("score", *common, "--checkpoint", last["checkpoint"])
        if args.no_peer:
            peer = {"skipped": "--no-peer"}
        elif not kmnist:
            peer = {"skipped": "no KMNIST test split to measure AUROC on"}
        else:
            peer, _ = run_case("peer", *common)

    import torch

    summary = summarise(rounds)
    median = {name: values["median"] for name, values in summary.items()}
    fastest = fastest_ratios(summary)
    report = {
        "data": data_note,
        "epochs": args.epochs,
        "steps": rounds[0]["bare"]["steps"],
        "repeats": args.repeats,
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "torch": torch.__version__,
        **median,
        "summary": summary,
        "fastest": fastest,
        "rounds": rounds,
        "d_score_images_per_second": score["images_per_second"],
        "e_peer": peer,
        "framework_auroc": last["auroc"],
        "final_loss": {
            "hw7": rounds[-1]["hw7"]["final_loss"],
            "bare": rounds[-1]["bare"]["final_loss"],
        },
    }

    def spread(name: str, unit: str, fmt: str) -> str:
        s = summary[name]
        return f"{s['median']:{fmt}}{unit}  ({s['min']:{fmt}} - {s['max']:{fmt}})"

    auroc = "n/a" if last["auroc"] is None else f"{last['auroc']:.4f}"
    rows = [
        (f"median of {args.repeats} rounds (range)", ""),
        ("(a) hw7 loop (ToTensor DataLoader)", spread("a_hw7_seconds", " s", ".2f")),
        ("(b) bare tensor loop (fused Adam)", spread("b_bare_seconds", " s", ".2f")),
        ("(c) anomaly_ae fit (default experiment)", spread("c_framework_fit_seconds", " s", ".2f")),
        ("    whole run incl. start-up and test", spread("c_framework_run_seconds", " s", ".2f")),
        ("    peak RSS of (c)", spread("c_framework_peak_rss_mb", " MB", ".0f")),
        ("c / b  (framework overhead)", spread("ratio_c_over_b", "", ".3f")),
        ("a / c  (speed-up over hw7)", spread("ratio_a_over_c", "", ".2f")),
        ("c / b  of the fastest (b) and (c)", f"{fastest['ratio_c_over_b']:.3f}"),
        ("a / c  of the fastest (a) and (c)", f"{fastest['ratio_a_over_c']:.2f}"),
        (f"(d) scoring {score['images']:,} images", f"{score['images_per_second']:,.0f} img/s"),
        ("    AUROC of the last (c)", auroc),
    ]
    if "skipped" in peer:
        rows.append(("(e) PyOD AutoEncoder", f"skipped: {peer['skipped']}"))
    else:
        rows.append(
            (f"(e) PyOD {peer['pyod_version']} AutoEncoder fit", f"{peer['seconds']:.2f} s")
        )
        rows.append(("    its AUROC", f"{peer['auroc']:.4f}"))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    out.write_text(json.dumps({"complete": True, **report}, indent=2) + "\n")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
