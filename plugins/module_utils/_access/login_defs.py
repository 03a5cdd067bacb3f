# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Settings of /etc/login.defs and /etc/default/useradd (CIS 5.4.1.1 to 5.4.1.5, 5.4.3.3).

Spec: C({settings: {PASS_MAX_DAYS: 365, ENCRYPT_METHOD: YESCRYPT, UMASK: "027"}}) for
/etc/login.defs (C(KEY VALUE) lines) and C({useradd: {INACTIVE: 45}}) for /etc/default/useradd
(C(KEY=VALUE) lines, what C(useradd -D -f 45) writes); a spec may give both.

Both files belong to the shadow tools, which read every line and keep the last value of a key. So
a key counts as set when every uncommented line of it has the value; otherwise the first such
line gets the value in place, the later ones are commented out, and a key without a line is
appended at the end. Everything else stays byte for byte, and the file is replaced atomically
(its mode kept; undo puts the old content back). Controls naming the same file share one write.

Input is checked before anything is read: keys must be ones the shadow tools know, values one word
(no blanks, quotes or line breaks), numbers where the tools expect numbers, octal keys (UMASK,
HOME_MODE, ...) as quoted strings with a leading 0 (YAML reads an unquoted 027 as 23, and the
tools read 27 as decimal), ENCRYPT_METHOD SHA512 or YESCRYPT (the two CIS 5.4.1.4 accepts). Two
controls setting one key to different values are refused, naming both.
"""

from __future__ import annotations

import os
import re
import stat
import typing as t
from dataclasses import dataclass

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action, Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.writes import write_action

LOGIN_DEFS = "/etc/login.defs"
USERADD = "/etc/default/useradd"
DEFAULT_UID_MIN = 1000

# Every item shadow's getdef.c knows (its own table, the PAM-handled items and util-linux's).
LOGIN_DEFS_KEYS = frozenset(
    [
        "CHFN_RESTRICT",
        "CONSOLE_GROUPS",
        "CONSOLE",
        "CREATE_HOME",
        "DEFAULT_HOME",
        "ENCRYPT_METHOD",
        "ENV_PATH",
        "ENV_SUPATH",
        "ERASECHAR",
        "FAIL_DELAY",
        "FAKE_SHELL",
        "GID_MAX",
        "GID_MIN",
        "HOME_MODE",
        "HUSHLOGIN_FILE",
        "KILLCHAR",
        "LASTLOG_UID_MAX",
        "LOGIN_RETRIES",
        "LOGIN_TIMEOUT",
        "LOG_OK_LOGINS",
        "LOG_UNKFAIL_ENAB",
        "MAIL_DIR",
        "MAIL_FILE",
        "MAX_MEMBERS_PER_GROUP",
        "MD5_CRYPT_ENAB",
        "NONEXISTENT",
        "PASS_MAX_DAYS",
        "PASS_MIN_DAYS",
        "PASS_WARN_AGE",
        "SHA_CRYPT_MAX_ROUNDS",
        "SHA_CRYPT_MIN_ROUNDS",
        "BCRYPT_MAX_ROUNDS",
        "BCRYPT_MIN_ROUNDS",
        "YESCRYPT_COST_FACTOR",
        "SUB_GID_COUNT",
        "SUB_GID_MAX",
        "SUB_GID_MIN",
        "SUB_UID_COUNT",
        "SUB_UID_MAX",
        "SUB_UID_MIN",
        "SULOG_FILE",
        "SU_NAME",
        "SYS_GID_MAX",
        "SYS_GID_MIN",
        "SYS_UID_MAX",
        "SYS_UID_MIN",
        "TTYGROUP",
        "TTYPERM",
        "TTYTYPE_FILE",
        "UID_MAX",
        "UID_MIN",
        "UMASK",
        "USERDEL_CMD",
        "USERGROUPS_ENAB",
        "SYSLOG_SG_ENAB",
        "SYSLOG_SU_ENAB",
        "TCB_AUTH_GROUP",
        "TCB_SYMLINKS",
        "USE_TCB",
        "FORCE_SHADOW",
        "GRANT_AUX_GROUP_SUBIDS",
        "PREVENT_NO_AUTH",
        "CHFN_AUTH",
        "CHSH_AUTH",
        "ENV_HZ",
        "ENVIRON_FILE",
        "ENV_TZ",
        "FAILLOG_ENAB",
        "FTMP_FILE",
        "HMAC_CRYPTO_ALGO",
        "ISSUE_FILE",
        "LASTLOG_ENAB",
        "LOGIN_STRING",
        "MAIL_CHECK_ENAB",
        "MOTD_FILE",
        "NOLOGINS_FILE",
        "OBSCURE_CHECKS_ENAB",
        "PASS_ALWAYS_WARN",
        "PASS_CHANGE_TRIES",
        "PASS_MAX_LEN",
        "PASS_MIN_LEN",
        "PORTTIME_CHECKS_ENAB",
        "QUOTAS_ENAB",
        "SU_WHEEL_ONLY",
        "ULIMIT",
        "ALWAYS_SET_PATH",
        "ENV_ROOTPATH",
        "LOGIN_KEEP_USERNAME",
        "LOGIN_PLAIN_PROMPT",
        "MOTD_FIRSTONLY",
    ]
)
NUMBER_KEYS = frozenset(
    [
        "PASS_MAX_DAYS",
        "PASS_MIN_DAYS",
        "PASS_WARN_AGE",
        "UID_MIN",
        "UID_MAX",
        "SYS_UID_MIN",
        "SYS_UID_MAX",
        "GID_MIN",
        "GID_MAX",
        "SYS_GID_MIN",
        "SYS_GID_MAX",
        "SUB_UID_MIN",
        "SUB_UID_MAX",
        "SUB_UID_COUNT",
        "SUB_GID_MIN",
        "SUB_GID_MAX",
        "SUB_GID_COUNT",
        "LOGIN_RETRIES",
        "LOGIN_TIMEOUT",
        "FAIL_DELAY",
        "SHA_CRYPT_MIN_ROUNDS",
        "SHA_CRYPT_MAX_ROUNDS",
        "BCRYPT_MIN_ROUNDS",
        "BCRYPT_MAX_ROUNDS",
        "YESCRYPT_COST_FACTOR",
        "PASS_MIN_LEN",
        "PASS_MAX_LEN",
        "PASS_CHANGE_TRIES",
        "MAX_MEMBERS_PER_GROUP",
        "LASTLOG_UID_MAX",
        "ULIMIT",
    ]
)
OCTAL_KEYS = frozenset({"UMASK", "HOME_MODE", "TTYPERM", "ERASECHAR", "KILLCHAR"})
YES_NO_KEYS = frozenset(
    [
        "CREATE_HOME",
        "DEFAULT_HOME",
        "LOG_OK_LOGINS",
        "LOG_UNKFAIL_ENAB",
        "MD5_CRYPT_ENAB",
        "USERGROUPS_ENAB",
        "SYSLOG_SG_ENAB",
        "SYSLOG_SU_ENAB",
        "TCB_SYMLINKS",
        "USE_TCB",
        "FORCE_SHADOW",
        "GRANT_AUX_GROUP_SUBIDS",
        "CHFN_AUTH",
        "CHSH_AUTH",
        "FAILLOG_ENAB",
        "LASTLOG_ENAB",
        "MAIL_CHECK_ENAB",
        "OBSCURE_CHECKS_ENAB",
        "PASS_ALWAYS_WARN",
        "PORTTIME_CHECKS_ENAB",
        "QUOTAS_ENAB",
        "SU_WHEEL_ONLY",
        "ALWAYS_SET_PATH",
        "LOGIN_KEEP_USERNAME",
        "LOGIN_PLAIN_PROMPT",
        "MOTD_FIRSTONLY",
    ]
)
# CIS 5.4.1.4: the hashes the benchmark counts as strong.
ENCRYPT_METHODS = ("SHA512", "YESCRYPT")
# The keys useradd reads from its defaults file (shadow's useradd.c).
USERADD_KEYS = frozenset(
    {"GROUP", "GROUPS", "HOME", "INACTIVE", "EXPIRE", "SHELL", "SKEL", "USRSKEL", "CREATE_MAIL_SPOOL", "LOG_INIT"}
)
USERADD_NUMBER_KEYS = frozenset({"INACTIVE"})
OCTAL_RE = re.compile(r"^0[0-7]{1,4}$")
NUMBER_RE = re.compile(r"^-?[0-9]+$")
FILES = {"settings": LOGIN_DEFS, "useradd": USERADD}


@dataclass(frozen=True)
class Line:
    """One uncommented setting line: its key, its value as the tools read it, its line number."""

    key: str
    value: str
    number: int


@dataclass(frozen=True)
class Dialect:
    """How one file writes a setting: C(KEY VALUE) (login.defs) or C(KEY=VALUE) (useradd)."""

    path: str
    keys: frozenset[str]
    numbers: frozenset[str]
    octals: frozenset[str]
    yes_no: frozenset[str]


DIALECTS = {
    "settings": Dialect(LOGIN_DEFS, LOGIN_DEFS_KEYS, NUMBER_KEYS, OCTAL_KEYS, YES_NO_KEYS),
    "useradd": Dialect(USERADD, USERADD_KEYS, USERADD_NUMBER_KEYS, frozenset(), frozenset({"CREATE_MAIL_SPOOL"})),
}


def _split_defs(raw: str) -> tuple[str, str, str, str] | None:
    """(indent, key, separator, value) of a login.defs line as getdef.c splits it; None for others."""
    line = raw.rstrip()
    body = line.lstrip(" \t")
    if not body or body.startswith("#"):
        return None
    key = re.split(r"[ \t]", body, maxsplit=1)[0]
    rest = body[len(key) :]
    value = rest.lstrip(' \t"')
    if not value:
        return None  # a key without a value is ignored by the tools
    separator = rest[: len(rest) - len(rest.lstrip(" \t"))]
    return line[: len(line) - len(body)], key, separator, value.split('"')[0]


def _split_useradd(raw: str) -> tuple[str, str, str, str] | None:
    """(indent, key, separator, value) of a useradd defaults line: C(KEY=) at the very start."""
    line = raw.rstrip("\r")
    key, sep, value = line.partition("=")
    if not sep or not re.match(r"^[A-Z_]+$", key):
        return None
    return "", key, "=", value


SPLITTERS: dict[str, t.Callable[[str], tuple[str, str, str, str] | None]] = {
    "settings": _split_defs,
    "useradd": _split_useradd,
}


def parse(kind: str, text: str) -> dict[str, list[Line]]:
    """Every uncommented line per key, in file order (the tools use the last one)."""
    found: dict[str, list[Line]] = {}
    for number, raw in enumerate(text.split("\n"), 1):
        parts = SPLITTERS[kind](raw)
        if parts is not None:
            found.setdefault(parts[1], []).append(Line(parts[1], parts[3], number))
    return found


def login_defs(node: Node) -> dict[str, list[Line]]:
    """The node's /etc/login.defs parsed (read once until the node forgets)."""
    return node.cached("access:login.defs", lambda: parse("settings", node.read(LOGIN_DEFS) or ""))


def setting(node: Node, key: str) -> Line | None:
    """The line of /etc/login.defs whose value the tools use for C(key)."""
    lines = login_defs(node).get(key)
    return lines[-1] if lines else None


def uid_min(node: Node) -> int:
    """UID_MIN of /etc/login.defs: where human accounts start (1000 when unset or unreadable)."""
    line = setting(node, "UID_MIN")
    try:
        return _as_number(line.value) if line else DEFAULT_UID_MIN
    except ValueError:
        return DEFAULT_UID_MIN


def _as_number(value: str) -> int:
    """A number as getdef.c reads one (base 0: a leading 0 is octal, 0x hexadecimal)."""
    text = value.strip()
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    if digits.lower().startswith("0x"):
        return sign * int(digits[2:], 16)
    if len(digits) > 1 and digits.startswith("0"):
        return sign * int(digits[1:], 8)
    return sign * int(digits, 10)


def same_value(dialect: Dialect, key: str, actual: str, expected: str) -> bool:
    if key in dialect.numbers or key in dialect.octals:
        try:
            return _as_number(actual) == _as_number(expected)
        except ValueError:
            return False
    return actual.strip() == expected


def rewrite(kind: str, text: str | None, settings: dict[str, str]) -> str:
    """C(text) with C(settings) set: first line replaced in place, later ones commented, missing ones appended."""
    lines = (text or "").split("\n")
    seen: set[str] = set()
    out = []
    for raw in lines:
        parts = SPLITTERS[kind](raw)
        if parts is None or parts[1] not in settings:
            out.append(raw)
            continue
        indent, key, separator, _value = parts
        if key in seen:
            out.append("#" + raw)
        else:
            seen.add(key)
            out.append(f"{indent}{key}{separator}{settings[key]}")
    missing = [key for key in settings if key not in seen]
    result = "\n".join(out)
    if missing:
        if result and not result.endswith("\n"):
            result += "\n"
        joiner = "\t" if kind == "settings" else "="
        result += "".join(f"{key}{joiner}{settings[key]}\n" for key in missing)
    return result


def _render(cid: str, dialect: Dialect, key: t.Any, value: t.Any) -> str:
    where = dialect.path
    if not isinstance(key, str) or key not in dialect.keys:
        raise c.ControlInputError(
            f"control {cid!r}: {key!r} is not a setting of {where}; known: {', '.join(sorted(dialect.keys))}"
        )
    if isinstance(value, bool):
        if key not in dialect.yes_no:
            raise c.ControlInputError(f"control {cid!r}: {key} in {where} takes a value, not true or false")
        return "yes" if value else "no"
    if key in dialect.octals:
        if not isinstance(value, str) or not OCTAL_RE.match(value):
            raise c.ControlInputError(
                f"control {cid!r}: {key} in {where} must be a quoted octal string with a leading 0, such as '027'"
                f" (got {value!r}: YAML reads an unquoted 027 as 23)"
            )
        return value
    if key in dialect.numbers:
        text = str(value) if isinstance(value, (int, str)) else ""
        if not NUMBER_RE.match(text) or int(text) < -1:
            raise c.ControlInputError(f"control {cid!r}: {key} in {where} must be a whole number (-1 or more)")
        return str(int(text))
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise c.ControlInputError(f"control {cid!r}: {key} in {where} must be one word, got {value!r}")
    text = str(value)
    if not text or re.search(r'[\s"#]', text):
        raise c.ControlInputError(
            f"control {cid!r}: the value of {key} in {where} must be one word without blanks, quotes, '#' "
            f"or line breaks, got {text!r}"
        )
    if key in dialect.yes_no and text not in ("yes", "no"):
        raise c.ControlInputError(f"control {cid!r}: {key} in {where} is yes or no, got {text!r}")
    if key == "ENCRYPT_METHOD" and text not in ENCRYPT_METHODS:
        raise c.ControlInputError(
            f"control {cid!r}: ENCRYPT_METHOD {text!r} is not a strong hash; use {' or '.join(ENCRYPT_METHODS)}"
            " (CIS 5.4.1.4)"
        )
    return text


class LoginDefs(Family):
    name = "login_defs"

    def validate(self, node: Node, control: dict, spec: t.Any) -> dict[str, dict[str, str]]:
        cid = control["id"]
        if not isinstance(spec, dict) or not spec or set(spec) - set(FILES):
            raise c.ControlInputError(
                f"control {cid!r}: spec must be a mapping with settings (for {LOGIN_DEFS}) and/or useradd "
                f"(for {USERADD}), such as {{settings: {{PASS_MAX_DAYS: 365}}}}"
            )
        result: dict[str, dict[str, str]] = {}
        for kind, settings in spec.items():
            if not isinstance(settings, dict) or not settings:
                raise c.ControlInputError(f"control {cid!r}: {kind} must map setting names to values")
            result[kind] = {key: _render(cid, DIALECTS[kind], key, value) for key, value in settings.items()}
        self._claim(node, cid, result)
        return result

    @staticmethod
    def _claim(node: Node, cid: str, spec: dict[str, dict[str, str]]) -> None:
        """Two controls giving one key two values would fight on every run: refused before any change."""
        claims: dict[tuple[str, str], tuple[str, str]] = node.cached("login_defs:claims", dict)
        for kind, settings in spec.items():
            dialect = DIALECTS[kind]
            for key, value in settings.items():
                other = claims.setdefault((kind, key), (cid, value))
                if other[0] != cid and not same_value(dialect, key, other[1], value):
                    raise c.ControlInputError(
                        f"controls {other[0]!r} and {cid!r} set {key} in {dialect.path} to {other[1]} and {value}; "
                        "switch one of them off or give both the same value"
                    )

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        found = {control["id"]: Finding(expected={}, actual={}) for control, _unused in items}
        for kind, dialect in DIALECTS.items():
            wanted = [(control["id"], spec[kind]) for control, spec in items if kind in spec]
            if not wanted:
                continue
            before = node.read(dialect.path)
            current = parse(kind, before or "")
            merged: dict[str, str] = {}
            differing: list[str] = []
            for cid, settings in wanted:
                merged.update(settings)
                finding = found[cid]
                for key, value in settings.items():
                    lines = current.get(key, [])
                    finding.expected[f"{dialect.path} {key}"] = value
                    finding.actual[f"{dialect.path} {key}"] = lines[-1].value if lines else None
                    differences = self._differences(dialect, key, value, lines)
                    finding.differences += differences
                    if differences and cid not in differing:
                        differing.append(cid)
            if differing:
                action = self._write(node, dialect.path, kind, before, merged)
                for cid in differing:
                    found[cid].actions.append(action)
        return found

    @staticmethod
    def _differences(dialect: Dialect, key: str, value: str, lines: list[Line]) -> list[dict]:
        if not lines:
            return [c.difference(key, dialect.path, value, None)]
        return [
            c.difference(key, f"{dialect.path} line {line.number}", value, line.value)
            for line in lines
            if not same_value(dialect, key, line.value, value)
        ]

    @staticmethod
    def _write(node: Node, path: str, kind: str, before: str | None, settings: dict[str, str]) -> Action:
        try:
            mode = stat.S_IMODE(os.stat(node.path(path)).st_mode)
        except FileNotFoundError:
            mode = 0o644
        return write_action(node, path, rewrite(kind, before, settings), mode)
