# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The auditd family against a simulated audit system.

data/ausyscall-*.txt hold the output of C(ausyscall ARCH --dump) of auditd 3.0.9 (Debian 12).
The pairs in LOADED_AS are rules as written in a rules file and the line C(auditctl -l) of that
version printed for them on a Linux 6.x kernel.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import auditd, engine
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.auditd import (
    AUDIT_RULES,
    CONF,
    RULES_DIR,
    Auditd,
    augenrules_output,
    parse_rule,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.walk import Walk

from .conftest import FakeModule, control

DATA = Path(__file__).parent / "data"
TABLES = {name: (DATA / f"ausyscall-{name}.txt").read_text() for name in ("x86_64", "i386", "aarch64", "arm")}

CONF_TEXT = (
    "#\n# auditd settings\n#\n\n"
    "log_file = /var/log/audit/audit.log\n"
    "log_group = adm\n"
    "max_log_file = 8\n"
    "num_logs = 5\n"
    "max_log_file_action = ROTATE\n"
    "space_left = 75\n"
    "space_left_action = SYSLOG\n"
    "admin_space_left = 50\n"
    "admin_space_left_action = SUSPEND\n"
    "disk_full_action = SUSPEND\n"
    "disk_error_action = SUSPEND\n"
    "##name = mydomain\n"
)
SITE_RULES = "## site\n-D\n-b 8192\n--backlog_wait_time 60000\n-f 1\n"
MOUNTS = "/dev/vda1 / ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\ntmpfs /run tmpfs rw,nosuid 0 0\n"

TIME = control(
    "cis.auditd.time_change",
    "auditd",
    {
        "rules": [
            "-a always,exit -F arch=b64 -S adjtimex,settimeofday -k time-change",
            "-a always,exit -F arch=b32 -S adjtimex,settimeofday -k time-change",
            "-w /etc/localtime -p wa -k time-change",
        ],
        "file": "50-nodeguard-cis.rules",
    },
)
SCOPE = control(
    "cis.auditd.scope",
    "auditd",
    {
        "rules": ["-w /etc/sudoers -p wa -k scope", "-w /etc/sudoers.d/ -p wa -k scope"],
        "file": "50-nodeguard-cis.rules",
    },
)
RETENTION = control(
    "cis.auditd.retention",
    "auditd",
    {"config": {"max_log_file": 8, "max_log_file_action": "keep_logs"}},
)
DISK_FULL = control(
    "k8s.auditd.disk_full", "auditd", {"config": {"disk_full_action": "rotate", "disk_error_action": "syslog"}}
)


class FakeAudit:
    """The kernel's audit rules and auditd as the commands see them."""

    def __init__(self, tree, *, machine="x86_64", running=True, reject=(), reachable=True):
        self.tree = tree
        self.tables = {"b64": TABLES[machine], "b32": TABLES["i386" if machine == "x86_64" else "arm"]}
        self.tables[None] = self.tables["b64"]
        self.loaded: list[str] = []
        self.enabled = 1
        self.pid = 321 if running else 0
        self.reject = reject
        self.reachable = reachable
        self.signals = 0

    def install(self, module):
        module.commands["auditctl"] = self.auditctl
        module.commands["augenrules"] = self.augenrules
        module.commands["ausyscall"] = self.ausyscall

    def ausyscall(self, argv):
        arch = argv[1] if len(argv) == 3 else None
        return 0, self.tables[arch], ""

    def auditctl(self, argv):
        if not self.reachable:
            return 1, "", "Error sending status request (Operation not permitted)"
        if argv[1:] == ["-s"]:
            return 0, f"enabled {self.enabled}\nfailure 1\npid {self.pid}\nbacklog_limit 8192\nlost 0\n", ""
        if argv[1:] == ["-l"]:
            return 0, "\n".join(self.loaded) + "\n" if self.loaded else "No rules\n", ""
        if argv[1:] == ["--signal", "HUP"]:
            if not self.pid:
                return 1, "", "Auditd is not running"
            self.signals += 1
            return 0, "", ""
        raise AssertionError(f"unexpected auditctl call {argv}")

    def augenrules(self, argv):
        folder = self.tree.file(RULES_DIR)
        files = [(p.name, p.read_text()) for p in folder.iterdir() if p.name.endswith(".rules")]
        self.tree.write(AUDIT_RULES, augenrules_output(files), 0o640)
        if argv[1:] != ["--load"]:
            return 0, "", ""
        if self.enabled == 2:
            return 1, "", "The audit system is in immutable mode, no rule changes allowed"
        for number, line in enumerate(self.tree.read(AUDIT_RULES).splitlines(), 1):
            if not line or line.startswith("#"):
                continue
            if line.strip() == "-D":
                self.loaded = []
            elif line.startswith("-e"):
                self.enabled = int(line.split()[1])
            elif line.split()[0] in ("-b", "-f", "--backlog_wait_time"):
                continue
            elif any(word in line for word in self.reject):
                return (
                    1,
                    "",
                    f"Error sending add rule data request (Invalid argument)\nThere was an error in line {number}",
                )
            else:
                printed = self.printed(line)
                if printed in self.loaded:
                    return (
                        1,
                        "",
                        f"Error sending add rule data request (Rule exists)\nThere was an error in line {number}",
                    )
                self.loaded.append(printed)
        return 0, "", ""

    def printed(self, line):
        """How auditctl -l shows a rule: what the samples in LOADED_AS show it does."""
        tokens = line.split()
        if tokens[0] == "-w":
            opts = dict(zip(tokens[2::2], tokens[3::2]))
            perms = "".join(p for p in "rwxa" if p in opts.get("-p", "rwxa"))
            return f"-w {tokens[1].rstrip('/')} -p {perms}" + (f" -k {opts['-k']}" if "-k" in opts else "")
        fields, syscalls, compares, keys, arch = [], [], [], [], None
        for option, value in zip(tokens[2::2], tokens[3::2]):
            if option == "-S":
                syscalls += value.split(",")
            elif option == "-k":
                keys.append(value)
            elif option == "-C":
                left, op, right = re.match(r"(\w+)(!=|=)(\w+)", value).groups()
                compares.append(f"-C {right}{op}{left}")
            elif value.startswith("arch="):
                arch = f"-F {value}"
            else:
                fields.append("-F " + value.replace("!=unset", "!=-1"))
        # The kernel keeps syscalls as a bit mask: auditctl lists them by number.
        table = self.tables["b32" if arch == "-F arch=b32" else "b64"]
        order = {name: int(num) for num, name in (row.split("\t") for row in table.splitlines()[1:])}
        out = ["-a always,exit"] + ([arch] if arch else [])
        out.append("-S " + (",".join(sorted(set(syscalls), key=order.get)) if syscalls else "all"))
        return " ".join(out + fields + compares + [f"-F key={k}" for k in keys])


def prepare(tree, *, conf=CONF_TEXT, uid_min=1000):
    tree.write(CONF, conf, 0o640)
    tree.write(f"{RULES_DIR}/audit.rules", SITE_RULES, 0o640)
    tree.write("/etc/login.defs", f"PASS_MAX_DAYS 99999\nUID_MIN\t\t\t {uid_min}\nUID_MAX 60000\n")
    tree.write("/etc/sudoers", "root ALL=(ALL:ALL) ALL\n", 0o440)
    tree.write("/etc/localtime", "TZif", 0o644)
    tree.write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
    tree.write("/etc/group", "root:x:0:\n")
    proc = tree.base / "proc" / "self"
    proc.mkdir(parents=True, exist_ok=True)
    (proc / "mounts").write_text(MOUNTS)


def run(tree, controls, audit, *, check_mode=False, families=None):
    module = FakeModule(controls, check_mode=check_mode)
    audit.install(module)
    return module, engine.run(module, tree.node(module), families or [Auditd()])


def statuses(result):
    return [(r["id"], r["status"]) for r in result["controls"]]


def changing(module):
    """Commands that change the node (everything but reading the state)."""
    reads = (["-s"], ["-l"])
    return [
        call
        for call in module.calls
        if not (os.path.basename(call[0]) == "auditctl" and call[1:] in reads)
        and os.path.basename(call[0]) != "ausyscall"
    ]


# -- the normal form matches what auditctl prints -------------------------------------------------

LOADED_AS = [
    ("-w /etc/sudoers -p wa -k scope", "-w /etc/sudoers -p wa -k scope"),
    ("-w /etc/sudoers.d/ -p wa -k scope", "-w /etc/sudoers.d -p wa -k scope"),
    (
        "-a always,exit -F arch=b64 -C euid!=uid -F auid!=unset -S execve -k user_emulation",
        "-a always,exit -F arch=b64 -S execve -C uid!=euid -F auid!=-1 -F key=user_emulation",
    ),
    (
        "-a always,exit -F arch=b32 -S adjtimex -S settimeofday -k time-change",
        "-a always,exit -F arch=b32 -S settimeofday,adjtimex -F key=time-change",
    ),
    (
        "-a always,exit -F arch=b32 -S clock_settime -F a0=0 -k time-change",
        "-a always,exit -F arch=b32 -S clock_settime -F a0=0x0 -F key=time-change",
    ),
    (
        "-a always,exit -F path=/usr/bin/chcon -F perm=x -F auid>=1000 -F auid!=unset -k perm_chng",
        "-a always,exit -S all -F path=/usr/bin/chcon -F perm=x -F auid>=1000 -F auid!=-1 -F key=perm_chng",
    ),
    (
        "-a always,exit -F arch=b64 -S creat,open,openat,truncate,ftruncate -F exit=-EACCES -F auid>=1000 "
        "-F auid!=unset -k access",
        "-a always,exit -F arch=b64 -S open,truncate,ftruncate,creat,openat -F exit=-EACCES -F auid>=1000 "
        "-F auid!=-1 -F key=access",
    ),
    (
        "-a always,exit -F arch=b32 -S open,creat,openat,truncate,ftruncate -F exit=-13 -F auid>=1000 "
        "-F auid!=4294967295 -k access",
        "-a always,exit -F arch=b32 -S open,creat,truncate,ftruncate,openat -F exit=-EACCES -F auid>=1000 "
        "-F auid!=-1 -F key=access",
    ),
    (
        "-a always,exit -F arch=b64 -S init_module,finit_module,delete_module,create_module,query_module "
        "-F auid>=1000 -F auid!=unset -k kernel_modules",
        "-a always,exit -F arch=b64 -S create_module,init_module,delete_module,query_module,finit_module "
        "-F auid>=1000 -F auid!=-1 -F key=kernel_modules",
    ),
    (
        "-a exit,always -F arch=b64 -S mount -F auid>=1000 -F auid!=unset -k mounts -k extra",
        "-a always,exit -F arch=b64 -S mount -F auid>=1000 -F auid!=-1 -F key=mounts -F key=extra",
    ),
    ("-w /etc/hosts", "-w /etc/hosts -p rwxa"),
    ("-w /etc/x -p aw -k x8", "-w /etc/x -p wa -k x8"),
    (
        "-a always,exit -F arch=x86_64 -S sethostname,setdomainname -k system-locale",
        "-a always,exit -F arch=b64 -S sethostname,setdomainname -F key=system-locale",
    ),
    ("-a always,exit -F dir=/etc/apparmor.d/ -F perm=wa -F key=MAC-policy", "-w /etc/apparmor.d/ -p wa -k MAC-policy"),
    ("-a always,exit -F path=/etc/shadow -F perm=wa -k x1", "-w /etc/shadow -p wa -k x1"),
    (
        "-a always,exit -F arch=b64 -F path=/etc/shadow -F perm=wa -k x2",
        "-a always,exit -F arch=b64 -S all -F path=/etc/shadow -F perm=wa -F key=x2",
    ),
    ("-A always,exit -F arch=b64 -S kill -k x4", "-a always,exit -F arch=b64 -S kill -F key=x4"),
    ("-a never,task", "-a never,task"),
    ("-a always,exclude -F msgtype=CWD", "-a always,exclude -F msgtype=CWD"),
]


@pytest.mark.parametrize(("written", "printed"), LOADED_AS, ids=[w[:40] for w, _unused in LOADED_AS])
def test_rule_and_its_auditctl_listing_compare_equal(written, printed):
    assert parse_rule(written).norm == parse_rule(printed, strict=False).norm


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("-w /etc/sudoers -p wa -k scope", "-w /etc/sudoers -p wa -k other"),
        ("-w /etc/sudoers -p wa -k scope", "-w /etc/sudoers -p w -k scope"),
        ("-a always,exit -F arch=b64 -S mount -k m", "-a always,exit -F arch=b32 -S mount -k m"),
        ("-a always,exit -F arch=b64 -S mount -k m", "-a always,exit -F arch=b64 -S mount,umount2 -k m"),
        ("-a always,exit -F arch=b64 -S mount -F auid>=1000 -k m", "-a always,exit -F arch=b64 -S mount -k m"),
        ("-a always,exit -F arch=b64 -S mount -k m", "-a never,exit -F arch=b64 -S mount -k m"),
    ],
    ids=["key", "perm", "arch", "syscalls", "field", "action"],
)
def test_different_rules_do_not_compare_equal(one, other):
    assert parse_rule(one).norm != parse_rule(other).norm


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("-D", "deletes every rule"),
        ("-e 2", "immutable spec"),
        ("-w etc/passwd -p wa", "absolute path"),
        ("-w / -p wa", "refuses a watch on /"),
        ("-w /etc/passwd -p rwz -k id", "letters of rwxa"),
        ("-w /etc/passwd -p wa -F uid=0", "only -p and -k"),
        ("-w /etc/passwd -p wa -k " + "k" * 32, "1 to 31 printable"),
        ("-a always -S mount", "list,action"),
        ("-a always,exit -F arch=b64 -S 165", "not a name"),
        ("-a always,exit -F arch=b99 -S mount", "arch 'b99'"),
        ("-a always,exit -F colour=blue", "not a field auditctl knows"),
        ("-a always,exit -F auid>=someone", "number or unset"),
        ("-a always,exit -F path=etc", "absolute path"),
        ("-a always,exit -F exit=EACCESS", "errno name"),
        ("-a always,exclude -S mount", "-S needs the exit list"),
        ("-a always,exit -C uid>euid", "two id fields"),
        ("-a always,exit -S mount -k", "has no value"),
        ("-f 2", "panics the kernel"),
        ("--loginuid-immutable", "break containers"),
        ("auditctl -w /etc/passwd", "a rule starts with"),
    ],
)
def test_rules_auditctl_would_refuse_are_refused(line, message):
    with pytest.raises(auditd.RuleError, match=re.escape(message)):
        parse_rule(line)


def test_augenrules_output_orders_like_the_script():
    files = [
        ("99-finalize.rules", "-e 2\n"),
        ("10-base.rules", "## comment\n-D\n-b 8192\n\n-f 1\n-w /etc/a -p wa\n"),
        ("9-early.rules", "-w /etc/b -p wa\n  # indented comment\n-b 1024\n"),
    ]
    assert augenrules_output(files) == (
        "## This file is automatically generated from /etc/audit/rules.d\n"
        "-D\n-b 8192\n-f 1\n-w /etc/b -p wa\n-w /etc/a -p wa\n-e 2\n"
    )


# -- auditd.conf --------------------------------------------------------------------------------


def test_config_check_mode_names_lines_and_touches_nothing(tree):
    prepare(tree)
    audit = FakeAudit(tree)
    before = tree.snapshot()
    module, result = run(tree, [RETENTION, DISK_FULL], audit, check_mode=True)
    assert statuses(result) == [("cis.auditd.retention", "drift"), ("k8s.auditd.disk_full", "drift")]
    assert tree.snapshot() == before
    assert changing(module) == []
    assert result["controls"][0]["differences"] == [
        {"item": "max_log_file_action", "where": f"{CONF} line 9", "expected": "keep_logs", "actual": "ROTATE"}
    ]
    assert result["actions"] == [f"write {CONF} and have auditd re-read it (auditctl --signal HUP)"]


def test_config_apply_edits_only_its_lines_and_is_idempotent(tree):
    prepare(tree, conf=CONF_TEXT.replace("disk_error_action = SUSPEND\n", ""))
    audit = FakeAudit(tree)
    module, result = run(tree, [RETENTION, DISK_FULL], audit)
    assert statuses(result) == [("cis.auditd.retention", "fixed"), ("k8s.auditd.disk_full", "fixed")]
    expected = (
        CONF_TEXT.replace("max_log_file_action = ROTATE", "max_log_file_action = keep_logs")
        .replace("disk_full_action = SUSPEND", "disk_full_action = rotate")
        .replace("disk_error_action = SUSPEND\n", "")
        + "disk_error_action = syslog\n"
    )
    assert tree.read(CONF) == expected
    assert tree.file(CONF).stat().st_mode & 0o777 == 0o640
    assert audit.signals == 1
    module, again = run(tree, [RETENTION, DISK_FULL], audit)
    assert statuses(again) == [("cis.auditd.retention", "pass"), ("k8s.auditd.disk_full", "pass")]
    assert again["changed"] is False
    assert changing(module) == []


def test_config_value_changed_by_hand_is_named(tree):
    prepare(tree)
    audit = FakeAudit(tree)
    run(tree, [RETENTION], audit)
    tree.write(CONF, tree.read(CONF).replace("max_log_file = 8", "max_log_file = 2"), 0o640)
    _unused, result = run(tree, [RETENTION], audit, check_mode=True)
    assert result["controls"][0]["differences"] == [
        {"item": "max_log_file", "where": f"{CONF} line 7", "expected": "8", "actual": "2"}
    ]


def test_config_without_running_auditd_is_written_without_signal(tree):
    prepare(tree)
    audit = FakeAudit(tree, running=False)
    module, result = run(tree, [RETENTION], audit)
    assert statuses(result) == [("cis.auditd.retention", "fixed")]
    assert result["actions"] == [f"write {CONF}"]
    assert not any("--signal" in call for call in module.calls)


def test_config_signal_failure_puts_the_file_back(tree):
    prepare(tree)
    audit = FakeAudit(tree)

    def refuse_signal(argv):
        if "--signal" in argv:
            return 1, "", "Failed sending signal to auditd (Operation not permitted)"
        return audit.auditctl(argv)

    module = FakeModule([RETENTION])
    audit.install(module)
    module.commands["auditctl"] = refuse_signal
    with pytest.raises(engine.ApplyError, match=r"auditctl --signal HUP failed"):
        engine.run(module, tree.node(module), [Auditd()])
    assert tree.read(CONF) == CONF_TEXT


def test_conflicting_settings_fail_before_any_change(tree):
    prepare(tree)
    halt = control("cis.auditd.disk_full", "auditd", {"config": {"disk_full_action": "halt"}})
    before = tree.snapshot()
    with pytest.raises(ControlInputError, match=r"'k8s.auditd.disk_full' and 'cis.auditd.disk_full' both set"):
        run(tree, [DISK_FULL, halt], FakeAudit(tree))
    assert tree.snapshot() == before


def test_not_installed_is_skipped(tree):
    _unused, result = run(tree, [RETENTION, TIME], FakeAudit(tree))
    assert statuses(result) == [("cis.auditd.retention", "skipped"), ("cis.auditd.time_change", "skipped")]
    assert "not installed" in result["controls"][0]["reason"]


# -- rules --------------------------------------------------------------------------------------

CIS_FILE = f"{RULES_DIR}/50-nodeguard-cis.rules"


def test_rules_check_mode_reports_file_and_live_and_changes_nothing(tree):
    prepare(tree)
    audit = FakeAudit(tree)
    before = tree.snapshot()
    module, result = run(tree, [TIME, SCOPE], audit, check_mode=True)
    assert statuses(result) == [("cis.auditd.time_change", "drift"), ("cis.auditd.scope", "drift")]
    assert tree.snapshot() == before
    assert changing(module) == []
    sudoers, sudoers_d = "-w /etc/sudoers -p wa -k scope", "-w /etc/sudoers.d/ -p wa -k scope"
    assert result["controls"][1]["differences"] == [
        {"item": sudoers, "where": f"{CIS_FILE} line 11", "expected": sudoers, "actual": None},
        {"item": sudoers, "where": "live", "expected": "loaded", "actual": None},
        {"item": sudoers_d, "where": f"{CIS_FILE} line 12", "expected": sudoers_d, "actual": None},
        {"item": sudoers_d, "where": "live", "expected": "loaded", "actual": None},
    ]
    assert result["actions"] == [f"write {CIS_FILE} and load the audit rules (augenrules --load)"]


def test_rules_apply_loads_and_second_run_changes_nothing(tree):
    prepare(tree)
    audit = FakeAudit(tree)
    module, result = run(tree, [TIME, SCOPE], audit)
    assert statuses(result) == [("cis.auditd.time_change", "fixed"), ("cis.auditd.scope", "fixed")]
    assert tree.read(CIS_FILE) == (
        auditd.RULES_HEADER
        + "\n# cis.auditd.time_change: title of cis.auditd.time_change\n"
        + "-a always,exit -F arch=b64 -S adjtimex,settimeofday -k time-change\n"
        + "-a always,exit -F arch=b32 -S adjtimex,settimeofday -k time-change\n"
        + "-w /etc/localtime -p wa -k time-change\n"
        + "\n# cis.auditd.scope: title of cis.auditd.scope\n"
        + "-w /etc/sudoers -p wa -k scope\n-w /etc/sudoers.d/ -p wa -k scope\n"
    )
    assert tree.file(CIS_FILE).stat().st_mode & 0o777 == 0o640
    assert "-a always,exit -F arch=b32 -S settimeofday,adjtimex -F key=time-change" in audit.loaded
    assert ["/usr/sbin/augenrules", "--load"] in module.calls
    module, again = run(tree, [TIME, SCOPE], audit)
    assert statuses(again) == [("cis.auditd.time_change", "pass"), ("cis.auditd.scope", "pass")]
    assert again["changed"] is False
    assert changing(module) == []


def test_rule_removed_from_file_by_hand_is_named_with_its_line(tree):
    prepare(tree)
    audit = FakeAudit(tree)
    run(tree, [TIME, SCOPE], audit)
    tree.write(CIS_FILE, tree.read(CIS_FILE).replace("-w /etc/localtime -p wa -k time-change\n", ""), 0o640)
    _unused, result = run(tree, [TIME, SCOPE], audit, check_mode=True)
    assert statuses(result) == [("cis.auditd.time_change", "drift"), ("cis.auditd.scope", "pass")]
    assert result["controls"][0]["differences"] == [
        {
            "item": "-w /etc/localtime -p wa -k time-change",
            "where": f"{CIS_FILE} line 8",
            "expected": "-w /etc/localtime -p wa -k time-change",
            "actual": None,
        }
    ]


def test_rules_deleted_from_the_kernel_are_loaded_again(tree):
    prepare(tree)
    audit = FakeAudit(tree)
    run(tree, [TIME, SCOPE], audit)
    audit.loaded = [line for line in audit.loaded if "scope" not in line]  # auditctl -D -k scope by hand
    _unused, result = run(tree, [TIME, SCOPE], audit)
    assert statuses(result) == [("cis.auditd.time_change", "pass"), ("cis.auditd.scope", "fixed")]
    assert [d["where"] for d in result["controls"][1]["differences"]] == ["live", "live"]
    assert result["actions"] == ["load the audit rules (augenrules --load)"]
    assert "-w /etc/sudoers -p wa -k scope" in audit.loaded


def test_refused_rule_on_load_puts_files_and_rules_back(tree):
    prepare(tree)
    audit = FakeAudit(tree)
    run(tree, [SCOPE], audit)
    files_before = tree.read(CIS_FILE), tree.read(AUDIT_RULES)
    loaded_before = list(audit.loaded)
    audit.reject = ("/etc/localtime",)
    with pytest.raises(engine.ApplyError, match=r"augenrules --load failed.*Invalid argument"):
        run(tree, [TIME, SCOPE], audit)
    assert (tree.read(CIS_FILE), tree.read(AUDIT_RULES)) == files_before
    assert audit.loaded == loaded_before


def test_earlier_change_is_undone_when_the_rules_fail(tree):
    prepare(tree)
    audit = FakeAudit(tree, reject=("/etc/sudoers",))
    with pytest.raises(engine.ApplyError, match=r"undid 1 earlier change"):
        run(tree, [RETENTION, SCOPE], audit)
    assert tree.read(CONF) == CONF_TEXT
    assert not tree.file(CIS_FILE).exists()
    assert audit.loaded == []


def test_rule_in_a_site_file_is_not_written_twice(tree):
    prepare(tree)
    tree.write(f"{RULES_DIR}/60-site.rules", "-w /etc/sudoers -p wa -k scope\n", 0o640)
    audit = FakeAudit(tree)
    _unused, result = run(tree, [SCOPE], audit)
    assert statuses(result) == [("cis.auditd.scope", "fixed")]
    assert "-w /etc/sudoers -p wa" not in tree.read(CIS_FILE)
    assert result["controls"][0]["details"]["already on disk"] == [
        f"-w /etc/sudoers -p wa -k scope ({RULES_DIR}/60-site.rules)"
    ]
    _unused, again = run(tree, [SCOPE], audit)
    assert statuses(again) == [("cis.auditd.scope", "pass")]


def test_file_of_a_switched_off_control_is_removed(tree):
    prepare(tree)
    audit = FakeAudit(tree)
    own_file = dict(TIME, spec={**TIME["spec"], "file": "50-nodeguard-time.rules"})
    run(tree, [own_file, SCOPE], audit)
    off = dict(own_file, enabled=False, reason="site keeps its own time rules")
    _unused, result = run(tree, [off, SCOPE], audit)
    assert statuses(result) == [("cis.auditd.time_change", "skipped"), ("cis.auditd.scope", "fixed")]
    assert not tree.file(f"{RULES_DIR}/50-nodeguard-time.rules").exists()
    assert not any("time-change" in line for line in audit.loaded)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"rules": ["-a always,exit -F arch=b64 -S settimeofdy -k time"]}, "settimeofdy is not a syscall of x86_64"),
        ({"rules": ["-a always,exit -F arch=b32 -S openat2x -k t"]}, "openat2x is not a syscall of i386"),
        ({"rules": ["-D"]}, "deletes every rule"),
        ({"rules": ["-w /etc/a -p wa -k a", "-w /etc/a/ -p wa -k a"]}, "is given twice"),
        ({"rules": ["-w /etc/a -k {UID_MIN}"]}, "the only placeholder"),
        ({"rules": ["-w /usr/bin/containerd* -p wa"]}, "with existing_only: true"),
        ({"rules": ["-w /etc/a -p wa"], "file": "audit.rules"}, "must be named like 50-nodeguard-NAME.rules"),
        ({"rules": ["-w /etc/a -p wa"], "loaded": True}, "not loaded"),
        ({"rules": "-w /etc/a -p wa"}, "rules must list"),
        ({"config": {"disk_full_action": "reboot"}}, "disk_full_action takes one of"),
        ({"config": {"space_left_action": "exec"}}, "exec with an absolute script path"),
        ({"config": {"max_log_file": "8MB"}}, "whole number of megabytes"),
        ({"config": {"max_log_file": 0}}, "whole number of megabytes"),
        ({"config": {"admin_space_left": "150%"}}, "percentage"),
        ({"config": {"log_file": "/tmp/x"}}, "not an auditd.conf key this family sets"),
        ({"immutable": False}, "immutable takes true"),
        ({"privileged": {"key": "has space"}}, "privileged.key"),
        ({"privileged": {"exclude_mounts": ["mnt"]}}, "absolute mount points"),
        ({"config": {"max_log_file": 8}, "rules": ["-w /etc/a"]}, "exactly one of"),
    ],
)
def test_bad_input_fails_before_any_change(tree, spec, message):
    prepare(tree)
    audit = FakeAudit(tree)
    before = tree.snapshot()
    with pytest.raises(ControlInputError, match=re.escape(message)):
        run(tree, [RETENTION, SCOPE, control("site.auditd.bad", "auditd", spec)], audit)
    assert tree.snapshot() == before
    assert audit.loaded == []


ACCESS = "-F auid>={uid_min} -F auid!=unset -k access"
UNSUCCESSFUL = control(
    "cis.auditd.access",
    "auditd",
    {
        "rules": [
            f"-a always,exit -F arch=b64 -S creat,open,openat,truncate,ftruncate -F exit=-EACCES {ACCESS}",
            f"-a always,exit -F arch=b64 -S creat,open -F exit=-EPERM {ACCESS}",
        ],
        "optional_syscalls": ["creat", "open"],
        "file": "50-nodeguard-cis.rules",
    },
)


def test_syscalls_an_architecture_lacks_are_left_out_only_when_optional(tree):
    prepare(tree, uid_min=1500)
    audit = FakeAudit(tree, machine="aarch64")
    _unused, result = run(tree, [UNSUCCESSFUL], audit)
    assert statuses(result) == [("cis.auditd.access", "fixed")]
    text = tree.read(CIS_FILE)
    assert (
        "-a always,exit -F arch=b64 -S openat,truncate,ftruncate -F exit=-EACCES -F auid>=1500 -F auid!=unset -k access"
        in text
    )
    assert "EPERM" not in text
    notes = result["controls"][0]["details"]["changed for this architecture"]
    assert any("none of its syscalls" in note for note in notes)
    strict = dict(UNSUCCESSFUL, spec={k: v for k, v in UNSUCCESSFUL["spec"].items() if k != "optional_syscalls"})
    with pytest.raises(ControlInputError, match="creat, open is not a syscall of aarch64"):
        run(tree, [strict], audit)


def test_watches_of_missing_directories_are_left_out(tree):
    prepare(tree)
    audit = FakeAudit(tree)
    kubelet = control(
        "k8s.audit.kubelet_config",
        "auditd",
        {"rules": ["-w /var/lib/kubelet/config.yaml -p wa -k kubelet"], "file": "60-nodeguard-kubernetes.rules"},
    )
    _unused, result = run(tree, [kubelet], audit)
    assert statuses(result) == [("k8s.audit.kubelet_config", "pass")]
    assert result["controls"][0]["details"]["left out: parent directory missing"] == [
        "-w /var/lib/kubelet/config.yaml -p wa -k kubelet"
    ]
    tree.write("/var/lib/kubelet/config.yaml", "kind: KubeletConfiguration\n")
    _unused, later = run(tree, [kubelet], audit)
    assert statuses(later) == [("k8s.audit.kubelet_config", "fixed")]
    assert "-w /var/lib/kubelet/config.yaml -p wa -k kubelet" in audit.loaded


def test_existing_only_watches_expand_patterns_on_every_run(tree):
    prepare(tree)
    audit = FakeAudit(tree)
    runtime = control(
        "k8s.audit.container_runtime",
        "auditd",
        {
            "rules": ["-w /usr/bin/containerd* -p wa -k containerd", "-w /usr/sbin/runc -p wa -k containerd"],
            "existing_only": True,
            "file": "60-nodeguard-kubernetes.rules",
        },
    )
    tree.write("/usr/bin/containerd", "elf", 0o755)
    tree.write("/usr/bin/containerd-shim-runc-v2", "elf", 0o755)
    tree.write("/usr/sbin/.keep", "")
    _unused, result = run(tree, [runtime], audit)
    assert result["controls"][0]["expected"] == {
        "rules": [
            "-w /usr/bin/containerd -p wa -k containerd",
            "-w /usr/bin/containerd-shim-runc-v2 -p wa -k containerd",
        ]
    }
    assert result["controls"][0]["details"]["left out: path missing"] == ["-w /usr/sbin/runc -p wa -k containerd"]
    tree.write("/usr/sbin/runc", "elf", 0o755)
    _unused, later = run(tree, [runtime], audit, check_mode=True)
    assert later["controls"][0]["differences"][0]["item"] == "-w /usr/sbin/runc -p wa -k containerd"


def test_privileged_programs_get_one_rule_each(tree):
    prepare(tree, uid_min=1000)
    tree.write("/usr/bin/sudo", "elf", 0o4755)
    tree.write("/usr/bin/wall", "elf", 0o2755)
    tree.write("/usr/bin/ls", "elf", 0o755)
    tree.write("/mnt/usb/tool", "elf", 0o4755)
    audit = FakeAudit(tree)
    privileged = control(
        "cis.auditd.privileged", "auditd", {"privileged": {"key": "privileged", "exclude_mounts": ["/mnt/usb"]}}
    )
    _unused, result = run(tree, [privileged], audit, families=[Auditd(), Walk()])
    assert statuses(result) == [("cis.auditd.privileged", "fixed")]
    assert result["controls"][0]["expected"]["rules"] == [
        "-a always,exit -F path=/usr/bin/sudo -F perm=x -F auid>=1000 -F auid!=unset -k privileged",
        "-a always,exit -F path=/usr/bin/wall -F perm=x -F auid>=1000 -F auid!=unset -k privileged",
    ]
    assert (
        "-a always,exit -S all -F path=/usr/bin/sudo -F perm=x -F auid>=1000 -F auid!=-1 -F key=privileged"
        in audit.loaded
    )
    tree.write("/usr/bin/newgrp", "elf", 0o4755)  # a package brought one more
    _unused, later = run(tree, [privileged], audit, check_mode=True)
    assert later["controls"][0]["differences"][0]["item"] == (
        "-a always,exit -F path=/usr/bin/newgrp -F perm=x -F auid>=1000 -F auid!=unset -k privileged"
    )


def test_privileged_skips_nosuid_mounts(tree):
    prepare(tree)
    (tree.base / "proc" / "self" / "mounts").write_text("/dev/vda1 / ext4 rw,nosuid 0 0\n")
    tree.write("/usr/bin/sudo", "elf", 0o4755)
    privileged = control("cis.auditd.privileged", "auditd", {"privileged": {}})
    _unused, result = run(tree, [privileged], FakeAudit(tree), check_mode=True)
    assert result["controls"][0]["expected"] == {"rules": []}


IMMUTABLE = control("cis.auditd.immutable", "auditd", {"immutable": True})


def test_immutable_is_loaded_last_and_then_rules_wait_for_reboot(tree):
    prepare(tree)
    audit = FakeAudit(tree)
    _unused, result = run(tree, [SCOPE, IMMUTABLE], audit)
    assert statuses(result) == [("cis.auditd.scope", "fixed"), ("cis.auditd.immutable", "fixed")]
    assert tree.read(AUDIT_RULES).endswith("-e 2\n")
    assert audit.enabled == 2
    module, locked = run(tree, [SCOPE, TIME, IMMUTABLE], audit)
    assert statuses(locked) == [
        ("cis.auditd.scope", "pass"),
        ("cis.auditd.time_change", "error"),
        ("cis.auditd.immutable", "pass"),
    ]
    assert ["/usr/sbin/augenrules"] in module.calls  # files and audit.rules written, nothing loaded
    assert ["/usr/sbin/augenrules", "--load"] not in module.calls
    assert "-w /etc/localtime -p wa -k time-change" in tree.read(AUDIT_RULES)
    _unused, still = run(tree, [SCOPE, TIME, IMMUTABLE], audit)
    assert statuses(still)[1] == ("cis.auditd.time_change", "error")
    assert "immutable (-e 2) until the next boot" in still["controls"][1]["reason"]


IN_SYNC = control("cis.auditd.in_sync", "auditd", {"in_sync": True})


def test_running_rules_match_the_disk(tree):
    prepare(tree)
    audit = FakeAudit(tree)
    run(tree, [SCOPE, IN_SYNC], audit)
    audit.loaded.append("-w /etc/shadow -p wa -k by-hand")
    _unused, result = run(tree, [SCOPE, IN_SYNC], audit, check_mode=True)
    assert statuses(result) == [("cis.auditd.scope", "pass"), ("cis.auditd.in_sync", "drift")]
    assert result["controls"][1]["differences"] == [
        {
            "item": "-w /etc/shadow -p wa -k by-hand",
            "where": "live",
            "expected": f"not loaded (in no file of {RULES_DIR})",
            "actual": "loaded",
        }
    ]
    _unused, fixed = run(tree, [SCOPE, IN_SYNC], audit)
    assert statuses(fixed) == [("cis.auditd.scope", "pass"), ("cis.auditd.in_sync", "fixed")]
    assert not any("by-hand" in line for line in audit.loaded)


def test_unreachable_audit_system_is_skipped(tree):
    prepare(tree)
    _unused, result = run(tree, [SCOPE], FakeAudit(tree, reachable=False))
    assert statuses(result) == [("cis.auditd.scope", "skipped")]
    assert "Operation not permitted" in result["controls"][0]["reason"]
