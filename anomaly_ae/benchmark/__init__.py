"""Benchmarks: a protocol (one-class MNIST: one digit normal, the full test set) run for a list
of detectors (this framework's configurations and peers such as PyOD's) over classes and
seeds, gathered into one table beside the published figures.

``python -m anomaly_ae.benchmark`` (:mod:`anomaly_ae.benchmark.__main__`) composes
``conf/benchmark.yaml``; :mod:`~anomaly_ae.benchmark.runner` runs the cells,
:mod:`~anomaly_ae.benchmark.tables` and :mod:`~anomaly_ae.benchmark.figure` report them.
"""
