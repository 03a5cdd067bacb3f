# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import functools
import json
import stat
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.nodeguard.hardening.plugins.modules import sysctl_baseline

PATH = "/etc/sysctl.d/zz-nodeguard-hardening.conf"
LIVE = {"net/ipv4/ip_forward": "0", "kernel/panic": "0", "net/ipv4/ip_local_port_range": "32768\t60999"}


class Node:
    def __init__(self, root: Path):
        self.root = root
        for rel, value in LIVE.items():
            path = root / "proc" / "sys" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(value + "\n")
        (root / "sys" / "module").mkdir(parents=True)
        (root / "root").mkdir()

    def live(self, rel):
        return (self.root / "proc" / "sys" / rel).read_text()

    @property
    def conf(self) -> Path:
        return self.root / "root" / PATH.lstrip("/")

    def snapshot(self):
        return {str(p.relative_to(self.root)): p.read_bytes() for p in sorted(self.root.rglob("*")) if p.is_file()}


@pytest.fixture
def node(tmp_path, monkeypatch):
    node = Node(tmp_path)
    host = functools.partial(
        sysctl_baseline.NodePaths,
        proc_root=str(tmp_path / "proc" / "sys"),
        module_root=str(tmp_path / "sys" / "module"),
        conf_root=str(tmp_path / "root"),
    )
    monkeypatch.setattr(sysctl_baseline, "NodePaths", host)
    return node


def run_main(args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        sysctl_baseline.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


def control(cid, sysctl, **extra):
    return {"id": cid, "title": f"title of {cid}", "sysctl": sysctl, **extra}


FORWARD = control("k8s.sysctl.ip_forward", {"net.ipv4.ip_forward": 1})
PANIC = control(
    "k8s.sysctl.panic",
    {"kernel.panic": 10},
    level=1,
    profile="node",
    benchmarks=[{"benchmark": "CIS Debian Linux 12 v1.1.0", "section": "1.5.1"}],
)


def test_apply(node, capsys):
    rc, out = run_main({"controls": [FORWARD, PANIC]}, capsys)
    assert rc == 0
    assert out["changed"] is True
    assert "failed" not in out
    assert out["path"] == PATH
    assert [(r["id"], r["status"]) for r in out["controls"]] == [
        ("k8s.sysctl.ip_forward", "fixed"),
        ("k8s.sysctl.panic", "fixed"),
    ]
    assert out["controls"][1] == {
        "id": "k8s.sysctl.panic",
        "title": "title of k8s.sysctl.panic",
        "benchmarks": [{"benchmark": "CIS Debian Linux 12 v1.1.0", "section": "1.5.1"}],
        "level": 1,
        "profile": "node",
        "status": "fixed",
        "reason": f"kernel.panic (live): '0', expected '10'; kernel.panic ({PATH}): absent, expected '10'",
        "expected": {"kernel.panic": "10"},
        "actual": {"kernel.panic": "0"},
        "differences": [
            {"item": "kernel.panic", "where": "live", "expected": "10", "actual": "0"},
            {"item": "kernel.panic", "where": PATH, "expected": "10", "actual": None},
        ],
        "details": {"live_matches": False, "persisted": False},
    }
    assert out["summary"] == {"pass": 0, "fixed": 2, "drift": 0, "skipped": 0, "error": 0}
    assert node.live("net/ipv4/ip_forward") == "1\n"
    assert node.live("kernel/panic") == "10\n"
    assert "net.ipv4.ip_forward = 1\n" in node.conf.read_text()
    assert "kernel.panic = 10\n" in node.conf.read_text()


def test_replaced_file_gets_mode_0644(node, capsys):
    # AnsibleModule.atomic_move copies the old file's mode; the drop-in's mode is fixed.
    node.conf.parent.mkdir(parents=True)
    node.conf.write_text("# old\n")
    node.conf.chmod(0o600)
    rc, out = run_main({"controls": [FORWARD]}, capsys)
    assert rc == 0
    assert out["changed"] is True
    assert stat.S_IMODE(node.conf.stat().st_mode) == 0o644
    assert node.conf.read_text().endswith("net.ipv4.ip_forward = 1\n")


def test_apply_twice(node, capsys):
    run_main({"controls": [FORWARD, PANIC]}, capsys)
    before = node.snapshot()
    rc, out = run_main({"controls": [FORWARD, PANIC]}, capsys)
    assert rc == 0
    assert out["changed"] is False
    assert out["summary"] == {"pass": 2, "fixed": 0, "drift": 0, "skipped": 0, "error": 0}
    assert node.snapshot() == before


def test_check_mode(node, capsys):
    before = node.snapshot()
    rc, out = run_main({"controls": [FORWARD, PANIC], "_ansible_check_mode": True}, capsys)
    assert rc == 0
    assert out["changed"] is True
    assert out["summary"] == {"pass": 0, "fixed": 0, "drift": 2, "skipped": 0, "error": 0}
    assert node.snapshot() == before
    assert not node.conf.exists()


def test_defaults_are_applied_to_controls(node, capsys):
    rc, out = run_main({"controls": [control("k8s.sysctl.nope", {"net.ipv4.nope": 1})]}, capsys)
    assert rc == 0
    assert out["controls"][0]["status"] == "skipped"
    assert out["controls"][0]["benchmarks"] == []
    assert out["controls"][0]["level"] is None


def test_disabled_control(node, capsys):
    off = control("k8s.sysctl.ip_forward", {"net.ipv4.ip_forward": 1}, enabled=False, reason="a router")
    rc, out = run_main({"controls": [off, PANIC]}, capsys)
    assert rc == 0
    assert out["controls"][0]["status"] == "skipped"
    assert out["controls"][0]["reason"] == "switched off: a router"
    assert node.live("net/ipv4/ip_forward") == "0\n"


@pytest.mark.parametrize(
    ("controls", "params", "msg"),
    [
        (
            [FORWARD, control("k8s.sysctl.bad", {"kernel.panic": "yes"})],
            {},
            "sysctl kernel.panic: 'yes' is not valid, this kernel takes an integer there (now '0')",
        ),
        (
            [FORWARD, control("k8s.sysctl.bad", {"net.ipv4.ip_local_port_range": "1024"})],
            {},
            (
                "sysctl net.ipv4.ip_local_port_range: '1024' is not valid, this kernel takes 2 integers there "
                "(now '32768 60999')"
            ),
        ),
        (
            [FORWARD, control("k8s.sysctl.bad", {"kernel.panic": True})],
            {},
            "sysctl kernel.panic: True is a boolean; write 1 or 0 instead",
        ),
        (
            [FORWARD, control("k8s.sysctl.nope", {"net.ipv4.nope": 1})],
            {"missing": "fail"},
            (
                "control 'k8s.sysctl.nope': this kernel has no net.ipv4.nope (set missing=skip to report such keys as "
                "skipped)"
            ),
        ),
        (
            [FORWARD, control("k8s.sysctl.other", {"net/ipv4/ip_forward": 0})],
            {},
            (
                "sysctl net.ipv4.ip_forward is set to '1' by control 'k8s.sysctl.ip_forward' and to '0' by control "
                "'k8s.sysctl.other'; switch one of them off"
            ),
        ),
        (
            [FORWARD, control("k8s.sysctl.bridge", {"kernel.panic": 1}, requires_modules=["-r"])],
            {},
            "control 'k8s.sysctl.bridge': '-r' is not a kernel module name",
        ),
    ],
    ids=["word-for-int", "one-for-two", "bool", "missing-fail", "same-key-two-values", "option-as-module-name"],
)
def test_invalid_input_fails_and_changes_nothing(node, capsys, controls, params, msg):
    before = node.snapshot()
    rc, out = run_main({"controls": controls, **params}, capsys)
    assert rc == 1
    assert out["failed"] is True
    assert out["changed"] is False
    assert out["msg"] == msg
    assert node.snapshot() == before


@pytest.mark.parametrize(
    "path",
    ["/etc/sysctl.conf", "/run/sysctl.d/zz-nodeguard-hardening.conf", "/usr/lib/sysctl.d/zz-nodeguard-hardening.conf"],
    ids=["sysctl-conf", "run", "vendor-dir"],
)
def test_bad_path_fails_and_changes_nothing(node, capsys, path):
    before = node.snapshot()
    rc, out = run_main({"controls": [FORWARD], "path": path}, capsys)
    assert rc == 1
    assert out["failed"] is True
    assert out["changed"] is False
    assert out["msg"].startswith(f"path '{path}' must be a '.conf' file")
    assert "directly in /etc/sysctl.d: systemd-sysctl reads it at every boot" in out["msg"]
    assert node.snapshot() == before


def test_vlan_key_in_either_spelling_is_one_key(node, capsys):
    rel = "net/ipv4/conf/eth0.100/rp_filter"
    (node.root / "proc" / "sys" / rel).parent.mkdir(parents=True)
    (node.root / "proc" / "sys" / rel).write_text("0\n")
    rc, out = run_main({"controls": [control("site.sysctl.vlan", {rel: 1})]}, capsys)
    assert rc == 0
    assert out["controls"][0]["expected"] == {"net.ipv4.conf.eth0/100.rp_filter": "1"}
    assert node.live(rel) == "1\n"
    assert node.conf.read_text().endswith("net.ipv4.conf.eth0/100.rp_filter = 1\n")
    rc, out = run_main({"controls": [control("site.sysctl.vlan", {"net.ipv4.conf.eth0/100.rp_filter": 1})]}, capsys)
    assert rc == 0
    assert out["changed"] is False
    assert out["controls"][0]["status"] == "pass"


def test_refused_write_fails_the_task(node, capsys, monkeypatch):
    def refuse(host, key, value):
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(sysctl_baseline._sysctl, "write_live", refuse)
    before = node.snapshot()
    rc, out = run_main({"controls": [FORWARD]}, capsys)
    assert rc == 1
    assert out["failed"] is True
    assert out["changed"] is False
    assert out["msg"].startswith("sysctl net.ipv4.ip_forward: could not set '1' (the kernel refused it)")
    assert node.snapshot() == before


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (
            {"controls": [control("k8s.sysctl.x", {"kernel.panic": 1}, colour="red")]},
            ("Unsupported parameters for", "module: controls.colour. Supported parameters include: benchmarks,"),
        ),
        (
            {"controls": [{"id": "k8s.sysctl.x", "title": "t"}]},
            ("missing required arguments: sysctl found in controls",),
        ),
        (
            {"controls": [{"id": "k8s.sysctl.x", "sysctl": {"kernel.panic": 1}}]},
            ("missing required arguments: title found in controls",),
        ),
        ({"controls": [FORWARD], "missing": "ignore"}, ("value of missing must be one of: skip, fail, got: ignore",)),
        (
            {"controls": [FORWARD], "mode": "0644"},
            ("Unsupported parameters for", "module: mode. Supported parameters include: controls, missing, path"),
        ),
        ({}, ("missing required arguments: controls",)),
    ],
    ids=["unknown-suboption", "no-sysctl", "no-title", "bad-choice", "unknown-option", "no-controls"],
)
def test_argument_spec_rejects(node, capsys, args, fragments):
    before = node.snapshot()
    rc, out = run_main(args, capsys)
    assert rc == 1
    assert out["failed"] is True
    assert [f for f in fragments if f not in out["msg"]] == []
    assert "summary" not in out
    assert node.snapshot() == before
