# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The sshd family through the engine: validation, drift with its origin, the action's order,
refusals that change nothing, and the way back when a reload fails."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd import rollback
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd.family import DROP_IN, HEADER, Sshd
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine

from .sshd_fakes import MODULE_PID, FakeModule, FakeProc, FakeSshd, FakeSystemd, Tree, ssh_chain

JOURNAL = "Accepted publickey for {user} from 10.0.0.1 port 50000 ssh2: ED25519 SHA256:AbCdEf\n"
CIPHERS = ["aes256-gcm@openssh.com", "aes128-gcm@openssh.com", "aes256-ctr", "aes192-ctr", "aes128-ctr"]


def control(cid, settings, **extra):
    return {
        "id": cid,
        "title": f"title of {cid}",
        "benchmarks": [],
        "level": 1,
        "profile": None,
        "enabled": True,
        "reason": None,
        "family": "sshd",
        "spec": {"settings": settings},
        "by_platform": {},
        **extra,
    }


ROOT_LOGIN = control("cis.sshd.permit_root_login", {"PermitRootLogin": "no"})
GRACE = control("cis.sshd.login_grace_time", {"LoginGraceTime": "1m"})
CIPHER_LIST = control("cis.sshd.ciphers", {"Ciphers": CIPHERS})
ALLOW = control("cis.sshd.access", {"AllowUsers": ["ansible", "alice"]})


@pytest.fixture
def tree(tmp_path):
    return Tree(tmp_path)


class Run:
    """One module run on the tree: the fakes, the family and the result (or the error)."""

    def __init__(
        self,
        tree,
        controls,
        *,
        check_mode=False,
        user="ansible",
        port=22,
        connection=None,
        session=True,
        systemd=None,
        sshd=None,
        extra_families=(),
    ):
        self.tree = tree
        self.module = FakeModule(controls, check_mode=check_mode)
        self.sshd = sshd or FakeSshd(tree)
        self.module.commands["sshd"] = self.sshd
        self.systemd = systemd or FakeSystemd()
        self.systemd.register(self.module)
        self.module.commands["journalctl"] = lambda argv: (0, JOURNAL.format(user=user), "")
        if session and not (tree.root / "proc" / str(MODULE_PID)).exists():
            proc = FakeProc(tree)
            ssh_chain(proc, "sshd", user, sockets={3: 9001})
            proc.tcp(900, [("0.0.0.0", port, "0.0.0.0", 0, "0A", 1), ("10.0.0.5", port, "10.0.0.1", 50000, "01", 9001)])
        self.family = Sshd(connection=connection, pid=MODULE_PID, byteorder="little")
        self.family.settle = 0
        self.node = tree.node(self.module)
        self.result = engine.run(self.module, self.node, [self.family, *extra_families])

    def statuses(self):
        return [(r["id"], r["status"]) for r in self.result["controls"]]

    def names(self):
        return self.module.names()


def differences(result, index=0):
    return result["controls"][index]["differences"]


def mode(tree, path):
    return stat.S_IMODE(tree.file(path).stat().st_mode)


# -- validate ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"PermitRootLogin": "no"}, "spec must be {settings:"),
        ({"settings": {}}, "settings must map sshd keywords"),
        ({"settings": {"PermitRootLogins": "no"}}, "PermitRootLogins is not an sshd keyword"),
        ({"settings": {"Include": "/tmp/x"}}, "Include cannot be managed here"),
        ({"settings": {"Match": "User x"}}, "Match cannot be managed here"),
        ({"settings": {"Protocol": 2}}, "Protocol is obsolete"),
        ({"settings": {"Permit Root": "no"}}, "is not an sshd keyword"),
        ({"settings": {"PermitRootLogin": None}}, "PermitRootLogin needs a value"),
        ({"settings": {"AllowUsers": []}}, "AllowUsers needs a value"),
        ({"settings": {"Banner": "/etc/issue.net\nPermitRootLogin yes"}}, "must be one non-empty line"),
        ({"settings": {"Banner": "#x"}}, "sshd reads as a comment"),
        ({"settings": {"Ciphers": "-3des-cbc"}}, "give the whole list"),
        ({"settings": {"UsePAM": "maybe"}}, "UsePAM takes yes or no"),
        ({"settings": {"LoginGraceTime": "a minute"}}, "takes a time such as 60"),
        ({"settings": {"MaxAuthTries": "four"}}, "MaxAuthTries takes a whole number"),
        ({"settings": {"MaxStartups": "10:30"}}, "MaxStartups takes N or START:RATE:FULL"),
        ({"settings": {"Port": 70000}}, "Port takes TCP port numbers"),
        ({"settings": {"Ciphers": [["aes128-ctr"]]}}, "must hold plain values"),
        ({"settings": {"permitrootlogin": "no", "PermitRootLogin": "no"}}, "PermitRootLogin is given twice"),
    ],
)
def test_validate_refuses(tree, spec, message):
    module = FakeModule()
    with pytest.raises(c.ControlInputError, match=message):
        Sshd().validate(tree.node(module), {"id": "cis.sshd.x"}, spec)


def test_validate_normalises_keywords_and_values(tree):
    spec = Sshd().validate(
        tree.node(FakeModule()),
        {"id": "cis.sshd.x"},
        {
            "settings": {
                "permitrootlogin": False,
                "macs": ["hmac-sha2-512", "hmac-sha2-256"],
                "ChallengeResponseAuthentication": "no",
                "allowusers": ["ansible", "alice@10.0.0.0/8"],
                "MaxAuthTries": 4,
            }
        },
    )
    assert spec.settings == {
        "PermitRootLogin": "no",
        "MACs": "hmac-sha2-512,hmac-sha2-256",
        "KbdInteractiveAuthentication": "no",
        "AllowUsers": "ansible alice@10.0.0.0/8",
        "MaxAuthTries": "4",
    }


def test_two_controls_setting_a_keyword_differently_are_refused_by_name(tree):
    node = tree.node(FakeModule())
    family = Sshd()
    family.validate(node, {"id": "cis.sshd.grace"}, {"settings": {"LoginGraceTime": "1m"}})
    family.validate(node, {"id": "site.sshd.grace"}, {"settings": {"logingracetime": 60}})
    with pytest.raises(c.ControlInputError, match=r"'cis.sshd.grace' and 'local.grace' both set LoginGraceTime"):
        family.validate(node, {"id": "local.grace"}, {"settings": {"LoginGraceTime": 30}})


@pytest.mark.parametrize(
    ("family", "message"),
    [
        (Sshd(connection={"user": "a", "bogus": 1}), "connection has unknown keys bogus"),
        (Sshd(rollback_timeout=5), "rollback timeout must be a number of seconds"),
    ],
)
def test_module_options_are_checked_with_the_first_control(tree, family, message):
    with pytest.raises(c.ControlInputError, match=message):
        family.validate(tree.node(FakeModule()), {"id": "cis.sshd.x"}, {"settings": {"MaxAuthTries": 4}})


# -- inspect -------------------------------------------------------------------------------------


def test_check_mode_reports_drift_with_where_each_value_comes_from(tree):
    tree.write("/etc/ssh/sshd_config.d/50-cloud.conf", "PermitRootLogin yes\nLoginGraceTime 2m\n")
    before = tree.snapshot()
    run = Run(tree, [ROOT_LOGIN, GRACE, CIPHER_LIST], check_mode=True)
    assert run.statuses() == [
        ("cis.sshd.permit_root_login", "drift"),
        ("cis.sshd.login_grace_time", "drift"),
        ("cis.sshd.ciphers", "drift"),
    ]
    assert tree.snapshot() == before
    assert run.names() == ["sshd -T"]
    cloud = "/etc/ssh/sshd_config.d/50-cloud.conf"
    assert differences(run.result, 0) == [
        {"item": "PermitRootLogin", "where": f"{cloud} line 1", "expected": "no", "actual": "yes"}
    ]
    assert differences(run.result, 1) == [
        {"item": "LoginGraceTime", "where": f"{cloud} line 2", "expected": "1m", "actual": "120"}
    ]
    assert differences(run.result, 2)[0]["where"] == "sshd default"
    details = run.result["controls"][0]["details"]
    assert details["origins"] == {
        "PermitRootLogin": f"PermitRootLogin set to yes by {cloud} line 1; the managed drop-in {DROP_IN} is not "
        "installed yet"
    }
    assert run.result["actions"] == [f"install {DROP_IN} and reload sshd"]
    assert run.result["diff"][0]["after_header"] == DROP_IN


def test_values_compare_as_sshd_prints_them(tree):
    tree.write(
        "/etc/ssh/sshd_config.d/10-site.conf",
        "LoginGraceTime 60\nPermitRootLogin no\nCiphers " + ",".join(CIPHERS) + "\n",
    )
    run = Run(tree, [ROOT_LOGIN, GRACE, CIPHER_LIST], check_mode=True)
    assert {status for _cid, status in run.statuses()} == {"pass"}
    assert run.result["controls"][1]["actual"] == {"LoginGraceTime": "60"}
    assert run.result["actions"] == []


def test_prohibit_password_passes_although_sshd_9_prints_without_password(tree):
    wanted = control("cis.sshd.permit_root_login", {"PermitRootLogin": "prohibit-password"})
    run = Run(tree, [wanted], check_mode=True)
    assert run.statuses() == [("cis.sshd.permit_root_login", "pass")]
    assert run.result["controls"][0]["actual"] == {"PermitRootLogin": "without-password"}


def test_a_file_read_before_the_drop_in_is_named_and_its_line_commented_out(tree):
    # 00-local sorts before 00-nodeguard: sshd reads it first, and its value wins.
    tree.write("/etc/ssh/sshd_config.d/00-local.conf", "# site\nPermitRootLogin yes\nMaxSessions 4\n")
    tree.write(DROP_IN, HEADER + "PermitRootLogin no\n", 0o600)
    local = "/etc/ssh/sshd_config.d/00-local.conf"
    check = Run(tree, [ROOT_LOGIN], check_mode=True)
    assert differences(check.result) == [
        {"item": "PermitRootLogin", "where": f"{local} line 2", "expected": "no", "actual": "yes"}
    ]
    assert check.result["controls"][0]["details"]["origins"]["PermitRootLogin"] == (
        f"PermitRootLogin set to yes by {local} line 2, which sshd reads before the managed drop-in; "
        "the fix comments that line out"
    )
    assert check.result["actions"] == [f"install {DROP_IN}, comment out overridden lines of {local} and reload sshd"]
    run = Run(tree, [ROOT_LOGIN])
    assert run.statuses() == [("cis.sshd.permit_root_login", "fixed")]
    assert tree.read(local) == (
        "# site\n"
        "# PermitRootLogin yes  # nodeguard.hardening: commented out, the value of PermitRootLogin in "
        f"{DROP_IN} applies\n"
        "MaxSessions 4\n"
    )
    assert mode(tree, local) == 0o644


def test_keywords_that_add_up_are_cleared_from_other_files(tree):
    tree.write("/etc/ssh/sshd_config", tree.read("/etc/ssh/sshd_config") + "AllowUsers mallory ansible\n")
    check = Run(tree, [ALLOW], check_mode=True)
    assert differences(check.result) == [
        {
            "item": "AllowUsers",
            "where": "/etc/ssh/sshd_config line 13",
            "expected": "ansible alice",
            "actual": ["mallory", "ansible"],
        }
    ]
    run = Run(tree, [ALLOW])
    assert run.statuses() == [("cis.sshd.access", "fixed")]
    assert "# AllowUsers mallory ansible  # nodeguard.hardening" in tree.read("/etc/ssh/sshd_config")
    assert run.result["controls"][0]["actual"] == {"AllowUsers": ["ansible", "alice"]}


def test_lines_no_control_wants_any_more_are_removed(tree):
    tree.write(DROP_IN, HEADER + "# cis.sshd.x11\nX11Forwarding no\n", 0o600)
    run = Run(tree, [GRACE], check_mode=True)
    assert {"item": "X11Forwarding", "where": f"{DROP_IN} line 4", "expected": None, "actual": "no"} in differences(
        run.result
    )


def test_sshd_not_installed_skips(tree):
    module = FakeModule([ROOT_LOGIN])
    module.bins["sshd"] = None
    result = engine.run(module, tree.node(module), [Sshd()])
    assert result["controls"][0]["status"] == "skipped"
    assert "openssh-server" in result["controls"][0]["reason"]


def test_a_configuration_sshd_refuses_now_is_an_error(tree):
    tree.write("/etc/ssh/sshd_config.d/10-bad.conf", "Ciphers bogus\n")
    run = Run(tree, [ROOT_LOGIN], sshd=FakeSshd(tree, refuse={"ciphers bogus": "Bad SSH2 cipher spec 'bogus'."}))
    assert run.statuses() == [("cis.sshd.permit_root_login", "error")]
    assert "sshd -T refuses the configuration in use" in run.result["controls"][0]["reason"]
    assert "Bad SSH2 cipher spec" in run.result["controls"][0]["reason"]


def test_a_main_config_without_the_drop_in_directory_is_an_error(tree):
    tree.write("/etc/ssh/sshd_config", "UsePAM yes\n")
    run = Run(tree, [ROOT_LOGIN])
    assert run.statuses() == [("cis.sshd.permit_root_login", "error")]
    assert "does not include" in run.result["controls"][0]["reason"]
    assert tree.read(DROP_IN) is None


# -- the action ----------------------------------------------------------------------------------


def test_apply_checks_before_installing_and_arms_the_rollback_before_reloading(tree):
    tree.write("/etc/ssh/sshd_config.d/50-cloud.conf", "PermitRootLogin yes\n")
    run = Run(tree, [ROOT_LOGIN, GRACE, CIPHER_LIST])
    assert run.statuses() == [
        ("cis.sshd.permit_root_login", "fixed"),
        ("cis.sshd.login_grace_time", "fixed"),
        ("cis.sshd.ciphers", "fixed"),
    ]
    names = run.names()
    assert names == [
        "sshd -T",  # inspect
        "journalctl _PID=800",  # how the operator logged in
        "sshd -t",  # the candidate copy
        "systemctl is-active",  # ssh.socket
        "sshd -T",  # the candidate for the operator's connection
        "sshd -T",  # the configuration in use for it
        "systemctl is-active",  # ssh.service
        "systemctl reset-failed",
        "systemd-run --unit=nodeguard-sshd-rollback",
        "atomic_move",
        "systemctl reload",
        "systemctl is-active",  # still running after the reload
        "sshd -T",  # inspect again
        "systemctl is-active",  # the rollback timer, for the report
    ]
    calls = run.module.calls
    candidate_check = calls[2]
    assert candidate_check[1:3] == ["-t", "-f"] and "/.nodeguard-sshd-" in candidate_check[3]
    guard_call = calls[4]
    assert guard_call[1:3] == ["-T", "-f"]
    assert guard_call[4:] == ["-C", "user=ansible,host=10.0.0.1,addr=10.0.0.1,laddr=10.0.0.5,lport=22"]
    assert calls[9] == ["atomic_move", str(tree.file(DROP_IN))]
    assert calls[10] == ["/usr/sbin/systemctl", "reload", "ssh.service"]
    assert tree.read(DROP_IN) == (
        HEADER
        + "# cis.sshd.permit_root_login: title of cis.sshd.permit_root_login\nPermitRootLogin no\n"
        + "# cis.sshd.login_grace_time: title of cis.sshd.login_grace_time\nLoginGraceTime 1m\n"
        + "# cis.sshd.ciphers: title of cis.sshd.ciphers\nCiphers "
        + ",".join(CIPHERS)
        + "\n"
    )
    assert mode(tree, DROP_IN) == 0o600
    # The copies are gone; the file read after the drop-in is left alone (the drop-in wins).
    assert sorted(os.listdir(tree.file("/etc/ssh"))) == ["sshd_config", "sshd_config.d"]
    assert tree.read("/etc/ssh/sshd_config.d/50-cloud.conf") == "PermitRootLogin yes\n"
    assert rollback.state(run.node).pending


def test_a_second_run_changes_nothing_and_says_a_change_awaits_confirmation(tree):
    first = Run(tree, [ROOT_LOGIN, GRACE])
    again = Run(tree, [ROOT_LOGIN, GRACE], systemd=first.systemd)
    assert again.statuses() == [("cis.sshd.permit_root_login", "pass"), ("cis.sshd.login_grace_time", "pass")]
    assert again.result["changed"] is False
    assert "awaits confirmation" in again.result["controls"][0]["details"]["rollback"]


def test_a_new_change_waits_for_the_confirmation_of_the_last(tree):
    first = Run(tree, [ROOT_LOGIN])
    before = tree.snapshot()
    with pytest.raises(engine.ApplyError, match="awaits confirmation"):
        Run(tree, [ROOT_LOGIN, GRACE], systemd=first.systemd)
    assert tree.snapshot() == before


def test_root_login_off_while_connected_as_root_changes_nothing(tree):
    before = tree.snapshot()
    with pytest.raises(engine.ApplyError) as raised:
        Run(tree, [ROOT_LOGIN], user="root")
    message = str(raised.value)
    assert "would lock out the account Ansible connects with, so nothing was changed" in message
    assert "root on port 22 from 10.0.0.1 (from sshd session process 900): PermitRootLogin no would refuse root" in (
        message
    )
    assert tree.snapshot() == before


def test_allow_users_without_the_operator_changes_nothing(tree):
    before = tree.snapshot()
    only_alice = control("cis.sshd.access", {"AllowUsers": ["alice"]})
    with pytest.raises(engine.ApplyError, match="AllowUsers alice leaves out ansible"):
        Run(tree, [only_alice])
    assert tree.snapshot() == before


def test_a_port_the_operator_is_not_on_changes_nothing(tree):
    moved = control("site.sshd.port", {"Port": 2222})
    with pytest.raises(engine.ApplyError, match=r"Ansible is connected to 10\.0\.0\.5 port 22"):
        Run(tree, [moved])
    assert tree.read(DROP_IN) is None


def test_a_candidate_sshd_refuses_changes_nothing(tree):
    bogus = control("cis.sshd.ciphers", {"Ciphers": ["bogus-cipher"]})
    sshd = FakeSshd(tree, refuse={"ciphers bogus-cipher": "Bad SSH2 cipher spec 'bogus-cipher'."})
    before = tree.snapshot()
    with pytest.raises(engine.ApplyError) as raised:
        Run(tree, [bogus], sshd=sshd)
    assert "sshd -t refuses the candidate configuration, so nothing was changed" in str(raised.value)
    assert f"{DROP_IN} (candidate) line 4: Bad SSH2 cipher spec" in str(raised.value)
    assert tree.snapshot() == before


def test_nobody_knows_who_is_connected_changes_nothing(tree):
    with pytest.raises(engine.ApplyError, match="cannot tell which account and port Ansible connects with"):
        Run(tree, [ROOT_LOGIN], session=False)
    assert tree.read(DROP_IN) is None


def test_ansibles_connection_is_used_without_a_session(tree):
    run = Run(tree, [ROOT_LOGIN], session=False, connection={"user": "ansible", "port": 22, "method": "publickey"})
    assert run.statuses() == [("cis.sshd.permit_root_login", "fixed")]
    guard_calls = [call for call in run.module.calls if call[1:2] == ["-T"] and "-C" in call]
    assert guard_calls[0][-1] == "user=ansible,lport=22"


def test_a_local_connection_is_judged_by_sshd_t_alone(tree):
    run = Run(tree, [ROOT_LOGIN], session=False, connection={"local": True})
    assert run.statuses() == [("cis.sshd.permit_root_login", "fixed")]
    assert not any("-C" in call for call in run.module.calls)


def test_a_failed_reload_puts_everything_back_at_once(tree):
    tree.write("/etc/ssh/sshd_config.d/00-local.conf", "PermitRootLogin yes\n")
    systemd = FakeSystemd(fail={"reload": "Job for ssh.service failed because the control process exited."})
    before = tree.snapshot()
    with pytest.raises(engine.ApplyError, match=r"Job for ssh\.service failed"):
        Run(tree, [ROOT_LOGIN], systemd=systemd)
    assert tree.snapshot() == before
    assert tree.read(DROP_IN) is None
    assert not tree.file(rollback.STATE_DIR).exists()
    assert systemd.units[rollback.TIMER] is False


def test_sshd_stopping_after_the_reload_puts_everything_back_and_restarts_it(tree):
    systemd = FakeSystemd()
    systemd.stops = {"reload"}
    with pytest.raises(engine.ApplyError, match="does not run any more after the reload"):
        Run(tree, [ROOT_LOGIN], systemd=systemd)
    assert tree.read(DROP_IN) is None
    assert systemd.units["ssh.service"] is True
    assert not tree.file(rollback.STATE_DIR).exists()


def test_only_ssh_socket_running_means_nothing_to_reload(tree):
    systemd = FakeSystemd({"ssh.service": False, "ssh.socket": True})
    run = Run(tree, [ROOT_LOGIN], systemd=systemd)
    assert run.statuses() == [("cis.sshd.permit_root_login", "fixed")]
    assert not any(call[1:2] in (["reload"], ["restart"]) for call in run.module.calls)
    assert "# ssh.service did not run" in tree.read(f"{rollback.STATE_DIR}/restore.sh")


class Failing(engine.Family):
    """A family after sshd whose action fails, so that the engine undoes sshd's change."""

    name = "failing"

    def validate(self, node, control, spec):
        return spec

    def inspect(self, node, items):
        def fail():
            raise OSError("disk full")

        action = engine.Action("failing", "fail", fail)
        return {
            ctl["id"]: engine.Finding(differences=[c.difference("x", "x", 1, 0)], actions=[action])
            for ctl, _spec in items
        }


def test_the_engine_undo_restores_the_files_reloads_and_disarms(tree):
    tree.write("/etc/ssh/sshd_config.d/00-local.conf", "PermitRootLogin yes\n")
    before = tree.snapshot()
    failing = {**control("z.failing", {}), "family": "failing", "spec": {}}
    with pytest.raises(engine.ApplyError, match="undid 1 earlier change"):
        Run(tree, [ROOT_LOGIN, failing], extra_families=[Failing()])
    assert tree.snapshot() == before
    assert not tree.file(rollback.STATE_DIR).exists()


CIS_5_1 = [
    control("cis.sshd.banner", {"Banner": "/etc/issue.net"}),
    control("cis.sshd.ciphers", {"Ciphers": CIPHERS}),
    control("cis.sshd.client_alive", {"ClientAliveInterval": 15, "ClientAliveCountMax": 3}),
    control("cis.sshd.hostbased_authentication", {"HostbasedAuthentication": False}),
    control("cis.sshd.ignore_rhosts", {"IgnoreRhosts": True}),
    control(
        "cis.sshd.kex_algorithms",
        {"KexAlgorithms": ["sntrup761x25519-sha512@openssh.com", "curve25519-sha256", "ecdh-sha2-nistp521"]},
    ),
    control("cis.sshd.login_grace_time", {"LoginGraceTime": 60}),
    control("cis.sshd.log_level", {"LogLevel": "VERBOSE"}),
    control("cis.sshd.macs", {"MACs": ["hmac-sha2-512-etm@openssh.com", "hmac-sha2-256-etm@openssh.com"]}),
    control("cis.sshd.max_auth_tries", {"MaxAuthTries": 4}),
    control("cis.sshd.max_sessions", {"MaxSessions": 10}),
    control("cis.sshd.max_startups", {"MaxStartups": "10:30:60"}),
    control("cis.sshd.permit_empty_passwords", {"PermitEmptyPasswords": False}),
    control("cis.sshd.permit_root_login", {"PermitRootLogin": False}),
    control("cis.sshd.permit_user_environment", {"PermitUserEnvironment": False}),
    control("cis.sshd.use_pam", {"UsePAM": True}),
    control("cis.sshd.access", {"AllowUsers": ["ansible"], "DenyGroups": ["nossh"]}),
]


def test_the_whole_section_converges_once_and_then_passes(tree):
    tree.write("/etc/ssh/sshd_config.d/50-cloud-init.conf", "PasswordAuthentication yes\nPermitRootLogin yes\n")
    first = Run(tree, CIS_5_1)
    statuses = dict(first.statuses())
    # sshd's defaults already meet some (IgnoreRhosts, UsePAM from Debian's sshd_config, ...).
    assert set(statuses.values()) == {"fixed", "pass"}
    assert statuses["cis.sshd.permit_root_login"] == statuses["cis.sshd.ciphers"] == "fixed"
    assert statuses["cis.sshd.ignore_rhosts"] == statuses["cis.sshd.use_pam"] == "pass"
    assert first.result["actions"] == [f"install {DROP_IN} and reload sshd"]
    assert [name for name in first.names() if name in ("systemctl reload", "atomic_move")] == [
        "atomic_move",
        "systemctl reload",
    ]
    again = Run(tree, CIS_5_1, systemd=first.systemd)
    assert {status for _cid, status in again.statuses()} == {"pass"}
    assert again.result["changed"] is False
    check = Run(tree, CIS_5_1, systemd=first.systemd, check_mode=True)
    assert check.result["actions"] == []
