"""The command lines, without running a job: each console script is its entry point's ``main``;
run in this process, the help describes the command and lists only real choices, ``--cfg job``
prints the config, and experiments of the user's own compose from a folder of their own."""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from tests.helpers import REPO, user_config_dir

BIN = Path(sys.executable).parent
COMMANDS = ["train", "evaluate", "detect", "export", "summarize"]


@pytest.fixture
def hydra_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """Run an entry point's ``main()`` in this process as its command line would (much faster
    than a new Python process each time); returns ``(exit code, stdout, stderr)``. Hydra's
    global state is cleared afterwards, so later tests see no command line of this one."""
    from hydra.core.hydra_config import HydraConfig

    def run_main(command: str, *args: str, cwd: Path = REPO) -> tuple[int, str, str]:
        module = importlib.import_module(f"anomaly_ae.{command}")
        monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, "argv", [f"anomaly-ae-{command}", *args])
        capsys.readouterr()
        try:
            module.main()
            code = 0
        except SystemExit as stop:
            code = stop.code or 0
        out, err = capsys.readouterr()
        return code, out, err

    yield run_main
    HydraConfig.instance().cfg = None


@pytest.mark.parametrize("command", ["train", "evaluate", "detect", "export"])
def test_help_describes_the_command_and_lists_only_real_choices(command: str, hydra_cli) -> None:
    code, text, err = hydra_cli(command, "--help")
    assert code == 0, err[-2000:]
    assert f"anomaly-ae-{command} (or: python -m anomaly_ae.{command})" in text
    assert "Examples:" in text and "--hydra-help" in text
    groups = text.split("== Configuration groups ==")[1].split("== Config ==")[0]
    assert "schema" not in groups
    if command == "train":
        assert (
            "model: conv, dcae, mlp, vae" in groups
            and "trainer: cpu, ddp, ddp_cpu, default, gpu" in groups
        )


def test_schemas_are_not_choices(hydra_cli) -> None:
    code, _, err = hydra_cli("train", "model=mlp_schema")
    assert code == 1
    assert "Could not find 'model/mlp_schema'" in err


@pytest.mark.parametrize("command", ["train", "evaluate", "detect", "export"])
def test_cfg_job_resolve_prints_the_config(command: str, tmp_path: Path, hydra_cli) -> None:
    code, out, err = hydra_cli(command, "--cfg", "job", "--resolve", cwd=tmp_path)
    assert code == 0, err[-2000:]
    assert f"log_dir: {tmp_path}/logs" in out
    # the run directory exists only once a run starts
    assert "output_dir: null" in out
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize("how", ["config_dir", "searchpath"])
def test_user_experiments_compose_from_a_folder_of_their_own(
    how: str, tmp_path: Path, hydra_cli
) -> None:
    config_dir = user_config_dir(tmp_path)
    where = (
        ["--config-dir", str(config_dir)]
        if how == "config_dir"
        else [f"hydra.searchpath=[file://{config_dir}]"]
    )
    code, out, err = hydra_cli(
        "train", *where, "experiment=tiny_user", "--cfg", "job", cwd=tmp_path
    )
    assert code == 0, err[-2000:]
    assert "experiment_name: tiny_user" in out and "latent_dim: 8" in out
    if how == "config_dir":  # --help lists the user's experiments next to the shipped ones
        _, shipped, _ = hydra_cli("train", *where, "--help", cwd=tmp_path)
        assert "experiment: hw7, kmnist_strong, tiny_user" in shipped


def test_console_scripts_are_the_entry_points_main() -> None:
    """Each console script calls the same ``main`` as ``python -m anomaly_ae.<command>`` (the
    wheel test runs two of them from an installed wheel)."""
    scripts = {e.name: e.value for e in entry_points(group="console_scripts")}
    for command in COMMANDS:
        assert scripts[f"anomaly-ae-{command}"] == f"anomaly_ae.{command}:main"
        assert (BIN / f"anomaly-ae-{command}").is_file(), "make install puts it in the venv"
