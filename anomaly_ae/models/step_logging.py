"""Which training steps' logged values reach the loggers, from Lightning's public state.

A ``self.log`` call costs Lightning's bookkeeping, a noticeable share of a small model's CPU
step (docs/speed.md), so the module logs its step loss only on the steps Lightning writes.
"""

from __future__ import annotations

import pytorch_lightning as pl


def lightning_writes_step(trainer: pl.Trainer, steps_before_batch: int) -> bool:
    """Whether Lightning hands this batch's ``on_step`` values to the loggers: every
    ``log_every_n_steps`` optimizer steps, counting the step this batch belongs to (under
    ``accumulate_grad_batches``, each batch of its window), and when training stops.

    ``steps_before_batch``: ``global_step`` when the batch's ``training_step`` ran. This is
    Lightning 2.x's rule, read from public attributes; tests/e2e/test_lightning_contract.py
    compares it with the steps Lightning writes to a CSV log, so a change in Lightning fails
    there instead of thinning the curves silently.
    """
    if trainer.fast_dev_run:  # every step: the progress bar and callback_metrics show it
        return True
    every = trainer.log_every_n_steps
    if not every:
        return False
    return (steps_before_batch + 1) % every == 0 or trainer.should_stop
