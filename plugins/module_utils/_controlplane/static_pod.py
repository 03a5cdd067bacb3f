# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Replace a static pod manifest safely: backup outside the manifests directory, wait, roll back.

The kubelet starts every file of its manifests directory as a pod, except names that start with a
dot. So the backup goes to another directory (newest C(keep) copies per manifest), and the new
text is written to a hidden temporary file beside the manifest and renamed over it.

When the component was running before the change, the change counts only once a process of the
component runs with the new command line and the kubelet's probe of it (the manifest's liveness
probe, an HTTP GET) answers 200 within the timeout. Otherwise the previous text is put back, the
component is given the same time to answer again, and the change fails saying both. A component
that was not running is not waited for (the action's text says so).
"""

from __future__ import annotations

import os
import posixpath
import time
import typing as t
import urllib.error
from dataclasses import dataclass

from ansible.module_utils import urls

from ansible_collections.nodeguard.hardening.plugins.module_utils._controlplane.manifest import Manifest, Probe
from ansible_collections.nodeguard.hardening.plugins.module_utils._files import atomic_write, file_diff
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet.discovery import scan_processes
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node

POLL = 1.0


@dataclass(frozen=True)
class Options:
    manifests_dir: str = "/etc/kubernetes/manifests"
    backup_dir: str = "/var/backups/nodeguard/manifests"
    backup_keep: int = 5
    health_timeout: int = 120


def processes(node: Node, binary: str) -> list[list[str]]:
    """argv of every running process whose command name is C(binary) (as C(ps -C) selects them), read
    afresh on every call: the health check polls it while the component restarts."""
    return [process.argv for process in scan_processes(node, binary) if process.argv]


def runs(argv: list[str], manifest: Manifest) -> bool:
    """Whether a process's argv is the manifest's command line (an interpreter may come first)."""
    words = manifest.command[1:] + manifest.args
    head = argv[: len(argv) - len(words)] if words else argv
    if words and argv[len(argv) - len(words) :] != words:
        return False
    return any(posixpath.basename(word) == manifest.binary for word in head)


def probe_once(probe: Probe, timeout: float = 3.0) -> tuple[int | None, str]:
    """(HTTP status or None, what was seen) of one GET, certificates not checked (as the kubelet's probes)."""
    try:
        answer = urls.open_url(probe.url, timeout=timeout, validate_certs=False, use_proxy=False)
        with answer:
            return answer.status, f"{answer.status} {answer.reason}"
    except urllib.error.HTTPError as error:
        return error.code, f"{error.code} {error.reason}"
    except (urllib.error.URLError, OSError, urls.ConnectionError) as error:
        return None, str(getattr(error, "reason", error))


def wait_healthy(node: Node, manifest: Manifest, timeout: float) -> tuple[bool, str]:
    """Wait until a process runs the manifest's command line and its probe answers 200."""
    probe = manifest.probe()
    deadline = time.monotonic() + timeout
    last = f"no {manifest.binary} process with the manifest's command line"
    while True:
        if any(runs(argv, manifest) for argv in processes(node, manifest.binary)):
            if probe is None:
                return True, "running (the manifest has no HTTP probe)"
            status, seen = probe_once(probe)
            if status == 200:
                return True, f"{probe.url} answered {seen}"
            last = f"{probe.url} answered {seen}"
        if time.monotonic() >= deadline:
            return False, last
        time.sleep(POLL)


def backup(node: Node, options: Options, path: str, text: str) -> str:
    """Keep a copy of C(text) in the backup directory; remove copies beyond C(backup_keep)."""
    directory = node.path(options.backup_dir)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    base = posixpath.basename(path)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    name = f"{base}.{stamp}"
    number = 1
    while os.path.exists(os.path.join(directory, name)):
        number += 1
        name = f"{base}.{stamp}.{number}"
    atomic_write(node.module, os.path.join(directory, name), text, 0o600)
    copies = sorted(
        (entry for entry in os.listdir(directory) if entry.startswith(base + ".")),
        key=lambda entry: os.stat(os.path.join(directory, entry)).st_mtime_ns,
    )
    for old in copies[: max(len(copies) - options.backup_keep, 0)]:
        os.unlink(os.path.join(directory, old))
    return posixpath.join(options.backup_dir, name)


def change_action(node: Node, manifest: Manifest, new_text: str, options: Options, mode: int) -> Action:
    """The action replacing a manifest: run() writes and waits (rolling back itself), undo() restores."""
    path, old_text = manifest.path, manifest.text
    after = Manifest(path, new_text, manifest.container.get("name"))
    running = bool(processes(node, manifest.binary))
    waits = f"and wait up to {options.health_timeout} s for {manifest.binary} to answer"
    what = f"write {path} ({waits})" if running else f"write {path} ({manifest.binary} is not running: not waited for)"

    def run() -> None:
        if node.read(path) != old_text:
            raise CommandError(f"{path} changed while this run was reading it; nothing was written, run again")
        saved = backup(node, options, path, old_text)
        atomic_write(node.module, node.path(path), new_text, mode)
        if not running:
            return
        healthy, seen = wait_healthy(node, after, options.health_timeout)
        if healthy:
            return
        atomic_write(node.module, node.path(path), old_text, mode)
        again, seen_again = wait_healthy(node, manifest, options.health_timeout)
        state = "it answers again" if again else f"it does not answer yet either ({seen_again}): see the kubelet's log"
        raise CommandError(
            f"{manifest.binary} did not come up healthy with the new {path} within {options.health_timeout} s "
            f"(last: {seen}); the previous manifest was put back (a copy of it is {saved}) and {state}"
        )

    def undo() -> None:
        atomic_write(node.module, node.path(path), old_text, mode)

    return Action(f"manifest:{path}", what, run, undo, [file_diff(path, old_text, new_text)])


def hidden(name: str) -> bool:
    return name.startswith(".")


def stray_files(node: Node, directory: str, names: t.Iterable[str]) -> list[str]:
    """Files of the manifests directory that the kubelet would start and that are not C(names)."""
    try:
        entries = sorted(os.listdir(node.path(directory)))
    except OSError:
        return []
    return [entry for entry in entries if not hidden(entry) and entry not in names]
