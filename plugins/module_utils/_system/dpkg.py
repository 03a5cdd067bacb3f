# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What dpkg knows of the node's packages, and apt-get run without questions.

dpkg's status abbreviation has a letter for what is wanted (C(i)nstall, C(h)old, C(r)emove,
C(p)urge, C(u)nknown), one for the state (C(n)ot installed, C(c)onfig files only, C(i)nstalled,
and half states) and an error flag.
"""

from __future__ import annotations

import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node

# dpkg-query expands \t and \n itself; no shell is involved.
STATUS_FORMAT = "-f=${Package}\\t${db:Status-Abbrev}\\n"
APT_ENV = {"LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"}
# Wait for a running apt (unattended-upgrades) instead of failing; keep changed config files.
APT_OPTIONS = [
    "-o",
    "DPkg::Lock::Timeout=120",
    "-o",
    "Dpkg::Options::=--force-confdef",
    "-o",
    "Dpkg::Options::=--force-confold",
]


def read_states(node: Node) -> dict[str, str]:
    """Package name to dpkg's status abbreviation, read now."""
    _unused, out, _unused = node.run([node.binary("dpkg-query") or "dpkg-query", "-W", STATUS_FORMAT])
    states: dict[str, str] = {}
    for line in out.splitlines():
        name, _unused, status = line.partition("\t")
        name = name.strip()
        # A package of several architectures has several lines: the most installed one counts.
        if name and (name not in states or is_installed(status)):
            states[name] = status.strip() or "un"
    return states


def package_states(node: Node) -> dict[str, str]:
    """The same, read once per inspection."""
    return node.cached("dpkg:status", lambda: read_states(node))


def is_installed(status: str | None) -> bool:
    return bool(status) and status[1:2] == "i"


def describe(status: str | None) -> str | None:
    """The state in words; None when the package is not installed and has left nothing."""
    state = (status or "un")[1:2]
    if state == "i":
        return "installed, held" if status[:1] == "h" else "installed"
    if state == "n":
        return None
    if state == "c":
        return "config files left"
    return f"partly installed ({status[:2]})"


def apt_get(node: Node, args: list[str], *, check: bool = True) -> tuple[int, str, str]:
    """apt-get with DEBIAN_FRONTEND=noninteractive (Node.run only sets LC_ALL)."""
    argv = [node.binary("apt-get") or "apt-get", *args]
    rc, out, err = node.module.run_command(argv, environ_update=dict(APT_ENV))
    if check and rc != 0:
        tail = " ".join((err or out).strip().splitlines()[-3:])
        raise CommandError(f"{' '.join(['apt-get', *args])} failed with status {rc}: {tail}")
    return rc, out, err


def simulate(node: Node, verb: str, names: t.Sequence[str]) -> tuple[list[str], list[str]]:
    """What C(apt-get VERB NAMES) would remove and install, asked with C(-s) (changes nothing)."""
    extra = ["--no-install-recommends"] if verb == "install" else []
    _unused, out, _unused = apt_get(node, ["-s", "-q", verb, *extra, *names])
    removed, installed = [], []
    for line in out.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] in ("Remv", "Purg"):
            removed.append(words[1])
        elif len(words) >= 2 and words[0] == "Inst":
            installed.append(words[1])
    return sorted(set(removed)), sorted(set(installed))


def without_candidate(node: Node, names: t.Sequence[str]) -> list[str]:
    """The packages apt knows no installable version of (its lists are old or lack them)."""
    _unused, out, _unused = node.run([node.binary("apt-cache") or "apt-cache", "policy", *names], check=False)
    candidates: dict[str, str] = {}
    current = None
    for line in out.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith(":"):
            current = line.strip()[:-1].split(":")[0]
        elif current and line.strip().startswith("Candidate:"):
            candidates[current] = line.split(":", 1)[1].strip()
    return [name for name in names if candidates.get(name, "(none)") == "(none)"]
