# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Scripted systemctl, dpkg-query, apt-get and apt-cache for the families that use them."""

from __future__ import annotations

import copy


def _options(argv: list[str]) -> tuple[list[str], list[str]]:
    """(flags, names) of an apt-get call, C(-o KEY=VALUE) pairs dropped."""
    flags, names, skip = [], [], False
    for arg in argv[1:]:
        if skip:
            skip = False
        elif arg == "-o":
            skip = True
        elif arg.startswith("-"):
            flags.append(arg)
        else:
            names.append(arg)
    return flags, names


class FakeSystemd:
    """systemctl over a dict of unit -> [LoadState, UnitFileState, ActiveState]; unknown units are
    not-found. C(fail) names a unit whose changes fail (only C(fail_verb) where given); C(changes)
    records every changing call."""

    READS = ("show", "is-active")

    def __init__(
        self, units: dict[str, list[str]] | None = None, fail: str | None = None, fail_verb: str | None = None
    ) -> None:
        self.units = {name: list(state) for name, state in (units or {}).items()}
        self.fail = fail
        self.fail_verb = fail_verb
        self.changes: list[list[str]] = []

    def snapshot(self) -> dict[str, list[str]]:
        return copy.deepcopy(self.units)

    def __call__(self, argv: list[str]) -> tuple[int, str, str]:
        verb = argv[1]
        if verb == "show":
            names = argv[argv.index("--") + 1 :]
            blocks = []
            for name in names:
                load, file, active = self.units.get(name, ["not-found", "", "inactive"])
                blocks.append(f"Id={name}\nLoadState={load}\nUnitFileState={file}\nActiveState={active}\n")
            return 0, "\n".join(blocks), ""
        unit = argv[-1]
        if verb == "is-active":
            return (0 if self.units.get(unit, ["", "", ""])[2] == "active" else 3), "", ""
        self.changes.append(argv[1:])
        if unit == self.fail and self.fail_verb in (None, verb):
            return 1, "", f"Failed to {verb} {unit}: Access denied"
        if unit not in self.units:
            return 5, "", f"Failed to {verb} {unit}: Unit {unit} not found."
        state = self.units[unit]
        now = "--now" in argv
        if verb == "mask":
            state[:2] = ["masked", "masked-runtime" if "--runtime" in argv else "masked"]
            state[2] = "inactive" if now else state[2]
        elif verb == "unmask":
            state[:2] = ["loaded", "disabled"]
        elif verb == "enable":
            state[1] = "enabled"
            state[2] = "active" if now else state[2]
        elif verb == "disable":
            state[1] = "disabled"
            state[2] = "inactive" if now else state[2]
        elif verb in ("start", "restart"):
            state[2] = "active"
        elif verb == "stop":
            state[2] = "inactive"
        return 0, "", ""


class FakeApt:
    """dpkg-query, apt-get and apt-cache over a dict of package -> dpkg status abbreviation.

    C(depends) maps a package to what installing it installs along; C(rdepends) to what purging it
    removes along; C(conflicts) to what installing it removes. C(archive) is what apt-get update
    makes installable; before it only C(candidates) are. C(fail) is an apt-get verb that fails.
    """

    def __init__(
        self,
        states: dict[str, str],
        *,
        depends: dict[str, list[str]] | None = None,
        rdepends: dict[str, list[str]] | None = None,
        conflicts: dict[str, list[str]] | None = None,
        candidates: set[str] | None = None,
        archive: set[str] | None = None,
        fail: str | None = None,
    ) -> None:
        self.states = dict(states)
        self.depends = depends or {}
        self.rdepends = rdepends or {}
        self.conflicts = conflicts or {}
        self.candidates = set(candidates) if candidates is not None else None
        self.archive = set(archive or ())
        self.fail = fail
        self.changes: list[list[str]] = []

    def register(self, module) -> None:
        module.commands["dpkg-query"] = self.query
        module.commands["apt-get"] = self.apt_get
        module.commands["apt-cache"] = self.apt_cache

    def installed(self, name: str) -> bool:
        return self.states.get(name, "un")[1:2] not in ("n", "c")

    def query(self, argv):
        return 0, "".join(f"{name}\t{status} \n" for name, status in self.states.items()), ""

    def apt_cache(self, argv):
        blocks = []
        for name in argv[2:]:
            known = self.candidates is None or name in self.candidates
            version = "1.0" if known else "(none)"
            blocks.append(f"{name}:\n  Installed: (none)\n  Candidate: {version}\n  Version table:\n")
        return 0, "".join(blocks), ""

    def _plan(self, verb: str, names: list[str]) -> tuple[list[str], list[str]]:
        if verb == "purge":
            removed = [n for name in names for n in [name, *self.rdepends.get(name, [])] if self.installed(n)]
            return sorted(set(removed)), []
        added = [n for name in names for n in [name, *self.depends.get(name, [])] if not self.installed(n)]
        removed = [n for name in names for n in self.conflicts.get(name, []) if self.installed(n)]
        return sorted(set(removed)), sorted(set(added))

    def apt_get(self, argv):
        flags, words = _options(argv)
        verb, names = words[0], words[1:]
        if "-s" in flags:
            if verb == "install" and self.candidates is not None and set(names) - self.candidates:
                missing = sorted(set(names) - self.candidates)
                return 100, "", f"E: Package '{missing[0]}' has no installation candidate"
            removed, added = self._plan(verb, names)
            out = [f"Purg {n} [1.0]" if verb == "purge" else f"Remv {n} [1.0]" for n in removed]
            out += [f"Inst {n} (1.0 Debian:12/stable [amd64])" for n in added]
            return 0, "NOTE: This is only a simulation!\n" + "\n".join(out) + "\n", ""
        self.changes.append(words)
        if verb == self.fail:
            return 100, "", f"E: Sub-process /usr/bin/dpkg returned an error code (1)\nE: {verb} went wrong"
        if verb == "update":
            self.candidates = (self.candidates or set()) | self.archive
            return 0, "", ""
        if verb == "install" and self.candidates is not None and set(names) - self.candidates:
            return 100, "", "E: Unable to locate package"
        removed, added = self._plan(verb, names)
        for name in removed:
            self.states[name] = "un" if verb == "purge" else "rc"
        for name in added:
            self.states[name] = "ii"
        return 0, "", ""
