"""What a failed run leaves in its directory: its error in the run's log, and no TensorBoard
event files without data (TensorBoard would list such a run among the real ones)."""

from __future__ import annotations

import logging
from pathlib import Path

from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

# what a run writes before its first step: its hyperparameters and the Custom Scalars layout
_SETTINGS_PLUGINS = ("hparams", "custom_scalars")


def record_in_run_log(message: str) -> None:
    """Append ``message`` to the run's log file (Hydra's ``<task>.log`` in the run directory)
    and to no other handler: the terminal gets the error once, on stderr."""
    record = logging.LogRecord("anomaly_ae", logging.ERROR, __file__, 0, message, None, None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def holds_data(event_file: Path) -> bool:
    """Whether an event file holds anything to look at: a summary other than the
    hyperparameters and the Custom Scalars layout, or a graph. Lightning creates the file (its
    header only) before the data module is set up."""
    for event in EventFileLoader(str(event_file)).Load():
        if event.HasField("graph_def") or event.HasField("tagged_run_metadata"):
            return True
        if any(
            value.metadata.plugin_data.plugin_name not in _SETTINGS_PLUGINS
            for value in event.summary.value
        ):
            return True
    return False


def remove_event_files_without_data(run_dir: str | Path) -> list[Path]:
    """Delete the event files under ``run_dir`` that hold no data, and the folders left empty
    by that; returns the deleted files."""
    run_dir = Path(run_dir)
    removed = [p for p in run_dir.rglob("events.out.tfevents.*") if not holds_data(p)]
    for path in removed:
        path.unlink()
        folder = path.parent
        while folder != run_dir and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
    return removed
