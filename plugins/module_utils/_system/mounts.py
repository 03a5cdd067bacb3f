# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Mount options of the partitions CIS 1.1.2 names, and whether those partitions are separate.

Spec kinds:

- C({path: /tmp, options: [nodev, nosuid, noexec]}): the options are set on the live mount and
  where the mount is made at boot. A path that is not a separate mount is skipped: this family
  never repartitions.
- C({path: /tmp, separate: true}): report only. A path that is not a separate mount is a
  difference a person must remove (repartitioning is left to them).

Live options come from /proc/self/mounts (the last mount at a path is the one seen), the boot
options from the first of:

1. the path's line in /etc/fstab: only the options field of that line changes, the rest of the
   file stays byte for byte;
2. a systemd mount unit (tmp.mount mounts /tmp as tmpfs where it is enabled): a drop-in
   C(<unit>.d/60-nodeguard-hardening.conf) with C(Options=). A drop-in rather than an fstab line
   keeps the unit as its package ships it (its ordering, and its size=/nr_inodes= settings) and
   a package update of the unit keeps the options. Options= replaces the unit's own, so the
   drop-in repeats them with the missing ones added;
3. neither, on a tmpfs (/dev/shm, which systemd mounts itself): a new fstab line with the live
   options and the missing ones, as the benchmark does. systemd-remount-fs applies it at boot.
   Any other filesystem without a line or a unit is for a person to fix.

Changes run in this order for each path: remount with the missing options first (C(mount -o
remount,OPTS PATH)), then the boot configuration, then C(systemctl daemon-reload). When the
kernel refuses the remount, nothing else about that path changed.
"""

from __future__ import annotations

import os
import re
import typing as t
from dataclasses import dataclass

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._files import atomic_write, file_diff, state_diff
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action, Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node

MOUNTS = "/proc/self/mounts"
FSTAB = "/etc/fstab"
DROP_IN = "60-nodeguard-hardening.conf"
DROP_IN_HEADER = (
    "# Mount options of nodeguard.hardening. This file is replaced on every run: change the role's\n"
    "# variables, not this file.\n"
)
# Where systemd reads mount units and their drop-ins, most important first.
UNIT_DIRS = ("/etc/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")
# The partitions of CIS 1.1.2.
PATHS = ("/tmp", "/dev/shm", "/var/tmp", "/home", "/var", "/var/log", "/var/log/audit")
# Only options that take rights away; each undone by its inverse.
INVERSE = {"nodev": "dev", "nosuid": "suid", "noexec": "exec"}
# fstab options that set some of those on their own (mount(8)).
IMPLIED = {
    "user": ("nodev", "nosuid", "noexec"),
    "users": ("nodev", "nosuid", "noexec"),
    "owner": ("nodev", "nosuid"),
    "group": ("nodev", "nosuid"),
}
REFUSED = {
    ("/var", "noexec"): (
        "containerd and the kubelet run programs from /var/lib (runtime shims, CNI and CSI plugins, "
        "container layers); noexec on /var stops every pod"
    ),
}
# Live options that mount(8) does not take back in an fstab line.
NOT_FOR_FSTAB = frozenset({"seclabel"})
SPEC_KEYS = {"path", "options", "separate"}
SKIPPED = "{path} is not a separate mount; repartitioning is left to you"
NOT_MOUNTED = "{path} has a line in /etc/fstab but is not mounted; mount it, then run again"


@dataclass(frozen=True)
class LiveMount:
    source: str
    point: str
    fstype: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class MountSpec:
    kind: str
    path: str
    options: tuple[str, ...] = ()


@dataclass
class Boot:
    """Where a path's boot options come from: C(how) is fstab, unit or add (a new fstab line)."""

    how: str
    where: str
    options: list[str]
    source: str = ""
    line: int = 0
    unfixable: str | None = None


def _unescape(text: str) -> str:
    # The kernel and fstab write space, tab, newline and backslash in paths as octal escapes.
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def parse_mounts(text: str) -> dict[str, LiveMount]:
    """Mount point -> the mount seen there (the last one mounted at it)."""
    found = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 4:
            point = _unescape(fields[1])
            found[point] = LiveMount(_unescape(fields[0]), point, fields[2], tuple(fields[3].split(",")))
    return found


def fstab_line(text: str, path: str) -> tuple[int, list[str]] | None:
    """(index, fields) of the last line of /etc/fstab mounting C(path)."""
    found = None
    for index, line in enumerate(text.split("\n")):
        fields = line.split()
        if len(fields) >= 2 and not fields[0].startswith("#") and _unescape(fields[1]).rstrip("/") == path:
            found = (index, fields)
    return found


def effective(options: list[str], option: str) -> bool:
    """Whether C(option) holds after a list of options is read left to right (the last word wins)."""
    state = False
    for word in options:
        if word == option or option in IMPLIED.get(word, ()):
            state = True
        elif word in (INVERSE[option], "defaults"):
            state = False
    return state


def with_options(options: list[str], missing: list[str]) -> list[str]:
    """The options with the missing ones appended and their inverses dropped."""
    inverses = {INVERSE[o] for o in missing}
    return [o for o in options if o not in inverses] + list(missing)


def set_fstab_options(text: str, path: str, missing: list[str]) -> str:
    """C(text) with only the options field of C(path)'s line changed."""
    found = fstab_line(text, path)
    if found is None:
        raise OSError(f"{FSTAB} has no line for {path} any more")
    lines = text.split("\n")
    line = lines[found[0]]
    fields = list(re.finditer(r"\S+", line))
    if len(fields) >= 4:
        old = fields[3].group().split(",")
        lines[found[0]] = line[: fields[3].start()] + ",".join(with_options(old, missing)) + line[fields[3].end() :]
    else:  # no options field: mount(8) reads it as defaults
        end = fields[-1].end()
        lines[found[0]] = line[:end] + "\t" + ",".join(with_options(["defaults"], missing)) + line[end:]
    return "\n".join(lines)


def unit_name(path: str) -> str:
    """The systemd mount unit of a path (systemd-escape --path --suffix=mount, for plain paths)."""
    return path.strip("/").replace("-", "\\x2d").replace("/", "-") + ".mount"


def read_fstab(node: Node) -> str | None:
    try:
        with open(node.path(FSTAB), encoding="utf-8", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


class Mounts(Family):
    name = "mounts"

    # -- validate ------------------------------------------------------------------------------

    def validate(self, node: Node, control: dict, spec: t.Any) -> MountSpec:
        cid = control["id"]
        if not isinstance(spec, dict) or ("options" in spec) == ("separate" in spec) or set(spec) - SPEC_KEYS:
            raise c.ControlInputError(
                f"control {cid!r}: spec must be {{path, options: [...]}} or {{path, separate: true}}"
            )
        path = spec.get("path")
        if path not in PATHS:
            raise c.ControlInputError(
                f"control {cid!r}: path {path!r} is not one of the partitions this family handles: {', '.join(PATHS)}"
            )
        if "separate" in spec:
            if spec["separate"] is not True:
                raise c.ControlInputError(f"control {cid!r}: separate takes true (switch the control off instead)")
            return MountSpec("separate", path)
        options = spec["options"]
        if not isinstance(options, list) or not options:
            raise c.ControlInputError(f"control {cid!r}: options must list some of {', '.join(INVERSE)}")
        for option in options:
            if option not in INVERSE:
                raise c.ControlInputError(
                    f"control {cid!r}: option {option!r} is not one this family sets; it sets {', '.join(INVERSE)}, "
                    "which only take rights away"
                )
            if (path, option) in REFUSED:
                raise c.ControlInputError(f"control {cid!r}: {option} on {path} is refused: {REFUSED[(path, option)]}")
        return MountSpec("options", path, tuple(dict.fromkeys(options)))

    # -- inspect -------------------------------------------------------------------------------

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        live = node.cached("mounts:live", lambda: parse_mounts(node.read(MOUNTS) or ""))
        fstab = node.cached("mounts:fstab", lambda: read_fstab(node))
        wanted: dict[str, list[str]] = {}
        for _unused, spec in items:
            if spec.kind == "options":
                wanted.setdefault(spec.path, [])
                wanted[spec.path] += [o for o in spec.options if o not in wanted[spec.path]]
        plans = {path: self._plan(node, live.get(path), fstab, path, options) for path, options in wanted.items()}
        found = {}
        for control, spec in items:
            if spec.kind == "separate":
                found[control["id"]] = self._separate(live, spec.path)
            elif spec.path not in live:
                line = fstab_line(fstab or "", spec.path)
                found[control["id"]] = Finding(skipped=(NOT_MOUNTED if line else SKIPPED).format(path=spec.path))
            else:
                found[control["id"]] = self._options(live[spec.path], spec, *plans[spec.path])
        return found

    @staticmethod
    def _separate(live: dict[str, LiveMount], path: str) -> Finding:
        finding = Finding(expected={"separate mount": True})
        mount = live.get(path)
        if mount is not None:
            finding.actual = {"separate mount": True}
            finding.details = {"source": mount.source, "type": mount.fstype, "options": ",".join(mount.options)}
            return finding
        parent = max((p for p in live if p == "/" or path.startswith(p.rstrip("/") + "/")), key=len, default="/")
        finding.actual = {"separate mount": False, "part of": parent}
        finding.differences.append(c.difference(path, "live", "a separate mount", f"part of {parent}"))
        finding.unfixable = "repartitioning is left to you"
        return finding

    def _plan(
        self, node: Node, mount: LiveMount | None, fstab: str | None, path: str, wanted: list[str]
    ) -> tuple[Boot | None, list[Action]]:
        """Where the path's boot options are, and the actions that set every wanted option (all controls')."""
        if mount is None:
            return None, []  # not a separate mount: skipped
        boot = self._boot(node, mount, fstab, path)
        live_missing = [o for o in wanted if o not in mount.options]
        boot_missing = [o for o in wanted if not effective(boot.options, o)] if boot.how != "add" else wanted
        if boot.unfixable:
            return boot, []
        actions = []
        if live_missing:
            actions.append(self._remount(node, path, live_missing, mount))
        if boot_missing:
            if boot.how == "fstab":
                actions.append(self._fstab_edit(node, path, fstab or "", boot_missing))
            elif boot.how == "unit":
                actions.append(self._unit_drop_in(node, path, boot, boot_missing))
            else:
                actions.append(self._fstab_add(node, path, fstab, mount, wanted))
        return boot, actions

    @staticmethod
    def _boot(node: Node, mount: LiveMount, fstab: str | None, path: str) -> Boot:
        line = fstab_line(fstab or "", path)
        if line is not None:
            index, fields = line
            return Boot("fstab", f"{FSTAB} line {index + 1}", fields[3].split(",") if len(fields) >= 4 else [])
        unit = unit_name(path)
        sources = []
        for folder in UNIT_DIRS:
            where = f"{folder}/{unit}"
            target = node.path(where)
            if os.path.islink(target) and os.readlink(target) == "/dev/null":
                break  # masked: nothing below counts
            if os.path.isfile(target):
                sources.append(where)
                break
        if sources:
            drop_ins = {}
            for folder in reversed(UNIT_DIRS):
                try:
                    names = os.listdir(node.path(f"{folder}/{unit}.d"))
                except OSError:
                    continue
                drop_ins.update({n: f"{folder}/{unit}.d/{n}" for n in names if n.endswith(".conf")})
            sources += [drop_ins[name] for name in sorted(drop_ins)]
            boot = Boot("unit", sources[0], [], source=sources[0])
            for source in sources:
                for number, raw in enumerate((node.read(source) or "").splitlines(), 1):
                    key, sep, value = raw.strip().partition("=")
                    if sep and key.strip() == "Options":
                        boot.options = [o for o in value.strip().split(",") if o]
                        boot.where, boot.source, boot.line = f"{source} line {number}", source, number
            ours = f"{UNIT_DIRS[0]}/{unit}.d/{DROP_IN}"
            if boot.source != sources[0] and os.path.basename(boot.source) > DROP_IN:
                boot.unfixable = (
                    f"{boot.source} sets Options= for {unit} after {ours}, so it wins; change or remove it by hand"
                )
            return boot
        if mount.fstype == "tmpfs":
            return Boot("add", FSTAB, [])
        return Boot(
            "none",
            FSTAB,
            [],
            unfixable=(
                f"{path} ({mount.fstype} from {mount.source}) has no {FSTAB} line and no mount unit; "
                "add an fstab line for it by hand"
            ),
        )

    @staticmethod
    def _options(mount: LiveMount, spec: MountSpec, boot: Boot, actions: list[Action]) -> Finding:
        live = ",".join(mount.options)
        finding = Finding(
            expected=dict.fromkeys(spec.options, "set"),
            actual={"live": live, boot.where: ",".join(boot.options) if boot.how != "add" else None},
            details={"boot options from": boot.how},
        )
        for option in spec.options:
            if option not in mount.options:
                finding.differences.append(c.difference(spec.path, "live", option, live))
        for option in spec.options:
            if boot.how == "add":
                finding.differences.append(c.difference(spec.path, FSTAB, f"a line with {option}", None))
            elif not effective(boot.options, option):
                finding.differences.append(c.difference(spec.path, boot.where, option, ",".join(boot.options)))
        if finding.differences:
            if boot.unfixable:
                finding.unfixable = boot.unfixable
            finding.actions = list(actions)
        return finding

    # -- actions -------------------------------------------------------------------------------

    @staticmethod
    def _remount(node: Node, path: str, missing: list[str], mount: LiveMount) -> Action:
        binary = node.binary("mount") or "mount"
        # Undo gives back only what this run took away; the other options were never touched.
        back = [INVERSE[o] for o in missing]
        return Action(
            f"remount:{path}",
            f"remount {path} with {','.join(missing)}",
            lambda: node.run([binary, "-o", "remount," + ",".join(missing), path]),
            lambda: node.run([binary, "-o", "remount," + ",".join(back), path]),
            [
                state_diff(
                    f"live options of {path}",
                    ",".join(mount.options) + "\n",
                    ",".join(mount.options + tuple(missing)) + "\n",
                )
            ],
        )

    def _fstab_edit(self, node: Node, path: str, fstab: str, missing: list[str]) -> Action:
        preview = set_fstab_options(fstab, path, missing)
        return self._file_action(
            node,
            f"fstab:{path}",
            f"set {','.join(missing)} for {path} in {FSTAB}",
            FSTAB,
            lambda text: set_fstab_options(text or "", path, missing),
            file_diff(FSTAB, fstab, preview),
        )

    def _fstab_add(self, node: Node, path: str, fstab: str | None, mount: LiveMount, wanted: list[str]) -> Action:
        options = [o for o in mount.options if o not in NOT_FOR_FSTAB]
        options = with_options(options, [o for o in wanted if o not in options])
        line = f"tmpfs\t{path}\ttmpfs\t{','.join(options)}\t0\t0\n"
        comment = f"# {path}: mount options of nodeguard.hardening (CIS 1.1.2)\n"

        def add(text: str | None) -> str:
            text = text or ""
            return text + ("" if not text or text.endswith("\n") else "\n") + comment + line

        return self._file_action(
            node, f"fstab:{path}", f"add a line for {path} to {FSTAB}", FSTAB, add, file_diff(FSTAB, fstab, add(fstab))
        )

    def _unit_drop_in(self, node: Node, path: str, boot: Boot, missing: list[str]) -> Action:
        unit = unit_name(path)
        target = f"{UNIT_DIRS[0]}/{unit}.d/{DROP_IN}"
        content = DROP_IN_HEADER + "[Mount]\nOptions=" + ",".join(with_options(boot.options, missing)) + "\n"
        return self._file_action(
            node,
            f"unit:{path}",
            f"set {','.join(missing)} for {path} in {target}",
            target,
            lambda _text: content,
            file_diff(target, node.read(target), content),
        )

    @staticmethod
    def _file_action(
        node: Node, key: str, what: str, path: str, change: t.Callable[[str | None], str], diff: dict
    ) -> Action:
        """Rewrite a file from what it holds when the action runs, then let systemd read it again;
        undo puts back what it held."""
        target = node.path(path)
        systemctl = node.binary("systemctl") or "systemctl"
        saved: dict[str, t.Any] = {}

        def run() -> None:
            try:
                with open(target, encoding="utf-8", newline="") as handle:
                    saved["text"] = handle.read()
                saved["mode"] = os.stat(target).st_mode & 0o7777
            except FileNotFoundError:
                saved["text"], saved["mode"] = None, 0o644
            atomic_write(node.module, target, change(saved["text"]), saved["mode"])
            try:
                node.run([systemctl, "daemon-reload"])
            except CommandError:
                put_back()  # the engine undoes the actions done before this one, not this one
                raise

        def put_back() -> None:
            if saved["text"] is None:
                os.unlink(target)
            else:
                atomic_write(node.module, target, saved["text"], saved["mode"])

        def undo() -> None:
            if "text" in saved:
                put_back()
                node.run([systemctl, "daemon-reload"], check=False)

        return Action(key, what, run, undo, [diff])
