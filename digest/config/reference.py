"""config/reference.toml: every key of the configuration, with its help, type and default.

Generated from the declarations in `digest.config.settings`, never written by hand:

    python -m digest.config.reference > config/reference.toml

`tests/config/test_reference.py` fails when the committed file is stale or a setting has no help.
"""

from __future__ import annotations

import json
import sys
import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from digest.config.settings import Config

__all__ = ["missing_help", "reference", "settings"]

HEADER = """\
# Digest's configuration: every key, with what it does, its type and its default.
#
# Generated from digest/config/settings.py by `python -m digest.config.reference`; do not
# edit it by hand. Copy what you need into your own file (config/digest.toml, --config PATH or
# $DIGEST_CONFIG) and uncomment it. Tables named NAME are yours to name (letters, digits, . _ -),
# and there may be as many as you like. Relative paths are relative to the configuration file.
"""


def _wrap(text: str, prefix: str = "#", width: int = 96) -> list[str]:
    """`text` as comment lines of at most `width` characters, each starting with `prefix`."""
    lines: list[str] = []
    current = prefix
    for word in text.split():
        if len(current) + 1 + len(word) > width and current != prefix:
            lines.append(current)
            current = prefix
        current += " " + word
    lines.append(current)
    return lines


def _model_of(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """("table", Model) for a nested table, ("named", Model) for a dict of named tables."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table", annotation
    if typing.get_origin(annotation) is dict:
        value = typing.get_args(annotation)[1]
        if isinstance(value, type) and issubclass(value, BaseModel):
            return "named", value
    return None


def _type_name(annotation: Any, info: FieldInfo) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):
        kept = [arg for arg in args if arg is not type(None)]
        shown = " or ".join(_type_name(arg, info) for arg in kept)
        return f"{shown}, optional" if len(kept) < len(args) else shown
    if origin is typing.Literal:
        return "one of " + ", ".join(json.dumps(arg) for arg in args)
    if origin is list:
        return f"list of {_type_name(args[0], info)}"
    if origin is dict:
        return f"table of {_type_name(args[1], info)}"
    name = {str: "text", int: "integer", float: "number", bool: "true or false"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )
    bounds = [
        f"{symbol} {getattr(rule, attr)}"
        for rule in info.metadata
        for attr, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
        if getattr(rule, attr, None) is not None
    ]
    return f"{name} {', '.join(bounds)}" if bounds else name


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML form for {value!r}")


def _default(info: FieldInfo) -> Any:
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    return info.default


def settings(
    model: type[BaseModel] = Config, prefix: str = ""
) -> Iterator[tuple[str, str, FieldInfo]]:
    """(key path, key, declaration) of every setting, nested tables included."""
    for name, info in model.model_fields.items():
        if info.exclude:
            continue
        key = info.alias or name
        path = f"{prefix}{key}"
        yield path, key, info
        nested = _model_of(info.annotation)
        if nested is not None:
            kind, inner = nested
            yield from settings(inner, f"{path}.NAME." if kind == "named" else f"{path}.")


def missing_help() -> list[str]:
    """Key paths of settings declared without a help text."""
    return [path for path, _, info in settings() if not (info.description or "").strip()]


def _key_lines(key: str, info: FieldInfo) -> list[str]:
    """One key: commented out with its default, its help, its type."""
    value = _default(info)
    if info.is_required():
        lines = [f"# {key} =    (required)"]
    elif value is None:
        lines = [f"# {key} =    (unset by default)"]
    else:
        lines = [f"# {key} = {_toml(value)}"]
    lines.extend(_wrap(info.description or "", prefix="#  "))
    lines.append(f"#   ({_type_name(info.annotation, info)})")
    return lines


def _table(model: type[BaseModel], header: str, lines: list[str]) -> None:
    lines.append("")
    lines.extend(_wrap(" ".join((model.__doc__ or "").split())))
    lines.append(f"[{header}]")
    subtables = []
    for name, info in model.model_fields.items():
        if info.exclude:
            continue
        key = info.alias or name
        nested = _model_of(info.annotation)
        if nested is not None:
            subtables.append((key, nested))
            continue
        lines.extend(_key_lines(key, info))
    for key, (kind, inner) in subtables:
        _table(inner, f"{header}.{key}" + (".NAME" if kind == "named" else ""), lines)


def reference() -> str:
    """The text of config/reference.toml."""
    lines = [HEADER.rstrip("\n"), ""]
    for name, info in Config.model_fields.items():  # top-level keys come before any table
        if info.exclude or _model_of(info.annotation) is not None:
            continue
        lines.extend(_key_lines(name, info))
    for name, info in Config.model_fields.items():
        nested = _model_of(info.annotation)
        if info.exclude or nested is None:
            continue
        kind, model = nested
        _table(model, name + (".NAME" if kind == "named" else ""), lines)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(reference())
