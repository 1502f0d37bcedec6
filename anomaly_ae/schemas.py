"""Structured-config schemas: the types of every setting, checked when Hydra composes.

Each YAML file of ``conf/`` starts from one of these (``defaults: [/data_schema@_here_,
_self_]`` in a group, ``<task>_schema`` in a primary config), so a misspelt key or a value of
the wrong type (``data.batch_size=big``) stops the run at composition with Hydra's message,
before anything is loaded or trained. They are stored outside the config groups, so that
``--help`` lists only real choices and ``model=mlp_schema`` is not one. Lightning's Trainer
accepts many more arguments than the schema names: add one with ``+trainer.<name>=<value>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

# Optional[...] rather than "X | None": OmegaConf reads these annotations at runtime.


@dataclass
class DataConfig:
    _target_: str = "anomaly_ae.data.AnomalyDataModule"
    root: str = MISSING
    normal: str = "mnist"
    anomaly: Optional[str] = "kmnist"  # noqa: UP045
    anomaly_classes: Optional[list[int]] = None  # noqa: UP045
    train_size: Optional[int] = None  # noqa: UP045
    val_size: int = 10_000
    split_seed: int = 42
    shuffle_seed: int = 0
    batch_size: int = 100
    eval_batch_size: int = 1_000
    data_on_device: bool = True
    num_workers: int = 0
    pin_memory: Optional[bool] = None  # noqa: UP045
    download: bool = True


@dataclass
class MlpModelConfig:
    """model=mlp, the seed's autoencoder."""

    _target_: str = "anomaly_ae.models.AutoencoderModule"
    architecture: str = "mlp"
    input_shape: list[int] = field(default_factory=lambda: [1, 28, 28])
    hidden_dims: list[int] = field(default_factory=lambda: [256, 128])
    latent_dim: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    scheduler: Optional[str] = None  # noqa: UP045


@dataclass
class ConvModelConfig:
    _target_: str = "anomaly_ae.models.AutoencoderModule"
    architecture: str = "conv"
    input_shape: list[int] = field(default_factory=lambda: [1, 28, 28])
    channels: list[int] = field(default_factory=lambda: [32, 64])
    upsampling: str = "transpose"  # or nearest
    latent_dim: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    scheduler: Optional[str] = None  # noqa: UP045


@dataclass
class GaussianThresholdConfig:
    _target_: str = "anomaly_ae.thresholds.GaussianThreshold"
    k: float = 3.0


@dataclass
class QuantileThresholdConfig:
    _target_: str = "anomaly_ae.thresholds.QuantileThreshold"
    alpha: float = 0.01


@dataclass
class ConformalThresholdConfig:
    _target_: str = "anomaly_ae.thresholds.ConformalThreshold"
    alpha: float = 0.01


@dataclass
class TrainerConfig:
    _target_: str = "pytorch_lightning.Trainer"
    # the run directory; None where Hydra has not made one (--cfg job --resolve), and if set
    # to null, Lightning's default (the current directory)
    default_root_dir: Optional[str] = MISSING  # noqa: UP045
    min_epochs: Optional[int] = 1  # noqa: UP045
    max_epochs: int = 10
    max_steps: int = -1
    accelerator: str = "auto"
    devices: Any = 1  # an int, "auto", or a list of device indices
    num_nodes: int = 1
    strategy: Any = "auto"  # a name, or a strategy object's config
    precision: Any = "32-true"
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
    seed: int = 42


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
    experiment_name: str = "custom"
    test: bool = True
    ckpt_path: Optional[str] = None  # noqa: UP045
    optimized_metric: Optional[str] = None  # noqa: UP045


@dataclass
class EvaluateConfig(LightningRunConfig):
    ckpt_path: str = MISSING
    refit_threshold: bool = False


@dataclass
class DetectConfig(RunConfig):
    ckpt_path: str = MISSING
    inputs: str = MISSING
    grayscale: bool = False
    resize: bool = False
    device: str = "cpu"
    output_dir: Optional[str] = MISSING  # noqa: UP045
    print_limit: int = 20


@dataclass
class ExportConfig(RunConfig):
    ckpt_path: str = MISSING
    format: str = "onnx"  # onnx or torchscript
    output: Optional[str] = None  # noqa: UP045
    check_images: int = 256
    rtol: float = 1e-5
    atol: float = 1e-4


def register_schemas() -> None:
    store = ConfigStore.instance()
    store.store(name="data_schema", node=DataConfig)
    store.store(name="mlp_model_schema", node=MlpModelConfig)
    store.store(name="conv_model_schema", node=ConvModelConfig)
    store.store(name="gaussian_threshold_schema", node=GaussianThresholdConfig)
    store.store(name="quantile_threshold_schema", node=QuantileThresholdConfig)
    store.store(name="conformal_threshold_schema", node=ConformalThresholdConfig)
    store.store(name="trainer_schema", node=TrainerConfig)
    store.store(name="train_schema", node=TrainConfig)
    store.store(name="evaluate_schema", node=EvaluateConfig)
    store.store(name="detect_schema", node=DetectConfig)
    store.store(name="export_schema", node=ExportConfig)
