# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import functools
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.nodeguard.hardening.plugins.modules import kernel_baseline

MODULES_PATH = "/etc/modules-load.d/nodeguard-hardening.conf"
SYSCTL_PATH = "/etc/sysctl.d/zz-nodeguard-hardening.conf"
BRIDGE_KEY = "net/bridge/bridge-nf-call-iptables"


class Node:
    """A fake node: loading br_netfilter makes its bridge key appear, as in the kernel."""

    def __init__(self, root, os_release='ID=debian\nVERSION_ID="12"\n'):
        self.root = root
        self.proc = root / "proc" / "sys"
        self.module_root = root / "sys" / "module"
        self.module_root.mkdir(parents=True)
        self.conf_root = root / "root"
        (self.conf_root / "etc").mkdir(parents=True)
        (self.conf_root / "etc" / "os-release").write_text(os_release)
        self.set_live("kernel/panic", "0")
        self.calls = []

    def set_live(self, rel, value):
        path = self.proc / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value + "\n")

    def run_command(self, args):
        self.calls.append(list(args))
        name = args[-1]
        if args[1:3] != ["-n", "-q"]:
            (self.module_root / name).mkdir()
            if name == "br_netfilter":
                self.set_live(BRIDGE_KEY, "0")
        return 0, "", ""

    def snapshot(self):
        return {str(p.relative_to(self.root)): p.read_bytes() for p in sorted(self.root.rglob("*")) if p.is_file()}


def make_node(tmp_path, monkeypatch, **kwargs):
    node = Node(tmp_path, **kwargs)
    host = functools.partial(
        kernel_baseline.NodePaths,
        proc_root=str(node.proc),
        module_root=str(node.module_root),
        conf_root=str(node.conf_root),
    )
    monkeypatch.setattr(kernel_baseline, "NodePaths", host)
    monkeypatch.setattr(kernel_baseline.AnsibleModule, "get_bin_path", lambda self, *a, **kw: "/sbin/modprobe")
    monkeypatch.setattr(kernel_baseline.AnsibleModule, "run_command", lambda self, args, **kw: node.run_command(args))
    return node


@pytest.fixture
def node(tmp_path, monkeypatch):
    return make_node(tmp_path, monkeypatch)


def run_main(args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        kernel_baseline.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


NET = {"id": "k8s.kernel_modules", "title": "modules", "load": ["br_netfilter"]}
BRIDGE = {
    "id": "k8s.sysctl.bridge",
    "title": "bridge",
    "requires_modules": ["br_netfilter"],
    "sysctl": {"net.bridge.bridge-nf-call-iptables": 1},
}
PANIC = {"id": "k8s.sysctl.panic", "title": "panic", "sysctl": {"kernel.panic": 10}}


def test_modules_load_before_their_keys_are_set(node, capsys):
    rc, out = run_main({"modules": [NET], "sysctl": [BRIDGE, PANIC]}, capsys)
    assert rc == 0, out
    assert [(r["id"], r["status"]) for r in out["controls"]] == [
        ("k8s.kernel_modules", "fixed"),
        ("k8s.sysctl.bridge", "fixed"),
        ("k8s.sysctl.panic", "fixed"),
    ]
    assert (node.proc / BRIDGE_KEY).read_text() == "1\n"
    assert out["loaded"] == ["br_netfilter"]
    assert out["summary"]["fixed"] == 3
    assert (out["modules_path"], out["sysctl_path"]) == (MODULES_PATH, SYSCTL_PATH)


def test_second_run_changes_nothing(node, capsys):
    run_main({"modules": [NET], "sysctl": [BRIDGE, PANIC]}, capsys)
    before, calls = node.snapshot(), len(node.calls)
    rc, out = run_main({"modules": [NET], "sysctl": [BRIDGE, PANIC]}, capsys)
    assert rc == 0
    assert out["changed"] is False
    assert out["summary"]["pass"] == 3
    assert node.snapshot() == before
    assert len(node.calls) == calls


def test_check_mode_touches_nothing(node, capsys):
    before = node.snapshot()
    rc, out = run_main({"modules": [NET], "sysctl": [BRIDGE, PANIC], "_ansible_check_mode": True}, capsys)
    assert rc == 0
    assert out["changed"] is True
    assert out["summary"]["drift"] == 3
    assert node.snapshot() == before
    assert all(call[1:3] == ["-n", "-q"] for call in node.calls)


def test_bad_parameter_fails_before_any_module_is_loaded(node, capsys):
    before = node.snapshot()
    bad = dict(PANIC, sysctl={"kernel.panic": "yes"})
    rc, out = run_main({"modules": [NET], "sysctl": [BRIDGE, bad]}, capsys)
    assert rc == 1
    assert out["changed"] is False
    assert "kernel.panic: 'yes' is not valid, this kernel takes an integer" in out["msg"]
    assert node.snapshot() == before
    assert all(call[1:3] == ["-n", "-q"] for call in node.calls)


def test_unsupported_platform_fails_before_any_change(tmp_path, monkeypatch, capsys):
    node = make_node(tmp_path, monkeypatch, os_release='ID=fedora\nPRETTY_NAME="Fedora Linux 40"\n')
    before = node.snapshot()
    rc, out = run_main({"modules": [NET], "sysctl": [PANIC]}, capsys)
    assert rc == 1
    assert out["msg"] == "nodeguard.hardening supports Debian 12 and 13 and Ubuntu LTS; this node runs Fedora Linux 40"
    assert node.snapshot() == before
    assert node.calls == []
