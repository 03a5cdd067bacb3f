# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which file and line set each sshd keyword, in the order sshd reads them.

sshd reads /etc/ssh/sshd_config from the top and, at each C(Include), every file the patterns
match (relative patterns under /etc/ssh, each pattern's files sorted by name, recursively), then
goes on after the Include line. For most keywords the first value read wins; some add up (see
keywords.py). A C(Match) line makes the rest of its file conditional (C(Match all) aside), and an
Include inside a Match block includes conditionally; those lines set nothing globally and are
kept apart. Debian's sshd_config includes C(/etc/ssh/sshd_config.d/*.conf) on its first line, so
a drop-in named C(00-...) is read before nearly everything else.

This is how a difference names the file that sets a value (C(PermitRootLogin yes) from
C(/etc/ssh/sshd_config.d/50-cloud.conf line 3)) and how the family knows which lines a new
drop-in cannot override. C(overrides) reads planned contents in place of files (None: the file
is gone), so the same walk tells what sshd will read once they are installed.
"""

from __future__ import annotations

import fnmatch
import glob
import itertools
import os
import re
from dataclasses import dataclass, field

from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd import keywords as kw
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd.effective import MAIN_CONFIG
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node

SSHDIR = "/etc/ssh"
# sshd refuses Includes nested deeper than this.
MAX_DEPTH = 16
LINE_RE = re.compile(r"^\s*([^\s=]+)[ \t\f]*(?:=[ \t\f]*)?(.*)$")


@dataclass(frozen=True)
class Line:
    """One keyword line. C(keyword) is lower case with old names resolved (C(ChallengeResponse
    Authentication) counts as C(kbdinteractiveauthentication)); C(match) is the criteria of the
    Match block it is in (None: global); C(order) its place in sshd's reading order."""

    path: str
    number: int
    keyword: str
    args: tuple[str, ...]
    raw: str
    match: str | None
    order: int

    @property
    def value(self) -> str:
        return " ".join(self.args)

    @property
    def where(self) -> str:
        return f"{self.path} line {self.number}"


@dataclass(frozen=True)
class Include:
    """An Include line and the files it reads, in order."""

    path: str
    number: int
    patterns: tuple[str, ...]
    files: tuple[str, ...]
    match: str | None
    order: int


@dataclass
class Config:
    """The configuration as sshd reads it: every file's text, keyword lines in reading order."""

    main: str
    texts: dict[str, str] = field(default_factory=dict)
    lines: list[Line] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)
    opened: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def settings(self, keyword: str) -> list[Line]:
        """Global lines that set a keyword, in reading order."""
        key = keyword.lower()
        return [line for line in self.lines if line.keyword == key and line.match is None]

    def first(self, keyword: str) -> Line | None:
        """The global line whose value sshd keeps (for keywords that keep the first value)."""
        found = self.settings(keyword)
        return found[0] if found else None

    def conditional(self, keyword: str) -> list[Line]:
        """Lines inside Match blocks that set a keyword."""
        key = keyword.lower()
        return [line for line in self.lines if line.keyword == key and line.match is not None]

    def matches(self) -> list[Line]:
        return [line for line in self.lines if line.keyword == "match"]

    def reads(self, path: str) -> bool:
        return path in self.opened

    def before(self, line: Line, path: str) -> bool:
        """Whether sshd reads C(line) before it starts reading C(path)."""
        return path in self.opened and line.order < self.opened[path]


def split_args(text: str) -> list[str]:
    """The arguments of a line as sshd splits them: blanks separate, quotes group, a word starting
    with C(#) ends the line."""
    args: list[str] = []
    current: list[str] = []
    quote = None
    started = False
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\" and index + 1 < len(text) and text[index + 1] in (quote, "\\"):
                current.append(text[index + 1])
                index += 2
                continue
            if char == quote:
                quote = None
            else:
                current.append(char)
        elif char in " \t\f":
            if started:
                args.append("".join(current))
                current, started = [], False
        elif char == "#" and not started:
            break
        elif char in "\"'":
            quote, started = char, True
        elif char == "\\" and index + 1 < len(text):
            current.append(text[index + 1])
            started = True
            index += 2
            continue
        else:
            current.append(char)
            started = True
        index += 1
    if started:
        args.append("".join(current))
    return args


def parse_line(raw: str) -> tuple[str, list[str]] | None:
    """(keyword as written, arguments) of a configuration line; None for blank lines and comments."""
    found = LINE_RE.match(raw)
    if not found or found.group(1).startswith("#"):
        return None
    return found.group(1), split_args(found.group(2))


def key_of(word: str) -> str:
    """A keyword as the walk records it: lower case, old names resolved."""
    name = kw.canonical(word)
    return name.lower() if name else word.lower()


def glob_match(pattern: str, path: str) -> bool:
    """Whether glob(3) would return C(path) for C(pattern): name by name, no C(*) across C(/), no
    leading dot matched by a wildcard."""
    wanted, have = pattern.split("/"), path.split("/")
    if len(wanted) != len(have):
        return False
    for part, name in zip(wanted, have):
        if name.startswith(".") and not part.startswith("."):
            return False
        if not fnmatch.fnmatchcase(name, part):
            return False
    return True


def on_node(node: Node, full: str) -> str:
    """The node's path of a file found under the node's root (tests root it elsewhere)."""
    root = node.path("/")
    if os.path.normpath(root) == "/":
        return full
    return "/" + os.path.relpath(full, root)


def expand(node: Node, pattern: str, overrides: dict[str, str | None]) -> list[str]:
    """The files an Include pattern reads, sorted as glob(3) sorts them (by bytes: sshd runs in
    the C locale); planned files count as present, planned removals as absent."""
    path = pattern if pattern.startswith(("/", "~")) else f"{SSHDIR}/{pattern}"
    found = {on_node(node, full) for full in glob.glob(node.path(path)) if os.path.isfile(full)}
    for planned, text in overrides.items():
        if text is None:
            found.discard(planned)
        elif glob_match(path, planned):
            found.add(planned)
    return sorted(found)


def read_config(node: Node, main: str = MAIN_CONFIG, overrides: dict[str, str | None] | None = None) -> Config:
    """Walk the configuration from C(main) as sshd does."""
    planned = dict(overrides or {})
    config = Config(main=main)
    counter = itertools.count()

    def read_file(path: str, context: str | None, depth: int) -> None:
        text = planned[path] if path in planned else node.read(path)
        if text is None:
            config.problems.append(f"{path} cannot be read")
            return
        config.texts.setdefault(path, text)
        config.opened.setdefault(path, next(counter))
        match = context
        for number, raw in enumerate(text.splitlines(), 1):
            parsed = parse_line(raw)
            if parsed is None:
                continue
            word, args = parsed
            keyword = key_of(word)
            if keyword == "include":
                files: list[str] = []
                for pattern in args:
                    files += expand(node, pattern, planned)
                config.includes.append(Include(path, number, tuple(args), tuple(files), match, next(counter)))
                if depth + 1 > MAX_DEPTH:
                    config.problems.append(f"{path} line {number}: Includes nested more than {MAX_DEPTH} deep")
                    continue
                for included in files:
                    read_file(included, match, depth + 1)
                continue
            if keyword == "match":
                criteria = " ".join(args)
                config.lines.append(Line(path, number, keyword, tuple(args), raw, criteria, next(counter)))
                match = context if criteria.lower() == "all" else criteria
                continue
            config.lines.append(Line(path, number, keyword, tuple(args), raw, match, next(counter)))

    read_file(main, None, 0)
    return config


def where(config: Config, keyword: str) -> str:
    """Where the value sshd uses for a keyword comes from: C(FILE line N), or C(sshd default)."""
    line = config.first(keyword)
    return line.where if line else "sshd default"
