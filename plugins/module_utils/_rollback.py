# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The node's own way back from a change the controller cannot confirm.

A change that could cut the controller off (an sshd configuration, firewall rules) is made only
after the files about to change are saved (or their absence noted) under the kind's state
directory with a restore script, and a transient systemd timer is armed that runs it after a
timeout (C(systemd-run --on-active)). The script puts every file back atomically (a copy beside
it, then a rename), runs the lines its caller gave it (a reload of the service that reads the
files, say), and leaves a C(rolled-back) mark. The controller, after reconnecting over a new
connection, calls C(confirm), which stops the timer and drops the saved copies. If it cannot
reconnect, nothing needs it: the node restores the previous state by itself.

Each user of the mechanism is a C(Kind): its name in messages, its own state directory and its
own timer, so that an sshd change and a firewall change await confirmation independently.

The script is a file run by C(/bin/sh), not a C(sh -c) string: systemd expands C($VARIABLES) in
the command lines of transient units (before systemd 254 there is no way to turn that off), and a
file needs no quoting through two parsers. The script uses no variables at all, and the lines a
caller adds must not either.
"""

from __future__ import annotations

import os
import shlex
import shutil
import time
import typing as t
from dataclasses import dataclass, field

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.systemd import systemctl

MANIFEST = "manifest"
SCRIPT = "restore.sh"
ROLLED_BACK = "rolled-back"
DEFAULT_TIMEOUT = 120
# Shorter than the time a reload and a new SSH connection take; longer than anyone waits.
MIN_TIMEOUT, MAX_TIMEOUT = 30, 3600
# Seconds a confirmation waits for a restore the timer has just started (ufw's reload can take
# half a minute under emulation).
RESTORE_WAIT = 300
SUFFIX = ".nodeguard-rollback"


@dataclass(frozen=True)
class Kind:
    """One user of the rollback: C(name) in messages (C(sshd), C(ufw)), C(state_dir) where the
    saved copies, the manifest and the script live, C(unit) the name of the transient timer and
    service (without suffix), C(description) the units' description in systemd."""

    name: str
    state_dir: str
    unit: str
    description: str

    @property
    def timer(self) -> str:
        return f"{self.unit}.timer"

    @property
    def service(self) -> str:
        return f"{self.unit}.service"


@dataclass
class RollbackState:
    """C(armed): saved copies exist (a change was made and not confirmed); C(pending): the timer
    still runs; C(rolled_back): the node restored the files by itself (the mark's time, epoch
    seconds); C(files): the files the saved state covers; C(kind): whose state it is (set by
    C(state), not compared)."""

    armed: bool = False
    pending: bool = False
    rolled_back: float | None = None
    files: list[str] = field(default_factory=list)
    kind: Kind | None = field(default=None, compare=False, repr=False)

    def describe(self) -> str | None:
        if not (self.armed or self.pending or self.rolled_back is not None):
            return None
        if self.kind is None:
            raise ValueError("a rollback state read without its kind cannot be described")
        name, timer = self.kind.name, self.kind.timer
        if self.rolled_back is not None:
            return (
                f"a previous {name} change was never confirmed: the node put back "
                f"{', '.join(self.files) or 'the previous files'} by itself"
            )
        if self.pending:
            return f"a previous {name} change awaits confirmation ({timer} restores it unless confirmed)"
        return f"a previous {name} change was never confirmed and its timer is gone (a reboot?); it stays installed"


def check_timeout(timeout: object) -> int:
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not MIN_TIMEOUT <= timeout <= MAX_TIMEOUT:
        raise c.ControlInputError(
            f"the rollback timeout must be a number of seconds from {MIN_TIMEOUT} to {MAX_TIMEOUT}, got {timeout!r}"
        )
    return timeout


def unit_active(node: Node, name: str) -> bool:
    return node.run([systemctl(node), "is-active", "--quiet", name], check=False)[0] == 0


def read_manifest(node: Node, kind: Kind) -> list[tuple[str, str | None]]:
    """(file, saved copy or None for a file that was absent) of the saved state."""
    text = node.read(f"{kind.state_dir}/{MANIFEST}") or ""
    found = []
    for line in text.splitlines():
        status, _tab, rest = line.partition("\t")
        path, _tab, saved = rest.partition("\t")
        if status in ("present", "absent") and path:
            found.append((path, saved if status == "present" else None))
    return found


def state(node: Node, kind: Kind) -> RollbackState:
    """Whether a change awaits confirmation, or was rolled back by the node (for the audit)."""
    found = RollbackState(kind=kind)
    manifest = read_manifest(node, kind)
    found.files = [path for path, _saved in manifest]
    found.armed = bool(manifest)
    mark = node.path(f"{kind.state_dir}/{ROLLED_BACK}")
    if os.path.exists(mark):
        found.rolled_back = os.stat(mark).st_mtime
    if found.armed and found.rolled_back is None:
        found.pending = unit_active(node, kind.timer)
    return found


def script(node: Node, kind: Kind, previous: dict[str, str | None], tail: list[str]) -> str:
    """The restore script: the rolled-back mark first (a confirmation that comes while the script
    runs is too late), then each file back through a copy beside it and a rename, then the lines
    of C(tail) (what makes the service read the files again)."""
    lines = [
        "#!/bin/sh",
        f"# Written by nodeguard.hardening before it changed the {kind.name} configuration. The transient timer",
        f"# {kind.timer} runs it unless the change is confirmed: it puts the previous files back and applies them.",
        f": > {shlex.quote(node.path(f'{kind.state_dir}/{ROLLED_BACK}'))}",
    ]
    for index, (path, saved) in enumerate(sorted(previous.items())):
        target = shlex.quote(node.path(path))
        if saved is None:
            lines.append(f"rm -f -- {target}")
            continue
        copy = shlex.quote(node.path(f"{kind.state_dir}/saved/{index}"))
        beside = shlex.quote(node.path(path) + SUFFIX)
        lines.append(f"cp -p -- {copy} {beside} && mv -f -- {beside} {target}")
    lines.extend(tail)
    return "\n".join(lines) + "\n"


def write_private(path: str, content: str, mode: int = 0o600) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, mode)


def arm(node: Node, kind: Kind, previous: dict[str, str | None], timeout: int, tail: list[str]) -> list[str]:
    """Save the files about to change (C(previous): path -> content now, None when absent), write
    the restore script with C(tail) after the files, and arm the timer. Refuses while an earlier
    change of the same kind awaits confirmation. Returns the systemd-run argv."""
    found = state(node, kind)
    if found.pending:
        raise c.ControlInputError(
            f"{found.describe()}: confirm it (reconnect, then run the confirm step) or wait for the timer, then run "
            "again. Nothing was changed"
        )
    tool = systemctl(node)
    node.run([tool, "reset-failed", kind.timer, kind.service], check=False)
    directory = node.path(kind.state_dir)
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
        manifest.append(f"present\t{path}\t{kind.state_dir}/saved/{index}")
    write_private(os.path.join(directory, SCRIPT), script(node, kind, previous, tail), 0o700)
    write_private(os.path.join(directory, MANIFEST), "\n".join(manifest) + "\n")
    command = [
        node.binary("systemd-run") or "systemd-run",
        f"--unit={kind.unit}",
        f"--on-active={timeout}",
        "--timer-property=AccuracySec=1s",
        f"--description={kind.description}",
        "/bin/sh",
        node.path(f"{kind.state_dir}/{SCRIPT}"),
    ]
    try:
        node.run(command)
    except CommandError:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return command


def disarm(node: Node, kind: Kind) -> None:
    """Stop the timer and drop the saved state (after an in-process undo, or a confirmation)."""
    node.run([systemctl(node), "stop", kind.timer], check=False)
    shutil.rmtree(node.path(kind.state_dir), ignore_errors=True)


def confirm(node: Node, kind: Kind) -> dict:
    """The controller got back in over a new connection: stop the timer, drop the saved state.

    Returns C(changed), C(state) (C(confirmed), C(none): nothing awaited confirmation,
    C(rolled-back): too late, the node had already put the previous files back, with C(failed))
    and C(msg), and C(files).
    """
    node.run([systemctl(node), "stop", kind.timer], check=False)
    # The timer may have started the restore a moment ago: let it finish, it is too late anyway.
    deadline = time.monotonic() + RESTORE_WAIT
    while unit_active(node, kind.service) and time.monotonic() < deadline:
        time.sleep(1)
    found = state(node, kind)
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
        return {"changed": False, "state": "none", "msg": f"no {kind.name} change awaited confirmation", "files": []}
    shutil.rmtree(node.path(kind.state_dir), ignore_errors=True)
    return {"changed": True, "state": "confirmed", "msg": f"confirmed; {kind.timer} stopped", "files": found.files}


def predict(node: Node, kind: Kind) -> dict:
    """What C(confirm) would do, read without changing anything (check mode)."""
    found = state(node, kind)
    if found.rolled_back is not None:
        return {
            "changed": False,
            "state": "rolled-back",
            "failed": True,
            "msg": f"too late: {found.describe()}",
            "files": found.files,
        }
    if not found.armed:
        return {"changed": False, "state": "none", "msg": f"no {kind.name} change awaits confirmation", "files": []}
    return {
        "changed": True,
        "state": "confirmed",
        "msg": f"would confirm the {kind.name} change and stop {kind.timer}",
        "files": found.files,
    }


def run_confirm(module: t.Any, kind: Kind) -> None:
    """The body of a confirm module (sshd_confirm, ufw_confirm): predict in check mode, confirm
    otherwise; fail when the node had already rolled the change back."""
    node = Node(module)
    try:
        result = predict(node, kind) if module.check_mode else confirm(node, kind)
    except (CommandError, OSError) as exc:
        module.fail_json(msg=f"cannot confirm the {kind.name} change: {exc}", changed=False)
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)
