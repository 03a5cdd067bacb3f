# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""controlplane_baseline through AnsibleModule on a kubeadm node in a temporary tree: arguments as
documented, their checks, a run with kube-bench's verdicts in every result, failures."""

from __future__ import annotations

import json
import os

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.nodeguard.hardening.plugins.module_utils._controlplane import families
from ansible_collections.nodeguard.hardening.plugins.module_utils._controlplane.manifest import Manifest
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node
from ansible_collections.nodeguard.hardening.plugins.modules import controlplane_baseline

from ..module_utils.controlplane.conftest import (
    APISERVER,
    APISERVER_PATH,
    BACKUPS,
    BENCHMARK,
    MANIFESTS,
    add_process,
    control_plane,
)
from ..module_utils.system.conftest import FakeModule, Tree

PROFILING = {
    "id": "cis.apiserver.profiling",
    "title": "The API server does not serve profiling data",
    "benchmarks": [{"benchmark": BENCHMARK, "section": "1.2.15"}],
    "family": "controlplane_flags",
    "spec": {"component": "kube-apiserver", "set": {"profiling": False}},
}
MANIFEST_MODE = {
    "id": "cis.controlplane.apiserver_manifest_mode",
    "title": "The static pod manifest of the API server is mode 0600 or stricter",
    "benchmarks": [{"benchmark": BENCHMARK, "section": "1.1.1"}],
    "family": "controlplane_files",
    "spec": {"paths": [APISERVER_PATH], "mode": "0600", "only_if_exists": APISERVER_PATH},
}
ACCOUNT = {
    "id": "cis.controlplane.etcd_account",
    "title": "etcd has its own system account",
    "family": "controlplane_account",
    "spec": {"user": "etcd", "group": "etcd", "home": "/var/lib/etcd", "only_if_exists": APISERVER_PATH},
}


@pytest.fixture
def tree(tmp_path):
    return control_plane(Tree(tmp_path), mode=0o644)


@pytest.fixture
def commands(tree, monkeypatch):
    """The node's commands behind the real AnsibleModule: a FakeModule's scripted table."""
    router = FakeModule([])
    monkeypatch.setattr(controlplane_baseline, "Node", lambda module: Node(module, tree.paths))
    module_class = controlplane_baseline.AnsibleModule
    monkeypatch.setattr(
        module_class, "run_command", lambda self, args, **kw: router.run_command(args, data=kw.get("data"))
    )
    monkeypatch.setattr(module_class, "get_bin_path", lambda self, name, **kw: f"/usr/sbin/{name}")
    monkeypatch.setattr(module_class, "atomic_move", lambda self, src, dest, **kw: os.rename(src, dest))
    return router


def run_main(args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        controlplane_baseline.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


def statuses(out):
    return [(entry["id"], entry["status"]) for entry in out["controls"]]


def kube_bench(out, index=0):
    return [(v["check"], v["state"]) for v in out["controls"][index]["details"]["kube_bench"]]


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
        if "options" in option:
            assert_same_options(doc["suboptions"], option["options"], here)


def test_argument_spec_matches_the_documentation():
    documented = yaml.safe_load(controlplane_baseline.DOCUMENTATION)["options"]
    assert_same_options(documented, controlplane_baseline.argument_spec(), "options")
    assert documented["controls"]["suboptions"]["family"]["choices"] == families.NAMES
    assert [f.name for f in families.build(controlplane_baseline.Options())] == families.NAMES
    assert yaml.safe_load(controlplane_baseline.EXAMPLES)
    assert set(yaml.safe_load(controlplane_baseline.RETURN)) == {"actions", "controls", "summary"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"backup_dir": MANIFESTS}, f"backup_dir {MANIFESTS} is inside manifests_dir"),
        ({"backup_dir": f"{MANIFESTS}/backups"}, f"backup_dir {MANIFESTS}/backups is inside manifests_dir"),
        ({"backup_dir": f"{MANIFESTS}/"}, f"backup_dir {MANIFESTS} is inside manifests_dir"),
        ({"manifests_dir": "/srv/pods", "backup_dir": "/srv/pods/old"}, "backup_dir /srv/pods/old is inside"),
        ({"health_timeout": 9}, "health_timeout must be from 10 to 900 seconds, got 9"),
        ({"health_timeout": 901}, "health_timeout must be from 10 to 900 seconds, got 901"),
        ({"backup_keep": 0}, "backup_keep must be from 1 to 100, got 0"),
        ({"backup_keep": 101}, "backup_keep must be from 1 to 100, got 101"),
        ({"controls": [{**PROFILING, "family": "kubelet_config"}]}, "value of family must be one of"),
        ({"controls": [{**PROFILING, "id": "Profiling"}]}, "control id 'Profiling' is not valid"),
        (
            {"controls": [{**PROFILING, "spec": {"component": "kube-apiserver", "set": {"profiling": "off"}}}]},
            'invalid argument "off" for "--profiling" flag of kube-apiserver',
        ),
    ],
)
def test_bad_arguments_fail_before_anything_is_touched(tree, commands, capsys, args, message):
    before = tree.snapshot()
    rc, out = run_main({"controls": [PROFILING], **args}, capsys)
    assert rc == 1
    assert message in out["msg"]
    assert tree.snapshot() == before
    assert commands.calls == []


@pytest.mark.parametrize(
    ("args", "options"),
    [
        ({}, controlplane_baseline.Options()),
        (
            {"manifests_dir": "/srv/pods/", "backup_dir": "/srv/pods-backup", "backup_keep": 1, "health_timeout": 10},
            controlplane_baseline.Options("/srv/pods", "/srv/pods-backup", 1, 10),
        ),
        (
            {"backup_keep": 100, "health_timeout": 900},
            controlplane_baseline.Options(backup_keep=100, health_timeout=900),
        ),
    ],
)
def test_options_within_range_are_taken(tree, commands, capsys, monkeypatch, args, options):
    seen = []
    monkeypatch.setattr(controlplane_baseline.families, "build", lambda given: seen.append(given) or [])
    monkeypatch.setattr(
        controlplane_baseline.engine,
        "run",
        lambda module, node, built: {"changed": False, "controls": [], "summary": {}, "diff": [], "actions": []},
    )
    rc, _out = run_main({"controls": [], **args}, capsys)
    assert rc == 0
    assert seen == [options]


# -- runs --------------------------------------------------------------------------------------------
def test_check_mode_then_apply_then_pass_with_kube_benchs_verdicts(tree, commands, capsys):
    before = tree.snapshot()
    rc, out = run_main(
        {"controls": [PROFILING, MANIFEST_MODE], "_ansible_check_mode": True, "_ansible_diff": True}, capsys
    )
    assert rc == 0, out
    assert statuses(out) == [(PROFILING["id"], "drift"), (MANIFEST_MODE["id"], "drift")]
    assert out["diff"][0]["after_header"] == APISERVER_PATH
    assert "--profiling" not in out["diff"][0]["before"]
    assert "    - --profiling=false\n" in out["diff"][0]["after"]
    assert tree.snapshot() == before
    # Nothing runs: kube-bench cannot detect the programs and fails every process check.
    assert kube_bench(out) == [("1.2.15", "FAIL")]
    assert (
        "kube-apiserver, kube-scheduler, kube-controller-manager not running"
        in (out["controls"][0]["details"]["kube_bench"][0]["actual"])
    )
    assert kube_bench(out, 1) == [("1.1.1", "FAIL")]

    rc, out = run_main({"controls": [PROFILING, MANIFEST_MODE]}, capsys)
    assert rc == 0, out
    assert statuses(out) == [(PROFILING["id"], "fixed"), (MANIFEST_MODE["id"], "fixed")]
    assert out["changed"] is True
    assert out["summary"] == {"pass": 0, "fixed": 2, "drift": 0, "skipped": 0, "error": 0}
    assert out["actions"][0] == f"write {APISERVER_PATH} (kube-apiserver is not running: not waited for)"
    assert Manifest(APISERVER_PATH, tree.read(APISERVER_PATH)).flags()["profiling"] == "false"
    assert kube_bench(out, 1) == [("1.1.1", "PASS")]  # judged on the node as it is after the run
    assert sorted(os.listdir(tree.file(MANIFESTS))) == ["kube-apiserver.yaml"]
    assert len(os.listdir(tree.file(BACKUPS))) == 1

    # The components run now, with the new command line: kube-bench passes 1.2.15 too.
    add_process(tree, 100, Manifest(APISERVER_PATH, tree.read(APISERVER_PATH)).command)
    add_process(tree, 101, ["kube-scheduler", "--bind-address=127.0.0.1"])
    add_process(tree, 102, ["kube-controller-manager", "--bind-address=127.0.0.1"])
    rc, out = run_main({"controls": [PROFILING, MANIFEST_MODE]}, capsys)
    assert rc == 0, out
    assert statuses(out) == [(PROFILING["id"], "pass"), (MANIFEST_MODE["id"], "pass")]
    assert (out["changed"], out["actions"]) == (False, [])
    assert out["controls"][0]["details"]["kube_bench"] == [
        {
            "check": "1.2.15",
            "state": "PASS",
            "expected": "'--profiling' is equal to 'false'",
            "actual": out["controls"][0]["details"]["kube_bench"][0]["actual"],
            "source": "command line",
        }
    ]
    assert "--profiling=false" in out["controls"][0]["details"]["kube_bench"][0]["actual"]


def test_a_failed_command_undoes_the_run_and_fails(tree, commands, capsys):
    commands.commands["groupadd"] = lambda argv: (0, "", "")
    commands.commands["groupdel"] = lambda argv: (0, "", "")
    commands.commands["useradd"] = lambda argv: (1, "", "useradd: cannot lock /etc/passwd")
    rc, out = run_main({"controls": [ACCOUNT]}, capsys)
    assert rc == 1
    assert out["changed"] is False
    assert out["msg"].endswith("useradd: cannot lock /etc/passwd; undid 1 earlier change(s) of this run")
    assert [argv[0] for argv in commands.calls] == ["groupadd", "useradd", "groupdel"]


def test_a_worker_node_reports_every_control_skipped(tmp_path, commands, capsys, monkeypatch):
    (tmp_path / "worker").mkdir()
    worker = Tree(tmp_path / "worker")
    monkeypatch.setattr(controlplane_baseline, "Node", lambda module: Node(module, worker.paths))
    rc, out = run_main({"controls": [PROFILING, MANIFEST_MODE, ACCOUNT]}, capsys)
    assert rc == 0, out
    assert [status for _cid, status in statuses(out)] == ["skipped"] * 3
    assert out["changed"] is False
    assert commands.calls == []


def test_a_manifest_that_is_not_a_pod_fails_with_its_path(tree, commands, capsys):
    tree.write(APISERVER_PATH, APISERVER.replace("kind: Pod", "kind: Deployment"), 0o600)
    rc, out = run_main({"controls": [PROFILING]}, capsys)
    assert rc == 1
    assert out["msg"] == f"{APISERVER_PATH}: not a Pod (apiVersion v1, kind Pod); nothing was changed"
