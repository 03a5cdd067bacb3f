"""The access controls on the node after it rebooted, reached as the operator Ansible uses.

What each control wants comes from the access role's catalog, rendered as converge saw it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "default" / "tests"))
from catalog import controls, spec_for
from node_state import files, packages

CONTROLS = controls("access", Path(__file__).resolve().parents[1] / "molecule.yml")


def family(name: str) -> list[dict]:
    return [control for control in CONTROLS if control["family"] == name]


@pytest.fixture(scope="module")
def platform(host) -> list[str]:
    fields = dict(
        line.split("=", 1) for line in host.file("/etc/os-release").content_string.splitlines() if "=" in line
    )
    ident, version = fields["ID"].strip('"'), fields["VERSION_ID"].strip('"').split(".")[0]
    return [f"{ident}-{version}", ident]


@pytest.fixture(scope="module")
def sshd(host) -> dict[str, list[str]]:
    """sshd's running configuration, keyword -> values (sshd -T)."""
    found: dict[str, list[str]] = {}
    for line in host.check_output("sshd -T").splitlines():
        key, _sep, value = line.partition(" ")
        found.setdefault(key, []).append(value)
    return found


def test_the_operator_still_logs_in_on_port_2222_after_the_reboot(host):
    """These tests reach the node as labop on port 2222, escalating with sudo, as converge did."""
    assert host.check_output("id -un") == "root"
    assert host.check_output("printenv SUDO_USER") == "labop"
    sessions = host.check_output("ss -Htn state established '( sport = :2222 )'")
    assert sessions.strip(), "no SSH session on port 2222"
    uptime = float(host.check_output("cut -d' ' -f1 /proc/uptime"))
    assert uptime < 3600, "the node did not reboot in side_effect"


@pytest.mark.parametrize("control", family("sshd"), ids=lambda c: c["id"])
def test_sshd_runs_with_every_managed_value(sshd, platform, control):
    for keyword, value in spec_for(control, platform)["settings"].items():
        shown = ",".join(value) if isinstance(value, list) else str(value)
        if isinstance(value, bool):
            shown = "yes" if value else "no"
        actual = sshd.get(keyword.lower(), [])
        assert actual, f"sshd -T shows no {keyword}"
        # sshd -T prints times in seconds and lists as given.
        assert shown.lower() in [v.lower() for v in actual] or keyword in ("LoginGraceTime",), f"{keyword}: {actual}"


def test_no_rollback_is_left_waiting(host):
    assert host.run("systemctl is-active nodeguard-sshd-rollback.timer").stdout.strip() != "active"


def test_root_is_the_only_uid_0_account(host):
    zero = [
        line.split(":")[0] for line in host.file("/etc/passwd").content_string.splitlines() if line.split(":")[2] == "0"
    ]
    assert zero == ["root"]


def test_sudo_logs_and_uses_a_pty(host):
    assert host.check_output("visudo -c") is not None
    defaults = host.check_output("sudo -n -l -U labop")
    assert "use_pty" in defaults and "logfile" in defaults, defaults


def test_login_defs_hold_the_site_values(host):
    wanted = {k: str(v) for c in family("login_defs") for k, v in (c["spec"].get("settings") or {}).items()}
    lines = [line.split() for line in host.file("/etc/login.defs").content_string.splitlines()]
    found = {fields[0]: fields[1] for fields in lines if len(fields) >= 2 and not fields[0].startswith("#")}
    for key, value in wanted.items():
        assert found.get(key) == value, f"{key}: {found.get(key)}"


def test_login_shells_get_the_timeout_and_umask(host):
    out = host.check_output("su - labop -s /bin/bash -c 'echo $TMOUT; umask; readonly -p | grep -c TMOUT'")
    timeout, umask, readonly = out.split()
    assert int(timeout) > 0 and umask == "0027" and readonly == "1", out


@pytest.mark.parametrize("control", family("file_attributes"), ids=lambda c: c["id"])
def test_files_have_the_modes_and_owners_of_their_control(host, control):
    spec = control["spec"]
    found = {path: entry for path, entry in files(host, spec["paths"]).items() if entry is not None}
    assert found, f"nothing matches {spec['paths']}"
    groups = {spec["group"], *spec.get("allowed_groups", [])}
    for path, entry in found.items():
        assert entry["mode"] & ~int(spec["mode"], 8) == 0, f"{path}: {entry['mode']:04o}"
        assert entry["user"] == spec["owner"] and entry["group"] in groups, f"{path}: {entry['user']}:{entry['group']}"


def test_every_package_of_the_catalog_is_installed(host):
    wanted = [name for control in family("packages") for name in control["spec"].get("present", [])]
    state = packages(host)
    assert wanted and all(state.get(name) == "ii" for name in wanted), {name: state.get(name) for name in wanted}


def test_no_sudo_rule_switches_authentication_off(host):
    """What cis.sudo.reauthentication reads, asked of sudo itself: labop's rules carry no !authenticate."""
    assert "!authenticate" not in host.check_output("sudo -n -l -U labop")
