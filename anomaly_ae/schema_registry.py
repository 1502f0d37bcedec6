"""Hydra's ConfigStore filled from the YAML files: a file whose defaults list names a schema
(``- /quantile_threshold_schema@_here_``) and that names a class with ``_target_`` at that
place defines that schema as :func:`~anomaly_ae.config_schema.schema_of` the class.

Why the YAML files, and not a list or a scan of our modules: the file is what makes a class
a choice (``threshold=quantile``), it is needed anyway and it names the class; so a new
threshold rule, score or network is its class plus one YAML file, a class of the user's own
(``--config-dir``, ``hydra.searchpath``) included, and nothing lists the classes twice.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from anomaly_ae.config_schema import SchemaError, schema_of
from anomaly_ae.errors import one_line

_CONFIG_DIR_FLAGS = ("--config-dir", "-cd", "--config-path", "-cp")


@dataclasses.dataclass(frozen=True)
class NamedSchema:
    """A schema a YAML file names (``- /<name>@<place>``) with the class at that place."""

    name: str
    target: str
    package: str  # where the node lands in the composed config (``model.net``)
    file: Path


def named_schemas(config_dir: Path) -> Iterator[NamedSchema]:
    """The schemas the YAML files under ``config_dir`` name, with the class each gives at the
    place it puts the schema: ``- /conv_net_schema@net`` and ``net: {_target_: ...}``."""
    for file in sorted(config_dir.rglob("*.yaml")):
        try:
            text = file.read_text(encoding="utf-8")
            config = OmegaConf.create(text)
        except Exception:  # Hydra says what is wrong with it if a run reads it
            continue
        if not isinstance(config, DictConfig):
            continue
        group = file.parent.relative_to(config_dir).as_posix()
        package = _header_package(text, "" if group == "." else group.replace("/", "."))
        for entry in config.get("defaults") or []:
            if not (isinstance(entry, str) and entry.startswith("/")):
                continue
            name, _, place = entry[1:].partition("@")
            if not name.endswith("_schema") or "/" in name or place == "_global_":
                continue
            place = "" if place in ("", "_here_") else place
            node = OmegaConf.select(config, place) if place else config
            if not isinstance(node, DictConfig) or "_target_" not in node:
                continue
            if OmegaConf.is_interpolation(node, "_target_"):
                continue
            where = ".".join(p for p in (package, place) if p)
            yield NamedSchema(name, str(node._target_), where, file)


def _header_package(text: str, group_package: str) -> str:
    """The ``# @package`` of a config file's header (Hydra's rules), or its group's."""
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        match = re.match(r"#\s*@package\s+(\S+)", line)
        if match:
            value = match.group(1)
            return "" if value == "_global_" else group_package if value == "_group_" else value
        if not re.match(r"#\s*@", line):
            break
    return group_package


_generated: dict[str, tuple[type, NamedSchema]] = {}
_walked: set[Path] = set()


def register_named_schemas(
    config_dirs: Iterable[str | Path],
    *,
    given_by_parent: Mapping[str, Sequence[str]] | None = None,
    keep: Iterable[str] = (),
) -> None:
    """Store in Hydra's ConfigStore every schema the YAML files under ``config_dirs`` name
    (:func:`named_schemas`), made by :func:`schema_of` from the class they name, leaving out
    the parameters ``given_by_parent[package]`` (those the enclosing object passes: a
    network's ``input_shape``, given by the model); schemas named in ``keep`` (written by hand)
    are left alone. A folder is read once per process.

    Raises:
        SchemaError: a class cannot be imported or typed, or two files name one schema for
            two classes (one line, naming the file).
    """
    from hydra.core.config_store import ConfigStore
    from hydra.utils import get_object

    kept = set(keep)
    for directory in config_dirs:
        folder = Path(directory).expanduser().resolve()
        if folder in _walked or not folder.is_dir():
            continue
        for named in named_schemas(folder):
            if named.name in kept:
                continue
            if named.name in _generated:
                first = _generated[named.name][1]
                if first.target != named.target:
                    raise SchemaError(
                        f"{named.file}: {named.name} is {named.target} here but {first.target} "
                        f"in {first.file}; give the class a schema name of its own"
                    )
                continue
            try:
                cls = get_object(named.target)
                schema = schema_of(
                    cls,
                    target=named.target,
                    exclude=(given_by_parent or {}).get(named.package, ()),
                    name=_class_name(named.name),
                )
            except Exception as err:
                raise SchemaError(f"{named.file}: {one_line(err, 500)}") from err
            _generated[named.name] = (schema, named)
        _walked.add(folder)
    store = ConfigStore.instance()
    for name, (schema, _) in _generated.items():
        store.store(name=name, node=schema)


def generated_schemas() -> dict[str, type]:
    """The schemas :func:`register_named_schemas` has made so far, by name."""
    return {name: schema for name, (schema, _) in _generated.items()}


def _class_name(schema_name: str) -> str:
    """``quantile_threshold_schema`` -> ``QuantileThresholdConfig`` (Hydra's messages say
    ``object_type=QuantileThresholdConfig``)."""
    words = schema_name.removesuffix("_schema").split("_")
    return "".join(w[:1].upper() + w[1:] for w in words) + "Config"


def package_config_dir(module: str) -> Path | None:
    """The folder of a ``pkg://`` config module (``anomaly_ae.conf``), if it is one."""
    try:
        return Path(str(importlib.resources.files(module)))
    except (ModuleNotFoundError, TypeError, ValueError):
        return None


def command_line_config_dirs(args: Sequence[str]) -> list[Path]:
    """The config folders a Hydra command line adds: ``--config-dir`` (``-cd``),
    ``--config-path`` (``-cp``) and ``hydra.searchpath=[...]`` (``file://`` and ``pkg://``
    entries)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    given: list[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        flag, equals, value = arg.partition("=")
        if flag in _CONFIG_DIR_FLAGS:
            given.append(value if equals else (rest.pop(0) if rest else ""))
        elif flag.lstrip("+~") == "hydra.searchpath" and equals:
            try:
                parsed = OverridesParser.create().parse_overrides([arg])[0].value()
            except Exception:  # Hydra says what is wrong with it
                continue
            given += [str(v) for v in (parsed if isinstance(parsed, list) else [parsed])]
    folders = []
    for entry in given:
        if entry.startswith("pkg://"):
            folder = package_config_dir(entry.removeprefix("pkg://").replace("/", "."))
        else:
            folder = Path(entry.removeprefix("file://")).expanduser()
        if folder is not None and folder.is_dir():
            folders.append(folder.resolve())
    return folders
