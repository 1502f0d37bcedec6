"""What the command-line entry points share: one-line errors for bad input, required values,
scoped warning filters, the user's overrides."""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from traceback import format_exception

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.utilities.exceptions import MisconfigurationException

from anomaly_ae.errors import AnomalyAEError, ConfigError, one_line
from anomaly_ae.failed_runs import record_in_run_log, remove_event_files_without_data

_USER_ERRORS = (AnomalyAEError, MisconfigurationException)
# Lightning's advertisements, printed on every run: "💡 Tip: ... try installing [litlogger]"
_LIGHTNING_TIP = "💡 Tip:"
# said on each stage after the first, when the model's own components (configure_callbacks)
# replace themselves in the trainer's callbacks
_OWN_CALLBACKS_REPLACED = (
    "The following callbacks returned in `LightningModule.configure_callbacks` will override "
    "existing callbacks passed to Trainer: "
)
_OWN_CALLBACKS = {"DecisionThreshold", "FitScore"}
_LIGHTNING_INFO_LOGGERS = (
    "pytorch_lightning.utilities.rank_zero",
    "lightning_fabric.utilities.rank_zero",
)


def user_error_in(err: BaseException | None) -> BaseException | None:
    """The user-fixable error behind ``err``, looking through wrappers such as Hydra's
    ``InstantiationException``; ``None`` when it is a bug rather than bad input."""
    while err is not None:
        if isinstance(err, _USER_ERRORS):
            return err
        err = err.__cause__
    return None


@contextmanager
def exit_on_user_error() -> Iterator[None]:
    """Turn a problem the user can fix into one ``error: ...`` line on stderr and exit code 2.

    The line is also written into the run's log, so a failed run's directory says why it
    failed, and event files that hold no data are removed from it, so TensorBoard does not list
    it. Everything else already written (checkpoints, logs, results) stays where it is; anything
    else (a bug) keeps its traceback, on the terminal and in the log.
    """
    try:
        yield
    except Exception as err:
        cause = user_error_in(err)
        line = f"error: {one_line(cause, 2000)}" if cause else "".join(format_exception(err))
        record_in_run_log(line.rstrip())
        if HydraConfig.initialized():
            remove_event_files_without_data(HydraConfig.get().runtime.output_dir)
        if cause is None:
            raise
        print(line, file=sys.stderr, flush=True)
        raise SystemExit(2) from None


_EXAMPLES = {
    "ckpt_path": "ckpt_path=logs/train/runs/<run>/checkpoints/last.ckpt",
    "inputs": "inputs=<an image, a .npy or IDX file, or a folder of them>",
}


def require_values(cfg: DictConfig) -> None:
    """Refuse in one line a run whose required settings (``???`` in the config) were not given."""
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        examples = " ".join(_EXAMPLES.get(key, f"{key}=<value>") for key in missing)
        raise ConfigError(f"{' and '.join(missing)} must be given on the command line: {examples}")


class _DropLightningTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if message.startswith(_OWN_CALLBACKS_REPLACED):
            named = set(message.removeprefix(_OWN_CALLBACKS_REPLACED).split(", "))
            return not named <= _OWN_CALLBACKS
        return not message.startswith(_LIGHTNING_TIP)


@contextmanager
def known_warnings_silenced() -> Iterator[None]:
    """Silence, for the duration of a run, warnings and Lightning's advertising tips that do not
    apply to this framework; the process's filters are restored afterwards."""
    tips = _DropLightningTips()
    loggers = [logging.getLogger(name) for name in _LIGHTNING_INFO_LOGGERS]
    for logger in loggers:
        logger.addFilter(tips)
    try:
        with warnings.catch_warnings():
            # the data are tensors in memory: DataLoader workers would only add IPC overhead
            warnings.filterwarnings("ignore", ".*does not have many workers.*")
            # Lightning 2.6 on torch 2.14 warns about its own use of a torch API, once per run
            warnings.filterwarnings(
                "ignore", r".*isinstance\(treespec, LeafSpec\)` is deprecated.*"
            )
            yield
    finally:
        for logger in loggers:
            logger.removeFilter(tips)


def command_line_overrides() -> list[str]:
    """The overrides of the running Hydra app (``[]`` outside one, e.g. under the compose API),
    so that settings the user chose can be told from the configs' defaults."""
    if not HydraConfig.initialized():
        return []
    return list(HydraConfig.get().overrides.task)
