"""A lab of real Debian nodes as qemu virtual machines, for tests and demos.

Commands (each one step):
  build                      build the node image (cached; rebuilt when its recipe changes)
  up [--name L] [--nodes N]  boot N nodes, wait for SSH, write an inventory
  status [--name L]          show labs, their nodes and whether they answer
  down [--name L | --all]    stop nodes and their switch, remove the lab's state

Every node gets an SSH port forwarded on 127.0.0.1 and a second NIC on a private
switch (vde_switch on a unix socket) that all nodes of a lab share; node i has
address 10.77.0.(10+i)/24 there. Nothing touches the host's own network.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("NODELAB_CACHE", Path.home() / ".cache" / "nodeguard-lab"))
MARKER = "nodelab"
PRIVATE_NET = "10.77.0"
SSH_WAIT_SECONDS = int(os.environ.get("NODELAB_SSH_WAIT", "300"))

# The recipe: anything here changes the image hash and so triggers a rebuild.
RECIPE = {
    "suite": "bookworm",
    "variant": "important",
    "mirror": os.environ.get("NODELAB_MIRROR", "http://deb.debian.org/debian"),
    "packages": sorted(
        [
            "systemd-sysv",
            "openssh-server",
            "python3",
            "linux-image-cloud-amd64",
            "sudo",
            "iproute2",
            "kmod",
            "procps",
            "iputils-ping",
            "udev",
            "dbus",
        ]
    ),
    "disk_size": "6G",
    "revision": 3,
}

PRIVATE_NET_SCRIPT = """#!/bin/sh
# Give the lab's private NIC (MAC 52:54:00:4e:01:*) the address named on the kernel
# command line (nodelab.ip=ADDR/PREFIX).
set -eu
addr=$(sed -n 's/.*nodelab\\.ip=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
[ -n "$addr" ] || exit 0
for dev in /sys/class/net/*; do
  case "$(cat "$dev/address")" in
    52:54:00:4e:01:*) name=$(basename "$dev")
      ip link set "$name" up
      ip addr replace "$addr" dev "$name" ;;
  esac
done
"""

PRIVATE_NET_UNIT = """[Unit]
Description=Lab private network address
After=systemd-networkd.service
Wants=systemd-networkd.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/nodelab-private-net
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
"""

USER_NETWORK = """[Match]
Name=eth0

[Network]
DHCP=ipv4
"""


def log(msg: str) -> None:
    print(f"nodelab: {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    """Run a tool; its output goes to stderr so stdout carries only this tool's answer.

    No child ever shares the caller's standard input: qemu switches a terminal or pipe it is
    given to non-blocking mode, which every other process sharing that open file inherits
    (ansible-playbook then refuses to start), and ssh would read what the caller meant for others.
    """
    kw.setdefault("stdout", sys.stderr)
    check = kw.pop("check", True)
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, check=check, **kw)


def recipe_hash() -> str:
    material = json.dumps(RECIPE, sort_keys=True) + PRIVATE_NET_SCRIPT + PRIVATE_NET_UNIT + USER_NETWORK
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def ssh_key() -> Path:
    key = CACHE / "ssh" / "id_ed25519"
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "nodelab", "-f", str(key)])
    return key


def image_dir() -> Path:
    key = ssh_key()
    pub_hash = hashlib.sha256(key.with_suffix(".pub").read_bytes()).hexdigest()[:8]
    return CACHE / "images" / f"debian12-{recipe_hash()}-{pub_hash}"


@contextlib.contextmanager
def locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


def build() -> Path:
    """Build the node image unless one for this recipe is cached; return its folder."""
    target = image_dir()
    with locked(CACHE / "build.lock"):
        if (target / "base.qcow2").exists():
            return target
        missing = [t for t in ("mmdebstrap", "mkfs.ext4", "qemu-img") if not shutil.which(t)]
        if missing:
            raise SystemExit(f"nodelab: missing tools {missing}: run 'make deps' first")
        log(f"building node image {target.name} (about a minute)")
        work = Path(tempfile.mkdtemp(prefix="nodelab-build-", dir=CACHE))
        try:
            rootfs = work / "rootfs"
            run(
                [
                    "mmdebstrap",
                    "--quiet",
                    f"--variant={RECIPE['variant']}",
                    "--include=" + ",".join(RECIPE["packages"]),
                    RECIPE["suite"],
                    str(rootfs),
                    RECIPE["mirror"],
                ]
            )
            customise(rootfs)
            raw = work / "disk.raw"
            run(["mkfs.ext4", "-q", "-F", "-L", "root", "-d", str(rootfs), str(raw), RECIPE["disk_size"]])
            out = work / "out"
            out.mkdir()
            run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(out / "base.qcow2")])
            boot = rootfs / "boot"
            shutil.copy(sorted(boot.glob("vmlinuz-*"))[-1], out / "vmlinuz")
            shutil.copy(sorted(boot.glob("initrd.img-*"))[-1], out / "initrd.img")
            (out / "recipe.json").write_text(json.dumps(RECIPE, indent=2), encoding="utf-8")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(out, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        # Older images are of no further use.
        for old in target.parent.iterdir():
            if old != target:
                shutil.rmtree(old, ignore_errors=True)
        log("image ready")
        return target


def customise(rootfs: Path) -> None:
    pub = ssh_key().with_suffix(".pub").read_text(encoding="utf-8")
    write(rootfs / "root/.ssh/authorized_keys", pub, 0o600)
    (rootfs / "root/.ssh").chmod(0o700)
    write(rootfs / "etc/fstab", "LABEL=root / ext4 rw,errors=remount-ro 0 1\n")
    write(rootfs / "etc/hostname", "node\n")
    write(rootfs / "etc/hosts", "127.0.0.1 localhost\n")
    write(rootfs / "etc/resolv.conf", "nameserver 10.0.2.3\n")
    write(rootfs / "etc/systemd/network/10-user.network", USER_NETWORK)
    write(rootfs / "usr/local/sbin/nodelab-private-net", PRIVATE_NET_SCRIPT, 0o755)
    write(rootfs / "etc/systemd/system/nodelab-private-net.service", PRIVATE_NET_UNIT)
    write(rootfs / "etc/ssh/sshd_config.d/10-nodelab.conf", "UseDNS no\nGSSAPIAuthentication no\n")
    # Background jobs only slow an emulated node down.
    for unit in (
        "apt-daily.timer",
        "apt-daily-upgrade.timer",
        "man-db.timer",
        "e2scrub_all.timer",
        "fstrim.timer",
        "dpkg-db-backup.timer",
        "systemd-timesyncd.service",
    ):
        link = rootfs / "etc/systemd/system" / unit
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        link.symlink_to("/dev/null")
    run(["chroot", str(rootfs), "systemctl", "enable", "--quiet", "systemd-networkd", "ssh", "nodelab-private-net"])
    (rootfs / "etc/machine-id").write_text("", encoding="utf-8")


@dataclass
class Node:
    name: str
    index: int
    port: int
    address: str


def lab_dir(name: str) -> Path:
    return CACHE / "labs" / name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
        probe.write_text(verdict, encoding="utf-8")
        log(f"accelerator: {verdict}")
    return accel_args(verdict)


def accel_args(verdict: str) -> list[str]:
    if verdict == "kvm":
        return ["-accel", "kvm", "-cpu", "host"]
    return ["-accel", "tcg,thread=multi", "-cpu", "max"]


def kvm_works() -> bool:
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    img = image_dir()
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
        (f"root=LABEL=root rw console=ttyS0 systemd.hostname={node.name} nodelab.ip={node.address}/24 net.ifnames=0"),
        "-drive",
        f"file={state / (node.name + '.qcow2')},if=virtio,format=qcow2,discard=unmap",
        "-nic",
        (f"user,model=virtio-net-pci,mac=52:54:00:4e:00:{node.index:02x},hostfwd=tcp:127.0.0.1:{node.port}-:22"),
        "-nic",
        f"vde,sock={state / 'switch'},model=virtio-net-pci,mac=52:54:00:4e:01:{node.index:02x}",
        "-device",
        "virtio-rng-pci",
    ]


def ssh_base(lab: str) -> list[str]:
    return ["ssh", "-F", str(lab_dir(lab) / "ssh_config")]


def ssh_ready(lab: str, node: Node) -> bool:
    res = run(
        [*ssh_base(lab), "-o", "ConnectTimeout=5", node.name, "true"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    return res.returncode == 0


def up(lab: str, count: int, memory: int) -> None:
    img = build()
    state = lab_dir(lab)
    if state.exists():
        down(lab)
    state.mkdir(parents=True)
    key = ssh_key()
    nodes = [Node(f"node{i}", i, free_port(), f"{PRIVATE_NET}.{10 + i}") for i in range(1, count + 1)]
    write_access_files(lab, nodes, key)
    try:
        run(
            [
                "vde_switch",
                "--sock",
                str(state / "switch"),
                "--daemon",
                "--pidfile",
                str(state / "switch.pid"),
                "--mode",
                "0600",
            ],
            stdout=subprocess.DEVNULL,
        )
        for node in nodes:
            run(
                [
                    "qemu-img",
                    "create",
                    "-q",
                    "-f",
                    "qcow2",
                    "-F",
                    "qcow2",
                    "-b",
                    str(img / "base.qcow2"),
                    str(state / f"{node.name}.qcow2"),
                ]
            )
            with open(state / f"{node.name}.qemu.log", "w", encoding="utf-8") as qlog:
                started = run(qemu_command(lab, node, img, state, memory), stdout=qlog, stderr=qlog, check=False)
            if started.returncode != 0:
                raise SystemExit(
                    f"nodelab: qemu did not start {node.name}: "
                    + (state / f"{node.name}.qemu.log").read_text(encoding="utf-8").strip()
                )
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


def wait_for_ssh(lab: str, nodes: list[Node]) -> None:
    deadline = time.monotonic() + SSH_WAIT_SECONDS
    pending = list(nodes)
    started = time.monotonic()
    while pending:
        if time.monotonic() > deadline:
            raise SystemExit(f"nodelab: {[n.name for n in pending]} gave no SSH answer in {SSH_WAIT_SECONDS}s")
        for node in list(pending):
            if not pid_alive(lab_dir(lab) / f"{node.name}.pid"):
                raise SystemExit(f"nodelab: {node.name} stopped while booting")
            if ssh_ready(lab, node):
                log(f"{node.name} answers on 127.0.0.1:{node.port} after {time.monotonic() - started:.0f}s")
                pending.remove(node)
        if pending:
            time.sleep(2)


def write_access_files(lab: str, nodes: list[Node], key: Path) -> None:
    state = lab_dir(lab)
    control = state / "cp"
    control.mkdir(exist_ok=True)
    ssh_lines = []
    hosts = {}
    for node in nodes:
        ssh_lines += [
            f"Host {node.name}",
            "  HostName 127.0.0.1",
            f"  Port {node.port}",
            "  User root",
            f"  IdentityFile {key}",
            "  IdentitiesOnly yes",
            "  StrictHostKeyChecking no",
            "  UserKnownHostsFile /dev/null",
            "  LogLevel ERROR",
            "",
        ]
        hosts[node.name] = {
            "ansible_host": "127.0.0.1",
            "ansible_port": node.port,
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(key),
            "lab_private_address": node.address,
        }
    write(state / "ssh_config", "\n".join(ssh_lines))
    inventory = {
        "all": {
            "vars": {
                "ansible_python_interpreter": "/usr/bin/python3",
                "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                "-o IdentitiesOnly=yes",
            },
            "children": {"lab": {"hosts": hosts}},
        }
    }
    # JSON is valid YAML: the inventory needs no YAML library here.
    write(state / "inventory.yml", json.dumps(inventory, indent=2) + "\n")
    write(
        state / "instances.json",
        json.dumps(
            [
                {
                    "instance": n.name,
                    "address": "127.0.0.1",
                    "port": n.port,
                    "user": "root",
                    "identity_file": str(key),
                    "private_address": n.address,
                }
                for n in nodes
            ],
            indent=2,
        )
        + "\n",
    )


def pid_alive(pidfile: Path) -> bool:
    try:
        pid = int(pidfile.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return False
    return Path(f"/proc/{pid}").exists()


def lab_processes(lab: str | None) -> list[int]:
    """Processes of one lab (or of all), found by the marker in their command line."""
    name_re = re.compile(rf"^{MARKER}-{re.escape(lab) if lab else '.+'}-node[0-9]+$")
    switch = str(lab_dir(lab) / "switch") if lab else str(CACHE / "labs")
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            text = [a.decode(errors="replace") for a in (proc / "cmdline").read_bytes().split(b"\0")]
        except OSError:
            continue
        is_qemu = "qemu" in text[0] and any(name_re.match(a) for a in text)
        is_switch = "vde_switch" in text[0] and any(a.startswith(switch) for a in text)
        if is_qemu or is_switch:
            found.append(int(proc.name))
    return found


def running_labs() -> set[str]:
    """Names of labs that have a qemu process, from the marker in its command line."""
    labs = set()
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0") if proc.name.isdigit() else []
        except OSError:
            continue
        for arg in args:
            text = arg.decode(errors="replace")
            if text.startswith(f"{MARKER}-") and "qemu" in args[0].decode(errors="replace"):
                labs.add(text[len(MARKER) + 1 : text.rindex("-node")])
    return labs


def down(lab: str | None) -> None:
    pids = lab_processes(lab)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
        time.sleep(0.2)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    targets = [lab_dir(lab)] if lab else list((CACHE / "labs").glob("*"))
    for target in targets:
        shutil.rmtree(target, ignore_errors=True)
    if pids:
        log(f"stopped {len(pids)} process(es)")


def status(lab: str | None) -> int:
    labs = [lab_dir(lab)] if lab else sorted((CACHE / "labs").glob("*"))
    labs = [d for d in labs if (d / "instances.json").exists()]
    if not labs:
        print("no lab is up")
        return 1 if lab else 0
    for state in labs:
        print(f"lab {state.name}: inventory {state / 'inventory.yml'}")
        for inst in json.loads((state / "instances.json").read_text(encoding="utf-8")):
            node = Node(inst["instance"], 0, inst["port"], inst["private_address"])
            alive = pid_alive(state / f"{node.name}.pid")
            answers = alive and ssh_ready(state.name, node)
            print(
                f"  {node.name}: {'running' if alive else 'stopped'}, ssh 127.0.0.1:{node.port} "
                f"{'answers' if answers else 'no answer'}, private {node.address}"
            )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build")
    p_up = sub.add_parser("up")
    p_up.add_argument("--name", default="default")
    p_up.add_argument("--nodes", type=int, default=1)
    p_up.add_argument("--memory", type=int, default=int(os.environ.get("NODELAB_MEMORY", "1024")))
    p_status = sub.add_parser("status")
    p_status.add_argument("--name")
    p_down = sub.add_parser("down")
    group = p_down.add_mutually_exclusive_group()
    group.add_argument("--name", default="default")
    group.add_argument("--all", action="store_true")
    group.add_argument("--prefix", help="every lab whose name starts with this")
    p_inv = sub.add_parser("inventory", help="print the inventory path of a lab that is up")
    p_inv.add_argument("--name", default="default")
    args = parser.parse_args()
    if args.command == "build":
        print(build())
    elif args.command == "up":
        if not 1 <= args.nodes <= 9:
            parser.error("--nodes takes 1 to 9")
        up(args.name, args.nodes, args.memory)
        print(lab_dir(args.name) / "inventory.yml")
    elif args.command == "status":
        return status(args.name)
    elif args.command == "down":
        if args.prefix:
            for state in sorted((CACHE / "labs").glob(f"{args.prefix}*")):
                down(state.name)
            # A lab whose state folder is already gone may still have processes.
            for pid_lab in {lab for lab in running_labs() if lab.startswith(args.prefix)}:
                down(pid_lab)
        else:
            down(None if args.all else args.name)
    elif args.command == "inventory":
        path = lab_dir(args.name) / "inventory.yml"
        if not path.exists():
            raise SystemExit(f"nodelab: lab {args.name} is not up")
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
