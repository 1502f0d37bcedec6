"""A peer for the benchmark: PyOD's ``AutoEncoder`` set up as close to hw7's model as it goes.

    python -c "from pathlib import Path; import sys; sys.path.insert(0, 'benchmarks');
               from pyod_peer import case_pyod; print(case_pyod(Path('/work/shared/data'), 10))"

Someone who picks PyOD instead of anomaly_ae would fit ``pyod.models.auto_encoder.AutoEncoder``
on the flattened normal training images and rank test images by its ``decision_function``.
PyOD's defaults describe a different model, so this case sets every constructor argument that
would otherwise differ from hw7 Problem 7, and reads PyOD's own source (3.6) to see
what each one does:

  hidden_neuron_list=[256, 128, 32]
        the *encoder's* widths. PyOD mirrors them for the decoder and ends with a plain
        ``nn.Linear`` to the input size, so this gives hw7's 784-256-128-32-128-256-784.
        (Passing the whole list ``[256, 128, 32, 128, 256]`` would build a net twice as deep:
        784-256-128-32-128-256-128-32-128-256-784.)
  hidden_activation_name="relu"
        ReLU after every hidden layer, the 32-unit code included, as in hw7.
  batch_norm=False, dropout_rate=0.0
        PyOD's defaults are batch norm on and dropout 0.2 in every hidden layer; hw7 has
        neither.
  preprocessing=False
        PyOD's default standardises every pixel with the training mean and std (and scores
        distances in that space); hw7 feeds raw pixels in [0, 1] and scores there.
  optimizer_name="adam", lr=1e-3, optimizer_params={"weight_decay": 0.0}
        hw7's Adam(lr=1e-3). PyOD's AutoEncoder defaults to a weight decay of 1e-5.
  batch_size=100, epoch_num=epochs
        hw7's batch size and number of epochs (PyOD's defaults: 32 and 10). PyOD drops the
        last incomplete batch; 50,000 / 100 leaves none.
  use_compile=False
        eager mode, like hw7.
  device, verbose, random_state
        set by ``anomaly_ae.benchmark.peers.run_peer``: "cuda" when there is a GPU, else "cpu"
        (the device anomaly_ae's default, accelerator=auto, trains on), no progress bar in the
        timing, and the seed, with Python's, NumPy's and torch's global generators seeded right
        before the detector is built (the weights and the shuffling order come from them).
  contamination=0.1
        PyOD's default, spelled out: it only sets ``threshold_``/``labels_`` on the training
        scores and changes no score, so AUROC does not depend on it.

What still differs from hw7's model and cannot be configured:

  * no sigmoid on the output: PyOD's decoder ends with a linear layer, so reconstructions are
    not confined to (0, 1);
  * the weights of the hidden layers are drawn with ``kaiming_uniform_(a=0)`` (bound
    sqrt(6 / fan_in)), not torch's default ``nn.Linear`` initialisation (bound
    1 / sqrt(fan_in)); biases and the output layer keep torch's default;
  * the score is the Euclidean norm of the reconstruction error, the square root of the
    framework's sum of squared errors: the same ranking, so the same AUROC for a given model;
  * ``fit`` itself scores all 50,000 training images once at the end (for ``threshold_``), so
    the fit time holds one extra scoring pass; and PyOD batches through a per-item
    ``Dataset`` and the default collate, which is part of what a PyOD user pays.

PyOD's ``fit`` uses every image it is given (it holds none out for validation), so it gets the
50,000 training images of the framework's own split (``anomaly_ae.data.splits.sizes.
split_indices`` with ``data.split_seed=42``: the first 50,000 of one seeded ``randperm`` train,
the next 10,000 validate) and never sees the 10,000 validation images. The test set is the
framework's: the 10,000 MNIST test images as normal, the 10,000 KMNIST test images as anomalies
(label 1). Only ``fit`` is timed; PyOD's distance is compiled by numba on its first call, so a
tiny call before the timer keeps that one-off compilation out of the fit time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from anomaly_ae.benchmark.peers import PeerUnavailable, run_peer

TRAIN_SIZE, VAL_SIZE, SPLIT_SEED = 50_000, 10_000, 42  # the framework's data defaults
HIDDEN_WIDTHS = [256, 128, 32]  # the encoder's; PyOD mirrors them for the decoder
BATCH_SIZE, LR = 100, 1e-3

__all__ = ["PeerUnavailable", "case_pyod", "pyod_settings"]


def pyod_settings(epochs: int) -> dict[str, Any]:
    """The keyword arguments given to ``pyod.models.auto_encoder.AutoEncoder`` beyond what
    :func:`anomaly_ae.benchmark.peers.run_peer` sets (the seed, the device, quiet)."""
    return {
        "hidden_neuron_list": list(HIDDEN_WIDTHS),
        "hidden_activation_name": "relu",
        "batch_norm": False,
        "dropout_rate": 0.0,
        "preprocessing": False,
        "optimizer_name": "adam",
        "lr": LR,
        "optimizer_params": {"weight_decay": 0.0},
        "batch_size": BATCH_SIZE,
        "epoch_num": epochs,
        "contamination": 0.1,
        "use_compile": False,
    }


def _images(path: Path) -> torch.Tensor:
    """An IDX image file as ``float32`` ``(N, H, W)`` in [0, 1]."""
    from torchvision.datasets.mnist import read_image_file

    return read_image_file(str(path)).to(torch.float32).div_(255.0)


def case_pyod(root: Path, epochs: int, seed: int = 0) -> dict[str, Any]:
    """Fit PyOD's AutoEncoder on the framework's 50,000 MNIST training images and test it on
    MNIST (normal) against KMNIST (anomaly), through the one-class benchmark's peer code
    (:func:`~anomaly_ae.benchmark.peers.run_peer`: numba compiled before the timed fit, AUROC
    with torchmetrics).

    Returns the fit time in seconds, the test AUROC, PyOD's version and the constructor's
    keyword arguments. Raises ``PeerUnavailable`` when PyOD cannot be imported.
    """
    from anomaly_ae.data.splits.sizes import split_indices

    root = Path(root)
    train_images = _images(root / "MNIST" / "raw" / "train-images-idx3-ubyte")
    train_idx, _val_idx = split_indices(len(train_images), TRAIN_SIZE, VAL_SIZE, SPLIT_SEED)
    normal = _images(root / "MNIST" / "raw" / "t10k-images-idx3-ubyte")
    anomalous = _images(root / "KMNIST" / "raw" / "t10k-images-idx3-ubyte")
    labels = torch.cat(
        [torch.zeros(len(normal), dtype=torch.long), torch.ones(len(anomalous), dtype=torch.long)]
    )
    test = torch.cat([normal, anomalous])
    outcome = run_peer(
        "pyod_autoencoder", pyod_settings(epochs), train_images[train_idx], test, labels, seed
    )
    return {
        "seconds": outcome["fit_seconds"],
        "auroc": outcome["auroc"],
        "pyod_version": outcome["library_version"],
        "settings": outcome["settings"],
    }
