# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pam-auth-update profiles the collection writes, and Debian's it relies on.

Debian builds /etc/pam.d/common-* with pam-auth-update from the profiles in
/usr/share/pam-configs: each names the lines it adds to each stack, ordered by C(Priority)
(highest first), with an C(-Initial) variant used when its line comes first in the stack. A
package upgrade regenerates the stacks from the same profiles, so a setting lives in a profile
or it does not last.

- C(nodeguard-unix) replaces Debian's C(unix) profile (which is disabled): the same lines, with
  C(nullok) and C(remember=) taken out, the chosen hash on the password lines, C(use_authtok) on
  the password line that follows another module (CIS 5.3.3.4). It is derived from Debian's own
  profile on the node, so whatever a later libpam-runtime changes there carries over.
- C(nodeguard-faillock) puts C(pam_faillock.so preauth) ahead of pam_unix in common-auth and
  C(pam_faillock.so) into common-account, which resets a user's failures after a successful
  login of any kind (an SSH key login runs the account stack, never the auth stack);
  C(nodeguard-faillock-authfail) puts C(pam_faillock.so authfail) after pam_unix, where a
  failed password lands (CIS 5.3.2.2). Neither carries settings: those live in faillock.conf.
- C(nodeguard-pwhistory) puts pam_pwhistory after pam_pwquality and ahead of pam_unix in
  common-password, with its arguments (CIS 5.3.2.4, 5.3.3.3).
- C(pwquality) is Debian's, from libpam-pwquality; only enabled (CIS 5.3.2.3).
"""

from __future__ import annotations

import re

PROFILE_DIR = "/usr/share/pam-configs"
DEBIAN_UNIX = "unix"
UNIX = "nodeguard-unix"
FAILLOCK = "nodeguard-faillock"
FAILLOCK_AUTHFAIL = "nodeguard-faillock-authfail"
PWHISTORY = "nodeguard-pwhistory"
PWQUALITY = "pwquality"
# The feature a profile control names, and the profiles that make it.
FEATURES = {
    "unix": (UNIX,),
    "faillock": (FAILLOCK, FAILLOCK_AUTHFAIL),
    "pwquality": (PWQUALITY,),
    "pwhistory": (PWHISTORY,),
}
OURS = (UNIX, FAILLOCK, FAILLOCK_AUTHFAIL, PWHISTORY)
HASHES = ("md5", "bigcrypt", "sha256", "sha512", "blowfish", "yescrypt", "gost_yescrypt")
FIELD_RE = re.compile(r"^(?P<field>[A-Za-z-]+):[ \t]*(?P<value>.*)$")
MARK = "nodeguard.hardening"


def path(name: str) -> str:
    return f"{PROFILE_DIR}/{name}"


def fields(text: str) -> dict[str, list[str]]:
    """A profile's fields: one-line ones as a one-item list, the stack fields as their lines."""
    found: dict[str, list[str]] = {}
    current = None
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        matched = FIELD_RE.match(raw)
        if matched and not raw[0].isspace():
            current = matched.group("field")
            found[current] = [matched.group("value").strip()] if matched.group("value").strip() else []
        elif current is not None:
            found[current].append(raw.strip())
    return found


def derive_unix(debian: str, nullok: bool | None, remember: bool | None, hash_name: str | None, authtok: bool) -> str:
    """Debian's C(unix) profile with CIS's changes to its pam_unix lines (None: left as Debian has it)."""
    out = []
    current = ""
    for raw in debian.splitlines():
        matched = FIELD_RE.match(raw)
        if matched and not raw[0].isspace():
            current = matched.group("field")
            name = f"Name: {matched.group('value').strip()}, as CIS 5.3.3.4 wants it ({MARK})"
            out.append(name if current == "Name" else raw)
            continue
        if "pam_unix.so" not in raw or raw.lstrip().startswith("#"):
            out.append(raw)
            continue
        indent = raw[: len(raw) - len(raw.lstrip())]
        head, _unused, tail = raw.strip().partition("pam_unix.so")
        args = tail.split()
        if nullok is False:
            args = [arg for arg in args if arg != "nullok"]
        if remember is False:
            args = [arg for arg in args if not arg.startswith("remember=")]
        if current.startswith("Password"):
            if hash_name:
                args = [arg for arg in args if arg not in HASHES] + [hash_name]
            if authtok and current == "Password" and "use_authtok" not in args:
                args.append("use_authtok")
        out.append(f"{indent}{head}pam_unix.so" + "".join(f" {arg}" for arg in args))
    return "\n".join(out) + "\n"


def faillock() -> str:
    return (
        f"Name: Lock an account after repeated failed logins, before pam_unix (pam_faillock preauth; {MARK})\n"
        "Default: no\n"
        "Priority: 1024\n"
        "Auth-Type: Primary\n"
        "Auth:\n"
        "\trequisite\t\t\tpam_faillock.so preauth\n"
        "Account-Type: Primary\n"
        "Account:\n"
        "\trequired\t\t\tpam_faillock.so\n"
    )


def faillock_authfail() -> str:
    return (
        f"Name: Count a failed password and deny, after pam_unix (pam_faillock authfail; {MARK})\n"
        "Default: no\n"
        "Priority: 0\n"
        "Auth-Type: Primary\n"
        "Auth:\n"
        "\t[default=die]\t\t\tpam_faillock.so authfail\n"
    )


def pwhistory(args: list[str]) -> str:
    """pam_pwhistory between pam_pwquality (1024) and pam_unix (256). As the first password module
    it prompts itself, so its C(-Initial) line has no C(use_authtok)."""
    initial = [arg for arg in args if arg != "use_authtok"]
    return (
        f"Name: Refuse a recently used password (pam_pwhistory; {MARK})\n"
        "Default: no\n"
        "Priority: 1000\n"
        "Password-Type: Primary\n"
        "Password:\n"
        "\trequisite\t\t\tpam_pwhistory.so" + "".join(f" {arg}" for arg in args) + "\n"
        "Password-Initial:\n"
        "\trequisite\t\t\tpam_pwhistory.so" + "".join(f" {arg}" for arg in initial) + "\n"
    )
