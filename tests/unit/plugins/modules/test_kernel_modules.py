# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import functools
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.nodeguard.hardening.plugins.modules import kernel_modules

PATH = "/etc/modules-load.d/nodeguard-hardening.conf"
AVAILABLE = {"br_netfilter", "overlay"}


class Node:
    """The fake node plus what modprobe was asked."""

    def __init__(self, root):
        self.root = root
        self.module_root = root / "sys" / "module"
        self.module_root.mkdir(parents=True)
        (root / "root").mkdir()
        self.calls = []

    @property
    def conf(self):
        return self.root / "root" / PATH.lstrip("/")

    def run_command(self, args):
        self.calls.append(list(args))
        name = args[-1]
        if name not in AVAILABLE:
            return 1, "", f"modprobe: FATAL: Module {name} not found"
        if args[1:3] != ["-n", "-q"]:
            (self.module_root / name).mkdir()
        return 0, "", ""

    def loads(self):
        return [call for call in self.calls if call[1:3] != ["-n", "-q"]]

    def snapshot(self):
        return {str(p.relative_to(self.root)): p.read_bytes() for p in sorted(self.root.rglob("*")) if p.is_file()}


@pytest.fixture
def node(tmp_path, monkeypatch):
    node = Node(tmp_path)
    monkeypatch.setattr(
        kernel_modules,
        "NodePaths",
        functools.partial(
            kernel_modules.NodePaths, module_root=str(node.module_root), conf_root=str(tmp_path / "root")
        ),
    )
    monkeypatch.setattr(kernel_modules.AnsibleModule, "get_bin_path", lambda self, *a, **kw: "/sbin/modprobe")
    monkeypatch.setattr(kernel_modules.AnsibleModule, "run_command", lambda self, args, **kw: node.run_command(args))
    return node


def run_main(args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        kernel_modules.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


NET = {"id": "k8s.kernel_modules", "title": "Modules container networking needs", "load": ["br_netfilter", "overlay"]}


def test_apply(node, capsys):
    rc, out = run_main({"controls": [NET]}, capsys)
    assert rc == 0
    assert out["changed"] is True
    assert out["loaded"] == ["br_netfilter", "overlay"]
    assert [(r["id"], r["status"]) for r in out["controls"]] == [("k8s.kernel_modules", "fixed")]
    assert out["summary"] == {"pass": 0, "fixed": 1, "drift": 0, "skipped": 0, "error": 0}
    assert node.loads() == [["/sbin/modprobe", "br_netfilter"], ["/sbin/modprobe", "overlay"]]
    assert node.conf.read_text().endswith(
        "# k8s.kernel_modules: Modules container networking needs\nbr_netfilter\noverlay\n"
    )


def test_apply_twice(node, capsys):
    run_main({"controls": [NET]}, capsys)
    before = node.snapshot()
    rc, out = run_main({"controls": [NET]}, capsys)
    assert rc == 0
    assert out["changed"] is False
    assert out["summary"]["pass"] == 1
    assert node.snapshot() == before


def test_check_mode(node, capsys):
    rc, out = run_main({"controls": [NET], "_ansible_check_mode": True}, capsys)
    assert rc == 0
    assert out["changed"] is True
    assert out["loaded"] == ["br_netfilter", "overlay"]
    assert out["summary"]["drift"] == 1
    assert node.loads() == []
    assert not node.conf.exists()


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        (
            {"controls": [dict(NET, load=["br netfilter"])]},
            "control 'k8s.kernel_modules': 'br netfilter' is not a kernel module name",
        ),
        (
            {"controls": [dict(NET, load=["ip_vs"])], "missing": "fail"},
            "control 'k8s.kernel_modules': this kernel has no module ip_vs (set missing=skip to report it as skipped)",
        ),
        ({"controls": [dict(NET, load=["-r"])]}, "control 'k8s.kernel_modules': '-r' is not a kernel module name"),
    ],
    ids=["bad-name", "missing-fail", "option-as-name"],
)
def test_invalid_input_fails(node, capsys, args, msg):
    rc, out = run_main(args, capsys)
    assert rc == 1
    assert out["failed"] is True
    assert out["changed"] is False
    assert out["msg"] == msg
    assert node.loads() == []
    assert node.snapshot() == {}


@pytest.mark.parametrize(
    "path",
    ["/etc/modules", "/run/modules-load.d/nodeguard-hardening.conf", "/usr/lib/modules-load.d/x.conf"],
    ids=["etc-modules", "run", "vendor-dir"],
)
def test_bad_path_fails(node, capsys, path):
    rc, out = run_main({"controls": [NET], "path": path}, capsys)
    assert rc == 1
    assert out["failed"] is True
    assert out["changed"] is False
    assert out["msg"].startswith(f"path '{path}' must be a '.conf' file")
    assert "directly in /etc/modules-load.d: systemd-modules-load reads it at every boot" in out["msg"]
    assert node.calls == []
    assert node.snapshot() == {}


def test_unknown_suboption(node, capsys):
    rc, out = run_main({"controls": [dict(NET, modules=["overlay"])]}, capsys)
    assert rc == 1
    assert out["failed"] is True
    assert "module: controls.modules. Supported parameters include: benchmarks," in out["msg"]
    assert node.calls == []
