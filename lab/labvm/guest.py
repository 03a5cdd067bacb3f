"""What a node image gets on top of Debian's packages: access, networking, quiet background jobs.

The text of this module is part of every image's hash (see image.py), so a change here
rebuilds the images.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from . import oci
from .host import run, write

# The node finds its NIC on the lab's private switch by this MAC prefix (see network.py).
PRIVATE_MAC = "52:54:00:4e:01"
# Every node has a sudo user besides root, and sshd listens on a second port: a lab started with
# --operator has Ansible log in that way, as a site that forbids root logins over SSH would.
OPERATOR = "labop"
OPERATOR_PORT = 2222
OPERATOR_UID = 1000
OCI_ARCHIVE = "var/lib/nodelab/busybox-oci.tar"

PRIVATE_NET_SCRIPT = f"""#!/bin/sh
# Give the lab's private NIC (MAC {PRIVATE_MAC}:*) the address named on the kernel
# command line (nodelab.ip=ADDR/PREFIX).
set -eu
addr=$(sed -n 's/.*nodelab\\.ip=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
[ -n "$addr" ] || exit 0
for dev in /sys/class/net/*; do
  case "$(cat "$dev/address")" in
    {PRIVATE_MAC}:*) name=$(basename "$dev")
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

# containerd cannot run in the build chroot, so the image is imported at the node's first boot.
IMPORT_UNIT = f"""[Unit]
Description=Import the lab's busybox container image into containerd
After=containerd.service
Requires=containerd.service

[Service]
Type=oneshot
ExecStart=/usr/bin/ctr -n k8s.io images import /{OCI_ARCHIVE}
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
"""

USER_NETWORK = """[Match]
Name=eth0

[Network]
DHCP=ipv4
"""

# Background jobs only slow an emulated node down.
MASKED_UNITS = (
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "man-db.timer",
    "e2scrub_all.timer",
    "fstrim.timer",
    "dpkg-db-backup.timer",
    "systemd-timesyncd.service",
)


def add_operator(rootfs: Path, authorized_key: str) -> None:
    """The sudo user labop, with the lab's key and password-less sudo, as automation accounts have."""
    run(
        [
            "chroot",
            str(rootfs),
            "useradd",
            "--create-home",
            "--shell",
            "/bin/bash",
            "--uid",
            str(OPERATOR_UID),
            OPERATOR,
        ]
    )
    home = rootfs / "home" / OPERATOR
    write(home / ".ssh/authorized_keys", authorized_key, 0o600)
    (home / ".ssh").chmod(0o700)
    for path in (home / ".ssh", home / ".ssh/authorized_keys"):
        os.chown(path, OPERATOR_UID, OPERATOR_UID)
    write(rootfs / "etc/sudoers.d/nodelab-operator", f"{OPERATOR} ALL=(ALL:ALL) NOPASSWD: ALL\n", 0o440)
    run(["chroot", str(rootfs), "visudo", "-cqf", "/etc/sudoers.d/nodelab-operator"])


def customise(rootfs: Path, recipe: dict, authorized_key: str) -> None:
    """Turn an mmdebstrap root filesystem into a lab node's root filesystem."""
    write(rootfs / "root/.ssh/authorized_keys", authorized_key, 0o600)
    (rootfs / "root/.ssh").chmod(0o700)
    write(rootfs / "etc/fstab", "LABEL=root / ext4 rw,errors=remount-ro 0 1\n")
    write(rootfs / "etc/hostname", "node\n")
    write(rootfs / "etc/hosts", "127.0.0.1 localhost\n")
    write(rootfs / "etc/resolv.conf", "nameserver 10.0.2.3\n")
    write(rootfs / "etc/systemd/network/10-user.network", USER_NETWORK)
    write(rootfs / "usr/local/sbin/nodelab-private-net", PRIVATE_NET_SCRIPT, 0o755)
    write(rootfs / "etc/systemd/system/nodelab-private-net.service", PRIVATE_NET_UNIT)
    write(
        rootfs / "etc/ssh/sshd_config.d/10-nodelab.conf",
        f"UseDNS no\nGSSAPIAuthentication no\nPort 22\nPort {OPERATOR_PORT}\n",
    )
    add_operator(rootfs, authorized_key)
    for unit in MASKED_UNITS:
        link = rootfs / "etc/systemd/system" / unit
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        link.symlink_to("/dev/null")
    # Lab traffic stays in the lab: the node has no package archive to reach.
    for sources in (rootfs / "etc/apt/sources.list", *(rootfs / "etc/apt/sources.list.d").glob("*")):
        sources.unlink()
    write(rootfs / "etc/apt/sources.list", "# The lab's nodes reach no package archive.\n")
    units = ["systemd-networkd", "ssh", "nodelab-private-net"]
    if recipe["containerd"]:
        oci.write(rootfs, OCI_ARCHIVE)
        write(rootfs / "etc/systemd/system/nodelab-import-image.service", IMPORT_UNIT)
        units.append("nodelab-import-image")
    run(["chroot", str(rootfs), "systemctl", "enable", "--quiet", *units])
    # Every node made from the image gets its own machine id at first boot.
    (rootfs / "etc/machine-id").write_text("", encoding="utf-8")
