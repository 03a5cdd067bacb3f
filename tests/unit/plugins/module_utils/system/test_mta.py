# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine, mta
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.mta import Mta

from .conftest import FakeModule, control

LOCAL = control("cis.mta.local_only", "mta", {"ports": [25, 465, 587]})
HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
EXIM_LOCAL = "dc_eximconfig_configtype='local'\ndc_local_interfaces='127.0.0.1 ; ::1'\ndc_minimaldns='false'\n"
EXIM_ALL = "dc_eximconfig_configtype='internet'\ndc_local_interfaces=''\ndc_minimaldns='false'\n"


def tcp_line(address: str, port: int, inode: int, state: str = "0A") -> str:
    timers = "00000000:00000000 00:00000000 00000000     0        0"
    return f"   0: {address}:{port:04X} 00000000:0000 {state} {timers} {inode}\n"


def listen(tree, v4: list[tuple[str, int, int]] = (), v6: list[tuple[str, int, int]] = ()) -> None:
    tree.write("/proc/net/tcp", HEADER + "".join(tcp_line(*entry) for entry in v4))
    tree.write("/proc/net/tcp6", HEADER + "".join(tcp_line(*entry) for entry in v6))


def process(tree, pid: int, comm: str, inode: int) -> None:
    tree.write(f"/proc/{pid}/comm", comm + "\n")
    fd = tree.file(f"/proc/{pid}/fd")
    fd.mkdir(parents=True, exist_ok=True)
    os.symlink(f"socket:[{inode}]", fd / "3")


def run(tree, controls, *, check_mode=False, active=True):
    module = FakeModule(controls, check_mode=check_mode)
    module.commands["systemctl"] = lambda argv: (0 if active else 3, "", "")
    module.commands["update-exim4.conf"] = lambda argv: (0, "", "")
    return module, engine.run(module, tree.node(module), [Mta()])


@pytest.mark.parametrize(
    ("hex_address", "address"),
    [
        ("0100007F", "127.0.0.1"),
        ("00000000", "0.0.0.0"),
        ("0B004D0A", "10.77.0.11"),
        ("00000000000000000000000001000000", "::1"),
        ("00000000000000000000000000000000", "::"),
    ],
)
def test_proc_net_addresses_are_decoded(hex_address, address):
    assert mta.decode_address(hex_address) == address


@pytest.mark.parametrize(
    ("value", "loopback"),
    [
        ("127.0.0.1 ; ::1", True),
        ("127.0.0.1", True),
        ("127.0.0.1.587 ; [::1]:25", True),
        ("", False),
        (None, False),
        ("0.0.0.0", False),
        ("127.0.0.1 ; 10.77.0.11", False),
    ],
)
def test_exim_interfaces(value, loopback):
    assert mta.exim_loopback(value) is loopback


@pytest.mark.parametrize(
    ("value", "loopback"),
    [("loopback-only", True), ("localhost", True), ("127.0.0.1, [::1]", True), ("all", False), (None, False)],
)
def test_postfix_interfaces(value, loopback):
    assert mta.postfix_loopback(value) is loopback


def test_a_node_without_mta_passes(tree):
    listen(tree, [("0100007F", 22, 5), ("00000000", 22, 6)])
    module, result = run(tree, [LOCAL])
    assert result["controls"][0]["status"] == "pass"
    assert result["controls"][0]["details"] == {"mta": "neither exim4 nor postfix is installed"}
    assert module.calls == []


def test_exim_on_loopback_passes(tree):
    tree.write(mta.EXIM_CONF, EXIM_LOCAL)
    listen(tree, [("0100007F", 25, 7)], [("00000000000000000000000001000000", 25, 8)])
    _module, result = run(tree, [LOCAL])
    assert result["controls"][0]["status"] == "pass"


def test_exim_on_every_interface_is_drift_then_fixed(tree):
    tree.write(mta.EXIM_CONF, EXIM_ALL)
    listen(tree, [("00000000", 25, 7)])
    process(tree, 700, "exim4", 7)
    module, result = run(tree, [LOCAL], check_mode=True)
    assert result["controls"][0]["status"] == "drift"
    assert result["controls"][0]["differences"] == [
        {
            "item": "dc_local_interfaces",
            "where": f"{mta.EXIM_CONF} line 2",
            "expected": "127.0.0.1 ; ::1",
            "actual": "",
        },
        {"item": "0.0.0.0:25", "where": "live", "expected": "loopback only", "actual": "listening (exim4)"},
    ]
    assert tree.read(mta.EXIM_CONF) == EXIM_ALL and module.calls == []

    # The fix: the line rewritten in place, the rest kept; exim4's config regenerated and restarted.
    def restarted(argv):
        if argv[1] == "restart":
            listen(tree, [("0100007F", 25, 9)])
        return 0, "", ""

    module = FakeModule([LOCAL])
    module.commands["systemctl"] = restarted
    module.commands["update-exim4.conf"] = lambda argv: (0, "", "")
    result = engine.run(module, tree.node(module), [Mta()])
    assert result["controls"][0]["status"] == "fixed"
    wanted = EXIM_ALL.replace("dc_local_interfaces=''", "dc_local_interfaces='127.0.0.1 ; ::1'")
    assert tree.read(mta.EXIM_CONF) == wanted
    assert [call[0] for call in module.calls] == ["update-exim4.conf", "/usr/sbin/systemctl", "/usr/sbin/systemctl"]
    assert module.calls[2][1:] == ["restart", "exim4.service"]


def test_exim_told_loopback_but_still_listening_everywhere_is_restarted(tree):
    tree.write(mta.EXIM_CONF, EXIM_LOCAL)
    listen(tree, [("00000000", 25, 7)])
    process(tree, 700, "exim4", 7)

    def restarted(argv):
        listen(tree, [("0100007F", 25, 9)])
        return 0, "", ""

    module = FakeModule([LOCAL])
    module.commands["systemctl"] = restarted
    module.commands["update-exim4.conf"] = lambda argv: (0, "", "")
    result = engine.run(module, tree.node(module), [Mta()])
    assert result["controls"][0]["status"] == "fixed"
    assert result["actions"] == ["restart exim4 so it reads its loopback-only setting"]


def test_postfix_setting_absent_means_all_and_is_added(tree):
    tree.write(mta.POSTFIX_CONF, "myhostname = node1\nmydestination = $myhostname\n")
    listen(tree, [])
    _module, result = run(tree, [LOCAL], active=False)
    assert result["controls"][0]["status"] == "fixed"
    assert tree.read(mta.POSTFIX_CONF).endswith("inet_interfaces = loopback-only\n")


def test_postfix_continuation_lines_are_replaced(tree):
    tree.write(mta.POSTFIX_CONF, "inet_interfaces = 10.77.0.11,\n    127.0.0.1\nmyhostname = node1\n")
    assert mta.postfix_value(tree.read(mta.POSTFIX_CONF), "inet_interfaces") == ("10.77.0.11, 127.0.0.1", 1)
    listen(tree, [])
    _module, result = run(tree, [LOCAL], active=False)
    assert result["controls"][0]["status"] == "fixed"
    assert tree.read(mta.POSTFIX_CONF) == "inet_interfaces = loopback-only\nmyhostname = node1\n"


def test_another_program_on_a_mail_port_is_an_error_naming_it(tree):
    listen(tree, [], [("00000000000000000000000000000000", 587, 11)])
    process(tree, 4242, "python3", 11)
    _module, result = run(tree, [LOCAL], check_mode=True)
    assert result["controls"][0]["status"] == "drift"
    module, result = run(tree, [LOCAL])
    outcome = result["controls"][0]
    assert outcome["status"] == "error"
    assert "python3 (pid 4242) on [::]:587 listens on a mail port" in outcome["reason"]
    assert module.calls == []


@pytest.mark.parametrize(
    "spec",
    [{}, {"ports": []}, {"ports": [0]}, {"ports": ["25"]}, {"ports": [True]}, {"ports": [25], "extra": 1}, None],
)
def test_bad_specs_are_refused(tree, spec):
    with pytest.raises(ControlInputError, match=r"cis\.mta\.local_only"):
        run(tree, [control("cis.mta.local_only", "mta", spec)])
