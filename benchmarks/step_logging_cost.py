"""What logging the step loss on every step would cost: hw7's model, one epoch, side by side.

``python benchmarks/step_logging_cost.py --rounds 5`` (with ``ANOMALY_AE_DATA`` set) trains one
epoch of hw7 (500 steps, no validation, CSV logger) with the module as it is, which calls
``self.log`` only on the steps Lightning writes (``models/step_logging.py``), and with a
subclass that calls it on every step; it prints each round's times and the ratio's median and
range (docs/speed.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import pytorch_lightning as pl

from anomaly_ae.data import AnomalyDataModule
from anomaly_ae.models import AutoencoderModule


class LogsEveryStep(AutoencoderModule):
    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        _, loss = self._step_loss
        self.log("train/loss_step", loss, on_step=True, on_epoch=False, prog_bar=True)


def one_epoch(module: type[AutoencoderModule], datamodule: AnomalyDataModule, logs: str) -> float:
    pl.seed_everything(0)
    trainer = pl.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=pl.loggers.CSVLogger(logs),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    started = time.perf_counter()
    trainer.fit(module(), datamodule=datamodule)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    root = os.environ.get("ANOMALY_AE_DATA", "data")
    datamodule = AnomalyDataModule(root, normal="mnist", anomaly="kmnist", batch_size=100)
    ratios = []
    with tempfile.TemporaryDirectory() as logs:
        for round_ in range(args.rounds):
            gated = one_epoch(AutoencoderModule, datamodule, logs)
            every = one_epoch(LogsEveryStep, datamodule, logs)
            ratios.append(every / gated)
            print(f"round {round_}: logged steps only {gated:.2f} s, every step {every:.2f} s")
    print(
        f"every step / logged steps only: median {statistics.median(ratios):.3f}, "
        f"range {min(ratios):.3f}-{max(ratios):.3f} over {args.rounds} rounds"
    )


if __name__ == "__main__":
    main()
