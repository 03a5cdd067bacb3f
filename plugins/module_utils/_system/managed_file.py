# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Files whose whole content the collection owns (CIS 1.5.3, 1.6.1 to 1.6.3, 6.1.x, ...).

Three spec kinds:

- C({path, content, mode: "0644", restart: UNIT, absent_ok: false, only_if_exists: PATH}): the
  file is exactly C(content) (a final newline is added when missing).
- C({path, section: Journal, settings: {Storage: persistent}, mode, restart, only_if_exists}): a
  drop-in of C(Key=value) lines under an optional C([section]) header. Controls naming the same
  path share the file, one block of lines each, and must agree on its section, mode and restart.
- C({path, lines: ["Defaults use_pty"], mode, restart, only_if_exists}): a file of verbatim lines
  for formats that are not C(Key=value) (sudoers, shell profiles). Controls naming the same path
  share the file, one block each, so a control switched off takes its lines out with it.

Every kind takes C(validate), a command as a list of words one of which holds C(%s), such as
C([visudo, -cf, "%s"]): before the file is installed the command checks a temporary copy of it
(C(%s) replaced by the copy's path), and when it refuses the copy the change fails with what the
command printed and nothing is installed. A file that a broken version would lock people out
with (sudoers: Ansible's own escalation) needs it. The command runs when the file is written, not
in check mode: the program may come with a package the same run installs.

Every file is written atomically, owner root:root and the mode given. After a change, C(restart)
restarts a systemd unit once, after every file restarting it was written. C(absent_ok) leaves an
absent file absent (the control passes), and manages it only where it exists. C(only_if_exists)
skips the control where that path is absent (the program the file configures is not installed).

Banner files (/etc/motd, /etc/issue, /etc/issue.net) refuse the getty escapes C(\\m \\r \\s \\v)
and the name of the operating system (CIS 1.6.1 to 1.6.3: a banner must not say what runs).
A setting in a drop-in directory (C(*.conf.d)) that a later drop-in sets otherwise is reported:
that file wins, and this run cannot fix it.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import stat
import tempfile
import typing as t
from dataclasses import dataclass, field

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action, Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.writes import (
    content_differences,
    write_action,
)

SETTINGS_HEADER = (
    "# Settings of nodeguard.hardening. This file is replaced on every run: change the role's\n"
    "# variables, not this file.\n"
)
# Kernel and runtime trees: nothing there is a configuration file.
FORBIDDEN_TREES = ("/proc", "/sys", "/dev", "/run")
BANNERS = ("/etc/motd", "/etc/issue", "/etc/issue.net")
# What agetty expands in /etc/issue: machine, release, system name, version (CIS 1.6.2).
BANNER_ESCAPES = ("\\m", "\\r", "\\s", "\\v")
# Where the systemd parsers look for drop-ins of a .conf.d directory, in their order of precedence.
DROP_IN_ROOTS = ("/etc", "/run", "/usr/local/lib", "/usr/lib")
MODE_RE = re.compile(r"^0?[0-7]{3}$")
UNIT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9@._:\\-]*$")
KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
SECTION_RE = re.compile(r"^[A-Za-z][A-Za-z0-9 _-]*$")
SPEC_KEYS = {
    "content": {"path", "content", "mode", "restart", "absent_ok", "only_if_exists", "validate"},
    "settings": {"path", "section", "settings", "mode", "restart", "only_if_exists", "validate"},
    "lines": {"path", "lines", "mode", "restart", "only_if_exists", "validate"},
}
KINDS = ("content", "settings", "lines")
# What the validate command's words stand for: the path of the temporary copy.
PLACEHOLDER = "%s"


@dataclass
class FileSpec:
    """A control's spec, validated."""

    kind: str
    path: str
    mode: int
    restart: str | None
    content: str = ""
    section: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    lines: tuple[str, ...] = ()
    absent_ok: bool = False
    only_if_exists: str | None = None
    validate: tuple[str, ...] = ()


def as_root() -> bool:
    """Whether owners can be set (and so are checked): only root chowns."""
    return os.geteuid() == 0


def check_path(cid: str, path: t.Any, what: str = "path") -> str:
    """An absolute, normalised path outside the kernel and runtime trees."""
    if not isinstance(path, str) or not path.startswith("/") or os.path.normpath(path) != path or path == "/":
        raise c.ControlInputError(f"control {cid!r}: {what} {path!r} must be an absolute, normalised file path")
    if any(path == top or path.startswith(top + "/") for top in FORBIDDEN_TREES):
        raise c.ControlInputError(
            f"control {cid!r}: {what} {path!r} is under {', '.join(FORBIDDEN_TREES)}, which hold no configuration"
        )
    return path


def parse_mode(cid: str, mode: t.Any, default: int = 0o644) -> int:
    if mode is None:
        return default
    if not isinstance(mode, str) or not MODE_RE.match(mode):
        raise c.ControlInputError(f"control {cid!r}: mode {mode!r} must be an octal string such as '0644' (quoted)")
    value = int(mode, 8)
    if value & stat.S_IWOTH:
        raise c.ControlInputError(f"control {cid!r}: mode {mode} lets everyone write the file; use '0644' or stricter")
    return value


def render_value(value: t.Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return " ".join(render_value(v) for v in value)
    return str(value)


def os_names(node: Node) -> tuple[str, list[str]]:
    """ID and the words of NAME of /etc/os-release: what a banner must not name (CIS 1.6.1-1.6.3)."""
    fields = node.os_release()
    words = [word for word in re.split(r"[^A-Za-z0-9]+", fields.get("NAME", "")) if len(word) > 1]
    return fields.get("ID", ""), words


def check_banner(node: Node, cid: str, path: str, content: str) -> None:
    if not content.strip():
        raise c.ControlInputError(f"control {cid!r}: the banner for {path} is empty; give the site's warning text")
    escapes = [code for code in BANNER_ESCAPES if code in content]
    if escapes:
        raise c.ControlInputError(
            f"control {cid!r}: the banner for {path} contains {' '.join(escapes)}, which show the system's "
            "version and name at login; remove them"
        )
    ident, words = os_names(node)
    # The benchmark's audit looks for the ID anywhere in the text, case aside.
    found = [ident] if ident and ident.lower() in content.lower() else []
    for word in words:
        if re.search(rf"\b{re.escape(word)}\b", content, re.IGNORECASE) and word.lower() not in map(str.lower, found):
            found.append(word)
    if found:
        raise c.ControlInputError(
            f"control {cid!r}: the banner for {path} names the operating system ({', '.join(found)}); "
            "a banner must not say what runs on the node"
        )


def drop_in_dir(path: str) -> str | None:
    """The C(X.conf.d) part of a path in a systemd-style drop-in directory, such as C(systemd/journald.conf.d)."""
    folder = os.path.dirname(path)
    if not folder.endswith(".conf.d"):
        return None
    for root in DROP_IN_ROOTS:
        if folder.startswith(root + "/"):
            return folder[len(root) + 1 :]
    return None


def parse_settings(text: str) -> dict[tuple[str | None, str], tuple[str, int]]:
    """(section, key) -> (value, line number) of a systemd-style file; the last one wins."""
    found: dict[tuple[str | None, str], tuple[str, int]] = {}
    section = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        key, sep, value = line.partition("=")
        if sep:
            found[(section, key.strip())] = (value.strip(), number)
    return found


class ManagedFile(Family):
    name = "managed_file"

    # -- validate ------------------------------------------------------------------------------

    def validate(self, node: Node, control: dict, spec: t.Any) -> FileSpec:
        cid = control["id"]
        kinds = [kind for kind in KINDS if isinstance(spec, dict) and kind in spec]
        if len(kinds) != 1:
            raise c.ControlInputError(
                f"control {cid!r}: spec must be a mapping with path and one of content, settings or lines"
            )
        kind = kinds[0]
        unknown = sorted(set(spec) - SPEC_KEYS[kind])
        if unknown:
            raise c.ControlInputError(
                f"control {cid!r}: unknown spec keys {', '.join(unknown)}; a {kind} file takes "
                + ", ".join(sorted(SPEC_KEYS[kind]))
            )
        path = check_path(cid, spec.get("path"))
        restart = spec.get("restart")
        if restart is not None and (not isinstance(restart, str) or not UNIT_RE.match(restart)):
            raise c.ControlInputError(f"control {cid!r}: restart {restart!r} is not a systemd unit name")
        only = spec.get("only_if_exists")
        result = FileSpec(
            kind=kind,
            path=path,
            mode=parse_mode(cid, spec.get("mode")),
            restart=restart,
            only_if_exists=check_path(cid, only, "only_if_exists") if only is not None else None,
            validate=check_validate(cid, spec.get("validate")),
        )
        if kind == "content":
            self._validate_content(node, cid, spec, result)
        elif kind == "settings":
            self._validate_settings(cid, spec, result)
        else:
            self._validate_lines(cid, spec, result)
        self._claim(node, cid, result)
        return result

    @staticmethod
    def _validate_content(node: Node, cid: str, spec: dict, result: FileSpec) -> None:
        content = spec["content"]
        if not isinstance(content, str):
            raise c.ControlInputError(f"control {cid!r}: content must be text, got {type(content).__name__}")
        if content and not content.endswith("\n"):
            content += "\n"
        if result.path in BANNERS:
            check_banner(node, cid, result.path, content)
        absent_ok = spec.get("absent_ok", False)
        if not isinstance(absent_ok, bool):
            raise c.ControlInputError(f"control {cid!r}: absent_ok must be true or false")
        result.content, result.absent_ok = content, absent_ok

    @staticmethod
    def _validate_settings(cid: str, spec: dict, result: FileSpec) -> None:
        settings = spec["settings"]
        if not isinstance(settings, dict) or not settings:
            raise c.ControlInputError(f"control {cid!r}: settings must map keys to values, such as {{Storage: auto}}")
        section = spec.get("section")
        if section is not None and (not isinstance(section, str) or not SECTION_RE.match(section)):
            raise c.ControlInputError(f"control {cid!r}: section {section!r} is not a section name such as Journal")
        name = os.path.basename(result.path)
        if drop_in_dir(result.path) is not None and (not name.endswith(".conf") or name.startswith(".")):
            raise c.ControlInputError(
                f"control {cid!r}: {result.path} must be a visible '.conf' file, or systemd never reads it"
            )
        rendered = {}
        for key, value in settings.items():
            if not isinstance(key, str) or not KEY_RE.match(key):
                raise c.ControlInputError(f"control {cid!r}: {key!r} is not a setting name")
            if value is None or isinstance(value, dict):
                raise c.ControlInputError(f"control {cid!r}: {key} needs a value (text, number, yes/no or a list)")
            text = render_value(value)
            if "\n" in text or text != text.strip():
                raise c.ControlInputError(f"control {cid!r}: the value of {key} must be one line without outer spaces")
            rendered[key] = text
        result.section, result.settings = section, rendered

    @staticmethod
    def _validate_lines(cid: str, spec: dict, result: FileSpec) -> None:
        lines = spec["lines"]
        if isinstance(lines, str):
            lines = [lines]
        if not isinstance(lines, list) or not lines:
            raise c.ControlInputError(f"control {cid!r}: lines must list the file's lines, such as [Defaults use_pty]")
        for line in lines:
            if not isinstance(line, str) or not line.strip():
                raise c.ControlInputError(f"control {cid!r}: every entry of lines must be non-empty text, got {line!r}")
            if any(ch in line for ch in "\n\r\0"):
                raise c.ControlInputError(f"control {cid!r}: {line!r} must be one line; give each line its own entry")
        result.lines = tuple(lines)

    @staticmethod
    def _claim(node: Node, cid: str, spec: FileSpec) -> None:
        """Controls sharing a file must agree on it; checked here so a run never starts half-way."""
        claims: dict[str, tuple[str, FileSpec]] = node.cached("managed_file:claims", dict)
        if spec.path not in claims:
            claims[spec.path] = (cid, spec)
            for key in spec.settings:
                claims[f"{spec.path}\0{key}"] = (cid, spec)
            return
        other_id, other = claims[spec.path]
        clash = None
        if other.kind != spec.kind:
            clash = f"one gives its {other.kind}, the other its {spec.kind}"
        elif spec.kind == "content" and other.content != spec.content:
            clash = "their contents differ"
        elif _shared(other) != _shared(spec):
            clash = "their mode, restart, section, absent_ok, only_if_exists or validate differ"
        else:
            for key, value in spec.settings.items():
                owner = claims.get(f"{spec.path}\0{key}")
                if owner and owner[1].settings[key] != value:
                    clash = f"they set {key} to {owner[1].settings[key]} and {value}"
                    other_id = owner[0]
                    break
                claims.setdefault(f"{spec.path}\0{key}", (cid, spec))
        if clash:
            raise c.ControlInputError(
                f"controls {other_id!r} and {cid!r} both manage {spec.path} and {clash}; switch one of them off"
            )

    # -- inspect -------------------------------------------------------------------------------

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        found: dict[str, Finding] = {}
        by_path: dict[str, list[tuple[dict, FileSpec]]] = {}
        for control, spec in items:
            if spec.only_if_exists and not node.exists(spec.only_if_exists):
                found[control["id"]] = Finding(
                    skipped=f"{spec.only_if_exists} is absent: what {spec.path} configures is not installed"
                )
                continue
            by_path.setdefault(spec.path, []).append((control, spec))
        writes: dict[str, Action] = {}
        for path, group in by_path.items():
            found.update(self._inspect_file(node, path, group, writes))
        self._add_restarts(node, items, found, writes)
        return found

    def _inspect_file(
        self, node: Node, path: str, group: list[tuple[dict, FileSpec]], writes: dict[str, Action]
    ) -> dict[str, Finding]:
        first = group[0][1]
        before = node.read(path) if not os.path.isdir(node.path(path)) else None
        info = _lstat(node, path)
        if info is not None and stat.S_ISDIR(info.st_mode):
            return {
                control["id"]: Finding(
                    expected={"path": path, "type": "file"},
                    actual={"path": path, "type": "directory"},
                    differences=[c.difference(path, "type", "file", "directory")],
                    unfixable=f"{path} is a directory; remove it by hand or change the control's path",
                )
                for control, _unused in group
            }
        if info is None and first.absent_ok:
            return {
                control["id"]: Finding(
                    expected={"path": path, "content": "as given, where the file exists"},
                    actual={"path": path, "content": None},
                    details={"absent": f"{path} does not exist; absent_ok leaves it absent"},
                )
                for control, _unused in group
            }
        content = self._render(path, group) if first.kind != "content" else first.content
        attributes = self._attribute_differences(path, info, first.mode)
        write = None
        if before != content or attributes:
            write = write_action(node, path, content, first.mode)
            if first.validate:
                write = validated(node, write, path, content, first.mode, first.validate)
            writes[path] = write
        findings = []
        for _unused, spec in group:
            if spec.kind == "content":
                findings.append(self._content_finding(path, spec, before, content))
            elif spec.kind == "settings":
                findings.append(self._settings_finding(node, path, spec, before))
            else:
                findings.append(self._lines_finding(path, spec, before))
        if first.kind != "content" and before is not None and before != content:
            keys = {key for _unused, spec in group for key in spec.settings}
            quiet = not any(finding.differences for finding in findings)
            findings[0].differences += self._stale(path, before, content, keys, quiet)
        found = {}
        for (control, _unused), finding in zip(group, findings):
            finding.differences += attributes
            finding.actual["mode"] = f"{stat.S_IMODE(info.st_mode):04o}" if info else None
            if write and finding.differences:
                finding.actions.append(write)
            found[control["id"]] = finding
        return found

    @staticmethod
    def _render(path: str, group: list[tuple[dict, FileSpec]]) -> str:
        section = group[0][1].section
        blocks = [SETTINGS_HEADER + (f"[{section}]\n" if section else "")]
        seen: set[str] = set()
        for control, spec in group:
            if spec.kind == "lines":
                lines = [line for line in dict.fromkeys(spec.lines) if line not in seen]
                seen.update(spec.lines)
            else:
                lines = [f"{key}={value}" for key, value in spec.settings.items() if key not in seen]
                seen.update(spec.settings)
            if lines:
                blocks.append("\n".join([f"# {control['id']}: {control['title']}", *lines]) + "\n")
        return "".join(blocks)

    @staticmethod
    def _attribute_differences(path: str, info: os.stat_result | None, mode: int) -> list[dict]:
        if info is None:
            return []
        found = []
        if stat.S_ISLNK(info.st_mode):
            return [c.difference(path, "type", "regular file", "symbolic link")]
        if stat.S_IMODE(info.st_mode) != mode:
            found.append(c.difference(path, "mode", f"{mode:04o}", f"{stat.S_IMODE(info.st_mode):04o}"))
        if as_root() and (info.st_uid, info.st_gid) != (0, 0):
            found.append(c.difference(path, "owner", "0:0", f"{info.st_uid}:{info.st_gid}"))
        return found

    @staticmethod
    def _content_finding(path: str, spec: FileSpec, before: str | None, content: str) -> Finding:
        return Finding(
            expected={"path": path, "mode": f"{spec.mode:04o}", "lines": len(content.splitlines())},
            actual={"path": path, "lines": None if before is None else len(before.splitlines())},
            differences=content_differences(path, before, content),
        )

    @staticmethod
    def _lines_finding(path: str, spec: FileSpec, before: str | None) -> Finding:
        have = (before or "").splitlines()
        finding = Finding(expected={"path": path, "lines": list(spec.lines)}, actual={"path": path})
        missing = [line for line in spec.lines if line not in have]
        finding.actual["missing"] = missing
        finding.differences = [c.difference(line, path, "present", None) for line in missing]
        return finding

    def _settings_finding(self, node: Node, path: str, spec: FileSpec, before: str | None) -> Finding:
        current = parse_settings(before or "")
        finding = Finding(expected=dict(spec.settings), actual={})
        for key, value in spec.settings.items():
            have = current.get((spec.section, key))
            finding.actual[key] = have[0] if have else None
            if have is None:
                finding.differences.append(c.difference(key, path, value, None))
            elif have[0] != value:
                finding.differences.append(c.difference(key, f"{path} line {have[1]}", value, have[0]))
        overridden = self._overridden(node, path, spec)
        if overridden:
            finding.differences += overridden
            finding.unfixable = (
                f"a drop-in read after {os.path.basename(path)} sets the same keys otherwise and wins; "
                "remove those lines or that file by hand"
            )
        return finding

    @staticmethod
    def _stale(path: str, before: str, content: str, keys: set[str], quiet: bool) -> list[dict]:
        """Lines of the file that no control wants (from a control switched off, or added by hand);
        lines of keys a control sets are that control's differences."""
        wanted = set(content.splitlines())
        found = []
        for number, line in enumerate(before.splitlines(), 1):
            key = line.partition("=")[0].strip()
            if line.strip() and not line.lstrip().startswith(("#", ";")) and line not in wanted and key not in keys:
                found.append(c.difference(path, f"{path} line {number}", None, line))
        if not found and quiet:
            # Only comments or the order differ: the file is still rewritten, and says so.
            found = content_differences(path, before, content)
        return found

    @staticmethod
    def _overridden(node: Node, path: str, spec: FileSpec) -> list[dict]:
        """Keys that a drop-in sorting after this one sets to another value (that drop-in wins)."""
        relative = drop_in_dir(path)
        if relative is None:
            return []
        name = os.path.basename(path)
        later: dict[str, str] = {}
        for root in reversed(DROP_IN_ROOTS):  # a name in /etc hides the same name further down
            folder = node.path(f"{root}/{relative}")
            try:
                names = sorted(os.listdir(folder))
            except OSError:
                continue
            for other in names:
                if other > name and fnmatch.fnmatch(other, "*.conf"):
                    later[other] = f"{root}/{relative}/{other}"
        found = []
        for other in sorted(later):
            settings = parse_settings(node.read(later[other]) or "")
            for key, value in spec.settings.items():
                have = settings.get((spec.section, key))
                if have and have[0] != value:
                    found.append(c.difference(key, f"{later[other]} line {have[1]}", value, have[0]))
        return found

    def _add_restarts(
        self, node: Node, items: list[tuple[dict, t.Any]], found: dict[str, Finding], writes: dict[str, Action]
    ) -> None:
        """A unit restarts once, after every write of a file it reads: each finding that writes such a
        file carries all of those writes, then the restart, so the shared order is always right."""
        units: dict[str, list[Action]] = {}
        for _unused, spec in items:
            if spec.restart and spec.path in writes and writes[spec.path] not in units.get(spec.restart, []):
                units.setdefault(spec.restart, []).append(writes[spec.path])
        systemctl = node.binary("systemctl") or "systemctl"
        for unit, unit_writes in units.items():
            restart = Action(
                f"restart:{unit}",
                f"restart {unit}",
                lambda unit=unit: node.run([systemctl, "restart", unit]),
            )
            for control, spec in items:
                finding = found.get(control["id"])
                if spec.restart == unit and finding and finding.actions:
                    finding.actions = [*unit_writes, restart]


def _shared(spec: FileSpec) -> tuple:
    """What every control of one file must give alike."""
    return spec.mode, spec.restart, spec.section, spec.absent_ok, spec.only_if_exists, spec.validate


def check_validate(cid: str, command: t.Any) -> tuple[str, ...]:
    """The validate command: words, the first a program, at least one holding the copy's place."""
    if command is None:
        return ()
    if (
        not isinstance(command, list)
        or not command
        or not all(isinstance(word, str) and word and not any(ch in word for ch in "\n\r\0") for word in command)
    ):
        raise c.ControlInputError(
            f"control {cid!r}: validate must list a command's words, such as [visudo, -cf, {PLACEHOLDER!r}]"
        )
    if PLACEHOLDER in command[0] or not any(PLACEHOLDER in word for word in command[1:]):
        raise c.ControlInputError(
            f"control {cid!r}: validate must name a program, then {PLACEHOLDER!r} where the copy to check goes"
        )
    return tuple(command)


def check_candidate(node: Node, path: str, content: str, mode: int, command: tuple[str, ...]) -> None:
    """Have C(command) judge a private copy of the planned file; CommandError with its output if it refuses.

    The copy is written in a directory of its own outside the target's (a program reading the
    target's directory, such as sudo reading /etc/sudoers.d, never sees it), with the mode and
    owner the file will have, and removed afterwards."""
    program = command[0] if command[0].startswith("/") else node.binary(command[0])
    if not program:
        raise CommandError(f"{command[0]} is not installed, so {path} cannot be checked before it is installed")
    folder = tempfile.mkdtemp(prefix="nodeguard-validate-")
    try:
        copy = os.path.join(folder, os.path.basename(path))
        descriptor = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(copy, mode)
        if as_root():
            os.chown(copy, 0, 0)
        argv = [program, *(word.replace(PLACEHOLDER, copy) for word in command[1:])]
        rc, out, err = node.run(argv, check=False)
        if rc != 0:
            said = (err or out or "").replace(copy, path).strip() or "no output"
            raise CommandError(f"{' '.join(command)} refuses the new {path} (status {rc}): {said}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def validated(node: Node, write: Action, path: str, content: str, mode: int, command: tuple[str, ...]) -> Action:
    """The write, preceded by the validate command on a copy: a refused file is never installed."""
    install = write.run

    def run() -> None:
        check_candidate(node, path, content, mode, command)
        install()

    return Action(write.key, write.what, run, write.undo, write.diff)


def _lstat(node: Node, path: str) -> os.stat_result | None:
    try:
        return os.lstat(node.path(path))
    except FileNotFoundError:
        return None
