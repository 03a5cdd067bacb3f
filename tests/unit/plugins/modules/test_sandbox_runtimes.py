# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sandbox_runtimes through AnsibleModule on a fake node: arguments as documented, the families in
their order, controls that need KVM switched off where it is missing, containerd_changed, failures."""

from __future__ import annotations

import json
import os

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._sandbox import containerd, virt
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node
from ansible_collections.nodeguard.hardening.plugins.modules import sandbox_runtimes

from ..module_utils.sandbox.conftest import CONFIG, CRI, DROP_IN, FakeContainerd, StdinModule, shown
from ..module_utils.system.conftest import Tree

WRAPPER = "/usr/local/libexec/nodeguard/runsc"
KATA_SHIM = "/opt/kata/bin/containerd-shim-kata-v2"
NO_KVM = (
    "this node cannot start hardware-virtualised sandboxes: /dev/kvm is missing (no KVM: enable virtualisation "
    "for this machine, or nested virtualisation for a VM)"
)
MAIN = f"""\
version = 2
[plugins."{CRI}"]
  sandbox_image = "registry.k8s.io/pause:3.9"
  [plugins."{CRI}".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."{CRI}".containerd.runtimes.runc.options]
      SystemdCgroup = true
"""
GVISOR = {
    "id": "k8s.sandbox.gvisor_handler",
    "title": "containerd has the runsc runtime handler",
    "family": "containerd_runtime",
    "spec": {
        "handler": "runsc",
        "runtime_type": "io.containerd.runc.v2",
        "inherit_options": ["SystemdCgroup"],
        "gvisor": {"binary": "/usr/bin/runsc", "flags": {"platform": "ptrace"}},
    },
}
KATA = {
    "id": "k8s.sandbox.kata_handler",
    "title": "containerd has the kata runtime handler",
    "family": "containerd_runtime",
    "requires_kvm": True,
    "spec": {"handler": "kata", "runtime_type": "io.containerd.kata.v2", "binaries": [KATA_SHIM]},
}


class Fakes:
    """The node's commands behind the real AnsibleModule, routed by a StdinModule."""

    def __init__(self, tree: Tree) -> None:
        self.router = StdinModule([])
        self.containerd = FakeContainerd(tree)
        self.containerd.register(self.router)


@pytest.fixture
def tree(tmp_path):
    tree = Tree(tmp_path)
    tree.write(CONFIG, MAIN)
    tree.write("/usr/bin/runsc", "#!/bin/sh\n", 0o755)
    tree.write(KATA_SHIM, "#!/bin/sh\n", 0o755)
    return tree


@pytest.fixture
def fakes(tree, monkeypatch):
    fakes = Fakes(tree)
    monkeypatch.setattr(sandbox_runtimes, "Node", lambda module: Node(module, tree.paths))
    module_class = sandbox_runtimes.AnsibleModule
    monkeypatch.setattr(
        module_class, "run_command", lambda self, args, **kw: fakes.router.run_command(args, data=kw.get("data"))
    )
    monkeypatch.setattr(module_class, "get_bin_path", lambda self, name, **kw: f"/usr/sbin/{name}")
    monkeypatch.setattr(module_class, "atomic_move", lambda self, src, dest, **kw: os.rename(src, dest))
    return fakes


def with_kvm(tree):
    tree.write("/proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu vmx sse2\n")
    tree.write("/dev/kvm", "", 0o660)


def run_main(args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        sandbox_runtimes.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


def statuses(out):
    return [(entry["id"], entry["status"]) for entry in out["controls"]]


# -- the interface ---------------------------------------------------------------------------------


def assert_same_options(documented: dict, spec: dict, where: str) -> None:
    assert set(documented) == set(spec), where
    for name, option in spec.items():
        doc = documented[name]
        here = f"{where}.{name}"
        assert doc["type"] == option["type"], here
        assert doc.get("required", False) == option.get("required", False), here
        assert doc.get("default") == option.get("default"), here
        assert doc.get("choices") == option.get("choices"), here
        assert doc.get("elements") == option.get("elements"), here
        assert ("suboptions" in doc) == ("options" in option), here
        if "options" in option:
            assert_same_options(doc["suboptions"], option["options"], here)


def test_argument_spec_matches_the_documentation():
    documented = yaml.safe_load(sandbox_runtimes.DOCUMENTATION)["options"]
    assert_same_options(documented, sandbox_runtimes.argument_spec(), "options")
    for key in ("EXAMPLES", "RETURN"):
        assert yaml.safe_load(getattr(sandbox_runtimes, key))
    assert set(yaml.safe_load(sandbox_runtimes.RETURN)) == {"actions", "controls", "summary", "containerd_changed"}


def test_the_documented_families_are_the_ones_main_runs_in_that_order(tree, fakes, capsys, monkeypatch):
    documented = yaml.safe_load(sandbox_runtimes.DOCUMENTATION)["options"]["controls"]["suboptions"]["family"]
    assert documented["choices"] == ["packages", "artifacts", "managed_file", "containerd_runtime", "cluster"]
    assert list(sandbox_runtimes.FAMILIES) == documented["choices"]
    seen = []

    def engine_run(module, node, families):
        seen.extend(family.name for family in families)
        return {"changed": False, "controls": [], "summary": {}, "diff": []}

    monkeypatch.setattr(sandbox_runtimes.engine, "run", engine_run)
    rc, _out = run_main({"controls": []}, capsys)
    assert rc == 0
    assert seen == documented["choices"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, containerd.Options()),
        (None, containerd.Options()),
        (
            {"config": "/etc/containerd/containerd.toml", "drop_in": "/etc/containerd/zz.toml", "version": 3},
            containerd.Options("/etc/containerd/containerd.toml", "/etc/containerd/zz.toml", 3, True),
        ),
        ({"dump_check": False}, containerd.Options(dump_check=False)),
        ({"dump_check": None}, containerd.Options(dump_check=True)),
    ],
)
def test_options(given, expected):
    assert sandbox_runtimes.options({"containerd": given}) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"config": "config.toml"}, "containerd.config must be an absolute path of a .toml file, got 'config.toml'"),
        ({"config": "/etc/containerd/config"}, "containerd.config must be an absolute path of a .toml file"),
        (
            {"drop_in": "/etc/containerd/conf.d/90-sandbox.conf"},
            "containerd.drop_in must be an absolute path of a .toml",
        ),
        ({"drop_in": "/etc/containerd/config.toml"}, "containerd.drop_in must be another file than containerd.config"),
    ],
)
def test_options_refuses(given, message):
    with pytest.raises(ControlInputError) as error:
        sandbox_runtimes.options({"containerd": given})
    assert message in str(error.value)


# -- without_virtualisation ------------------------------------------------------------------------


def controls_for_kvm():
    return [
        {"id": "k8s.sandbox.kata_handler", "enabled": True, "reason": None, "requires_kvm": True},
        {"id": "k8s.sandbox.kata_release", "enabled": False, "reason": "no Kata on this pool", "requires_kvm": True},
        {"id": "k8s.sandbox.gvisor_handler", "enabled": True, "reason": None, "requires_kvm": False},
        {"id": "k8s.sandbox.runtimeclasses", "enabled": True, "reason": None},
    ]


def test_without_virtualisation_switches_off_only_the_controls_that_need_kvm(tree):
    controls = controls_for_kvm()
    reasons = sandbox_runtimes.without_virtualisation(Node(StdinModule([]), tree.paths), controls)
    assert reasons == {"k8s.sandbox.kata_handler": NO_KVM}
    assert [(entry["id"], entry["enabled"], entry["reason"]) for entry in controls] == [
        ("k8s.sandbox.kata_handler", False, NO_KVM),
        ("k8s.sandbox.kata_release", False, "no Kata on this pool"),
        ("k8s.sandbox.gvisor_handler", True, None),
        ("k8s.sandbox.runtimeclasses", True, None),
    ]


def test_with_kvm_nothing_is_switched_off(tree):
    with_kvm(tree)
    controls = controls_for_kvm()
    assert sandbox_runtimes.without_virtualisation(Node(StdinModule([]), tree.paths), controls) == {}
    assert controls == controls_for_kvm()


def test_without_controls_that_need_kvm_the_node_is_not_asked(tree, monkeypatch):
    def asked(paths):
        raise AssertionError("missing_virtualisation must not be called")

    monkeypatch.setattr(virt, "missing_virtualisation", asked)
    controls = [entry for entry in controls_for_kvm() if not entry.get("requires_kvm") or not entry["enabled"]]
    assert sandbox_runtimes.without_virtualisation(Node(StdinModule([]), tree.paths), controls) == {}


# -- main ------------------------------------------------------------------------------------------


def test_a_node_without_kvm_gets_gvisor_and_skips_kata_with_the_reason(tree, fakes, capsys):
    rc, out = run_main({"controls": [GVISOR, KATA]}, capsys)
    assert rc == 0, out
    assert statuses(out) == [("k8s.sandbox.gvisor_handler", "fixed"), ("k8s.sandbox.kata_handler", "skipped")]
    assert out["controls"][1]["reason"] == NO_KVM
    assert out["changed"] is True
    assert out["containerd_changed"] is True
    assert out["summary"] == {"pass": 0, "fixed": 1, "drift": 0, "skipped": 1, "error": 0}
    assert out["actions"] == [
        f"write {WRAPPER}",
        f"write {DROP_IN}",
        f"write {CONFIG}",
        "check that containerd config dump shows the handlers",
    ]
    runtimes = shown(tree.read(DROP_IN))["plugins"][CRI]["containerd"]["runtimes"]
    assert sorted(runtimes) == ["runc", "runsc"]
    assert runtimes["runsc"]["options"] == {"SystemdCgroup": True, "BinaryName": WRAPPER}
    assert tree.read(CONFIG) == MAIN.replace("version = 2\n", f'version = 2\nimports = ["{DROP_IN}"]\n')

    rc, out = run_main({"controls": [GVISOR, KATA]}, capsys)
    assert rc == 0, out
    assert statuses(out) == [("k8s.sandbox.gvisor_handler", "pass"), ("k8s.sandbox.kata_handler", "skipped")]
    assert out["changed"] is False
    assert out["containerd_changed"] is False


def test_a_node_with_kvm_gets_kata_too(tree, fakes, capsys):
    with_kvm(tree)
    rc, out = run_main({"controls": [GVISOR, KATA]}, capsys)
    assert rc == 0, out
    assert statuses(out) == [("k8s.sandbox.gvisor_handler", "fixed"), ("k8s.sandbox.kata_handler", "fixed")]
    assert shown(tree.read(DROP_IN))["plugins"][CRI]["containerd"]["runtimes"]["kata"] == {
        "runtime_type": "io.containerd.kata.v2"
    }


def test_check_mode_changes_nothing_and_says_containerd_would_not_restart(tree, fakes, capsys):
    before = tree.snapshot()
    rc, out = run_main({"controls": [GVISOR], "_ansible_check_mode": True, "_ansible_diff": True}, capsys)
    assert rc == 0, out
    assert statuses(out) == [("k8s.sandbox.gvisor_handler", "drift")]
    assert out["changed"] is True
    assert out["containerd_changed"] is False
    assert [entry["after_header"] for entry in out["diff"]] == [WRAPPER, DROP_IN, CONFIG]
    assert tree.snapshot() == before
    assert fakes.router.calls == []


def test_a_switched_off_control_keeps_the_users_reason(tree, fakes, capsys):
    off = {**KATA, "enabled": False, "reason": "Kata runs on the GPU pool only"}
    rc, out = run_main({"controls": [GVISOR, off]}, capsys)
    assert rc == 0, out
    assert out["controls"][1]["status"] == "skipped"
    assert out["controls"][1]["reason"] == "switched off: Kata runs on the GPU pool only"


def test_containerd_settings_reach_the_family(tree, fakes, capsys):
    args = {
        "controls": [GVISOR],
        "containerd": {"drop_in": "/etc/containerd/conf.d/99-sandbox.toml", "dump_check": False},
    }
    rc, out = run_main(args, capsys)
    assert rc == 0, out
    assert out["actions"] == [f"write {WRAPPER}", "write /etc/containerd/conf.d/99-sandbox.toml", f"write {CONFIG}"]
    assert tree.read("/etc/containerd/conf.d/99-sandbox.toml") is not None
    assert fakes.containerd.dumps == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"controls": [{**GVISOR, "spec": {**GVISOR["spec"], "gvisor": {"flags": {"systemd-cgroup": True}}}}]},
            "control 'k8s.sandbox.gvisor_handler': runsc's --systemd-cgroup is set by containerd's shim",
        ),
        ({"controls": [{**GVISOR, "id": "Gvisor"}]}, "control id 'Gvisor' is not valid"),
        ({"controls": [GVISOR], "containerd": {"config": "config.toml"}}, "containerd.config must be an absolute path"),
        ({"controls": [{**KATA, "enabled": False}]}, "k8s.sandbox.kata_handler"),
    ],
)
def test_bad_input_fails_before_anything_is_touched(tree, fakes, capsys, args, message):
    before = tree.snapshot()
    rc, out = run_main(args, capsys)
    assert rc == 1
    assert message in out["msg"]
    assert out["changed"] is False
    assert tree.snapshot() == before
    assert fakes.router.calls == []


def test_an_unknown_family_is_refused_by_the_argument_spec(tree, fakes, capsys):
    rc, out = run_main({"controls": [{**GVISOR, "family": "sysctl"}]}, capsys)
    assert rc == 1
    assert (
        "value of family must be one of: packages, artifacts, managed_file, containerd_runtime, cluster" in out["msg"]
    )


def test_a_failed_dump_check_puts_the_files_back_and_fails(tree, fakes, capsys):
    fakes.containerd.mode = "main_only"
    before = tree.snapshot()
    rc, out = run_main({"controls": [GVISOR]}, capsys)
    assert rc == 1
    assert out["msg"].startswith(
        "check that containerd config dump shows the handlers failed: containerd config dump does not show the new "
        "settings: "
    )
    assert out["msg"].endswith("undid 3 earlier change(s) of this run")
    assert out["changed"] is False
    assert tree.snapshot() == before
