"""A lab: nodes booted from their images, on one switch, reachable over SSH; and its teardown."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from . import access, image, machines, network
from .host import lab_dir, labs_root, log, run

SSH_WAIT_SECONDS = int(os.environ.get("NODELAB_SSH_WAIT", "300"))


def up(lab: str, images: list[str], memory: int, operator: bool = False) -> Path:
    """Boot one node per image name, wait for SSH; return the inventory path."""
    built = {name: image.build(name) for name in dict.fromkeys(images)}
    state = lab_dir(lab)
    if state.exists():
        down(lab)
    state.mkdir(parents=True)
    nodes = network.plan(images, operator)
    access.write_access_files(lab, nodes, access.ssh_key())
    try:
        network.start_switch(state)
        for node in nodes:
            start(lab, node, built[node.image], state, memory)
        wait_for_ssh(lab, nodes)
    except BaseException:
        log(f"boot failed; stopping lab {lab} (consoles in {state})")
        keep = Path(tempfile.mkdtemp(prefix=f"nodelab-{lab}-consoles-"))
        for console in [*state.glob("*.console.log"), *state.glob("*.qemu.log")]:
            shutil.copy(console, keep)
        log(f"console logs kept in {keep}")
        down(lab)
        raise
    log(f"lab {lab} is up: inventory {state / 'inventory.yml'}")
    return state / "inventory.yml"


def start(lab: str, node: network.Node, img: Path, state: Path, memory: int) -> None:
    """A copy-on-write overlay of the image, and qemu on it with its output in NODE.qemu.log."""
    overlay = state / f"{node.name}.qcow2"
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(img / "base.qcow2"), str(overlay)])
    qemu_log = state / f"{node.name}.qemu.log"
    with open(qemu_log, "w", encoding="utf-8") as out:
        started = run(machines.qemu_command(lab, node, img, state, memory), stdout=out, stderr=out, check=False)
    if started.returncode != 0:
        raise SystemExit(f"nodelab: qemu did not start {node.name}: " + qemu_log.read_text(encoding="utf-8").strip())


def wait_for_ssh(lab: str, nodes: list[network.Node]) -> None:
    deadline = time.monotonic() + SSH_WAIT_SECONDS
    pending = list(nodes)
    started = time.monotonic()
    while pending:
        if time.monotonic() > deadline:
            raise SystemExit(f"nodelab: {[n.name for n in pending]} gave no SSH answer in {SSH_WAIT_SECONDS}s")
        for node in list(pending):
            if not machines.pid_alive(lab_dir(lab) / f"{node.name}.pid"):
                raise SystemExit(f"nodelab: {node.name} stopped while booting")
            if access.ssh_ready(lab, node):
                log(f"{node.name} answers on 127.0.0.1:{node.port} after {time.monotonic() - started:.0f}s")
                pending.remove(node)
        if pending:
            time.sleep(2)


def down(lab: str | None) -> None:
    """Stop one lab (or all) and remove its state."""
    pids = machines.lab_processes(lab)
    machines.stop(pids)
    targets = [lab_dir(lab)] if lab else list(labs_root().glob("*"))
    for target in targets:
        shutil.rmtree(target, ignore_errors=True)
    if pids:
        log(f"stopped {len(pids)} process(es)")


def down_prefix(prefix: str) -> None:
    for state in sorted(labs_root().glob(f"{prefix}*")):
        down(state.name)
    # A lab whose state folder is already gone may still have processes.
    for lab in sorted(lab for lab in machines.running_labs() if lab.startswith(prefix)):
        down(lab)


def status(lab: str | None) -> int:
    labs = [lab_dir(lab)] if lab else sorted(labs_root().glob("*"))
    labs = [d for d in labs if (d / "instances.json").exists()]
    if not labs:
        print("no lab is up")
        return 1 if lab else 0
    for state in labs:
        print(f"lab {state.name}: inventory {state / 'inventory.yml'}")
        for node in access.read_instances(state):
            alive = machines.pid_alive(state / f"{node.name}.pid")
            answers = alive and access.ssh_ready(state.name, node)
            print(
                f"  {node.name}: {'running' if alive else 'stopped'}, ssh 127.0.0.1:{node.port} "
                f"{'answers' if answers else 'no answer'}, private {node.address}"
            )
    return 0
