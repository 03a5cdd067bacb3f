# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The audit daemon (CIS 6.2): its settings in auditd.conf, the audit rules, the rules for the
privileged programs of the node, the immutable flag, and loaded rules that match those on disk.

Spec kinds, one per control:

- C({config: {max_log_file: 8, max_log_file_action: keep_logs, ...}}): keys of
  /etc/audit/auditd.conf. Only the lines of those keys change (the rest stays byte for byte),
  missing keys are added at the end. auditd re-reads the file on SIGHUP; it is sent with
  C(auditctl --signal HUP) so that the audit trail names who asked (systemd would send it as
  nobody, which is why auditd.service refuses manual stops upstream).
- C({rules: [...], file: 50-nodeguard-NAME.rules, optional_syscalls: [...], existing_only: false}):
  audit rules in a managed file of /etc/audit/rules.d (controls naming the same file share it,
  one block each), loaded with C(augenrules --load). Every rule is checked before anything
  changes: its syntax as auditctl reads it and, where C(ausyscall) can tell, every syscall
  against the node's tables for the rule's arch. A syscall this architecture lacks is refused,
  unless it is listed in C(optional_syscalls) (C(open) and C(creat) do not exist on arm64): then
  it is left out of the rule here. C({uid_min}) stands for UID_MIN of /etc/login.defs.
  A watch whose parent directory does not exist is left out (the kernel refuses it); with
  C(existing_only) a watch is kept only when its path exists, and a C(*) in the last part of a
  watched path names every existing match. Both are decided again on every run.
- C({privileged: {key: privileged, exclude_mounts: [...]}}): one rule per SUID/SGID program on a
  local filesystem mounted without nosuid and noexec (found by the shared walk, see walk.py).
- C({immutable: true}): C(-e 2) as the last rule; once loaded, rules change only by reboot.
- C({in_sync: true}): the loaded rules are the rules of /etc/audit/rules.d, and
  /etc/audit/audit.rules is what augenrules makes of them.

Loaded rules are read once per run with C(auditctl -l) and compared in a normal form that
absorbs how auditctl prints them (C(-k) as C(-F key=), syscalls merged and reordered, C(unset)
as C(-1), C(-C euid!=uid) as C(uid!=euid), C(-S all) added, trailing slashes dropped).
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import typing as t
from dataclasses import dataclass

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._files import atomic_write, file_diff
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action, Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.walk import LOCAL_TYPES, excluded, local_walk
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.writes import write_action

CONF = "/etc/audit/auditd.conf"
RULES_DIR = "/etc/audit/rules.d"
AUDIT_RULES = "/etc/audit/audit.rules"
LOGIN_DEFS = "/etc/login.defs"
DEFAULT_FILE = "50-nodeguard-hardening.rules"
PRIVILEGED_FILE = "50-nodeguard-privileged.rules"
FINAL_FILE = "99-nodeguard-finalize.rules"
FILE_RE = re.compile(r"^[0-9]{2}-nodeguard-[a-z0-9][a-z0-9_-]*\.rules$")
# -D makes every load start from no rules, so a reload never meets "Rule exists"; augenrules
# moves the last -D of rules.d to the top.
RULES_HEADER = (
    "## Audit rules of nodeguard.hardening. This file is replaced on every run: change the role's\n"
    "## variables, not this file.\n"
    "-D\n"
)
RULES_MODE = 0o640  # CIS 6.2.4.5: audit configuration files 0640 or stricter

KINDS = ("config", "rules", "privileged", "immutable", "in_sync")

# auditd.conf keys this family sets, with the values auditd.conf(5) allows.
_FULL = ("ignore", "syslog", "rotate", "email", "exec", "suspend", "single", "halt")
ACTION_KEYS = {
    "max_log_file_action": ("ignore", "syslog", "suspend", "rotate", "keep_logs"),
    "space_left_action": _FULL,
    "admin_space_left_action": _FULL,
    "disk_full_action": ("ignore", "syslog", "rotate", "exec", "suspend", "single", "halt"),
    "disk_error_action": ("ignore", "syslog", "exec", "suspend", "single", "halt"),
}
NUMBER_KEYS = ("max_log_file", "num_logs")
SIZE_KEYS = ("space_left", "admin_space_left")
TEXT_KEYS = ("action_mail_acct",)
CONFIG_KEYS = (*ACTION_KEYS, *NUMBER_KEYS, *SIZE_KEYS, *TEXT_KEYS)

# What auditctl reads in a rules file.
LISTS = ("task", "exit", "user", "exclude", "filesystem", "io_uring")
RULE_ACTIONS = ("always", "never")
FIELDS = frozenset(
    {
        "a0",
        "a1",
        "a2",
        "a3",
        "arch",
        "auid",
        "loginuid",
        "devmajor",
        "devminor",
        "dir",
        "egid",
        "euid",
        "exe",
        "exit",
        "fsgid",
        "fstype",
        "fsuid",
        "filetype",
        "gid",
        "inode",
        "key",
        "msgtype",
        "path",
        "perm",
        "pers",
        "pid",
        "ppid",
        "saddr_fam",
        "sessionid",
        "sgid",
        "subj_user",
        "subj_role",
        "subj_type",
        "subj_sen",
        "subj_clr",
        "obj_user",
        "obj_role",
        "obj_type",
        "obj_lev_low",
        "obj_lev_high",
        "obj_uid",
        "obj_gid",
        "success",
        "suid",
        "uid",
    }
)
ID_FIELDS = frozenset({"auid", "uid", "euid", "suid", "fsuid", "obj_uid", "gid", "egid", "sgid", "fsgid", "obj_gid"})
COMPARABLE = ID_FIELDS  # -C compares two id fields
_FIELD_RE = re.compile(r"^([a-z_0-9]+)(!=|>=|<=|&=|=|>|<|&)(.+)$")
_KEY_RE = re.compile(r"^[!-~]{1,31}$")
_SYSCALL_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
ARCH = {
    "b64": "b64",
    "b32": "b32",
    "x86_64": "b64",
    "amd64": "b64",
    "aarch64": "b64",
    "ppc64": "b64",
    "ppc64le": "b64",
    "s390x": "b64",
    "i386": "b32",
    "i686": "b32",
    "arm": "b32",
    "armeb": "b32",
    "armv7l": "b32",
    "ppc": "b32",
    "s390": "b32",
}
SETTINGS = {"-b": "backlog_limit", "-f": "failure", "-r": "rate_limit", "--backlog_wait_time": "backlog_wait_time"}
_REFUSED = {
    "-D": "deletes every rule",
    "-d": "deletes rules",
    "-W": "deletes a watch",
    "-e": "is set by the immutable spec (-e 0 switches auditing off)",
    "-R": "reads another file",
    "-c": "is not a rule",
    "-i": "is not a rule",
    "-l": "is not a rule",
    "-s": "is not a rule",
    "-t": "is not a rule",
    "-q": "is not a rule",
    "--loginuid-immutable": "can break containers that set their own login uid",
}


class RuleError(ValueError):
    """A line auditctl would not load, or that this family will not write."""


@dataclass(frozen=True)
class Rule:
    """One audit rule: its text for the file, the normal form compared with C(auditctl -l)."""

    text: str
    norm: tuple
    kind: str  # watch, syscall, setting
    path: str | None = None  # watched path (-w, or -F path=/dir=) whose parent must exist
    arch: str | None = None
    syscalls: tuple[str, ...] = ()


def _perms(value: str) -> str:
    return "".join(p for p in "rwxa" if p in value)


def _strip(path: str) -> str:
    return path.rstrip("/") or "/"


def _field_value(name: str, op: str, value: str, strict: bool) -> str:
    if name == "loginuid":
        name = "auid"
    if name == "arch":
        if value not in ARCH:
            raise RuleError(f"arch {value!r} is not b32, b64 or a machine name")
        return ARCH[value]
    if name in ID_FIELDS:
        if value in ("unset", "-1", "4294967295"):
            return "unset"
        if not re.fullmatch(r"-?[0-9]+", value):
            if strict:
                raise RuleError(f"{name} takes a number or unset, not {value!r}")
            return value
        return str(int(value))
    if name in ("a0", "a1", "a2", "a3"):
        try:
            return hex(int(value, 0))
        except ValueError as exc:
            raise RuleError(f"{name} takes a number, not {value!r}") from exc
    if name in ("path", "dir"):
        if not value.startswith("/"):
            raise RuleError(f"{name} must be an absolute path, not {value!r}")
        return _strip(value)
    if name == "perm":
        if not re.fullmatch(r"[rwxa]+", value):
            raise RuleError(f"perm takes letters of rwxa, not {value!r}")
        return _perms(value)
    if name == "exit":
        if re.fullmatch(r"-?[0-9]+", value):
            number = int(value)
            code = errno.errorcode.get(abs(number))
            return f"{'-' if number < 0 else ''}{code}" if code and number else value
        if value.lstrip("-") not in errno.errorcode.values():
            raise RuleError(f"exit takes a number or an errno name such as -EACCES, not {value!r}")
        return value
    if name == "success" and value not in ("0", "1") and strict:
        raise RuleError(f"success takes 0 or 1, not {value!r}")
    return value


def parse_rule(line: str, *, strict: bool = True) -> Rule:
    """Read one rule as auditctl would; C(strict) also refuses what this family never writes."""
    tokens = line.split()
    if not tokens:
        raise RuleError("empty rule")
    first = tokens[0]
    if first in SETTINGS or (first == "-e" and not strict):
        if len(tokens) != 2 or not tokens[1].isdigit():
            raise RuleError(f"{first} takes one number")
        if first == "-f" and tokens[1] not in ("0", "1", "2"):
            raise RuleError("-f takes 0, 1 or 2")
        if strict and first == "-f" and tokens[1] == "2":
            raise RuleError("-f 2 panics the kernel when audit records are lost; use 0 or 1")
        name = "enabled" if first == "-e" else SETTINGS[first]
        return Rule(" ".join(tokens), ("setting", name, tokens[1]), "setting")
    if first in _REFUSED:
        raise RuleError(f"{first} {_REFUSED[first]}")
    if first == "-w":
        return _parse_watch(tokens, strict)
    if first in ("-a", "-A"):
        return _parse_syscall(tokens, strict)
    raise RuleError(f"a rule starts with -a, -A, -w, -b, -f, -r or --backlog_wait_time, not {first!r}")


def _pairs(tokens: list[str]) -> t.Iterator[tuple[str, str]]:
    if len(tokens) % 2:
        raise RuleError(f"{tokens[-1]!r} has no value")
    for i in range(0, len(tokens), 2):
        yield tokens[i], tokens[i + 1]


def _key(value: str, strict: bool) -> str:
    if strict and not _KEY_RE.match(value):
        raise RuleError(f"key {value!r} must be 1 to 31 printable characters without spaces")
    return value


def _parse_watch(tokens: list[str], strict: bool) -> Rule:
    if len(tokens) < 2 or not tokens[1].startswith("/"):
        raise RuleError("-w takes an absolute path")
    path = tokens[1]
    if _strip(path) == "/":
        raise RuleError("the kernel refuses a watch on /")
    perms, keys = None, []
    for option, value in _pairs(tokens[2:]):
        if option == "-p":
            if not re.fullmatch(r"[rwxa]+", value):
                raise RuleError(f"-p takes letters of rwxa, not {value!r}")
            perms = value
        elif option == "-k":
            keys.append(_key(value, strict))
        else:
            raise RuleError(f"a watch takes only -p and -k, not {option}")
    norm = ("w", _strip(path), _perms(perms or "rwxa"), tuple(sorted(keys)))
    return Rule(" ".join(tokens), norm, "watch", path=path)


def _parse_syscall(tokens: list[str], strict: bool) -> Rule:
    if len(tokens) < 2:
        raise RuleError(f"{tokens[0]} takes list,action such as always,exit")
    parts = tokens[1].split(",")
    lists = [p for p in parts if p in LISTS]
    actions = [p for p in parts if p in RULE_ACTIONS]
    if len(parts) != 2 or len(lists) != 1 or len(actions) != 1:
        raise RuleError(f"{tokens[1]!r} is not list,action (lists: {', '.join(LISTS)}; actions: always, never)")
    rule_list, action = lists[0], actions[0]
    syscalls: list[str] = []
    fields: list[tuple[str, str, str]] = []
    compares: list[tuple[str, str, str]] = []
    keys: list[str] = []
    arch = None
    for option, value in _pairs(tokens[2:]):
        if option == "-S":
            if rule_list not in ("exit", "io_uring"):
                raise RuleError(f"-S needs the exit list, not {rule_list}")
            for name in value.split(","):
                if strict and not (_SYSCALL_RE.match(name)):
                    raise RuleError(f"syscall {name!r} is not a name (numbers differ between architectures)")
                syscalls.append(name)
        elif option == "-F":
            match = _FIELD_RE.match(value)
            if not match:
                raise RuleError(f"-F {value!r} is not field, operator, value")
            name, op, raw = match.groups()
            if name not in FIELDS and strict:
                raise RuleError(f"-F {name} is not a field auditctl knows")
            if name == "key":
                keys.append(_key(raw, strict))
                continue
            normal = _field_value(name, op, raw, strict)
            if name == "arch":
                arch = normal
            fields.append(("auid" if name == "loginuid" else name, op, normal))
        elif option == "-C":
            match = re.fullmatch(r"([a-z_]+)(!=|=)([a-z_]+)", value)
            if not match or (strict and not {match.group(1), match.group(3)} <= COMPARABLE):
                raise RuleError(f"-C {value!r} is not two id fields compared with = or !=")
            left, op, right = match.groups()
            compares.append((*sorted((left, right)), op))
        elif option == "-k":
            keys.append(_key(value, strict))
        else:
            raise RuleError(f"{option} is not an option of a rule (-S, -F, -C, -k)")
    names = {f[0] for f in fields}
    path = next((f[2] for f in fields if f[0] in ("path", "dir")), None)
    if (
        rule_list == "exit"
        and action == "always"
        and set(syscalls) <= {"all"}
        and not compares
        and names in ({"path", "perm"}, {"dir", "perm"})
    ):
        # auditctl -l prints such a rule as the watch it is.
        perm = next(f[2] for f in fields if f[0] == "perm")
        norm: tuple = ("w", path, perm, tuple(sorted(keys)))
    else:
        every = "all" in syscalls or (not syscalls and rule_list == "exit")
        called = ("all",) if every else tuple(sorted(set(syscalls)))
        norm = (
            "a",
            f"{action},{rule_list}",
            called,
            tuple(sorted(fields)),
            tuple(sorted(compares)),
            tuple(sorted(keys)),
        )
    return Rule(
        " ".join(tokens), norm, "syscall", path=path, arch=arch, syscalls=tuple(s for s in syscalls if s != "all")
    )


def without_syscalls(rule: Rule, drop: set[str]) -> Rule | None:
    """The rule without some syscalls (None when none is left)."""
    tokens = rule.text.split()
    out = tokens[:2]
    for option, value in _pairs(tokens[2:]):
        if option == "-S":
            kept = [name for name in value.split(",") if name not in drop]
            if kept:
                out += ["-S", ",".join(kept)]
        else:
            out += [option, value]
    if not any(token == "-S" for token in out[2:]):
        return None
    return parse_rule(" ".join(out))


# What augenrules does with the files of rules.d (see augenrules(8)): comments and empty lines
# dropped, the last -D first, then the last -b and -f, the rest in order, the last -e at the end.
_AUGEN_HEADER = "## This file is automatically generated from /etc/audit/rules.d\n"


def _natural(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"([0-9]+)", name)]


def augenrules_output(files: list[tuple[str, str]]) -> str:
    """The audit.rules augenrules makes of (name, text) files, in the order it reads them."""
    minus = {"-e": "", "-D": "", "-f": "", "-b": ""}
    rest = []
    for _unused, text in sorted(files, key=lambda f: _natural(f[0])):
        for line in text.splitlines():
            stripped = line.lstrip()
            if not line or stripped.startswith("#"):
                continue
            if stripped.startswith("-e"):
                minus["-e"] = line
            elif re.fullmatch(r"\s*-D\s*", line):
                minus["-D"] = line
            elif stripped.startswith("-f"):
                minus["-f"] = line
            elif stripped.startswith("-b"):
                minus["-b"] = line
            else:
                rest.append(line)
    body = [minus["-D"], minus["-b"], minus["-f"], *rest, minus["-e"]]
    return _AUGEN_HEADER + "".join(f"{line}\n" for line in body)


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


def _same(key: str, have: str, want: str) -> bool:
    if key in ACTION_KEYS:
        return " ".join(have.split()).lower() == want.lower()
    return have.strip() == want


_CONF_LINE = re.compile(r"^\s*([A-Za-z_]+)\s*=\s*(.*?)\s*$")


def parse_conf(text: str) -> dict[str, tuple[str, int]]:
    """auditd.conf keys with their value and line number (the last line of a key wins)."""
    found = {}
    for number, line in enumerate(text.splitlines(), 1):
        match = _CONF_LINE.match(line)
        if match and not line.lstrip().startswith("#"):
            found[match.group(1).lower()] = (match.group(2), number)
    return found


def edit_conf(text: str, wanted: dict[str, str]) -> str:
    """C(text) with the lines of the C(wanted) keys set; every other byte kept, new keys at the end."""
    lines = text.splitlines(keepends=True)
    done = set()
    for index, line in enumerate(lines):
        match = _CONF_LINE.match(line)
        if not match or line.lstrip().startswith("#"):
            continue
        key = match.group(1).lower()
        if key in wanted:
            done.add(key)
            if not _same(key, match.group(2), wanted[key]):
                ending = line[len(line.rstrip("\r\n")) :]
                lines[index] = f"{key} = {wanted[key]}{ending or chr(10)}"
    missing = [key for key in wanted if key not in done]
    if missing:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines += [f"{key} = {wanted[key]}\n" for key in missing]
    return "".join(lines)


def _status(node: Node) -> dict[str, str] | str:
    """C(auditctl -s) as a mapping (enabled, pid, backlog_limit, ...), or why it cannot be read."""

    def read() -> dict[str, str] | str:
        rc, out, err = node.run([node.binary("auditctl") or "auditctl", "-s"], check=False)
        if rc != 0:
            return (err or out).strip() or f"auditctl -s failed with status {rc}"
        fields = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2:
                fields[parts[0]] = parts[1]
        return fields

    return node.cached("auditd:status", read)


def _loaded(node: Node) -> list[Rule] | str:
    """The loaded rules (C(auditctl -l), read once per run), or why they cannot be read."""

    def read() -> list[Rule] | str:
        rc, out, err = node.run([node.binary("auditctl") or "auditctl", "-l"], check=False)
        if rc != 0:
            return (err or out).strip() or f"auditctl -l failed with status {rc}"
        rules = []
        for line in out.splitlines():
            if not line.strip() or line.strip() == "No rules":
                continue
            try:
                rules.append(parse_rule(line, strict=False))
            except RuleError:
                rules.append(Rule(line.strip(), ("raw", line.strip()), "raw"))
        return rules

    return node.cached("auditd:loaded", read)


def _running(status: dict[str, str] | str) -> bool:
    return isinstance(status, dict) and status.get("pid", "0") not in ("0", "")


def _conf_action(node: Node, before: str, after: str) -> Action:
    """Write auditd.conf and have auditd re-read it (SIGHUP from this process, so the audit trail
    names who asked); on failure and on undo the old file is put back and re-read."""
    info = os.stat(node.path(CONF))
    write = write_action(node, CONF, after, info.st_mode & RULES_MODE)
    running = _running(_status(node))
    signal = [node.binary("auditctl") or "auditctl", "--signal", "HUP"]

    def run() -> None:
        write.run()
        if running:
            try:
                node.run(signal)
            except CommandError:
                write.undo()
                raise

    def undo() -> None:
        write.undo()
        if running:
            node.run(signal, check=False)

    what = f"write {CONF}" + (" and have auditd re-read it (auditctl --signal HUP)" if running else "")
    return Action("auditd:conf", what, run, undo, write.diff)


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
            return self._privileged(spec, note), note
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

    def _privileged(self, spec: dict, note: dict) -> list[Rule]:
        walked = local_walk(self.node)
        rules = []
        for entry in walked.suid_sgid:
            mount = entry.mount
            if mount.fstype not in LOCAL_TYPES or mount.options & {"nosuid", "noexec"}:
                continue
            if mount.point in spec["exclude_mounts"] or excluded(entry.path, spec["exclude_mounts"]):
                continue
            if any(ch.isspace() for ch in entry.path):
                note.setdefault("left out: path with white space (auditctl cannot read it)", []).append(entry.path)
                continue
            rules.append(
                parse_rule(
                    f"-a always,exit -F path={entry.path} -F perm=x -F auid>={spec['uid_min']} "
                    f"-F auid!=unset -k {spec['key']}"
                )
            )
        note["programs found"] = len(rules)
        return rules

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


def _rules_action(node: Node, writes: dict[str, str | None], *, load: bool) -> Action:
    """Write the managed rule files and load all rules of rules.d with augenrules.

    A failed load (auditctl refused a rule) puts every file back, including the audit.rules
    augenrules made, and loads the old rules again before the error is reported; undo does the
    same. When the rules are immutable (-e 2) the files are written and audit.rules made, and
    the rules load at the next boot.
    """
    augenrules = node.binary("augenrules") or "augenrules"
    argv = [augenrules, "--load"] if load else [augenrules]
    kept: dict[str, tuple[str | None, int]] = {}
    for path in [*writes, AUDIT_RULES, f"{AUDIT_RULES}.prev"]:
        try:
            mode = os.stat(node.path(path)).st_mode & 0o7777
        except OSError:
            mode = RULES_MODE
        kept[path] = (node.read(path), mode)

    def put_back() -> None:
        for path, (text, mode) in kept.items():
            target = node.path(path)
            if text is None:
                if os.path.lexists(target):
                    os.unlink(target)
            else:
                atomic_write(node.module, target, text, mode)

    def run() -> None:
        for path, text in writes.items():
            if text is None:
                os.unlink(node.path(path))
            else:
                atomic_write(node.module, node.path(path), text, RULES_MODE)
        try:
            node.run(argv)
        except CommandError:
            put_back()
            node.run(argv, check=False)
            raise

    def undo() -> None:
        put_back()
        node.run(argv, check=False)

    changed = list(writes)
    if changed:
        what = f"write {', '.join(changed)} and " + (
            "load the audit rules (augenrules --load)"
            if load
            else "regenerate audit.rules (augenrules; loaded at the next boot)"
        )
    else:
        what = "load the audit rules (augenrules --load)"
    diff = [file_diff(path, kept[path][0], text) for path, text in writes.items()]
    if not diff:
        diff = [
            {
                "before_header": "loaded audit rules",
                "after_header": "loaded audit rules",
                "before": "",
                "after": "rules of /etc/audit/rules.d\n",
            }
        ]
    return Action("auditd:rules", what, run, undo, diff)
