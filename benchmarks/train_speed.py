"""Side-by-side speed of the seed's loop, a bare tensor loop, anomaly_ae's fit, and scoring.

    python benchmarks/train_speed.py [--epochs 10] [--out logs/bench/train_speed.json]

All four are timed in one run on the same machine, each in a fresh child process (so one
cannot warm the other's caches, and the framework's peak memory is its own):

  (a) seed       hw7 Problem 7 as written: torchvision MNIST + ToTensor, random_split,
                 DataLoader(batch_size=100, shuffle=True), loss.item() and a print each step
  (b) bare       the same model, Adam, batch size and number of steps on in-memory tensors,
                 no framework, with the framework's optimizer (fused Adam), so that c/b is the
                 framework's own overhead
  (c) framework  python -m anomaly_ae.train with the default experiment (fit time: the
                 Trainer's fit, with its per-epoch validation, threshold fit and checkpoints)
  (d) scoring    images/s of the trained model from (c) scoring 20,000 images

It prints the times and the ratios c/b (framework overhead) and a/c (speed-up over the seed),
the peak RSS of (c), and writes everything to a JSON file. Real MNIST is used
when ANOMALY_AE_DATA (or --data) holds it; otherwise synthetic images of MNIST's shape are
written in the IDX format to a temporary folder, and the output says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
BATCH_SIZE, LR, SCORE_IMAGES = 100, 1e-3, 20_000


# ----------------------------------------------------------------------------- the cases
def case_seed(root: Path, epochs: int) -> dict:
    """hw7 Problem 7, Steps 1-4, as written (only the data root and the print sink differ)."""
    import io

    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim
    from torchvision import datasets
    from torchvision.transforms import transforms

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dataset = datasets.MNIST(
        root=str(root), train=True, transform=transforms.ToTensor(), download=False
    )
    train_dataset, _validation = torch.utils.data.random_split(dataset, [50000, 10000])

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(784, 256)
            self.fc2 = nn.Linear(256, 128)
            self.fc3 = nn.Linear(128, 32)

        def forward(self, x):
            x = x.view(x.size(0), -1)
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            return F.relu(self.fc3(x))

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(32, 128)
            self.fc2 = nn.Linear(128, 256)
            self.fc3 = nn.Linear(256, 784)

        def forward(self, z):
            z = F.relu(self.fc1(z))
            z = F.relu(self.fc2(z))
            x = torch.sigmoid(self.fc3(z))
            return x.view(x.size(0), 1, 28, 28)

    enc, dec = Encoder().to(device), Decoder().to(device)
    loss_function = nn.MSELoss()
    optimizer = optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=LR)
    train_loader = torch.utils.data.DataLoader(
        dataset=train_dataset, batch_size=BATCH_SIZE, shuffle=True
    )
    train_loss_list = []
    sink = io.StringIO()  # the seed prints every step to a terminal; keep the work, not the noise
    start = time.time()
    for epoch in range(epochs):
        print(f"{epoch}th epoch starting.", file=sink)
        enc.train()
        dec.train()
        for batch, (images, _) in enumerate(train_loader):
            images = images.to(device)
            z = enc(images)
            reconstructed_images = dec(z)
            optimizer.zero_grad()
            train_loss = loss_function(images, reconstructed_images)
            train_loss.backward()
            train_loss_list.append(train_loss.item())
            optimizer.step()
            print(
                f"[Epoch {epoch:3d}] Processing batch #{batch:3d} reconstruction loss: "
                f"{train_loss.item():.6f}",
                end="\r",
                file=sink,
            )
    seconds = time.time() - start
    return {"seconds": seconds, "steps": len(train_loss_list), "final_loss": train_loss_list[-1]}


def case_bare(root: Path, epochs: int) -> dict:
    """The same model and optimiser on in-memory tensors, without any framework."""
    import torch
    import torch.nn.functional as F
    from torchvision.datasets.mnist import read_image_file

    from anomaly_ae.models.mlp import Decoder, Encoder

    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    images = read_image_file(str(root / "MNIST" / "raw" / MNIST_FILES[0]))
    images = images.unsqueeze(1).float().div(255).to(device)
    train = images[torch.randperm(len(images))[:50_000]]
    encoder, decoder = Encoder().to(device), Decoder().to(device)
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
    from hydra import compose, initialize_config_dir

    from anomaly_ae.config import CONFIG_DIR
    from anomaly_ae.train import train

    overrides = [
        f"data.root={root}",
        f"data.anomaly={anomaly}",
        "data.download=false",
        f"trainer.max_epochs={epochs}",
        f"paths.output_dir={out}",
    ]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    start = time.perf_counter()
    results = train(cfg)
    return {
        "seconds": results["timings"]["fit_seconds"],
        "run_seconds": time.perf_counter() - start,
        "checkpoint": results["checkpoints"]["last"],
        "type_I_error": results["metrics"]["type_I_error"],
        "threshold": results["threshold"],
    }


def case_score(root: Path, checkpoint: str) -> dict:
    """Images per second of the trained detector's batch scoring API."""
    import torch
    from torchvision.datasets.mnist import read_image_file

    from anomaly_ae.checkpoint import load_autoencoder
    from anomaly_ae.data.tensors import to_float_images

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("ANOMALY_AE_DATA"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", default=str(PROJECT_ROOT / "logs" / "bench" / "train_speed.json"))
    parser.add_argument(
        "--case",
        choices=["seed", "bare", "framework", "score"],
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", help=argparse.SUPPRESS)
    parser.add_argument("--anomaly", help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.case:  # inside a child process
        root = Path(args.root)
        result = {
            "seed": lambda: case_seed(root, args.epochs),
            "bare": lambda: case_bare(root, args.epochs),
            "framework": lambda: case_framework(
                root, args.epochs, Path(args.run_dir), args.anomaly
            ),
            "score": lambda: case_score(root, args.checkpoint),
        }[args.case]()
        print(json.dumps(result))
        return

    with tempfile.TemporaryDirectory(prefix="anomaly_ae_bench_") as tmp:
        root = real_root(args.data)
        data_note = f"real MNIST from {root}"
        if root is None:
            root = write_synthetic_root(Path(tmp) / "data")
            data_note = "SYNTHETIC random images of MNIST's shape (no real MNIST found)"
        kmnist = (root / "KMNIST" / "raw" / "t10k-images-idx3-ubyte").is_file()
        common = ["--root", str(root), "--epochs", str(args.epochs)]
        print(f"data: {data_note}; {args.epochs} epochs of {50_000 // BATCH_SIZE} steps")

        seed, _ = run_case("seed", *common)
        bare, _ = run_case("bare", *common)
        framework, framework_rss = run_case(
            "framework",
            *common,
            "--run-dir",
            str(Path(tmp) / "run"),
            "--anomaly",
            "kmnist" if kmnist else "null",
        )
        score, _ = run_case("score", *common, "--checkpoint", framework["checkpoint"])

    import torch

    report = {
        "data": data_note,
        "epochs": args.epochs,
        "steps": bare["steps"],
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "torch": torch.__version__,
        "a_seed_seconds": seed["seconds"],
        "b_bare_seconds": bare["seconds"],
        "c_framework_fit_seconds": framework["seconds"],
        "c_framework_run_seconds": framework["run_seconds"],
        "c_framework_peak_rss_mb": framework_rss,
        "d_score_images_per_second": score["images_per_second"],
        "ratio_c_over_b": framework["seconds"] / bare["seconds"],
        "ratio_a_over_c": seed["seconds"] / framework["seconds"],
        "final_loss": {"seed": seed["final_loss"], "bare": bare["final_loss"]},
        "framework_type_I_error": framework["type_I_error"],
    }
    rows = [
        ("(a) seed loop (ToTensor DataLoader)", f"{seed['seconds']:.2f} s"),
        ("(b) bare tensor loop (fused Adam)", f"{bare['seconds']:.2f} s"),
        ("(c) anomaly_ae fit (default experiment)", f"{framework['seconds']:.2f} s"),
        ("    whole run incl. start-up and test", f"{framework['run_seconds']:.2f} s"),
        ("    peak RSS of (c)", f"{framework_rss:.0f} MB"),
        (f"(d) scoring {score['images']:,} images", f"{score['images_per_second']:,.0f} img/s"),
        ("c / b  (framework overhead)", f"{report['ratio_c_over_b']:.3f}"),
        ("a / c  (speed-up over the seed)", f"{report['ratio_a_over_c']:.2f}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value:>14}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
