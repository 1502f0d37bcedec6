"""Lightning's training contract, whole: every Trainer setting means what Lightning documents,
and the threshold is always fitted on, and saved with, the weights that are tested.

Tiny data: 200 training images in batches of 20, so 10 optimizer steps an epoch.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from pathlib import Path

import pytest
import torch

from anomaly_ae.models import AutoencoderModule
from tests.helpers import compose_config, run_train, tiny_overrides

STEPS_PER_EPOCH = 10


def logged(out: Path, name: str) -> list[tuple[int, float]]:
    """``(step, value)`` of every row of the run's CSV log that has ``name``.

    Lightning's x axis: what is logged during fitting, after optimizer step ``k``, sits at
    ``k - 1``; what is logged by ``validate`` or ``test`` after fitting sits at ``k``.
    """
    rows = csv.DictReader((out / "csv" / "metrics.csv").open())
    return [(int(r["step"]), float(r[name])) for r in rows if r.get(name)]


def checkpoint_of(path: str | Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def saved_losses(results: dict) -> torch.Tensor:
    """Every training batch's loss, as the run's final last.ckpt keeps them."""
    return checkpoint_of(results["checkpoints"]["last"])["callbacks"]["LossHistory"]["training"]


def assert_tested_weights_are_calibrated_and_saved(results: dict, steps: int) -> None:
    """The threshold was fitted on the final weights, which are the tested and saved ones."""
    assert results["training"]["optimizer_steps"] == steps
    assert results["calibration"]["step"] == steps
    assert results["tested"]["step"] == steps
    saved = checkpoint_of(results["tested"]["checkpoint"])
    assert saved["global_step"] == steps
    assert float(saved["state_dict"]["threshold.value"]) == pytest.approx(results["threshold"])
    assert saved["state_dict"]["threshold._extra_state"]["calibration"]["step"] == steps


def test_training_is_lightnings_automatic_optimization(trained: tuple[Path, dict]) -> None:
    model = AutoencoderModule()
    assert model.automatic_optimization
    _, results = trained
    training = results["training"]
    assert (training["epochs"], training["optimizer_steps"]) == (2, 2 * STEPS_PER_EPOCH)
    assert training["last_batch_loss"] == pytest.approx(float(saved_losses(results)[-1]))
    assert_tested_weights_are_calibrated_and_saved(results, 2 * STEPS_PER_EPOCH)


def test_logged_training_loss_is_the_steps_and_the_epochs_mean(
    tiny_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    results = run_train(tiny_root, out, "logger=csv", "trainer.log_every_n_steps=3")
    losses = saved_losses(results)
    # every 3rd optimizer step (3, 6, ..., 18) at x = k - 1, with that step's batch loss
    step_losses = logged(out, "train/loss_step")
    assert [x for x, _ in step_losses] == [2, 5, 8, 11, 14, 17]
    for x, value in step_losses:
        assert value == pytest.approx(float(losses[x]))
    # the epoch's mean over all of its batches (equal-sized here), at the epoch's last step
    epoch_losses = logged(out, "train/loss_epoch")
    assert [x for x, _ in epoch_losses] == [9, 19]
    for (_, value), epoch in zip(epoch_losses, (losses[:10], losses[10:]), strict=True):
        assert value == pytest.approx(float(epoch.mean()), rel=1e-5)


def test_epoch_mean_weighs_a_short_last_batch_by_its_size(tiny_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    # 200 images in batches of 30: six of 30 and one of 20 an epoch
    results = run_train(tiny_root, out, "logger=csv", "data.batch_size=30")
    losses = saved_losses(results)
    sizes = torch.tensor([30.0] * 6 + [20.0])
    first_epoch = float((losses[:7].double() * sizes).sum() / 200)
    assert logged(out, "train/loss_epoch")[0][1] == pytest.approx(first_epoch, rel=1e-5)


def test_step_loss_with_accumulation_is_the_stepping_batchs(
    tiny_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    overrides = ("logger=csv", "trainer.log_every_n_steps=3", "+trainer.accumulate_grad_batches=2")
    results = run_train(tiny_root, out, *overrides)
    losses = saved_losses(results)
    # 5 optimizer steps an epoch (10 batches); steps 3, 6, 9 at x = 2, 5, 8, each with the loss
    # of the last batch of its accumulation (batch 2k - 1)
    step_losses = logged(out, "train/loss_step")
    assert [x for x, _ in step_losses] == [2, 5, 8]
    for x, value in step_losses:
        assert value == pytest.approx(float(losses[2 * (x + 1) - 1]))


def test_step_loss_after_resuming_from_last_ckpt(tiny_root: Path, tmp_path: Path) -> None:
    first = run_train(tiny_root, tmp_path / "first", "logger=csv", "trainer.log_every_n_steps=3")
    out = tmp_path / "more"
    more = run_train(
        tiny_root,
        out,
        "logger=csv",
        "trainer.log_every_n_steps=3",
        "trainer.max_epochs=3",
        f"ckpt_path={first['checkpoints']['last']}",
    )
    losses = saved_losses(more)
    assert len(losses) == 30
    # steps 21-30 of the third epoch: 21, 24, 27, 30 at x = k - 1, each with its own loss
    step_losses = logged(out, "train/loss_step")
    assert [x for x, _ in step_losses] == [20, 23, 26, 29]
    for x, value in step_losses:
        assert value == pytest.approx(float(losses[x]))


def test_max_steps_is_exact_and_the_final_weights_are_calibrated(
    tiny_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    results = run_train(
        tiny_root, out, "trainer.max_steps=13", "trainer.max_epochs=-1", "logger=csv"
    )
    assert_tested_weights_are_calibrated_and_saved(results, 13)
    # the validation after epoch 1 (step 10), then the calibration pass on step 13's weights
    assert [step for step, _ in logged(out, "val/threshold")] == [9, 13]


@pytest.mark.parametrize(
    ("interval", "logged_at"),
    # an int counts batches within each epoch: after steps 4, 8, 14 and 18, and as the last
    # one is not at step 20, a calibration pass on the final weights; a float is a fraction
    # of an epoch: after steps 5, 10, 15 and 20, the last on the final weights
    [("4", [3, 7, 13, 17, 20]), ("0.5", [4, 9, 14, 19])],
)
def test_val_check_interval_int_and_float(
    tiny_root: Path, tmp_path: Path, interval: str, logged_at: list[int]
) -> None:
    out = tmp_path / "run"
    results = run_train(tiny_root, out, f"+trainer.val_check_interval={interval}", "logger=csv")
    assert [step for step, _ in logged(out, "val/threshold")] == logged_at
    assert_tested_weights_are_calibrated_and_saved(results, 20)


def test_check_val_every_n_epoch_not_dividing_max_epochs(tiny_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    results = run_train(
        tiny_root,
        out,
        "trainer.check_val_every_n_epoch=3",
        "trainer.max_epochs=4",
        "logger=csv",
    )
    # validated after epoch 3 (step 30); epoch 4 ends without: a calibration pass at step 40
    assert [step for step, _ in logged(out, "val/threshold")] == [29, 40]
    assert_tested_weights_are_calibrated_and_saved(results, 40)


def test_limit_train_batches(tiny_root: Path, tmp_path: Path) -> None:
    results = run_train(tiny_root, tmp_path / "run", "+trainer.limit_train_batches=3")
    assert_tested_weights_are_calibrated_and_saved(results, 6)


def test_fast_dev_run_tests_both_classes_and_writes_everything(
    tiny_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    results = run_train(tiny_root, out, "+trainer.fast_dev_run=true")
    assert_tested_weights_are_calibrated_and_saved(results, 1)
    m = results["metrics"]
    # one test batch of 32 from the interleaved test set: both classes, so every metric
    assert m["n_normal"] + m["n_anomaly"] == 32 and m["n_normal"] > 0 and m["n_anomaly"] > 0
    assert m["auroc"] is not None and m["type_II_error"] is not None
    assert (out / "results.json").is_file() and (out / "report.png").is_file()


class GradientRecorder(AutoencoderModule):
    """Records the gradient norm Lightning's clipping leaves and the batches per step."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.clipped_norms: list[float] = []
        self.clip_values: list[float | None] = []

    def configure_gradient_clipping(
        self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None
    ):
        super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        self.clipped_norms.append(
            float(
                torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
            )
        )
        self.clip_values.append(gradient_clip_val)


def recorder_run(root: Path, out: Path, *extra: str) -> tuple[dict, GradientRecorder]:
    """A training run whose model is a :class:`GradientRecorder` (``model._target_``)."""
    from anomaly_ae.train import train

    created: list[GradientRecorder] = []
    original = GradientRecorder.__init__

    def keep(self, **kwargs):
        original(self, **kwargs)
        created.append(self)

    GradientRecorder.__init__ = keep
    try:
        # the model schema hands the module plain values (_convert_: all), which its saved
        # hyperparameters need (checkpoints load weights-only)
        subclass = (f"model._target_={__name__}.GradientRecorder",)
        overrides = tiny_overrides(root, out, *subclass, *extra)
        results = train(compose_config("train", overrides), overrides)
    finally:
        GradientRecorder.__init__ = original
    return results, created[0]


def test_gradient_clipping_is_lightnings(tiny_root: Path, tmp_path: Path) -> None:
    results, model = recorder_run(tiny_root, tmp_path / "run", "+trainer.gradient_clip_val=0.01")
    assert model.clip_values == [0.01] * 20
    assert max(model.clipped_norms) <= 0.01 * (1 + 1e-4)
    assert results["training"]["optimizer_steps"] == 20


def test_accumulate_grad_batches(tiny_root: Path, tmp_path: Path) -> None:
    results, model = recorder_run(tiny_root, tmp_path / "run", "+trainer.accumulate_grad_batches=2")
    # 10 batches an epoch, an optimizer step every 2: 5 steps an epoch
    assert_tested_weights_are_calibrated_and_saved(results, 10)
    assert len(model.clip_values) == 10
    assert len(saved_losses(results)) == 20, "every batch's loss is still recorded"


def test_cosine_schedule_with_learning_rate_monitor(tiny_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    results = run_train(
        tiny_root,
        out,
        "model.scheduler=cosine",
        "callbacks=[default,lr_monitor]",
        "logger=csv",
        "trainer.log_every_n_steps=1",
    )
    rates = logged(out, "lr-Adam")
    assert [step for step, _ in rates] == list(range(20)), "one value per optimizer step"
    assert rates[0][1] == pytest.approx(1e-3)
    values = [lr for _, lr in rates]
    assert all(a > b for a, b in itertools.pairwise(values)), "decreasing"
    # CosineAnnealingLR over the run's 20 steps: the lr of step 20 is lr * (1 + cos(19/20 pi)) / 2
    assert values[-1] == pytest.approx(1e-3 * (1 + math.cos(19 / 20 * math.pi)) / 2, rel=1e-5)
    assert results["config"]["model"]["scheduler"] == "cosine"


def test_step_checkpoints_every_n_train_steps(tiny_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_train(
        tiny_root,
        out,
        "callbacks=[default,step_checkpoint]",
        "callbacks.step_checkpoint.every_n_train_steps=5",
    )
    names = sorted(p.name for p in (out / "checkpoints").glob("step_*.ckpt"))
    assert names == [f"step_{s:06d}.ckpt" for s in (5, 10, 15, 20)]
    assert checkpoint_of(out / "checkpoints" / "step_000015.ckpt")["global_step"] == 15


def test_early_stopping_on_validation_loss(tiny_root: Path, tmp_path: Path) -> None:
    results = run_train(
        tiny_root,
        tmp_path / "run",
        "callbacks=[default,early_stopping]",
        "callbacks.early_stopping.patience=1",
        "callbacks.early_stopping.min_delta=1.0",  # no epoch improves the loss by 1
        "trainer.max_epochs=6",
    )
    # epoch 1 sets the best loss, epoch 2 does not beat it by min_delta: stop after 2 of 6
    assert results["training"]["epochs"] == 2
    assert_tested_weights_are_calibrated_and_saved(results, 20)


@pytest.mark.parametrize(("resume_step", "workers"), [(5, 0), (15, 0), (15, 2)])
def test_resume_from_a_mid_epoch_checkpoint_ends_like_an_uninterrupted_run(
    tiny_root: Path, tmp_path: Path, resume_step: int, workers: int
) -> None:
    step_checkpoints = (
        "callbacks=[default,step_checkpoint]",
        "callbacks.step_checkpoint.every_n_train_steps=5",
        f"data.num_workers={workers}",
    )
    whole = run_train(tiny_root, tmp_path / "whole", *step_checkpoints)
    mid_epoch = tmp_path / "whole" / "checkpoints" / f"step_{resume_step:06d}.ckpt"
    resumed = run_train(
        tiny_root, tmp_path / "resumed", *step_checkpoints, f"ckpt_path={mid_epoch}"
    )
    assert resumed["resumed_from"] == str(mid_epoch)
    assert resumed["training"] == whole["training"]
    assert resumed["threshold"] == whole["threshold"]
    assert resumed["metrics"] == whole["metrics"]
    final = checkpoint_of(resumed["tested"]["checkpoint"])["state_dict"]
    for name, value in checkpoint_of(whole["tested"]["checkpoint"])["state_dict"].items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(final[name], value), name
        else:  # the threshold's record (extra state): the step and the rule's numbers
            assert final[name] == value, name


def test_every_parameter_and_buffer_is_float32(trained: tuple[Path, dict]) -> None:
    """No float64 on the accelerator: MPS has none."""
    from anomaly_ae.checkpoint import load_autoencoder

    _, results = trained
    model = load_autoencoder(results["checkpoints"]["last"])
    tensors = {**dict(model.named_parameters()), **dict(model.named_buffers())}
    assert "threshold.value" in tensors
    assert {name: t.dtype for name, t in tensors.items() if t.dtype != torch.float32} == {}
    saved = checkpoint_of(results["checkpoints"]["last"])["state_dict"]
    saved = {name: t for name, t in saved.items() if isinstance(t, torch.Tensor)}
    assert {name: t.dtype for name, t in saved.items() if t.dtype != torch.float32} == {}


def test_results_say_how_each_number_was_obtained(trained: tuple[Path, dict]) -> None:
    out, _ = trained
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["tested"] == {"step": 20, "checkpoint": str(out / "checkpoints" / "last.ckpt")}
    assert on_disk["calibration"]["n"] == on_disk["data"]["n_validation"] == 40
    assert on_disk["data"]["split_seed"] == 42


def test_without_validation_images_the_final_weights_are_kept_and_the_error_says_how_to_go_on(
    tiny_root: Path, tmp_path: Path
) -> None:
    from anomaly_ae.errors import ConfigError

    out = tmp_path / "run"
    with pytest.raises(ConfigError, match="no validation images were scored") as err:
        run_train(tiny_root, out, "+trainer.limit_val_batches=0")
    assert "\n" not in str(err.value) and "refit_threshold=true" in str(err.value)
    assert checkpoint_of(out / "checkpoints" / "last.ckpt")["global_step"] == 20


def test_a_resumed_cosine_schedule_cannot_be_stretched(tiny_root: Path, tmp_path: Path) -> None:
    from anomaly_ae.errors import ConfigError

    first = run_train(tiny_root, tmp_path / "first", "model.scheduler=cosine")
    ckpt = f"ckpt_path={first['checkpoints']['last']}"
    with pytest.raises(ConfigError, match="planned for 20 optimizer steps but this run has 40"):
        run_train(tiny_root, tmp_path / "longer", ckpt, "trainer.max_epochs=4")
