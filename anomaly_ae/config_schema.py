"""Structured-config schemas made from constructors' signatures, registered from the configs
that name the classes: each setting is written once, in its constructor.

:func:`schema_of` turns a class (or a function) into the dataclass Hydra types a config node
with: one field per parameter, its type (what OmegaConf can check) and its default, and
``_target_``. :mod:`anomaly_ae.schema_registry` registers them from the YAML files that name
the classes.
"""

from __future__ import annotations

import collections.abc
import copy
import dataclasses
import inspect
import os
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import Enum
from pathlib import PurePath
from typing import Any, Literal, Optional, Union

from omegaconf import MISSING, OmegaConf

from anomaly_ae.errors import ConfigError, one_line

_PRIMITIVES = (bool, int, float, str)
_SEQUENCES = (
    list,
    tuple,
    collections.abc.Sequence,
    collections.abc.MutableSequence,
    collections.abc.Iterable,
    collections.abc.Collection,
)
_MAPPINGS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


class SchemaError(ConfigError):
    """A class a config names cannot be typed as a config: a parameter whose type or default
    OmegaConf cannot hold (an object, a callable), or a class that cannot be imported."""


class _Untypeable(Exception):
    pass


def schema_of(
    obj: Callable[..., Any],
    *,
    target: str | None = None,
    exclude: Iterable[str] = (),
    name: str | None = None,
    **extra_fields: Any,
) -> type:
    """The structured config of calling ``obj`` (a class, or a function): a dataclass named
    ``name`` (``<obj>Config``) with ``_target_`` (``target``, or ``obj``'s module and name)
    and one field per parameter but those in ``exclude``.

    A field's default is the parameter's (a tuple becomes a list; none: ``???``, required),
    its type what OmegaConf checks: ``int``/``float``/``bool``/``str``, ``Optional[...]`` for
    ``X | None``, ``list[int]`` for ``Sequence[int]``, ``str`` for paths, and ``Any`` for
    mappings, unions OmegaConf cannot express (``str | Mapping``) and unannotated parameters.
    A class's ``**kwargs`` forwarded to its base class's constructor stand for the base's
    parameters (first, as dataclass inheritance orders fields). A parameter typed as a mapping
    is a config the object builds itself (the data module's dataset class, the model's net):
    the schema then says ``_recursive_: false`` (Hydra does not instantiate what it names)
    and ``_convert_: all`` (plain values reach the object). ``extra_fields`` set fields' values
    (``_recursive_=True``, ``net=MISSING``) or add fields.

    Raises:
        SchemaError: a parameter's type or default cannot be held by a config (one line).
    """
    label = getattr(obj, "__qualname__", repr(obj))
    target = target or f"{obj.__module__}.{label}"
    name = name or f"{getattr(obj, '__name__', 'Target')}Config"
    skipped = set(exclude)
    fields: dict[str, tuple[Any, Any]] = {"_target_": (str, target)}
    try:
        parameters = [p for p in _parameters(obj) if p[0] not in skipped]
        if any(_mentions_mapping(hint) for _, hint, _ in parameters):
            fields["_recursive_"] = (bool, False)
            fields["_convert_"] = (str, "all")
        for parameter, hint, default in parameters:
            try:
                fields[parameter] = (_config_type(hint), _config_default(default))
            except _Untypeable as err:
                raise _Untypeable(f"{label}({parameter}) {err}") from None
    except _Untypeable as err:
        raise SchemaError(f"cannot make a config schema of {target}: {err}") from None
    for key, value in extra_fields.items():
        kind = fields[key][0] if key in fields else _type_of_value(value)
        fields[key] = (kind, value)
    schema = dataclasses.make_dataclass(
        name, [(key, kind, _field(value)) for key, (kind, value) in fields.items()]
    )
    schema.__module__ = __name__
    schema.__doc__ = f"The config of {target}: its constructor's settings (see its docstring)."
    try:
        OmegaConf.structured(schema)
    except Exception as err:
        raise SchemaError(f"the config schema of {target} is refused: {one_line(err)}") from err
    return schema


def _parameters(obj: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    """``(name, type hint, default)`` of each parameter ``obj`` takes by keyword."""
    owner: type | None = None
    if isinstance(obj, type):
        owner = next((c for c in obj.__mro__ if "__init__" in vars(c)), object)
        if owner is object:
            return []
        func: Any = owner.__init__
        parameters = list(inspect.signature(func).parameters.values())[1:]  # self
    else:
        func = obj
        parameters = list(inspect.signature(func).parameters.values())
    try:
        hints = typing.get_type_hints(func)
    except Exception as err:  # a name imported only for type checkers
        raise _Untypeable(f"has annotations that cannot be resolved ({err})") from None
    own: dict[str, tuple[str, Any, Any]] = {}
    forwarded = False
    for p in parameters:
        if p.kind is p.VAR_KEYWORD:
            forwarded = owner is not None
        elif p.kind is p.POSITIONAL_ONLY:
            raise _Untypeable(f"takes {p.name} by position only, which a config cannot give")
        elif p.kind is not p.VAR_POSITIONAL:
            own[p.name] = (p.name, hints.get(p.name, Any), p.default)
    if not forwarded:
        return list(own.values())
    assert owner is not None
    base = next((c for c in owner.__mro__[1:] if "__init__" in vars(c)), object)
    inherited = [own.pop(item[0], item) for item in _parameters(base)]
    return inherited + list(own.values())


def _config_type(hint: Any) -> Any:
    """The annotation OmegaConf types a field of ``hint`` with."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint in _PRIMITIVES:
        return hint
    if origin in (Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        inner = _config_type(members[0]) if len(members) == 1 else _union_type(members)
        if inner is Any or len(members) == len(args):
            return inner
        return Optional[inner]  # noqa: UP045  # OmegaConf reads this at runtime
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint
    if hint is os.PathLike or (isinstance(hint, type) and issubclass(hint, PurePath)):
        return str
    if origin is Literal:
        kinds = {type(a) for a in args}
        return kinds.pop() if len(kinds) == 1 and kinds <= set(_PRIMITIVES) else Any
    if hint in _MAPPINGS or origin in _MAPPINGS:
        return Any
    if hint in _SEQUENCES or origin in _SEQUENCES:
        items = [a for a in args if a is not Ellipsis]
        element = _union_type(items) if items else Any
        return list[element]
    raise _Untypeable(f"is typed {_spelt(hint)}, which a config cannot hold")


def _union_type(members: Sequence[Any]) -> Any:
    """One type for values of any of ``members``: theirs where they agree, ``float`` for ints
    and floats, ``Any`` otherwise."""
    try:
        kinds = {_config_type(m) for m in members}
    except _Untypeable:
        return Any
    if len(kinds) == 1:
        return kinds.pop()
    return float if kinds == {int, float} else Any


def _mentions_mapping(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(_mentions_mapping(a) for a in typing.get_args(hint))
    return hint in _MAPPINGS or origin in _MAPPINGS


def _config_default(value: Any) -> Any:
    """``value`` as a config holds it (tuples as lists); ``MISSING`` for no default."""
    if value is inspect.Parameter.empty:
        return MISSING
    if value is None or isinstance(value, (*_PRIMITIVES, Enum)):
        return value
    if isinstance(value, list | tuple):
        return [_config_default(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _config_default(v) for k, v in value.items()}
    if isinstance(value, PurePath):
        return str(value)
    raise _Untypeable(f"defaults to {value!r}, which a config cannot hold")


def _field(value: Any) -> Any:
    if isinstance(value, list | dict):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(value))
    return dataclasses.field(default=value)


def _type_of_value(value: Any) -> Any:
    return type(value) if type(value) in _PRIMITIVES and value is not MISSING else Any


def _spelt(hint: Any) -> str:
    return getattr(hint, "__qualname__", None) or repr(hint).replace("typing.", "")
