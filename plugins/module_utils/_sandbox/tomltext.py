# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""TOML for containerd's configuration: read with the standard library, written for the subset it uses.

containerd's files hold tables, strings, booleans, integers, floats and arrays of those. The writer
puts plain values of a table first and its sub-tables after, each under its full dotted header, as
containerd's own `config default` does, so a file read back gives the same data.
"""

from __future__ import annotations

import re
import typing as t

try:
    import tomllib
except ImportError:  # Python before 3.11 (Ubuntu 22.04)
    tomllib = None

BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class TomlError(ValueError):
    """A TOML text that cannot be read, or data that has no TOML form here."""


def loads(text: str, where: str) -> dict:
    if tomllib is None:
        raise TomlError(f"{where}: reading TOML needs Python 3.11 or newer on the node (tomllib)")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TomlError(f"{where} is not valid TOML: {exc}") from exc


def key(name: str) -> str:
    return name if BARE_KEY.match(name) else string(name)


def string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    # Every other control character (TOML allows none raw in a basic string) as an escape.
    escaped = "".join(f"\\u{ord(ch):04X}" if ord(ch) < 0x20 or ord(ch) == 0x7F else ch for ch in escaped)
    return f'"{escaped}"'


def value(item: t.Any, where: str) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, float):
        return repr(item)
    if isinstance(item, str):
        return string(item)
    if isinstance(item, list):
        if any(isinstance(entry, dict) for entry in item):
            raise TomlError(f"{where}: arrays of tables are not written here")
        return "[" + ", ".join(value(entry, where) for entry in item) + "]"
    raise TomlError(f"{where}: a {type(item).__name__} has no TOML form here")


def dumps(data: dict, header: str = "") -> str:
    """DATA as TOML text, after HEADER (comment lines)."""
    lines = [header.rstrip("\n")] if header else []
    _table(data, [], lines)
    return "\n".join(lines).strip("\n") + "\n"


def _table(data: dict, path: list[str], lines: list[str]) -> None:
    plain = [(name, item) for name, item in data.items() if not isinstance(item, dict)]
    tables = [(name, item) for name, item in data.items() if isinstance(item, dict)]
    if path and (plain or not tables):
        lines += ["", f"[{'.'.join(key(part) for part in path)}]"]
    for name, item in plain:
        lines.append(f"{key(name)} = {value(item, '.'.join([*path, name]))}")
    for name, item in tables:
        _table(item, [*path, name], lines)
