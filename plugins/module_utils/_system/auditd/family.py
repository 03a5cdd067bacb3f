# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The auditd family: checks each control's spec (one of the kinds listed in the package's
docstring) against the node before anything changes, and inspects auditd.conf and the rules.
"""

from __future__ import annotations

import os
import re
import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.auditd.conf import (
    ACTION_KEYS,
    CONF,
    CONFIG_KEYS,
    NUMBER_KEYS,
    SIZE_KEYS,
    _conf_action,
    _same,
    edit_conf,
    parse_conf,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.auditd.inspection import RulesInspection
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.auditd.rules import (
    _KEY_RE,
    _SYSCALL_RE,
    Rule,
    RuleError,
    _strip,
    parse_rule,
    without_syscalls,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.auditd.rules_d import (
    DEFAULT_FILE,
    FILE_RE,
    FINAL_FILE,
    PRIVILEGED_FILE,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node

LOGIN_DEFS = "/etc/login.defs"

KINDS = ("config", "rules", "privileged", "immutable", "in_sync")


class Auditd(Family):
    name = "auditd"

    # -- validate -------------------------------------------------------------------------------

    def validate(self, node: Node, control: dict, spec: t.Any) -> dict:
        cid = control["id"]
        if not isinstance(spec, dict):
            raise c.ControlInputError(f"control {cid!r}: spec must be a mapping with one of {', '.join(KINDS)}")
        kinds = [k for k in KINDS if k in spec]
        if len(kinds) != 1:
            raise c.ControlInputError(f"control {cid!r}: spec takes exactly one of {', '.join(KINDS)}")
        kind = kinds[0]
        allowed = {
            "config": {"config"},
            "rules": {"rules", "file", "optional_syscalls", "existing_only"},
            "privileged": {"privileged", "file"},
            "immutable": {"immutable"},
            "in_sync": {"in_sync"},
        }[kind]
        extra = sorted(set(spec) - allowed)
        if extra:
            raise c.ControlInputError(
                f"control {cid!r}: a {kind} spec takes {', '.join(sorted(allowed))}, not {', '.join(extra)}"
            )
        return getattr(self, f"_validate_{kind}")(node, cid, spec)

    @staticmethod
    def _validate_config(node: Node, cid: str, spec: dict) -> dict:
        settings = spec["config"]
        if not isinstance(settings, dict) or not settings:
            raise c.ControlInputError(f"control {cid!r}: config must map auditd.conf keys to values")
        out = {}
        for key, value in settings.items():
            if key not in CONFIG_KEYS:
                raise c.ControlInputError(
                    f"control {cid!r}: {key!r} is not an auditd.conf key this family sets; "
                    f"known: {', '.join(CONFIG_KEYS)}"
                )
            text = str(value).strip() if not isinstance(value, bool) else ""
            if key in ACTION_KEYS:
                word, _unused, script = text.partition(" ")
                ok = word.lower() in ACTION_KEYS[key] and (
                    (word.lower() == "exec" and script.strip().startswith("/"))
                    or (word.lower() != "exec" and not script)
                )
                if not ok:
                    raise c.ControlInputError(
                        f"control {cid!r}: {key} takes one of {', '.join(ACTION_KEYS[key])} "
                        f"(exec with an absolute script path), not {value!r}"
                    )
                text = word.lower() + (f" {script.strip()}" if script else "")
            elif key in NUMBER_KEYS:
                if not re.fullmatch(r"[0-9]+", text) or (key == "max_log_file" and int(text) == 0):
                    raise c.ControlInputError(
                        f"control {cid!r}: {key} takes a whole number of megabytes, not {value!r}"
                    )
            elif key in SIZE_KEYS:
                if not re.fullmatch(r"[0-9]+|[1-9][0-9]?%", text):
                    raise c.ControlInputError(
                        f"control {cid!r}: {key} takes megabytes or a percentage such as 25%, not {value!r}"
                    )
            elif not re.fullmatch(r"[A-Za-z0-9._@+-]+", text):
                raise c.ControlInputError(f"control {cid!r}: {key} takes an account or address, not {value!r}")
            out[key] = text
        return {"kind": "config", "settings": out}

    def _validate_rules(self, node: Node, cid: str, spec: dict) -> dict:
        lines = spec["rules"]
        if not isinstance(lines, list) or not lines or not all(isinstance(line, str) for line in lines):
            raise c.ControlInputError(f"control {cid!r}: rules must list audit rule lines")
        optional = spec.get("optional_syscalls") or []
        if not isinstance(optional, list) or not all(isinstance(s, str) and _SYSCALL_RE.match(s) for s in optional):
            raise c.ControlInputError(f"control {cid!r}: optional_syscalls must list syscall names")
        existing_only = spec.get("existing_only", False)
        if not isinstance(existing_only, bool):
            raise c.ControlInputError(f"control {cid!r}: existing_only must be true or false")
        uid_min = _uid_min(node)
        rules, left_out, seen = [], [], set()
        for line in lines:
            text = line.replace("{uid_min}", str(uid_min))
            if "{" in text or "}" in text:
                raise c.ControlInputError(f"control {cid!r}: {line!r}: the only placeholder is {{uid_min}}")
            try:
                rule = parse_rule(text)
            except RuleError as exc:
                raise c.ControlInputError(f"control {cid!r}: {line!r}: {exc}") from exc
            pattern = rule.kind == "watch" and any(ch in (rule.path or "") for ch in "*?[")
            if pattern and (not existing_only or any(ch in os.path.dirname(rule.path or "") for ch in "*?[")):
                raise c.ControlInputError(
                    f"control {cid!r}: {line!r}: a pattern is allowed only in the last part of a watched "
                    "path, with existing_only: true"
                )
            checked = self._check_syscalls(node, cid, rule, set(optional))
            if checked is None:
                left_out.append(f"{text}: none of its syscalls exists on this architecture")
                continue
            if checked.text != rule.text:
                left_out.append(f"{text}: kept as {checked.text} (syscalls this architecture lacks)")
            if checked.norm in seen:
                raise c.ControlInputError(f"control {cid!r}: {line!r} is given twice")
            seen.add(checked.norm)
            rules.append(checked)
        return {
            "kind": "rules",
            "file": _file_name(cid, spec.get("file", DEFAULT_FILE)),
            "rules": rules,
            "left_out": left_out,
            "existing_only": existing_only,
        }

    @staticmethod
    def _check_syscalls(node: Node, cid: str, rule: Rule, optional: set[str]) -> Rule | None:
        if rule.kind != "syscall" or not rule.syscalls:
            return rule
        table = syscall_table(node, rule.arch)
        if table is None:
            return rule
        machine, names = table
        unknown = [s for s in rule.syscalls if s not in names]
        refused = [s for s in unknown if s not in optional]
        if refused:
            raise c.ControlInputError(
                f"control {cid!r}: {', '.join(refused)} is not a syscall of {machine} "
                f"(arch {rule.arch or 'native'}, from ausyscall): {rule.text}"
            )
        return without_syscalls(rule, set(unknown)) if unknown else rule

    @staticmethod
    def _validate_privileged(node: Node, cid: str, spec: dict) -> dict:
        options = spec["privileged"]
        if options is True or options is None:
            options = {}
        if not isinstance(options, dict) or set(options) - {"key", "exclude_mounts"}:
            raise c.ControlInputError(f"control {cid!r}: privileged takes key and exclude_mounts")
        key = options.get("key", "privileged")
        if not isinstance(key, str) or not _KEY_RE.match(key):
            raise c.ControlInputError(f"control {cid!r}: privileged.key {key!r} must be 1 to 31 printable characters")
        mounts = options.get("exclude_mounts") or []
        if not isinstance(mounts, list) or not all(isinstance(m, str) and m.startswith("/") for m in mounts):
            raise c.ControlInputError(f"control {cid!r}: privileged.exclude_mounts must list absolute mount points")
        return {
            "kind": "privileged",
            "file": _file_name(cid, spec.get("file", PRIVILEGED_FILE)),
            "key": key,
            "exclude_mounts": tuple(_strip(m) for m in mounts),
            "uid_min": _uid_min(node),
        }

    @staticmethod
    def _validate_immutable(node: Node, cid: str, spec: dict) -> dict:
        if spec["immutable"] is not True:
            raise c.ControlInputError(f"control {cid!r}: immutable takes true (switch the control off instead)")
        return {"kind": "immutable", "file": FINAL_FILE, "rules": [parse_rule("-e 2", strict=False)]}

    @staticmethod
    def _validate_in_sync(node: Node, cid: str, spec: dict) -> dict:
        if spec["in_sync"] is not True:
            raise c.ControlInputError(f"control {cid!r}: in_sync takes true (switch the control off instead)")
        return {"kind": "in_sync"}

    # -- inspect --------------------------------------------------------------------------------

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        found: dict[str, Finding] = {}
        config = [(control, spec) for control, spec in items if spec["kind"] == "config"]
        rules = [(control, spec) for control, spec in items if spec["kind"] != "config"]
        if config:
            found.update(self._inspect_config(node, config))
        if rules:
            found.update(RulesInspection(node, rules).findings())
        return found

    @staticmethod
    def _inspect_config(node: Node, items: list[tuple[dict, dict]]) -> dict[str, Finding]:
        text = node.read(CONF)
        if text is None:
            return {
                control["id"]: Finding(skipped=f"auditd is not installed ({CONF} is absent)")
                for control, _unused in items
            }
        wanted: dict[str, tuple[str, str]] = {}
        for control, spec in items:
            for key, value in spec["settings"].items():
                if key in wanted and not _same(key, wanted[key][1], value):
                    raise c.ControlInputError(
                        f"controls {wanted[key][0]!r} and {control['id']!r} both set {key} in {CONF} "
                        f"({wanted[key][1]} and {value}); switch one of them off"
                    )
                wanted.setdefault(key, (control["id"], value))
        current = parse_conf(text)
        new_text = edit_conf(text, {key: value for key, (_unused, value) in wanted.items()})
        action = _conf_action(node, text, new_text) if new_text != text else None
        found = {}
        for control, spec in items:
            finding = Finding(expected=dict(spec["settings"]), actual={})
            for key, value in spec["settings"].items():
                have = current.get(key)
                finding.actual[key] = have[0] if have else None
                if have is None:
                    finding.differences.append(c.difference(key, CONF, value, None))
                elif not _same(key, have[0], value):
                    finding.differences.append(c.difference(key, f"{CONF} line {have[1]}", value, have[0]))
            if finding.differences and action:
                finding.actions.append(action)
            found[control["id"]] = finding
        return found


def _file_name(cid: str, name: t.Any) -> str:
    if not isinstance(name, str) or not FILE_RE.match(name):
        raise c.ControlInputError(
            f"control {cid!r}: file {name!r} must be named like 50-nodeguard-NAME.rules (two digits, "
            "nodeguard, lower-case words): only such files in /etc/audit/rules.d are managed"
        )
    return name


def _uid_min(node: Node) -> int:
    def read() -> int:
        for line in (node.read(LOGIN_DEFS) or "").splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "UID_MIN" and parts[1].isdigit():
                return int(parts[1])
        return 1000

    return node.cached("auditd:uid_min", read)


def syscall_table(node: Node, arch: str | None) -> tuple[str, set[str]] | None:
    """(machine, syscall names) for an arch (b32, b64, None: native), from C(ausyscall --dump);
    None when ausyscall is missing or cannot tell."""

    def read() -> tuple[str, set[str]] | None:
        binary = node.binary("ausyscall")
        if not binary:
            return None
        rc, out, _unused = node.run([binary, *([arch] if arch else []), "--dump"], check=False)
        lines = out.splitlines()
        if rc != 0 or not lines:
            return None
        match = re.match(r"Using (\S+) syscall table", lines[0])
        names = {parts[1] for parts in (line.split() for line in lines[1:]) if len(parts) == 2}
        return (match.group(1) if match else arch or "native", names) if names else None

    return node.cached(f"auditd:syscalls:{arch or 'native'}", read)
