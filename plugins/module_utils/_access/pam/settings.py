# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The settings files of pam_faillock (/etc/security/faillock.conf) and pam_pwquality
(/etc/security/pwquality.conf).

Both read lines C(key = value) or a bare C(key) (a flag such as C(even_deny_root)), C(#) starting
a comment, the last line of a key winning. libpwquality reads the files of pwquality.conf.d (in
name order) first and pwquality.conf last, so a line of pwquality.conf wins over all of them. An
argument of the same name on the module's line in a PAM stack wins over every file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FAILLOCK_CONF = "/etc/security/faillock.conf"
PWQUALITY_CONF = "/etc/security/pwquality.conf"
# pam_faillock ends a key at a blank or C(=): C(deny = 3), C(deny=3) and C(deny 3) all set it.
FAILLOCK_RE = re.compile(r"^\s*(?P<key>[a-z_]+)(?:(?:\s*=\s*|\s+)(?P<value>.*?))?\s*$")
# libpwquality ends a key at a blank only: C(minlen = 14) and C(minlen 14) set it, C(minlen=14) is
# an unknown setting, and the library stops reading the file at that line.
PWQUALITY_RE = re.compile(r"^\s*(?P<key>[a-z_]+)(?:\s+(?:=\s*)?(?P<value>.*?))?\s*$")
GLUED_RE = re.compile(r"^\s*(?P<key>[a-z_]+)=(?P<value>.*?)\s*$")

# Every setting each module knows: C(None) for a flag, C(int) for a number, C(str) for text.
FAILLOCK_KEYS: dict[str, type | None] = {
    "dir": str,
    "audit": None,
    "silent": None,
    "no_log_info": None,
    "local_users_only": None,
    "nodelay": None,
    "deny": int,
    "fail_interval": int,
    "unlock_time": int,
    "even_deny_root": None,
    "root_unlock_time": int,
    "admin_group": str,
}
PWQUALITY_KEYS: dict[str, type | None] = {
    "difok": int,
    "minlen": int,
    "dcredit": int,
    "ucredit": int,
    "lcredit": int,
    "ocredit": int,
    "minclass": int,
    "maxrepeat": int,
    "maxsequence": int,
    "maxclassrepeat": int,
    "gecoscheck": int,
    "dictcheck": int,
    "usercheck": int,
    "usersubstr": int,
    "enforcing": int,
    "badwords": str,
    "dictpath": str,
    "retry": int,
    "enforce_for_root": None,
    "local_users_only": None,
}


@dataclass(frozen=True)
class Setting:
    """One line setting a key: C(value) None for a flag."""

    path: str
    number: int
    key: str
    value: str | None
    # False for a line the library cannot read (C(minlen=14) in pwquality.conf).
    readable: bool = True

    @property
    def where(self) -> str:
        return f"{self.path} line {self.number}"


def parse(path: str, text: str) -> list[Setting]:
    """The lines setting a key, read the way the file's library reads them (by its path)."""
    pwquality = "pwquality" in path
    pattern = PWQUALITY_RE if pwquality else FAILLOCK_RE
    found = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0]
        if not line.strip():
            continue
        matched = pattern.match(line)
        if matched:
            found.append(Setting(path, number, matched.group("key"), matched.group("value")))
            continue
        glued = GLUED_RE.match(line) if pwquality else None
        if glued:
            found.append(Setting(path, number, glued.group("key"), line.strip(), readable=False))
    return found


def render(value: int | bool | str) -> str | None:
    """What a wanted value reads as in a file: None for a flag that is set."""
    if value is True:
        return None
    return str(value)


def same(setting: Setting | None, value: int | bool | str) -> bool:
    """Whether what a file (or None: nothing) sets is the wanted value; a flag is set by any line."""
    if setting is not None and not setting.readable:
        return False
    if isinstance(value, bool):
        return (setting is not None) is value
    if setting is None or setting.value is None:
        return False
    return setting.value.strip() == str(value)


def rewrite(path: str, text: str | None, wanted: dict[str, int | bool | str]) -> str:
    """The file with every wanted key set: the first line of a key takes the value in place, later
    lines of it are commented out, a missing key is appended; a flag that must be off has its
    lines commented out. Everything else stays byte for byte."""
    lines = (text or "").splitlines()
    current = {setting.number: setting for setting in parse(path, text or "")}
    done: set[str] = set()
    out = []
    for number, raw in enumerate(lines, 1):
        setting = current.get(number)
        if setting is None or setting.key not in wanted:
            out.append(raw)
            continue
        value = wanted[setting.key]
        if value is False or setting.key in done:
            out.append(f"# {raw.strip()}")
            continue
        done.add(setting.key)
        rendered = render(value)
        out.append(setting.key if rendered is None else f"{setting.key} = {rendered}")
    for key, value in wanted.items():
        if key in done or value is False:
            continue
        rendered = render(value)
        out.append(key if rendered is None else f"{key} = {rendered}")
    return "\n".join(out) + "\n"
