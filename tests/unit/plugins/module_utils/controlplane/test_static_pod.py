# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Replacing a static pod manifest: backups, the wait for a healthy component, the roll back.

Processes are /proc entries of the tree; the component's probe is a real HTTP server on
127.0.0.1 (an ephemeral port) answering 200 or 401.
"""

from __future__ import annotations

import os
import re

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._controlplane import static_pod
from ansible_collections.nodeguard.hardening.plugins.module_utils._controlplane.manifest import Manifest
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError

from ..system.conftest import FakeModule, Tree
from .conftest import BACKUPS, MANIFESTS, add_process, scheduler

PATH = f"{MANIFESTS}/kube-scheduler.yaml"
STAMP = re.compile(r"^kube-scheduler\.yaml\.\d{8}T\d{6}$")


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch):
    monkeypatch.setattr(static_pod, "POLL", 0.01)


@pytest.fixture
def tree(tmp_path) -> Tree:
    return Tree(tmp_path)


def node_of(tree: Tree):
    return tree.node(FakeModule([]))


def argv(text: str) -> list[str]:
    manifest = Manifest(PATH, text)
    return manifest.command + manifest.args


# --- backups -------------------------------------------------------------------------------------------
def test_a_backup_is_a_private_copy_named_by_time_outside_the_manifests(tree):
    node = node_of(tree)
    saved = static_pod.backup(node, static_pod.Options(), PATH, "old text\n")
    assert os.path.dirname(saved) == BACKUPS
    assert STAMP.match(os.path.basename(saved))
    assert tree.read(saved) == "old text\n"
    assert tree.file(saved).stat().st_mode & 0o777 == 0o600
    assert tree.file(BACKUPS).stat().st_mode & 0o777 == 0o700
    assert not tree.file(MANIFESTS).exists()


def test_backups_in_the_same_second_are_numbered(tree, monkeypatch):
    monkeypatch.setattr(static_pod.time, "strftime", lambda fmt, when: "20250101T000000")
    node = node_of(tree)
    names = [os.path.basename(static_pod.backup(node, static_pod.Options(), PATH, f"{n}\n")) for n in range(3)]
    assert names == [
        "kube-scheduler.yaml.20250101T000000",
        "kube-scheduler.yaml.20250101T000000.2",
        "kube-scheduler.yaml.20250101T000000.3",
    ]


@pytest.mark.parametrize("keep", [1, 3, 7])
def test_only_the_newest_backups_are_kept(tree, keep):
    old = [f"kube-scheduler.yaml.2024010{n}T000000" for n in range(1, 7)]
    for age, name in enumerate(reversed(old)):
        target = tree.write(f"{BACKUPS}/{name}", name)
        os.utime(target, (1_700_000_000 - age * 100, 1_700_000_000 - age * 100))
    tree.write(f"{BACKUPS}/etcd.yaml.20240101T000000", "etcd")
    tree.write(f"{BACKUPS}/moved/kube-scheduler.yaml.bak", "moved")
    saved = static_pod.backup(node_of(tree), static_pod.Options(backup_keep=keep), PATH, "new\n")
    left = sorted(name for name in os.listdir(tree.file(BACKUPS)) if name.startswith("kube-scheduler.yaml."))
    assert left == sorted(
        [*old[len(old) - (keep - 1) :], os.path.basename(saved)] if keep > 1 else [os.path.basename(saved)]
    )
    assert tree.read(f"{BACKUPS}/etcd.yaml.20240101T000000") == "etcd"
    assert tree.read(f"{BACKUPS}/moved/kube-scheduler.yaml.bak") == "moved"


# --- processes ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("process", "runs"),
    [
        (["kube-scheduler", "--bind-address=127.0.0.1", "--profiling=false"], True),
        (["/usr/local/bin/kube-scheduler", "--bind-address=127.0.0.1", "--profiling=false"], True),
        (["/usr/bin/python3", "/opt/lab/kube-scheduler", "--bind-address=127.0.0.1", "--profiling=false"], True),
        (["/usr/bin/python3", "-u", "/opt/lab/kube-scheduler", "--bind-address=127.0.0.1", "--profiling=false"], True),
        (["/usr/bin/python3", "/opt/lab/standin", "--bind-address=127.0.0.1", "--profiling=false"], False),
        (["kube-scheduler", "--bind-address=127.0.0.1"], False),
        (["kube-scheduler", "--bind-address=127.0.0.1", "--profiling=true"], False),
        (["kube-scheduler", "--profiling=false", "--bind-address=127.0.0.1"], False),
        (["--profiling=false"], False),
    ],
)
def test_runs_matches_the_manifests_command_line(process, runs):
    assert static_pod.runs(process, Manifest(PATH, scheduler(10259, "--profiling=false"))) is runs


def test_processes_are_found_by_their_command_name(tree):
    add_process(tree, 12, ["/usr/local/bin/kube-controller-manager", "--v=2"])
    add_process(tree, 7, ["kube-scheduler", "--v=1"])
    add_process(tree, 30, ["/usr/bin/python3", "/opt/lab/kube-scheduler", "--v=3"], comm="kube-scheduler")
    add_process(tree, 2, [], comm="kube-scheduler")  # a kernel thread: no command line
    add_process(tree, 40, ["bash"])
    tree.write("/proc/self/comm", "kube-scheduler\n")
    node = node_of(tree)
    assert static_pod.processes(node, "kube-scheduler") == [
        ["kube-scheduler", "--v=1"],
        ["/usr/bin/python3", "/opt/lab/kube-scheduler", "--v=3"],
    ]
    assert static_pod.processes(node, "kube-controller-manager") == [
        ["/usr/local/bin/kube-controller-manager", "--v=2"]
    ]
    assert static_pod.processes(node, "etcd") == []


def test_without_proc_there_are_no_processes(tree):
    assert static_pod.processes(node_of(tree), "kube-scheduler") == []


# --- waiting for health -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "running", "healthy", "seen"),
    [
        (200, True, True, "http://127.0.0.1:{port}/healthz answered 200 OK"),
        (401, True, False, "http://127.0.0.1:{port}/healthz answered 401 Unauthorized"),
        (200, False, False, "no kube-scheduler process with the manifest's command line"),
    ],
)
def test_wait_healthy(tree, probe_server, status, running, healthy, seen):
    probe_server.status = status
    port = probe_server.server_address[1]
    text = scheduler(port, "--profiling=false")
    if running:
        add_process(tree, 100, ["/usr/bin/python3", "/opt/lab/kube-scheduler", *argv(text)[1:]], "kube-scheduler")
    else:
        add_process(tree, 100, argv(scheduler(port)))
    result = static_pod.wait_healthy(node_of(tree), Manifest(PATH, text), 0)
    assert result == (healthy, seen.format(port=port))
    assert probe_server.hits == (1 if running else 0)


def test_wait_healthy_polls_until_the_probe_answers(tree, probe_server, monkeypatch):
    probe_server.status = 401
    text = scheduler(probe_server.server_address[1])
    add_process(tree, 100, argv(text))
    calls = []
    real = static_pod.probe_once

    def probe_once(probe, timeout=3.0):
        calls.append(probe.url)
        if len(calls) == 3:
            probe_server.status = 200
        return real(probe, timeout)

    monkeypatch.setattr(static_pod, "probe_once", probe_once)
    healthy, _seen = static_pod.wait_healthy(node_of(tree), Manifest(PATH, text), 10)
    assert healthy is True
    assert len(calls) == 3


def test_a_manifest_without_http_probe_is_healthy_once_it_runs(tree):
    text = scheduler(1).replace("      httpGet:", "      tcpSocket:").replace("        path: /healthz\n", "")
    add_process(tree, 100, argv(text))
    assert static_pod.wait_healthy(node_of(tree), Manifest(PATH, text), 0) == (
        True,
        "running (the manifest has no HTTP probe)",
    )


# --- change_action ------------------------------------------------------------------------------------
def setup_change(tree: Tree, port: int, running: str | None):
    old, new = scheduler(port), scheduler(port, "--profiling=false")
    tree.write(PATH, old, 0o600)
    if running:
        add_process(tree, 100, argv(old if running == "old" else new))
    node = node_of(tree)
    action = static_pod.change_action(node, Manifest(PATH, old), new, static_pod.Options(health_timeout=0), 0o600)
    return old, new, action


def manifests_dir(tree: Tree) -> list[str]:
    return sorted(os.listdir(tree.file(MANIFESTS)))


def backups(tree: Tree) -> list[str]:
    return sorted(os.listdir(tree.file(BACKUPS)))


def test_a_change_writes_waits_and_keeps_a_backup(tree, probe_server):
    _old, new, action = setup_change(tree, probe_server.server_address[1], "new")
    assert action.key == f"manifest:{PATH}"
    assert action.what == f"write {PATH} (and wait up to 0 s for kube-scheduler to answer)"
    action.run()
    assert tree.read(PATH) == new
    assert tree.file(PATH).stat().st_mode & 0o777 == 0o600
    assert manifests_dir(tree) == ["kube-scheduler.yaml"]
    assert len(backups(tree)) == 1
    assert probe_server.hits == 1


def test_the_diff_shows_both_texts(tree, probe_server):
    old, new, action = setup_change(tree, probe_server.server_address[1], None)
    assert action.diff == [{"before_header": PATH, "after_header": PATH, "before": old, "after": new}]


def test_an_unhealthy_component_gets_its_previous_manifest_back(tree, probe_server):
    probe_server.status = 401
    port = probe_server.server_address[1]
    old, _new, action = setup_change(tree, port, "new")
    with pytest.raises(CommandError) as error:
        action.run()
    saved = f"{BACKUPS}/{backups(tree)[0]}"
    assert str(error.value) == (
        f"kube-scheduler did not come up healthy with the new {PATH} within 0 s "
        f"(last: http://127.0.0.1:{port}/healthz answered 401 Unauthorized); the previous manifest was put back "
        f"(a copy of it is {saved}) and it does not answer yet either "
        "(no kube-scheduler process with the manifest's command line): see the kubelet's log"
    )
    assert tree.read(PATH) == old
    assert tree.read(saved) == old
    assert manifests_dir(tree) == ["kube-scheduler.yaml"]


def test_a_component_that_never_restarts_is_rolled_back_and_answers_again(tree, probe_server):
    old, _new, action = setup_change(tree, probe_server.server_address[1], "old")
    with pytest.raises(CommandError) as error:
        action.run()
    message = str(error.value)
    assert "(last: no kube-scheduler process with the manifest's command line)" in message
    assert message.endswith(f"(a copy of it is {BACKUPS}/{backups(tree)[0]}) and it answers again")
    assert tree.read(PATH) == old


def test_undo_puts_the_previous_manifest_back(tree, probe_server):
    old, new, action = setup_change(tree, probe_server.server_address[1], "new")
    action.run()
    assert tree.read(PATH) == new
    action.undo()
    assert tree.read(PATH) == old
    assert manifests_dir(tree) == ["kube-scheduler.yaml"]


def test_a_manifest_changed_while_reading_is_not_written(tree, probe_server):
    _old, _new, action = setup_change(tree, probe_server.server_address[1], None)
    tree.write(PATH, "changed by someone else\n", 0o600)
    with pytest.raises(CommandError) as error:
        action.run()
    assert str(error.value) == f"{PATH} changed while this run was reading it; nothing was written, run again"
    assert tree.read(PATH) == "changed by someone else\n"
    assert not tree.file(BACKUPS).exists()


def test_a_component_that_is_not_running_is_not_waited_for(tree, probe_server):
    probe_server.status = 401
    _old, new, action = setup_change(tree, probe_server.server_address[1], None)
    assert action.what == f"write {PATH} (kube-scheduler is not running: not waited for)"
    action.run()
    assert tree.read(PATH) == new
    assert probe_server.hits == 0
    assert manifests_dir(tree) == ["kube-scheduler.yaml"]


def test_stray_files_are_the_visible_files_of_other_names(tree):
    for name in ("kube-scheduler.yaml", "kube-scheduler.yaml.bak", ".kube-scheduler.yaml.swp", "notes.txt"):
        tree.write(f"{MANIFESTS}/{name}", "x")
    assert static_pod.stray_files(node_of(tree), MANIFESTS, ["kube-scheduler.yaml"]) == [
        "kube-scheduler.yaml.bak",
        "notes.txt",
    ]
    assert static_pod.stray_files(node_of(tree), "/etc/nowhere", []) == []
