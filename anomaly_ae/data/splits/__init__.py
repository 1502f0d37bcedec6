"""Which split an image goes in: train/validation/test sizes, normal and held-out classes.

- sizes.py: split sizes (a count or a share) and the seeded train/validation(/test) indices
- classes.py: which labels are normal and which held out as anomalies (``ClassChoice``)
- experiment_images.py: the images of each split, read and converted once (``ExperimentImages``)
"""
