"""``did you mean trainer.max_epochs=3?``: a hint after Hydra refuses a mistyped key.

Hydra's own message for ``trainer.max_epoch=3`` suggests appending the key with ``+``; this
adds the close match it missed. The hints are computed only after a command failed, by
composing the config again without the offending overrides, so a run that starts pays
nothing.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from omegaconf import DictConfig, OmegaConf

from anomaly_ae.config import CONFIG_MODULE, register_configs

_CONFIG_DIR_FLAGS = ("--config-dir", "-cd")
_CONFIG_NAME_FLAGS = ("--config-name", "-cn")


@contextmanager
def hints_for_unknown_keys(config_name: str, args: Sequence[str] | None = None) -> Iterator[None]:
    """When Hydra refused the command line (exit code 1 before any run started: Hydra's config
    of a run is set only once composing succeeded), add a ``did you mean ...?`` line for each
    override whose key is in neither the config nor its groups but close to one that is
    (``trainer.max_epoch=3`` -> ``trainer.max_epochs=3``). Runs that end with code 1 for
    other reasons (detect's skipped files, a bug) pay nothing."""
    try:
        yield
    except SystemExit as stop:
        if stop.code == 1 and not HydraConfig.initialized():
            for hint in unknown_key_hints(config_name, sys.argv[1:] if args is None else args):
                print(hint, file=sys.stderr, flush=True)
        raise


def unknown_key_hints(config_name: str, args: Sequence[str]) -> list[str]:
    """``did you mean <key>=<value>?`` for each mistyped key among the overrides in ``args``
    (a command line: ``--config-dir``/``--config-name`` are honoured, other flags ignored)."""
    config_name, search_path, plain = _split_command_line(config_name, args)
    try:
        overrides = OverridesParser.create().parse_overrides(plain)
    except Exception:  # Hydra has already said what is wrong with the syntax
        return []
    changes = [o for o in overrides if o.type == OverrideType.CHANGE and o.package is None]
    # group choices (model=conv) shape the config; the other overrides are checked against it
    choices = [
        o.input_line for o in changes if "." not in o.key_or_group and not o.is_sweep_override()
    ]
    composed = _compose_or_none(config_name, [*search_path, *choices]) or _compose_or_none(
        config_name, search_path
    )
    if composed is None:
        return []
    groups = set(composed.hydra.runtime.choices)
    known = _key_paths(OmegaConf.to_container(composed, resolve=False))
    return [
        f"did you mean {close}{_value_part(o)}?"
        for o in changes
        if o.key_or_group not in known and o.key_or_group not in groups
        for close in difflib.get_close_matches(o.key_or_group, known, n=1, cutoff=0.8)
    ]


def _split_command_line(config_name: str, args: Sequence[str]) -> tuple[str, list[str], list[str]]:
    """The config name, a ``hydra.searchpath`` override for ``--config-dir``, and the plain
    overrides of a Hydra command line."""
    search_path: list[str] = []
    plain: list[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        flag, _, value = arg.partition("=")
        if flag in _CONFIG_DIR_FLAGS + _CONFIG_NAME_FLAGS:
            value = value or (rest.pop(0) if rest else "")
            if flag in _CONFIG_DIR_FLAGS:
                search_path = [f"hydra.searchpath=[file://{Path(value).resolve()}]"]
            else:
                config_name = value
        elif "=" in arg and not arg.startswith("-"):
            plain.append(arg)
    return config_name, search_path, plain


def _value_part(override: Override) -> str:
    line = override.input_line or ""
    return line[line.index("=") :] if "=" in line else ""


def _compose_or_none(config_name: str, overrides: list[str]) -> DictConfig | None:
    from hydra import compose, initialize_config_module

    register_configs()  # the schemas the configs start from
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            return compose(config_name, overrides, return_hydra_config=True)
    except Exception:
        return None


def _key_paths(node: Any, prefix: str = "") -> list[str]:
    """Every dotted key of a nested mapping, containers included (``trainer``,
    ``trainer.max_epochs``, ...); Hydra's own node is left out."""
    if not isinstance(node, Mapping):
        return []
    paths = []
    for key, value in node.items():
        if not prefix and key == "hydra":
            continue
        path = f"{prefix}{key}"
        paths += [path, *_key_paths(value, f"{path}.")]
    return paths
