# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rule-kind controls of one run (rules, privileged, immutable, in_sync): each control's
rules placed in its managed file of /etc/audit/rules.d, compared with the files on disk and the
loaded rules, and the one action that writes the files and loads them.
"""

from __future__ import annotations

import fnmatch
import os

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.auditd.conf import CONF
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.auditd.live import _loaded, _status
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.auditd.privileged import privileged_rules
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.auditd.rules import (
    Rule,
    RuleError,
    _strip,
    parse_rule,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.auditd.rules_d import (
    AUDIT_RULES,
    FILE_RE,
    RULES_DIR,
    RULES_HEADER,
    _natural,
    _rules_action,
    augenrules_output,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node


class RulesInspection:
    """The rule-kind controls of one run: the managed files they need and what is loaded."""

    def __init__(self, node: Node, items: list[tuple[dict, dict]]) -> None:
        self.node = node
        self.items = items
        self.status = _status(node)
        self.locked = isinstance(self.status, dict) and self.status.get("enabled") == "2"

    def findings(self) -> dict[str, Finding]:
        node = self.node
        if not node.exists(RULES_DIR) and not node.exists(CONF):
            return self._all_skipped(f"auditd is not installed ({RULES_DIR} is absent)")
        if isinstance(self.status, str):
            return self._all_skipped(f"the kernel audit system cannot be reached: {self.status}")
        loaded = _loaded(node)
        if isinstance(loaded, str):
            return self._all_skipped(f"the loaded audit rules cannot be read: {loaded}")
        self.loaded = {rule.norm for rule in loaded}
        self.loaded_rules = loaded
        current = self._current_files()
        managed = {name: text for name, text in current.items() if FILE_RE.match(name)}
        others = {name: text for name, text in current.items() if not FILE_RE.match(name)}
        on_disk_elsewhere = self._rules_of(others)

        # Place each control's rules: in its file, unless another control or a file the site
        # keeps already has the same rule (loading a rule twice fails with "Rule exists").
        placed: dict[str, list[tuple[dict, list[Rule]]]] = {}
        notes: dict[str, dict] = {}
        owner: dict[tuple, str] = {}
        where: dict[tuple, str] = dict(on_disk_elsewhere)
        wanted: dict[str, list[Rule]] = {}
        for control, spec in self.items:
            if spec["kind"] == "in_sync":
                continue
            rules, note = self._resolve(control, spec)
            notes[control["id"]] = note
            wanted[control["id"]] = rules
            own = []
            for rule in rules:
                if rule.norm in on_disk_elsewhere:
                    note.setdefault("already on disk", []).append(f"{rule.text} ({on_disk_elsewhere[rule.norm]})")
                elif rule.norm in owner and rule.kind != "setting":
                    note.setdefault("written by another control", []).append(f"{rule.text} ({owner[rule.norm]})")
                else:
                    owner.setdefault(rule.norm, control["id"])
                    where.setdefault(rule.norm, f"{RULES_DIR}/{spec['file']}")
                    own.append(rule)
            placed.setdefault(spec["file"], []).append((control, own))
        # A file none of whose controls has a rule on this node is not written (or goes).
        contents = {name: self._content(blocks) for name, blocks in placed.items() if any(r for _unused, r in blocks)}
        writes: dict[str, str | None] = {
            f"{RULES_DIR}/{name}": text for name, text in contents.items() if managed.get(name) != text
        }
        # Files of controls switched off go, but only while some rule control is on to say so.
        stale = sorted(name for name in managed if name not in contents) if placed else []
        writes.update({f"{RULES_DIR}/{name}": None for name in stale})
        on_disk = {f"{RULES_DIR}/{name}": self._norms(text) for name, text in managed.items()}
        on_disk.update({path: set() for path in writes if path not in on_disk})
        for norm, path in on_disk_elsewhere.items():
            on_disk.setdefault(path, set()).add(norm)

        found: dict[str, Finding] = {}
        for control, spec in self.items:
            if spec["kind"] != "in_sync":
                found[control["id"]] = self._rule_finding(
                    wanted[control["id"]], notes[control["id"]], where, on_disk, contents
                )
        # Lines no control asked for, edits and stale files: told by the first control of the file.
        for name, blocks in placed.items():
            path = f"{RULES_DIR}/{name}"
            told = any(
                d["where"].startswith(path) for control, _unused in blocks for d in found[control["id"]].differences
            )
            if name in contents and path in writes and not told:
                found[blocks[0][0]["id"]].differences += _file_changes(path, managed.get(name), contents[name])
        for name in stale:
            first = next(iter(found.values()))
            first.differences.append(
                c.difference(f"{RULES_DIR}/{name}", f"{RULES_DIR}/{name}", None, "present (no control uses it)")
            )
        for control, spec in self.items:
            if spec["kind"] == "in_sync":
                found[control["id"]] = self._in_sync_finding(current)

        if writes or any(f.differences for f in found.values()):
            action = _rules_action(node, writes, load=not self.locked)
            for finding in found.values():
                if finding.differences:
                    finding.actions.append(action)
                    if self.locked and all(d["where"] == "live" for d in finding.differences):
                        finding.unfixable = (
                            "the audit rules are immutable (-e 2) until the next boot; the rules on disk load then"
                        )
        return found

    def _all_skipped(self, reason: str) -> dict[str, Finding]:
        return {control["id"]: Finding(skipped=reason) for control, _unused in self.items}

    def _current_files(self) -> dict[str, str]:
        folder = self.node.path(RULES_DIR)
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            return {}
        files = {}
        for name in names:
            if name.endswith(".rules") and os.path.isfile(os.path.join(folder, name)):
                text = self.node.read(f"{RULES_DIR}/{name}")
                if text is not None:
                    files[name] = text
        return files

    @staticmethod
    def _rules_of(files: dict[str, str]) -> dict[tuple, str]:
        found: dict[tuple, str] = {}
        for name, text in files.items():
            for line in text.splitlines():
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                try:
                    rule = parse_rule(line, strict=False)
                except RuleError:
                    continue
                if rule.kind != "setting":
                    found.setdefault(rule.norm, f"{RULES_DIR}/{name}")
        return found

    def _resolve(self, control: dict, spec: dict) -> tuple[list[Rule], dict]:
        """The control's rules on this node, and what was left out and why."""
        note: dict = {}
        if spec["kind"] == "privileged":
            return privileged_rules(self.node, spec, note), note
        if spec["kind"] == "immutable":
            return list(spec["rules"]), note
        if spec["left_out"]:
            note["changed for this architecture"] = list(spec["left_out"])
        rules = []
        for rule in spec["rules"]:
            for one in self._expand(rule, spec["existing_only"]):
                if one.path and not self.node.exists(os.path.dirname(_strip(one.path)) or "/"):
                    note.setdefault("left out: parent directory missing", []).append(one.text)
                elif spec["existing_only"] and one.kind == "watch" and not self.node.exists(one.path or ""):
                    note.setdefault("left out: path missing", []).append(one.text)
                else:
                    rules.append(one)
        return rules, note

    def _expand(self, rule: Rule, existing_only: bool) -> list[Rule]:
        if rule.kind != "watch" or not any(ch in (rule.path or "") for ch in "*?["):
            return [rule]
        folder, pattern = os.path.split(_strip(rule.path or ""))
        try:
            names = sorted(n for n in os.listdir(self.node.path(folder)) if fnmatch.fnmatch(n, pattern))
        except OSError:
            names = []
        tokens = rule.text.split()
        return [parse_rule(" ".join([tokens[0], os.path.join(folder, name), *tokens[2:]])) for name in names]

    @staticmethod
    def _content(blocks: list[tuple[dict, list[Rule]]]) -> str:
        parts = [RULES_HEADER]
        for control, rules in blocks:
            body = [r.text for r in rules] or ["# (no rule of this control applies to this node)"]
            parts.append("\n".join([f"# {control['id']}: {control['title']}", *body]) + "\n")
        return "\n".join(parts)

    def _rule_finding(
        self,
        rules: list[Rule],
        note: dict,
        where: dict[tuple, str],
        on_disk: dict[str, set[tuple]],
        contents: dict[str, str],
    ) -> Finding:
        finding = Finding(expected={"rules": [r.text for r in rules]}, actual={"on disk": 0, "loaded": 0}, details=note)
        for rule in rules:
            path = where[rule.norm]
            if rule.norm in on_disk.get(path, set()):
                finding.actual["on disk"] += 1
            else:
                lines = contents.get(os.path.basename(path), "").splitlines()
                line = f"{path} line {lines.index(rule.text) + 1}" if rule.text in lines else path
                finding.differences.append(c.difference(rule.text, line, rule.text, None))
            if self._is_loaded(rule):
                finding.actual["loaded"] += 1
            else:
                finding.differences.append(c.difference(rule.text, "live", "loaded", self._live_value(rule)))
        return finding

    @staticmethod
    def _norms(text: str | None) -> set[tuple]:
        found = set()
        for line in (text or "").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                try:
                    found.add(parse_rule(line, strict=False).norm)
                except RuleError:
                    continue
        return found

    def _is_loaded(self, rule: Rule) -> bool:
        if rule.kind == "setting":
            return isinstance(self.status, dict) and self.status.get(rule.norm[1]) == rule.norm[2]
        return rule.norm in self.loaded

    def _live_value(self, rule: Rule) -> str | None:
        if rule.kind == "setting" and isinstance(self.status, dict):
            return self.status.get(rule.norm[1])
        return None

    def _in_sync_finding(self, current: dict[str, str]) -> Finding:
        on_disk: dict[tuple, str] = {}
        for _unused, text in sorted(current.items(), key=lambda f: _natural(f[0])):
            for line in text.splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    try:
                        rule = parse_rule(line, strict=False)
                    except RuleError:
                        continue
                    if rule.kind != "setting":
                        on_disk.setdefault(rule.norm, rule.text)
        finding = Finding(
            expected="the loaded rules are those of /etc/audit/rules.d",
            actual={"rules on disk": len(on_disk), "rules loaded": len(self.loaded_rules)},
        )
        for norm, text in on_disk.items():
            if norm not in self.loaded:
                finding.differences.append(c.difference(text, "live", "loaded", None))
        for rule in self.loaded_rules:
            if rule.norm not in on_disk:
                finding.differences.append(
                    c.difference(rule.text, "live", f"not loaded (in no file of {RULES_DIR})", "loaded")
                )
        generated = augenrules_output(list(current.items()))
        if current and self.node.read(AUDIT_RULES) != generated:
            finding.differences.append(
                c.difference(AUDIT_RULES, AUDIT_RULES, f"generated from {RULES_DIR}", "out of date")
            )
        return finding


def _file_changes(path: str, before: str | None, after: str) -> list[dict]:
    if before is None:
        return [c.difference(path, path, "present", None)]
    old, new = before.splitlines(), after.splitlines()
    extra = [c.difference(line, f"{path} line {n}", None, line) for n, line in enumerate(old, 1) if line not in new]
    return extra or [c.difference(path, path, "as managed", "edited")]
