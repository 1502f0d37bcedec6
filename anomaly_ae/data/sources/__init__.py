"""Where images come from: the sources ``data.normal`` and ``data.anomaly`` name, read as they are.

- choice.py: what a setting names, and the source it makes (``make_source``, ``anomaly_source``)
- idx.py: the MNIST family's IDX files by name: where they live, fetching, reading (``SOURCES``)
- files.py: the user's own files: a folder of images, a ``.npy`` array
- dataset_classes.py: any dataset class by ``_target_`` (torchvision's or the user's)
- pictures.py: pictures (PIL, arrays, tensors) as one channels-first set; ``LabelledImages``
"""
