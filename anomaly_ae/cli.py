"""What the command-line entry points share: one-line errors, scoped warning filters, the
user's overrides."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from hydra.core.hydra_config import HydraConfig
from pytorch_lightning.utilities.exceptions import MisconfigurationException

from anomaly_ae.errors import AnomalyAEError, one_line

_USER_ERRORS = (AnomalyAEError, MisconfigurationException)


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

    Everything already written (checkpoints, logs, results) stays where it is; anything else
    (a bug) keeps its traceback.
    """
    try:
        yield
    except Exception as err:
        cause = user_error_in(err)
        if cause is None:
            raise
        print(f"error: {one_line(cause, 2000)}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None


@contextmanager
def known_warnings_silenced() -> Iterator[None]:
    """Silence, for the duration of a run, warnings that do not apply to this framework; the
    process's warning filters are restored afterwards."""
    with warnings.catch_warnings():
        # the data are tensors in memory: DataLoader workers would only add IPC overhead
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        # Lightning 2.6 on torch 2.14 warns about its own use of a torch API, once per run
        warnings.filterwarnings("ignore", r".*isinstance\(treespec, LeafSpec\)` is deprecated.*")
        yield


def command_line_overrides() -> list[str]:
    """The overrides of the running Hydra app (``[]`` outside one, e.g. under the compose API),
    so that settings the user chose can be told from the configs' defaults."""
    if not HydraConfig.initialized():
        return []
    return list(HydraConfig.get().overrides.task)
