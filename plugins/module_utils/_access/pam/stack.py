# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lines of a PAM stack file (/etc/pam.d/common-auth and its kin) as PAM reads them.

A line is C(type control module arguments): the type may carry a leading C(-) (a missing module
is not logged), the control is a word or a bracketed list that may hold blanks
(C([success=1 default=ignore])), the module a name or a path. C(#) starts a comment. Arguments
are C(word) or C(key=value); a bracketed argument may hold blanks too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PAM_DIR = "/etc/pam.d"
# The stacks pam-auth-update writes, by the type of their lines.
COMMON = {
    "auth": f"{PAM_DIR}/common-auth",
    "account": f"{PAM_DIR}/common-account",
    "password": f"{PAM_DIR}/common-password",
    "session": f"{PAM_DIR}/common-session",
    "session-noninteractive": f"{PAM_DIR}/common-session-noninteractive",
}
TYPES = ("auth", "account", "password", "session")
TOKEN_RE = re.compile(r"\[[^\]]*\]|\S+")


@dataclass(frozen=True)
class PamLine:
    path: str
    number: int
    type: str
    control: str
    module: str
    args: tuple[str, ...]

    @property
    def name(self) -> str:
        """The module's file name without directory (C(pam_unix.so))."""
        return self.module.rsplit("/", 1)[-1]

    def has(self, word: str) -> bool:
        """Whether an argument is C(word) or C(word=...)."""
        return any(arg == word or arg.startswith(f"{word}=") for arg in self.args)

    def value(self, key: str) -> str | None:
        """The value of the last C(key=value) argument, None without one."""
        found = None
        for arg in self.args:
            if arg.startswith(f"{key}="):
                found = arg.split("=", 1)[1]
        return found

    @property
    def where(self) -> str:
        return f"{self.path} line {self.number}"

    @property
    def text(self) -> str:
        return " ".join([self.type, self.control, self.module, *self.args])


def parse(path: str, text: str) -> list[PamLine]:
    """Every line of a stack file that PAM acts on; C(@include) lines are kept with type C(@include)."""
    found: list[PamLine] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        tokens = TOKEN_RE.findall(line)
        if tokens[0] == "@include":
            found.append(PamLine(path, number, "@include", "", tokens[1] if len(tokens) > 1 else "", ()))
            continue
        if len(tokens) < 3:
            continue
        found.append(PamLine(path, number, tokens[0].lstrip("-"), tokens[1], tokens[2], tuple(tokens[3:])))
    return found


def modules(lines: list[PamLine], name: str) -> list[PamLine]:
    """The lines that load module C(name) (C(pam_unix.so))."""
    return [line for line in lines if line.name == name]


def index_of(lines: list[PamLine], line: PamLine) -> int:
    return lines.index(line)
