"""Structured-config schemas: the types of every setting, checked when Hydra composes, and
the defaults of the settings that no constructor of ours holds.

Each YAML file of ``conf/`` starts from one of these (``defaults: [/data_schema@_here_,
_self_]`` in a group, ``<task>_schema`` in a primary config), so a misspelt key or a value of
the wrong type (``data.batch_size=big``) stops the run at composition with Hydra's message,
before anything is loaded or trained. They are stored outside the config groups, so that
``--help`` lists only real choices and ``model=mlp_schema`` is not one. Lightning's Trainer
accepts many more arguments than the schema names: add one with ``+trainer.<name>=<value>``.

Every default is written once. Where a class of ours is built from a group (the data module,
the model and its networks, the threshold rules), its constructor holds the defaults and the
schema reads them (:func:`default_of`); the trainer's and the entry points' defaults are
written here; the YAML files only choose a schema and override (``root: ${paths.data_dir}``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from anomaly_ae.data.datamodule import AnomalyDataModule
from anomaly_ae.detector import Detector
from anomaly_ae.models.autoencoder import AutoencoderModule
from anomaly_ae.models.conv import ConvAutoencoder
from anomaly_ae.models.mlp import MlpAutoencoder
from anomaly_ae.models.nets import CONV_NET, LENET_NET, SEED_NET
from anomaly_ae.models.vae import VAE_NET, VaeAutoencoder, VaeModule
from anomaly_ae.scoring import RECONSTRUCTION
from anomaly_ae.thresholds import ConformalThreshold, GaussianThreshold, QuantileThreshold

# Optional[...] rather than "X | None": OmegaConf reads these annotations at runtime.


def default_of(target: Callable[..., Any], name: str) -> Any:
    """A dataclass field whose default is ``target``'s default for the argument ``name``
    (sequences become lists, which OmegaConf types as ``list``)."""
    value = inspect.signature(target).parameters[name].default
    if value is inspect.Parameter.empty:
        raise TypeError(f"{target.__qualname__}({name}) has no default")
    if isinstance(value, list | tuple):
        return field(default_factory=lambda: list(value))
    return field(default=value)


@dataclass
class DataConfig:
    """The data module; ``normal`` and ``anomaly`` are a name (``mnist``...), ``folder`` or
    ``npy`` (with ``normal_path`` / ``anomaly_path``), or a dataset class as a mapping
    (``{_target_: torchvision.datasets.FakeData, size: 100}``), handed over as plain values."""

    _target_: str = "anomaly_ae.data.AnomalyDataModule"
    # a dataset class in normal/anomaly is built by the data module, not by Hydra
    _recursive_: bool = False
    _convert_: str = "all"
    root: str = MISSING
    normal: Any = default_of(AnomalyDataModule, "normal")
    anomaly: Any = default_of(AnomalyDataModule, "anomaly")
    normal_path: Optional[str] = default_of(AnomalyDataModule, "normal_path")  # noqa: UP045
    anomaly_path: Optional[str] = default_of(AnomalyDataModule, "anomaly_path")  # noqa: UP045
    normal_classes: Optional[list[int]] = default_of(AnomalyDataModule, "normal_classes")  # noqa: UP045
    anomaly_classes: Optional[list[int]] = default_of(AnomalyDataModule, "anomaly_classes")  # noqa: UP045
    train_size: Optional[int] = default_of(AnomalyDataModule, "train_size")  # noqa: UP045
    # a number of images, or a share in (0, 1) of the normal images it is drawn from
    val_size: float = default_of(AnomalyDataModule, "val_size")
    test_size: Optional[float] = default_of(AnomalyDataModule, "test_size")  # noqa: UP045
    split_seed: int = default_of(AnomalyDataModule, "split_seed")
    grayscale: bool = default_of(AnomalyDataModule, "grayscale")
    resize: bool = default_of(AnomalyDataModule, "resize")
    image_size: Optional[list[int]] = default_of(AnomalyDataModule, "image_size")  # noqa: UP045
    shuffle_seed: int = default_of(AnomalyDataModule, "shuffle_seed")
    batch_size: int = default_of(AnomalyDataModule, "batch_size")
    eval_batch_size: int = default_of(AnomalyDataModule, "eval_batch_size")
    data_on_device: bool = default_of(AnomalyDataModule, "data_on_device")
    num_workers: int = default_of(AnomalyDataModule, "num_workers")
    pin_memory: Optional[bool] = default_of(AnomalyDataModule, "pin_memory")  # noqa: UP045
    download: bool = default_of(AnomalyDataModule, "download")


@dataclass
class MlpNetConfig:
    """model=mlp's network, the seed's: ``model.net.hidden_dims`` (the encoder's; the decoder
    mirrors them) and ``model.net.latent_relu`` (a ReLU on the code, the seed's; false: a
    linear code)."""

    _target_: str = SEED_NET
    hidden_dims: list[int] = default_of(MlpAutoencoder, "hidden_dims")
    latent_relu: bool = default_of(MlpAutoencoder, "latent_relu")


@dataclass
class ConvNetConfig:
    """model=conv's network: ``model.net.channels`` and ``model.net.upsampling``."""

    _target_: str = CONV_NET
    channels: list[int] = default_of(ConvAutoencoder, "channels")
    upsampling: str = default_of(ConvAutoencoder, "upsampling")  # or nearest


@dataclass
class LeNetNetConfig:
    """model=dcae's network, Ruff et al. 2018's MNIST LeNet autoencoder: no settings of its
    own (1x28x28 images, ``model.latent_dim`` a multiple of 16)."""

    _target_: str = LENET_NET


@dataclass
class ModelConfig:
    """The LightningModule; ``net`` is any network config (``_target_`` and its settings),
    handed to the module as plain values, which builds it and records it in checkpoints."""

    _target_: str = "anomaly_ae.models.AutoencoderModule"
    _recursive_: bool = False
    _convert_: str = "all"
    net: Any = MISSING
    # the anomaly score, chosen with score=reconstruction|mahalanobis|combined (conf/score/)
    score: Any = default_of(AutoencoderModule, "score")
    input_shape: list[int] = default_of(AutoencoderModule, "input_shape")
    latent_dim: int = default_of(AutoencoderModule, "latent_dim")
    lr: float = default_of(AutoencoderModule, "lr")
    weight_decay: float = default_of(AutoencoderModule, "weight_decay")
    scheduler: Optional[str] = default_of(AutoencoderModule, "scheduler")  # noqa: UP045
    # multistep: the epochs where the learning rate is multiplied by lr_gamma
    lr_milestones: Optional[list[int]] = default_of(AutoencoderModule, "lr_milestones")  # noqa: UP045
    lr_gamma: float = default_of(AutoencoderModule, "lr_gamma")
    # null or gcn_minmax: the input transform fitted on the training images, part of the model
    preprocess: Optional[str] = default_of(AutoencoderModule, "preprocess")  # noqa: UP045


@dataclass
class VaeNetConfig:
    """model=vae's network: ``model.net.hidden_dims`` (the seed's MLP sizes)."""

    _target_: str = VAE_NET
    hidden_dims: list[int] = default_of(VaeAutoencoder, "hidden_dims")


@dataclass
class VaeModelConfig(ModelConfig):
    """model=vae: the LightningModule trained on the negative ELBO, ``model.beta`` weighing
    its KL term."""

    _target_: str = "anomaly_ae.models.vae.VaeModule"
    beta: float = default_of(VaeModule, "beta")


@dataclass
class ScoreConfig:
    """A score of :mod:`anomaly_ae.scoring` (its state is fitted, not configured)."""

    _target_: str = RECONSTRUCTION


@dataclass
class GaussianThresholdConfig:
    _target_: str = "anomaly_ae.thresholds.GaussianThreshold"
    k: float = default_of(GaussianThreshold, "k")


@dataclass
class QuantileThresholdConfig:
    _target_: str = "anomaly_ae.thresholds.QuantileThreshold"
    alpha: float = default_of(QuantileThreshold, "alpha")


@dataclass
class ConformalThresholdConfig:
    _target_: str = "anomaly_ae.thresholds.ConformalThreshold"
    alpha: float = default_of(ConformalThreshold, "alpha")


@dataclass
class TrainerConfig:
    _target_: str = "pytorch_lightning.Trainer"
    # the run directory; None where Hydra has not made one (--cfg job --resolve), and if set
    # to null, Lightning's default (the current directory)
    default_root_dir: Optional[str] = MISSING  # noqa: UP045
    min_epochs: Optional[int] = 1  # noqa: UP045
    max_epochs: int = 10  # the seed's
    max_steps: int = -1
    accelerator: str = "auto"  # cpu, gpu (cuda), mps or auto (the best one present)
    devices: Any = 1  # an int, "auto", or a list of device indices
    num_nodes: int = 1
    strategy: Any = "auto"  # auto, ddp, ddp_spawn, ... or a strategy object's config
    precision: Any = "32-true"  # 32-true, 16-mixed, bf16-mixed, ...
    sync_batchnorm: bool = False
    check_val_every_n_epoch: int = 1
    log_every_n_steps: int = 50
    deterministic: Any = False  # True, False or "warn"
    enable_progress_bar: bool = True
    enable_model_summary: bool = True


@dataclass
class RunConfig:
    """What every entry point's primary config has."""

    paths: Any = MISSING
    task_name: str = MISSING
    seed: int = 42  # Lightning's seed_everything, and the training order (data.shuffle_seed)


@dataclass
class LightningRunConfig(RunConfig):
    """Entry points that run a Lightning Trainer on the data module."""

    data: Any = MISSING
    threshold: Any = MISSING
    trainer: Any = MISSING
    callbacks: Any = None
    logger: Any = None


@dataclass
class TrainConfig(LightningRunConfig):
    model: Any = MISSING
    # a short name of the experiment, recorded in results.json and the loggers' hparams
    experiment_name: str = "custom"
    # test the final model on normal + anomaly test data after fitting
    test: bool = True
    # resume fitting from a checkpoint: its path, or last (the newest last.ckpt of earlier runs)
    ckpt_path: Optional[str] = None  # noqa: UP045
    # what a hyperparameter sweeper optimises: a validation quantity (val/...), never a test one
    optimized_metric: Optional[str] = None  # noqa: UP045


@dataclass
class EvaluateConfig(LightningRunConfig):
    ckpt_path: str = MISSING  # the checkpoint to test (required)
    # re-fit the threshold on the validation split with the `threshold` rule before testing
    # (and a fitted score, such as score=mahalanobis, on the training and validation split);
    # false keeps what the checkpoint stores
    refit_threshold: bool = False


@dataclass
class DetectConfig(RunConfig):
    # the trained detector (its threshold and model settings travel inside it)
    ckpt_path: str = MISSING
    # an image (.png, .jpg, ...), a .npy array, an IDX file, or a folder of them (recursively)
    inputs: str = MISSING
    grayscale: bool = False  # convert colour images to gray (refused otherwise)
    resize: bool = False  # resize images of another size to the model's (refused otherwise)
    device: str = default_of(Detector.from_checkpoint, "device")
    output_dir: Optional[str] = MISSING  # where detections.csv and detections.json go  # noqa: UP045
    print_limit: int = 20  # rows printed on the terminal (all rows are written)


@dataclass
class ExportConfig(RunConfig):
    ckpt_path: str = MISSING
    format: str = "onnx"  # onnx (needs pip install -e '.[export]') or torchscript
    # the file to write; null: detector.onnx / detector.pt in the run directory
    output: Optional[str] = None  # noqa: UP045
    # random images the exported file is checked on against the checkpoint
    check_images: int = 256
    # the check fails (exit 2) where |exported - checkpoint score| > atol + rtol * score, or
    # where a flag differs for a score farther than that from the threshold
    rtol: float = 1e-5
    atol: float = 1e-4


def register_schemas() -> None:
    store = ConfigStore.instance()
    store.store(name="data_schema", node=DataConfig)
    store.store(name="model_schema", node=ModelConfig)
    store.store(name="mlp_net_schema", node=MlpNetConfig)
    store.store(name="conv_net_schema", node=ConvNetConfig)
    store.store(name="lenet_net_schema", node=LeNetNetConfig)
    store.store(name="vae_model_schema", node=VaeModelConfig)
    store.store(name="vae_net_schema", node=VaeNetConfig)
    store.store(name="score_schema", node=ScoreConfig)
    store.store(name="gaussian_threshold_schema", node=GaussianThresholdConfig)
    store.store(name="quantile_threshold_schema", node=QuantileThresholdConfig)
    store.store(name="conformal_threshold_schema", node=ConformalThresholdConfig)
    store.store(name="trainer_schema", node=TrainerConfig)
    store.store(name="train_schema", node=TrainConfig)
    store.store(name="evaluate_schema", node=EvaluateConfig)
    store.store(name="detect_schema", node=DetectConfig)
    store.store(name="export_schema", node=ExportConfig)
