"""hw7 Problem 7 as written: the reference that ``make bench`` and ``make reproduce`` compare
anomaly_ae with.

Steps 1-7 follow hw7's code line for line (torchvision ``MNIST`` with ``ToTensor``,
``random_split``, ``DataLoader(shuffle=True)``, ``loss.item()`` and a print every step, scores
summed over pixels, ``np.mean``/``np.std`` of the validation scores). Only these differ:

- the data root is a parameter, and nothing is downloaded;
- KMNIST's test split is read from its IDX files directly: torchvision's ``KMNIST`` class
  refuses a folder without the training files, which the experiment never uses. The images
  become exactly what ``ToTensor`` makes of them (uint8 / 255, one channel);
- the per-step print goes to a buffer (the work stays, the terminal noise does not);
- ``seed`` (when given) seeds torch's global generator first, which hw7's split,
  initialisation and shuffling all draw from;
- scoring runs under ``torch.no_grad()`` (the same numbers, without keeping graphs), and the
  AUROC of the test scores is added (torchmetrics), which hw7 does not compute.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torchvision import datasets
from torchvision.datasets.mnist import read_image_file, read_label_file
from torchvision.transforms import transforms

LR, BATCH_SIZE = 0.001, 100
# torchvision's raw layout: <root>/MNIST/raw/<file>, and KMNIST's test split in KMNIST/raw
MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
KMNIST_TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


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
        x = torch.sigmoid(self.fc3(z))  # to make output's pixels are 0~1
        return x.view(x.size(0), 1, 28, 28)


def kmnist_test(root: Path) -> torch.utils.data.TensorDataset:
    """KMNIST's test split as ``ToTensor`` would give it: float images in [0, 1], (N, 1, 28, 28)."""
    images, labels = (Path(root) / "KMNIST" / "raw" / name for name in KMNIST_TEST_FILES)
    images, labels = read_image_file(str(images)), read_label_file(str(labels))
    return torch.utils.data.TensorDataset(images.unsqueeze(1).float().div(255), labels)


def train_hw7_loop(
    root: Path, epochs: int = 10, seed: int | None = None
) -> tuple[nn.Module, nn.Module, Any, dict[str, Any]]:
    """Steps 1-4: data, model, optimiser, training. Returns the encoder, the decoder, the
    validation split and the facts of the fit (seconds, steps, final loss)."""
    if seed is not None:
        torch.manual_seed(seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    # Step 1
    dataset = datasets.MNIST(
        root=str(root), train=True, transform=transforms.ToTensor(), download=False
    )
    train_dataset, validation_dataset = torch.utils.data.random_split(dataset, [50000, 10000])
    # Step 3
    enc, dec = Encoder().to(device), Decoder().to(device)
    loss_function = nn.MSELoss()
    optimizer = optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=LR)
    # Step 4
    train_loader = torch.utils.data.DataLoader(
        dataset=train_dataset, batch_size=BATCH_SIZE, shuffle=True
    )
    train_loss_list = []
    sink = io.StringIO()
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
    enc.eval()
    dec.eval()
    fit = {"seconds": seconds, "steps": len(train_loss_list), "final_loss": train_loss_list[-1]}
    return enc, dec, validation_dataset, fit


def _scores(enc: nn.Module, dec: nn.Module, dataset: Any) -> torch.Tensor:
    device = next(enc.parameters()).device
    loader = torch.utils.data.DataLoader(dataset=dataset, batch_size=BATCH_SIZE)
    scores = []
    with torch.no_grad():
        for images, _ in loader:
            images = images.to(device)
            recon = dec(enc(images))
            scores.append(((images - recon) ** 2).sum((1, 2, 3)).cpu())
    return torch.cat(scores)


def evaluate_hw7_loop(
    enc: nn.Module, dec: nn.Module, validation_dataset: Any, root: Path
) -> dict[str, float]:
    """Steps 5-7: the threshold from the validation scores, type I error on MNIST test,
    type II error on KMNIST test; and the AUROC of those 20,000 scores."""
    from torchmetrics.functional.classification import binary_auroc

    # Step 5: np.mean / np.std (population) of the validation scores
    validation = _scores(enc, dec, validation_dataset).numpy()
    threshold = float(np.mean(validation) + 3 * np.std(validation))
    # Steps 6-7
    test_dataset = datasets.MNIST(root=str(root), train=False, transform=transforms.ToTensor())
    normal = _scores(enc, dec, test_dataset)
    anomaly = _scores(enc, dec, kmnist_test(root))
    scores = torch.cat([normal, anomaly])
    targets = torch.cat([torch.zeros(len(normal)), torch.ones(len(anomaly))]).long()
    return {
        "threshold": threshold,
        "type_I_error": int((normal > threshold).sum()) / len(normal),
        "type_II_error": int((anomaly <= threshold).sum()) / len(anomaly),
        # in [0, 1], order kept: torchmetrics would squash larger scores with a sigmoid,
        # which ties them all at 1.0 in float32
        "auroc": float(binary_auroc(scores.double() / scores.max(), targets)),
    }
