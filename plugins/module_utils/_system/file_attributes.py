# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Mode, owner and group of files the node already has (CIS 1.6.4-1.6.6, 2.4.1.x, 6.1.4.1, 6.2.4.x,
7.1.1-7.1.10). The family never creates, removes or rewrites a file.

Two spec kinds:

- C({paths: [/etc/shadow, /etc/audit/*.conf], mode: "0640", owner: root, group: shadow,
  allowed_groups: [root], required: false}): C(mode) is the most a file may have (bits beyond it
  are removed, as CIS puts it, "0640 or more restrictive"); C(owner) and C(group) are set where
  the file has an owner or group not allowed (C(group) or one of C(allowed_groups)). Globs are
  expanded on the node. A missing file passes with a detail, unless C(required).
- C({tree: /var/log, rules: [{names: [wtmp, "btmp*"], mode: "0664", owners: [root],
  groups: [root, utmp], service_accounts: false}, ...], exclude: [...]}): every regular file below
  C(tree) gets the first rule whose C(names) (globs) match its name. A file failing its rule loses
  the excess mode bits and gets the rule's first owner and group. With C(service_accounts) a file
  owned by root, or by an account whose shell is not in /etc/shells, keeps its owner and group
  (the benchmark's allowance for daemons that write their own logs).

Owner and group names are read from /etc/passwd and /etc/group (not NSS: these are local system
accounts). Symbolic links are never followed: a link named in C(paths) is reported for a person
to look at, links found by a glob or in a tree are passed over. One action per file (key
C(attributes:PATH)); controls meeting on a file combine their limits.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import stat
import typing as t
from dataclasses import dataclass, field

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action, Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.writes import attribute_action

FORBIDDEN_TREES = ("/proc", "/sys", "/dev", "/run")
MODE_RE = re.compile(r"^0?[0-7]{3,4}$")
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*\$?$")
GLOB_CHARS = re.compile(r"[*?\[]")
# Differences listed per control of a tree; the counts are always complete.
LIMIT = 500
PATH_KEYS = {"paths", "mode", "owner", "group", "allowed_groups", "required"}
TREE_KEYS = {"tree", "rules", "exclude"}
RULE_KEYS = {"names", "mode", "owners", "groups", "service_accounts"}


@dataclass(frozen=True)
class Rule:
    """What one file may have: C(mask) the most mode bits, C(owners) and C(groups) the names allowed
    (empty: any), the first of each being what is set when the file has another."""

    mask: int | None
    owners: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    service_accounts: bool = False


@dataclass
class Spec:
    kind: str
    rule: Rule | None = None
    patterns: tuple[str, ...] = ()
    required: bool = False
    tree: str = ""
    rules: tuple[tuple[tuple[str, ...], Rule], ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass
class Accounts:
    """Local users and groups of the node (from its files, so a test tree can give its own)."""

    uids: dict[str, int] = field(default_factory=dict)
    gids: dict[str, int] = field(default_factory=dict)
    users: dict[int, str] = field(default_factory=dict)
    groups: dict[int, str] = field(default_factory=dict)
    shells: dict[int, str] = field(default_factory=dict)
    login_shells: set[str] | None = None

    def user(self, uid: int) -> str:
        return self.users.get(uid, str(uid))

    def group(self, gid: int) -> str:
        return self.groups.get(gid, str(gid))

    def service_account(self, uid: int) -> bool:
        """root, or an account that cannot log in: its shell is not one of /etc/shells."""
        if uid == 0:
            return True
        shell = self.shells.get(uid)
        if shell is None:
            return False  # an owner the node does not know is nobody's service
        if self.login_shells is None:
            return shell.endswith(("/nologin", "/false"))
        return shell not in self.login_shells


def accounts(node: Node) -> Accounts:
    return node.cached("file_attributes:accounts", lambda: _read_accounts(node))


def _read_accounts(node: Node) -> Accounts:
    found = Accounts()
    for line in (node.read("/etc/passwd") or "").splitlines():
        parts = line.split(":")
        if len(parts) >= 7 and parts[2].isdigit():
            uid = int(parts[2])
            found.uids.setdefault(parts[0], uid)
            found.users.setdefault(uid, parts[0])
            found.shells.setdefault(uid, parts[6].strip())
    for line in (node.read("/etc/group") or "").splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].isdigit():
            found.gids.setdefault(parts[0], int(parts[2]))
            found.groups.setdefault(int(parts[2]), parts[0])
    shells = node.read("/etc/shells")
    if shells is not None:
        found.login_shells = {s.strip() for s in shells.splitlines() if s.strip() and not s.startswith("#")}
    return found


def check_path(cid: str, path: t.Any, what: str) -> str:
    if not isinstance(path, str) or not path.startswith("/") or path == "/" or os.path.normpath(path) != path:
        raise c.ControlInputError(f"control {cid!r}: {what} {path!r} must be an absolute, normalised path")
    if any(path == top or path.startswith(top + "/") for top in FORBIDDEN_TREES):
        raise c.ControlInputError(f"control {cid!r}: {what} {path!r} is under {', '.join(FORBIDDEN_TREES)}")
    return path


def parse_mode(cid: str, mode: t.Any) -> int | None:
    if mode is None:
        return None
    if not isinstance(mode, str) or not MODE_RE.match(mode):
        raise c.ControlInputError(f"control {cid!r}: mode {mode!r} must be an octal string such as '0640' (quoted)")
    return int(mode, 8)


def names(cid: str, value: t.Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and NAME_RE.match(v) for v in value):
        raise c.ControlInputError(f"control {cid!r}: {what} must be user or group names, got {value!r}")
    return tuple(value)


def allowed(rule: Rule, info: os.stat_result, known: Accounts) -> tuple[bool, bool, bool]:
    """Whether the file's mode, owner and group pass the rule."""
    mode_ok = rule.mask is None or not stat.S_IMODE(info.st_mode) & ~rule.mask
    if rule.service_accounts and known.service_account(info.st_uid):
        return mode_ok, True, True
    owner_ok = not rule.owners or info.st_uid in {known.uids[n] for n in rule.owners if n in known.uids}
    group_ok = not rule.groups or info.st_gid in {known.gids[n] for n in rule.groups if n in known.gids}
    return mode_ok, owner_ok, group_ok


class FileAttributes(Family):
    name = "file_attributes"

    # -- validate ------------------------------------------------------------------------------

    def validate(self, node: Node, control: dict, spec: t.Any) -> Spec:
        cid = control["id"]
        if not isinstance(spec, dict) or ("paths" in spec) == ("tree" in spec):
            raise c.ControlInputError(f"control {cid!r}: spec must be a mapping with either paths or tree")
        keys = PATH_KEYS if "paths" in spec else TREE_KEYS
        unknown = sorted(set(spec) - keys)
        if unknown:
            raise c.ControlInputError(
                f"control {cid!r}: unknown spec keys {', '.join(unknown)}; this kind takes {', '.join(sorted(keys))}"
            )
        return self._validate_paths(cid, spec) if "paths" in spec else self._validate_tree(cid, spec)

    @staticmethod
    def _validate_paths(cid: str, spec: dict) -> Spec:
        paths = spec["paths"]
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, list) or not paths:
            raise c.ControlInputError(f"control {cid!r}: paths must list files (globs allowed)")
        patterns = tuple(check_path(cid, p, "path") for p in paths)
        owner, group = names(cid, spec.get("owner"), "owner"), names(cid, spec.get("group"), "group")
        if len(owner) > 1 or len(group) > 1:
            raise c.ControlInputError(f"control {cid!r}: owner and group take one name each")
        rule = Rule(
            mask=parse_mode(cid, spec.get("mode")),
            owners=owner,
            groups=group + tuple(g for g in names(cid, spec.get("allowed_groups"), "allowed_groups") if g not in group),
        )
        if rule.mask is None and not rule.owners and not rule.groups:
            raise c.ControlInputError(f"control {cid!r}: give at least one of mode, owner and group")
        if rule.groups and not group:
            raise c.ControlInputError(f"control {cid!r}: allowed_groups needs group, the one set when fixing")
        required = spec.get("required", False)
        if not isinstance(required, bool):
            raise c.ControlInputError(f"control {cid!r}: required must be true or false")
        return Spec("paths", rule=rule, patterns=patterns, required=required)

    @staticmethod
    def _validate_tree(cid: str, spec: dict) -> Spec:
        tree = check_path(cid, spec["tree"], "tree")
        rules = spec.get("rules")
        if not isinstance(rules, list) or not rules:
            raise c.ControlInputError(f"control {cid!r}: rules must list {{names, mode, owners, groups}} mappings")
        parsed = []
        for entry in rules:
            if not isinstance(entry, dict) or set(entry) - RULE_KEYS or "names" not in entry:
                raise c.ControlInputError(
                    f"control {cid!r}: each rule takes names and any of mode, owners, groups, service_accounts; "
                    f"got {entry!r}"
                )
            globs = entry["names"] if isinstance(entry["names"], list) else [entry["names"]]
            if not globs or not all(isinstance(g, str) and g and "/" not in g for g in globs):
                raise c.ControlInputError(f"control {cid!r}: names must be file names or globs, got {entry['names']!r}")
            service = entry.get("service_accounts", False)
            if not isinstance(service, bool):
                raise c.ControlInputError(f"control {cid!r}: service_accounts must be true or false")
            rule = Rule(
                mask=parse_mode(cid, entry.get("mode")),
                owners=names(cid, entry.get("owners"), "owners"),
                groups=names(cid, entry.get("groups"), "groups"),
                service_accounts=service,
            )
            parsed.append((tuple(globs), rule))
        exclude = spec.get("exclude") or []
        if not isinstance(exclude, list):
            raise c.ControlInputError(f"control {cid!r}: exclude must list paths")
        return Spec(
            "tree", tree=tree, rules=tuple(parsed), exclude=tuple(check_path(cid, p, "exclude") for p in exclude)
        )

    # -- inspect -------------------------------------------------------------------------------

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        known = accounts(node)
        # path -> (lstat, [(control id, rule)]): every control's limits on one file, to combine them.
        files: dict[str, tuple[os.stat_result, list[tuple[str, Rule]]]] = {}
        found: dict[str, Finding] = {}
        checked: dict[str, list[str]] = {}
        for control, spec in items:
            finding = Finding()
            found[control["id"]] = finding
            entries = self._paths(node, spec, finding) if spec.kind == "paths" else self._tree(node, spec, finding)
            checked[control["id"]] = []
            for path, info, rule in entries:
                files.setdefault(path, (info, []))[1].append((control["id"], rule))
                checked[control["id"]].append(path)

        actions: dict[str, Action | str | None] = {}
        for path, (info, rules) in files.items():
            actions[path] = self._action(node, path, info, rules, known)
        for control, spec in items:
            finding = found[control["id"]]
            for path in checked[control["id"]]:
                info, rules = files[path]
                rule = next(r for cid, r in rules if cid == control["id"])
                before = len(finding.differences)
                finding.differences += self._differences(path, info, rule, known)
                if len(finding.differences) == before:
                    continue
                action = actions[path]
                if isinstance(action, str):
                    finding.unfixable = action
                elif action is not None and action not in finding.actions:
                    finding.actions.append(action)
            shown = {path: _shown(files[path][0], known) for path in checked[control["id"]][:LIMIT]}
            self._summarise(spec, finding, shown, len(checked[control["id"]]))
        return found

    def _paths(self, node: Node, spec: Spec, finding: Finding) -> list[tuple[str, os.stat_result, Rule]]:
        entries = []
        missing, links = [], []
        for pattern in spec.patterns:
            if GLOB_CHARS.search(pattern):
                root = node.path("/")
                matches = sorted(glob.glob(glob.escape(root.rstrip("/")) + pattern))
                paths = ["/" + os.path.relpath(m, root) for m in matches]
                if not paths:
                    missing.append(pattern)
                for path in paths:
                    info = os.lstat(node.path(path))
                    if stat.S_ISLNK(info.st_mode):
                        links.append(path)
                    else:
                        entries.append((path, info, spec.rule))
                continue
            try:
                info = os.lstat(node.path(pattern))
            except FileNotFoundError:
                missing.append(pattern)
                continue
            if stat.S_ISLNK(info.st_mode):
                finding.differences.append(
                    c.difference(
                        pattern, "type", "file or directory", f"symbolic link to {os.readlink(node.path(pattern))}"
                    )
                )
                finding.unfixable = (
                    f"{pattern} is a symbolic link, which this control does not follow; look at it and the file "
                    "it points to by hand"
                )
                continue
            entries.append((pattern, info, spec.rule))
        if missing:
            finding.details["absent"] = missing
            if spec.required:
                finding.differences += [c.difference(path, "file", "present", None) for path in missing]
                finding.unfixable = f"{', '.join(missing)} must exist; this control sets attributes, it creates nothing"
        if links:
            finding.details["symbolic links, not followed"] = links
        return entries

    @staticmethod
    def _tree(node: Node, spec: Spec, finding: Finding) -> list[tuple[str, os.stat_result, Rule]]:
        entries = []
        root = node.path(spec.tree)
        if not os.path.isdir(root) or os.path.islink(root):
            finding.details["absent"] = [spec.tree]
            return entries
        base = node.path("/")
        for folder, dirs, files in os.walk(root):
            here = "/" + os.path.relpath(folder, base)
            dirs[:] = sorted(d for d in dirs if not _excluded(os.path.join(here, d), spec.exclude))
            for name in sorted(files):
                path = os.path.join(here, name)
                if _excluded(path, spec.exclude):
                    continue
                try:
                    info = os.lstat(os.path.join(folder, name))
                except FileNotFoundError:
                    continue  # rotated away while walking
                if not stat.S_ISREG(info.st_mode):
                    continue
                rule = next((r for globs, r in spec.rules if any(fnmatch.fnmatchcase(name, g) for g in globs)), None)
                if rule is not None:
                    entries.append((path, info, rule))
        return sorted(entries, key=lambda entry: entry[0])

    @staticmethod
    def _differences(path: str, info: os.stat_result, rule: Rule, known: Accounts) -> list[dict]:
        mode_ok, owner_ok, group_ok = allowed(rule, info, known)
        found = []
        if not mode_ok:
            found.append(
                c.difference(path, "mode", f"{rule.mask:04o} or stricter", f"{stat.S_IMODE(info.st_mode):04o}")
            )
        if not owner_ok:
            found.append(c.difference(path, "owner", " or ".join(rule.owners), known.user(info.st_uid)))
        if not group_ok:
            found.append(c.difference(path, "group", " or ".join(rule.groups), known.group(info.st_gid)))
        return found

    @staticmethod
    def _action(
        node: Node, path: str, info: os.stat_result, rules: list[tuple[str, Rule]], known: Accounts
    ) -> Action | str | None:
        """One change of the file that satisfies every control naming it, or why there is none."""
        verdicts = [allowed(rule, info, known) for _unused, rule in rules]
        if all(all(v) for v in verdicts):
            return None
        mode = stat.S_IMODE(info.st_mode)
        for _unused, rule in rules:
            if rule.mask is not None:
                mode &= rule.mask
        uid = gid = None
        if not all(v[1] for v in verdicts):
            uid = _pick(path, "owner", [r.owners for _unused, r in rules], known.uids)
            if isinstance(uid, str):
                return uid
        if not all(v[2] for v in verdicts):
            gid = _pick(path, "group", [r.groups for _unused, r in rules], known.gids)
            if isinstance(gid, str):
                return gid
        return attribute_action(node, path, mode if mode != stat.S_IMODE(info.st_mode) else None, uid, gid)

    @staticmethod
    def _summarise(spec: Spec, finding: Finding, shown: dict[str, str], count: int) -> None:
        if spec.kind == "paths":
            rule = spec.rule
            finding.expected = {
                key: value
                for key, value in (
                    ("mode", f"{rule.mask:04o} or stricter" if rule.mask is not None else None),
                    ("owner", " or ".join(rule.owners) or None),
                    ("group", " or ".join(rule.groups) or None),
                )
                if value
            }
            finding.actual = shown
            return
        failing = sorted({d["item"] for d in finding.differences})
        finding.expected = {"files not as their rule allows": 0}
        finding.actual = {"files checked": count, "files not as their rule allows": len(failing)}
        if len(finding.differences) > LIMIT:
            more = len(finding.differences) - LIMIT
            finding.differences = [
                *finding.differences[:LIMIT],
                c.difference(f"{more} more", "mode, owner or group", "as the rule allows", "not"),
            ]
        if spec.exclude:
            finding.details["excluded"] = list(spec.exclude)


def _pick(path: str, what: str, choices: list[tuple[str, ...]], ids: dict[str, int]) -> int | str:
    """The id of the first name every control allows (a control allowing any counts as allowing it)."""
    wanted = [set(names) for names in choices if names]
    for names in choices:
        for name in names:  # the first is preferred; the others where it does not exist here
            if name in ids and all(name in allowed_names for allowed_names in wanted):
                return ids[name]
    options = " / ".join(" or ".join(n) for n in choices if n)
    return f"no {what} that exists on this node satisfies every control naming {path} ({options})"


def _shown(info: os.stat_result, known: Accounts) -> str:
    return f"{stat.S_IMODE(info.st_mode):04o} {known.user(info.st_uid)}:{known.group(info.st_gid)}"


def _excluded(path: str, exclude: tuple[str, ...]) -> bool:
    return any(path == top or path.startswith(top + "/") for top in exclude)
