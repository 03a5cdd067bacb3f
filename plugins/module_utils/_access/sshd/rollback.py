# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The node's own way back from an sshd change the controller cannot confirm.

Before sshd is reloaded with a new configuration, the files about to change are saved (or their
absence noted) under /var/lib/nodeguard-hardening/sshd-rollback/ with a restore script, and a
transient systemd timer is armed that runs it after a timeout (C(systemd-run --on-active)). The
script puts every file back atomically (a copy beside it, then a rename), reloads ssh.service
where it runs, and leaves a C(rolled-back) mark. The controller, after reconnecting over a new
connection, calls C(confirm), which stops the timer and drops the saved copies. If it cannot
reconnect, nothing needs it: the node restores the configuration by itself.

The script is a file run by C(/bin/sh), not a C(sh -c) string: systemd expands C($VARIABLES) in
the command lines of transient units (before systemd 254 there is no way to turn that off), and a
file needs no quoting through two parsers. The script uses no variables at all.
"""

from __future__ import annotations

import os
import shlex
import shutil
from dataclasses import dataclass, field

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.systemd import systemctl

STATE_DIR = "/var/lib/nodeguard-hardening/sshd-rollback"
UNIT = "nodeguard-sshd-rollback"
TIMER = f"{UNIT}.timer"
SERVICE = f"{UNIT}.service"
SERVICE_UNIT = "ssh.service"
SOCKET_UNIT = "ssh.socket"
MANIFEST = "manifest"
SCRIPT = "restore.sh"
ROLLED_BACK = "rolled-back"
DEFAULT_TIMEOUT = 120
# Shorter than the time a reload and a new SSH connection take; longer than anyone waits.
MIN_TIMEOUT, MAX_TIMEOUT = 30, 3600
SUFFIX = ".nodeguard-rollback"


@dataclass
class RollbackState:
    """C(armed): saved copies exist (a change was made and not confirmed); C(pending): the timer
    still runs; C(rolled_back): the node restored the files by itself (the mark's time, epoch
    seconds); C(files): the files the saved state covers."""

    armed: bool = False
    pending: bool = False
    rolled_back: float | None = None
    files: list[str] = field(default_factory=list)

    def describe(self) -> str | None:
        if self.rolled_back is not None:
            return (
                "a previous sshd change was never confirmed: the node put back "
                f"{', '.join(self.files) or 'the previous files'} by itself"
            )
        if self.pending:
            return f"a previous sshd change awaits confirmation ({TIMER} restores it unless confirmed)"
        if self.armed:
            return "a previous sshd change was never confirmed and its timer is gone (a reboot?); it stays installed"
        return None


def check_timeout(timeout: object) -> int:
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not MIN_TIMEOUT <= timeout <= MAX_TIMEOUT:
        raise c.ControlInputError(
            f"the rollback timeout must be a number of seconds from {MIN_TIMEOUT} to {MAX_TIMEOUT}, got {timeout!r}"
        )
    return timeout


def unit_active(node: Node, name: str) -> bool:
    return node.run([systemctl(node), "is-active", "--quiet", name], check=False)[0] == 0


def read_manifest(node: Node) -> list[tuple[str, str | None]]:
    """(file, saved copy or None for a file that was absent) of the saved state."""
    text = node.read(f"{STATE_DIR}/{MANIFEST}") or ""
    found = []
    for line in text.splitlines():
        state, _tab, rest = line.partition("\t")
        path, _tab, saved = rest.partition("\t")
        if state in ("present", "absent") and path:
            found.append((path, saved if state == "present" else None))
    return found


def state(node: Node) -> RollbackState:
    """Whether a change awaits confirmation, or was rolled back by the node (for the audit)."""
    found = RollbackState()
    manifest = read_manifest(node)
    found.files = [path for path, _saved in manifest]
    found.armed = bool(manifest)
    mark = node.path(f"{STATE_DIR}/{ROLLED_BACK}")
    if os.path.exists(mark):
        found.rolled_back = os.stat(mark).st_mtime
    if found.armed and found.rolled_back is None:
        found.pending = unit_active(node, TIMER)
    return found


def reload_command(node: Node, service_running: bool) -> str:
    """ssh.service reads the restored files; started again if the failed change stopped it. With
    only ssh.socket running there is nothing to reload."""
    if not service_running:
        return f"# {SERVICE_UNIT} did not run when the change was made: nothing to reload"
    return f"{shlex.quote(systemctl(node))} reload-or-restart {SERVICE_UNIT}"


def script(node: Node, previous: dict[str, str | None], service_running: bool = True) -> str:
    """The restore script: each file back through a copy beside it and a rename, then a reload."""
    lines = [
        "#!/bin/sh",
        "# Written by nodeguard.hardening before it changed sshd's configuration. The transient timer",
        f"# {TIMER} runs it unless the change is confirmed: it puts the previous files back and reloads sshd.",
    ]
    for index, (path, saved) in enumerate(sorted(previous.items())):
        target = shlex.quote(node.path(path))
        if saved is None:
            lines.append(f"rm -f -- {target}")
            continue
        copy = shlex.quote(node.path(f"{STATE_DIR}/saved/{index}"))
        beside = shlex.quote(node.path(path) + SUFFIX)
        lines.append(f"cp -p -- {copy} {beside} && mv -f -- {beside} {target}")
    lines.append(reload_command(node, service_running))
    lines.append(f": > {shlex.quote(node.path(f'{STATE_DIR}/{ROLLED_BACK}'))}")
    return "\n".join(lines) + "\n"


def write_private(path: str, content: str, mode: int = 0o600) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, mode)


def arm(
    node: Node, previous: dict[str, str | None], timeout: int = DEFAULT_TIMEOUT, service_running: bool = True
) -> list[str]:
    """Save the files about to change (C(previous): path -> content now, None when absent) and arm
    the timer. Refuses while an earlier change awaits confirmation. Returns the systemd-run argv."""
    found = state(node)
    if found.pending:
        raise c.ControlInputError(
            f"{found.describe()}: confirm it (reconnect, then run the confirm step) or wait for the timer, then run "
            "again. Nothing was changed"
        )
    tool = systemctl(node)
    node.run([tool, "reset-failed", TIMER, SERVICE], check=False)
    directory = node.path(STATE_DIR)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(os.path.join(directory, "saved"), mode=0o700)
    os.chmod(directory, 0o700)
    manifest = []
    for index, (path, content) in enumerate(sorted(previous.items())):
        if content is None:
            manifest.append(f"absent\t{path}")
            continue
        copy = os.path.join(directory, "saved", str(index))
        try:
            info = os.stat(node.path(path))
        except FileNotFoundError:
            info = None
        # cp -p gives the restored file the copy's mode and owner: the file's own.
        write_private(copy, content, info.st_mode & 0o7777 if info else 0o600)
        if info and os.geteuid() == 0:
            os.chown(copy, info.st_uid, info.st_gid)
        manifest.append(f"present\t{path}\t{STATE_DIR}/saved/{index}")
    write_private(os.path.join(directory, SCRIPT), script(node, previous, service_running), 0o700)
    write_private(os.path.join(directory, MANIFEST), "\n".join(manifest) + "\n")
    command = [
        node.binary("systemd-run") or "systemd-run",
        f"--unit={UNIT}",
        f"--on-active={timeout}",
        "--timer-property=AccuracySec=1s",
        "--description=nodeguard.hardening: put the previous sshd configuration back unless confirmed",
        "/bin/sh",
        node.path(f"{STATE_DIR}/{SCRIPT}"),
    ]
    try:
        node.run(command)
    except CommandError:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return command


def disarm(node: Node) -> None:
    """Stop the timer and drop the saved state (after an in-process undo, or a confirmation)."""
    node.run([systemctl(node), "stop", TIMER], check=False)
    shutil.rmtree(node.path(STATE_DIR), ignore_errors=True)


def confirm(node: Node) -> dict:
    """The controller got back in over a new connection: stop the timer, drop the saved state.

    Returns C(changed), C(state) (C(confirmed), C(none): nothing awaited confirmation,
    C(rolled-back): too late, the node had already put the previous files back) and C(msg).
    """
    node.run([systemctl(node), "stop", TIMER], check=False)
    found = state(node)
    if found.rolled_back is not None:
        return {
            "changed": False,
            "state": "rolled-back",
            "failed": True,
            "msg": f"too late: {found.describe()}; the change is undone, find out why the controller could not "
            "reconnect in time",
            "files": found.files,
        }
    if not found.armed:
        return {"changed": False, "state": "none", "msg": "no sshd change awaited confirmation", "files": []}
    shutil.rmtree(node.path(STATE_DIR), ignore_errors=True)
    return {"changed": True, "state": "confirmed", "msg": f"confirmed; {TIMER} stopped", "files": found.files}
