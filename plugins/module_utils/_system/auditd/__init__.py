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

The parts: rules.py (the rule language and its normal form), rules_d.py (the files of
/etc/audit/rules.d, what augenrules makes of them, writing and loading them), live.py
(C(auditctl -s) and C(auditctl -l)), conf.py (auditd.conf), privileged.py (the rules for
privileged programs), inspection.py (the rule-kind controls compared with disk and kernel),
family.py (the family: specs checked, then inspected).
"""

from __future__ import annotations

from ansible_collections.nodeguard.hardening.plugins.module_utils._system.auditd.conf import (
    ACTION_KEYS,
    CONF,
    CONFIG_KEYS,
    NUMBER_KEYS,
    SIZE_KEYS,
    TEXT_KEYS,
    edit_conf,
    parse_conf,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.auditd.family import (
    KINDS,
    LOGIN_DEFS,
    Auditd,
    syscall_table,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.auditd.inspection import RulesInspection
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.auditd.rules import (
    ARCH,
    COMPARABLE,
    FIELDS,
    ID_FIELDS,
    LISTS,
    RULE_ACTIONS,
    SETTINGS,
    Rule,
    RuleError,
    parse_rule,
    without_syscalls,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.auditd.rules_d import (
    AUDIT_RULES,
    DEFAULT_FILE,
    FILE_RE,
    FINAL_FILE,
    PRIVILEGED_FILE,
    RULES_DIR,
    RULES_HEADER,
    RULES_MODE,
    augenrules_output,
)

# The names the single module auditd.py had, so that its importers work unchanged.
__all__ = [
    "ACTION_KEYS",
    "ARCH",
    "AUDIT_RULES",
    "COMPARABLE",
    "CONF",
    "CONFIG_KEYS",
    "DEFAULT_FILE",
    "FIELDS",
    "FILE_RE",
    "FINAL_FILE",
    "ID_FIELDS",
    "KINDS",
    "LISTS",
    "LOGIN_DEFS",
    "NUMBER_KEYS",
    "PRIVILEGED_FILE",
    "RULES_DIR",
    "RULES_HEADER",
    "RULES_MODE",
    "RULE_ACTIONS",
    "SETTINGS",
    "SIZE_KEYS",
    "TEXT_KEYS",
    "Auditd",
    "Rule",
    "RuleError",
    "RulesInspection",
    "augenrules_output",
    "edit_conf",
    "parse_conf",
    "parse_rule",
    "syscall_table",
    "without_syscalls",
]
