"""Data, mapped by the questions a contributor asks:

- where images come from: ``sources/`` (IDX sets by name, folders and ``.npy`` files,
  dataset classes by ``_target_``, and the choice between them);
- how they become model input: ``model_input.py`` (scaling, channels, resize, input shape);
- which split they go in: ``splits/`` (sizes, normal and held-out classes, each split's images);
- the data module and its loaders: ``datamodule.py`` (the LightningDataModule),
  ``batches.py`` (batches and in-memory datasets), ``loaders.py`` (samplers, DataLoaders).
"""

from anomaly_ae.data.batches import ANOMALY, NORMAL, Batch, ImageTensorDataset
from anomaly_ae.data.datamodule import AnomalyDataModule
from anomaly_ae.data.sources.choice import make_source
from anomaly_ae.data.sources.dataset_classes import DatasetSource
from anomaly_ae.data.sources.files import FolderSource, NpySource
from anomaly_ae.data.sources.idx import SOURCES, IdxSource, get_source
from anomaly_ae.data.sources.pictures import LabelledImages
from anomaly_ae.data.splits.sizes import holdout_split, split_indices

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
