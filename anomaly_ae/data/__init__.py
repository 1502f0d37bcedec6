"""Data: the sources (IDX sets by name, folders of images, .npy arrays, dataset classes),
in-memory tensor datasets, and the Lightning data module."""

from anomaly_ae.data.datamodule import AnomalyDataModule
from anomaly_ae.data.dataset_sources import DatasetSource
from anomaly_ae.data.file_sources import FolderSource, NpySource
from anomaly_ae.data.source_choice import make_source
from anomaly_ae.data.sources import SOURCES, IdxSource, LabelledImages, get_source
from anomaly_ae.data.splits import holdout_split, split_indices
from anomaly_ae.data.tensors import ANOMALY, NORMAL, Batch, ImageTensorDataset

__all__ = [
    "ANOMALY",
    "NORMAL",
    "SOURCES",
    "AnomalyDataModule",
    "Batch",
    "DatasetSource",
    "FolderSource",
    "IdxSource",
    "ImageTensorDataset",
    "LabelledImages",
    "NpySource",
    "get_source",
    "holdout_split",
    "make_source",
    "split_indices",
]
