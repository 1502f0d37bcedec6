"""Data: IDX sources on disk, in-memory tensor datasets, and the Lightning data module."""

from anomaly_ae.data.datamodule import AnomalyDataModule, split_indices
from anomaly_ae.data.sources import SOURCES, IdxSource, LabelledImages, get_source
from anomaly_ae.data.tensors import ANOMALY, NORMAL, Batch, ImageTensorDataset

__all__ = [
    "ANOMALY",
    "NORMAL",
    "SOURCES",
    "AnomalyDataModule",
    "Batch",
    "IdxSource",
    "ImageTensorDataset",
    "LabelledImages",
    "get_source",
    "split_indices",
]
