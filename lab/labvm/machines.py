"""The nodes' qemu processes: the accelerator, the command line, and finding and stopping them.

Every qemu is named MARKER-LAB-NODE on its command line (and the lab's switch socket lies in the
lab's folder), so a lab's processes are found even when its state folder is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from .host import CACHE, lab_dir, labs_root, log
from .image import build
from .network import Node, nic_args

MARKER = "nodelab"


def accel() -> list[str]:
    """KVM where it works, TCG otherwise (nested KVM often fails at the first vCPU run)."""
    choice = os.environ.get("NODELAB_ACCEL", "auto")
    if choice in ("kvm", "tcg"):
        return accel_args(choice)
    probe = CACHE / "accel-probe"
    if probe.exists():
        verdict = probe.read_text(encoding="utf-8").strip()
    else:
        verdict = "kvm" if kvm_works() else "tcg"
        probe.parent.mkdir(parents=True, exist_ok=True)
        probe.write_text(verdict, encoding="utf-8")
        log(f"accelerator: {verdict}")
    return accel_args(verdict)


def accel_args(verdict: str) -> list[str]:
    if verdict == "kvm":
        return ["-accel", "kvm", "-cpu", "host"]
    # qemu 7.2's emulated CMPXCHG16B corrupts Debian 13's kernel (6.12's SLUB uses it on every
    # allocation): the node dies of a double fault while booting. Without cx16 the kernel and
    # Debian's userland (baseline x86-64, no cx16 needed) take other paths.
    return [
        "-accel",
        os.environ.get("NODELAB_TCG", "tcg,thread=multi"),
        "-cpu",
        os.environ.get("NODELAB_TCG_CPU", "max,-cx16"),
    ]


def kvm_works() -> bool:
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    img = build()
    cmd = [
        "qemu-system-x86_64",
        "-accel",
        "kvm",
        "-cpu",
        "host",
        "-m",
        "256",
        "-nographic",
        "-nodefaults",
        "-no-user-config",
        "-serial",
        "stdio",
        "-no-reboot",
        "-kernel",
        str(img / "vmlinuz"),
        "-append",
        "console=ttyS0 panic=-1 earlyprintk=ttyS0",
    ]
    # The serial console goes to a pipe of ours, never to the caller's stdin or terminal.
    with subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proc:
        try:
            out = proc.communicate(timeout=15)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            out = proc.communicate()[0]
    text = out.decode(errors="replace")
    # A kernel that got as far as mounting root (and panicking, there is no disk) ran fine.
    return "Kernel panic" in text or "VFS:" in text


def qemu_command(lab: str, node: Node, img: Path, state: Path, memory: int) -> list[str]:
    """A daemonized qemu with no display and no stdio: its console goes to NODE.console.log."""
    return [
        "qemu-system-x86_64",
        "-name",
        f"{MARKER}-{lab}-{node.name}",
        *accel(),
        "-smp",
        "1",
        "-m",
        str(memory),
        "-display",
        "none",
        "-nodefaults",
        "-no-user-config",
        "-daemonize",
        "-pidfile",
        str(state / f"{node.name}.pid"),
        "-serial",
        f"file:{state / (node.name + '.console.log')}",
        "-kernel",
        str(img / "vmlinuz"),
        "-initrd",
        str(img / "initrd.img"),
        "-append",
        f"root=LABEL=root rw console=ttyS0 systemd.hostname={node.name} nodelab.ip={node.address}/24 net.ifnames=0",
        "-drive",
        f"file={state / (node.name + '.qcow2')},if=virtio,format=qcow2,discard=unmap",
        *nic_args(node, state),
        "-device",
        "virtio-rng-pci",
    ]


def pid_alive(pidfile: Path) -> bool:
    try:
        pid = int(pidfile.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return False
    return Path(f"/proc/{pid}").exists()


def _command_lines():
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = [a.decode(errors="replace") for a in (proc / "cmdline").read_bytes().split(b"\0")]
        except OSError:
            continue
        yield int(proc.name), args


def lab_processes(lab: str | None) -> list[int]:
    """Processes of one lab (or of all), found by the marker in their command line."""
    name_re = re.compile(rf"^{MARKER}-{re.escape(lab) if lab else '.+'}-node[0-9]+$")
    switch = str(lab_dir(lab) / "switch") if lab else str(labs_root())
    found = []
    for pid, args in _command_lines():
        is_qemu = "qemu" in args[0] and any(name_re.match(a) for a in args)
        is_switch = "vde_switch" in args[0] and any(a.startswith(switch) for a in args)
        if is_qemu or is_switch:
            found.append(pid)
    return found


def running_labs() -> set[str]:
    """Names of labs that have a qemu process, from the marker in its command line."""
    labs = set()
    for _pid, args in _command_lines():
        if "qemu" not in args[0]:
            continue
        for arg in args:
            if arg.startswith(f"{MARKER}-") and "-node" in arg:
                labs.add(arg[len(MARKER) + 1 : arg.rindex("-node")])
    return labs


def stop(pids: list[int]) -> None:
    """SIGTERM, up to 10 s to exit, then SIGKILL."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
        time.sleep(0.2)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
