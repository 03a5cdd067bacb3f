# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kubelet's command line as systemd builds it: unit file, drop-ins, environment files.

Flags on the kubelet's command line beat its configuration file, so every flag is traced to the
file (and line) that puts it there: an C(ExecStart=) word, an C(Environment=) assignment or a line
of an C(EnvironmentFile=). Expansion follows systemd: C($VAR) splits the value into words,
C(${VAR}) keeps it one word; an unset variable expands to nothing. Environment files are read
after C(Environment=) lines and win over them, as systemd does.
"""

from __future__ import annotations

import re
import shlex
import typing as t
from dataclasses import dataclass, field

# One assignment of an environment file or Environment= word: NAME=value.
ASSIGNMENT_RE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
VARIABLE_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


class UnitError(ValueError):
    """A unit or environment file that cannot be read as systemd reads it; the message names the line."""


@dataclass(frozen=True)
class Source:
    """Where a piece of the command line is written: a file, its line, and how it is used."""

    path: str
    line: int
    kind: str  # ExecStart, Environment or EnvironmentFile
    variable: str = ""

    def __str__(self) -> str:
        what = f" ({self.variable})" if self.variable else ""
        return f"{self.path} line {self.line}{what}"


@dataclass(frozen=True)
class Word:
    """One argument of the command line and where it comes from."""

    text: str
    source: Source


@dataclass
class Definition:
    """The service as its files define it: the ExecStart words and the environment with origins."""

    files: list[str] = field(default_factory=list)
    exec_start: list[tuple[str, Source]] = field(default_factory=list)  # raw words before expansion
    environment: dict[str, tuple[str, Source]] = field(default_factory=dict)
    environment_files: list[tuple[str, bool, Source]] = field(default_factory=list)  # path, optional, where named

    def argv(self) -> list[Word]:
        """The command line systemd would run, each word with its source."""
        words: list[Word] = []
        for raw, where in self.exec_start:
            words += self._expand(raw, where)
        return words

    def _expand(self, raw: str, where: Source) -> list[Word]:
        whole = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", raw)
        if whole:
            value, origin = self.environment.get(whole.group(1), ("", where))
            return [Word(part, origin) for part in value.split()]

        def substitute(match: re.Match) -> str:
            name = match.group(1) or match.group(2)
            return self.environment.get(name, ("", where))[0]

        text = VARIABLE_RE.sub(substitute, raw)
        names = [m.group(1) or m.group(2) for m in VARIABLE_RE.finditer(raw)]
        origin = self.environment[names[0]][1] if len(names) == 1 and names[0] in self.environment else where
        return [Word(text, origin)] if text else []


def parse_unit(files: list[tuple[str, str]]) -> Definition:
    """The [Service] settings that make the command line, from the unit file and its drop-ins in
    the order systemd applies them (C(files) as (path, text))."""
    definition = Definition(files=[path for path, _unused in files])
    for path, text in files:
        section = ""
        for number, line in _logical_lines(path, text, unit_file=True):
            stripped = line.strip()
            if stripped.startswith("[") and stripped.endswith("]"):
                section = stripped[1:-1]
                continue
            if section != "Service" or "=" not in stripped:
                continue
            key, value = (part.strip() for part in stripped.split("=", 1))
            if key == "ExecStart":
                _exec_start(definition, path, number, value)
            elif key == "Environment":
                _environment(definition, path, number, value)
            elif key == "EnvironmentFile":
                if not value:
                    definition.environment_files = []
                    continue
                optional = value.startswith("-")
                definition.environment_files.append(
                    (value.lstrip("-"), optional, Source(path, number, "EnvironmentFile"))
                )
    return definition


def _logical_lines(path: str, text: str, unit_file: bool = False) -> t.Iterator[tuple[int, str]]:
    """Lines with backslash continuations joined, numbered by their first line; comments dropped.
    In a unit file a comment inside a continuation is dropped too and the continuation goes on after
    it (systemd.syntax); in an environment file such a line is part of the value."""
    pending, start = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if (not pending or unit_file) and line.lstrip().startswith(("#", ";")):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield start, pending + line
        pending = ""
    if pending:
        raise UnitError(f"{path} line {start}: a continuation line ends the file")


def _exec_start(definition: Definition, path: str, number: int, value: str) -> None:
    if not value:
        definition.exec_start = []  # ExecStart= with nothing clears the earlier ones, as in drop-ins
        return
    if definition.exec_start:
        raise UnitError(
            f"{path} line {number}: a second ExecStart= for a simple service; clear it first with ExecStart="
        )
    try:
        words = shlex.split(value.lstrip("@-:+!"), posix=True)
    except ValueError as exc:
        raise UnitError(f"{path} line {number}: ExecStart= cannot be split into words: {exc}") from exc
    definition.exec_start = [(word, Source(path, number, "ExecStart")) for word in words]


def _environment(definition: Definition, path: str, number: int, value: str) -> None:
    if not value:
        definition.environment = {}
        return
    try:
        words = shlex.split(value, posix=True)
    except ValueError as exc:
        raise UnitError(f"{path} line {number}: Environment= cannot be split into words: {exc}") from exc
    for word in words:
        name, sep, assigned = word.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise UnitError(f"{path} line {number}: {word!r} is not an assignment NAME=value")
        definition.environment[name] = (assigned, Source(path, number, "Environment", name))


def parse_environment_file(path: str, text: str) -> dict[str, tuple[str, int]]:
    """NAME -> (value, line) of an environment file, read as systemd reads one: one assignment per
    line, quotes removed, comments and blank lines ignored."""
    found: dict[str, tuple[str, int]] = {}
    for number, line in _logical_lines(path, text):
        if not line.strip():
            continue
        match = ASSIGNMENT_RE.match(line)
        if not match:
            raise UnitError(f"{path} line {number}: {line.strip()!r} is not an assignment NAME=value")
        found[match.group(1)] = (_unquote(path, number, match.group(2).strip()), number)
    return found


def _unquote(path: str, number: int, value: str) -> str:
    if value and value[0] in "\"'":
        if len(value) < 2 or value[-1] != value[0]:
            raise UnitError(f"{path} line {number}: the quoted value {value!r} is not closed")
        inner = value[1:-1]
        return inner.replace('\\"', '"').replace("\\\\", "\\") if value[0] == '"' else inner
    return value


def apply_environment_files(definition: Definition, read: t.Callable[[str], str | None]) -> list[str]:
    """Load the environment files into the definition (they win over Environment=); returns the
    files that were read. A missing file that is not optional is an error, as for systemd."""
    loaded = []
    for path, optional, where in definition.environment_files:
        text = read(path)
        if text is None:
            if optional:
                continue
            raise UnitError(f"{where}: EnvironmentFile={path} does not exist and is not optional ('-')")
        for name, (value, number) in parse_environment_file(path, text).items():
            definition.environment[name] = (value, Source(path, number, "EnvironmentFile", name))
        loaded.append(path)
    return loaded


# -- flags ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flag:
    """A --name=value (or --name value, or bare --name) flag, the words it spans and its source."""

    name: str
    value: str
    words: tuple[str, ...]
    source: Source


def flags(argv: list[Word], takes_value: t.Callable[[str], bool]) -> list[Flag]:
    """The flags of a command line (after the program). A flag without '=' takes the next word as
    its value when C(takes_value(name)) says so and that word is no flag; otherwise it is a bare
    boolean flag, meaning true."""
    found: list[Flag] = []
    index = 1
    while index < len(argv):
        word = argv[index]
        index += 1
        if not word.text.startswith("-") or word.text in ("-", "--"):
            continue
        name, sep, value = word.text.lstrip("-").partition("=")
        if sep:
            found.append(Flag(name, value, (word.text,), word.source))
            continue
        following = argv[index] if index < len(argv) else None
        if takes_value(name) and following is not None and not following.text.startswith("-"):
            found.append(Flag(name, following.text, (word.text, following.text), word.source))
            index += 1
            continue
        found.append(Flag(name, "true", (word.text,), word.source))
    return found


def remove_words(text: str, source: Source, words: tuple[str, ...]) -> str:
    """The file's text with C(words) taken out of the assignment that C(source) names (an
    environment file's line or an Environment= word), including the lines it continues on with a
    trailing backslash. Quoting of the value is kept."""
    lines = text.splitlines(keepends=True)
    first = source.line - 1
    if first < 0 or first >= len(lines):
        raise UnitError(f"{source}: the line is gone; read the node again")

    def comment(line: str) -> bool:  # unit files skip comments inside a continuation
        return source.kind != "EnvironmentFile" and line.lstrip().startswith(("#", ";"))

    last = first
    while last + 1 < len(lines) and (lines[last].rstrip("\r\n").endswith("\\") or comment(lines[last])):
        last += 1
    pattern = r"(?<![^\s\"'=])" + r"\s+".join(re.escape(w) for w in words) + r"(?![^\s\"'\\])"
    for index in range(first, last + 1):
        line = lines[index]
        if index > first and comment(line):
            continue
        ending = line[len(line.rstrip("\r\n")) :]
        body = line[: len(line) - len(ending)]
        start = 0
        if index == first and source.variable:  # search the named assignment, not an earlier one on the line
            named = re.search(r"(?<![A-Za-z0-9_])" + re.escape(source.variable) + "=", body)
            start = named.end() if named else 0
        match = re.compile(pattern).search(body, start)
        if not match:
            continue
        before, after = body[: match.start()], body[match.end() :]
        if before.endswith(" ") and (after.startswith(" ") or after[:1] in ("", '"', "'", "\\")):
            before = before[:-1]
        elif after.startswith(" ") and before[-1:] in ('"', "'", "=", ""):
            after = after[1:]
        lines[index] = before + after + ending
        return "".join(lines)
    raise UnitError(f"{source}: {' '.join(words)!r} is not written there")
