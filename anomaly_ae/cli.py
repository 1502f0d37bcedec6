"""What the command-line entry points share: one-line errors and process settings."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch
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


def prepare_process(flush_denormal: bool = True) -> None:
    """Process-wide settings every entry point applies before it builds anything.

    ``flush_denormal``: on the CPU, treat denormal floats (below ~1e-38) as zero. As training
    goes on, many of this autoencoder's gradients and Adam moments become denormal, and
    x86 arithmetic on them is slow: without flushing, epochs 2-10 of the seed's model run
    about 1.5x slower than the first. Values that small do not change any result here.
    """
    torch.set_flush_denormal(flush_denormal)
    # The data are tensors in memory: extra DataLoader workers would only add IPC overhead.
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    # Lightning compares log_every_n_steps with iterations; the step loss is logged per
    # optimizer step (AutoencoderModule._log_step_loss), so the warning does not apply.
    warnings.filterwarnings("ignore", ".*smaller than the logging interval.*")
    # Lightning 2.6 on torch 2.14 warns about its own use of a torch API, once per run
    warnings.filterwarnings("ignore", r".*isinstance\(treespec, LeafSpec\)` is deprecated.*")
