"""Everything a person reads after a run, in one place.

A trained and tested model goes through :func:`run.finish_run`, which writes

- ``results.json`` and the printed summary (:mod:`.results`),
- ``report.png`` (:mod:`.report_figure`) and ``reconstructions.png``
  (:mod:`.reconstruction_figure`), drawn with the panels of :mod:`.plots` from the test's
  :class:`~anomaly_ae.metrics.Evaluation` (every set's scores, the threshold, the metrics),
- TensorBoard's HParams row (:mod:`.tensorboard`, whose logger also writes the Custom Scalars
  layout); the score, ROC and PR views come from the :class:`.tensorboard_views.TensorBoardViews`
  callback at the end of testing.

After a ``-m`` sweep, :mod:`.sweeps` writes summary.csv / summary.md and :mod:`.sweep_figure`
summary.png. Nothing is imported here, so the light modules (sweeps, results) load without
torch or Lightning.
"""
