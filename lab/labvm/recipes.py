"""The node images the lab builds, each a named recipe; anything in a recipe changes its image hash.

Every image has the packages the collection's roles would otherwise install (auditd, AppArmor, a
time daemon, logrotate, AIDE, ufw) and an MTA, so no test needs the node to reach a package archive: the guests' apt
sources are emptied and lab traffic stays in the lab. The `-containerd` images add containerd,
runc and a busybox container image built here (see oci.py), imported at boot. The `-kubelet`
images are worker nodes: the containerd fixture plus PyYAML for the stand-in kubelet of the
kubelet scenario (lab/kubelet/), whose pods' AppArmor and seccomp profiles confine real containers.
"""

from __future__ import annotations

import os

MIRROR = os.environ.get("NODELAB_MIRROR", "http://deb.debian.org/debian")
DEFAULT_IMAGE = "debian12"

# Debian releases by image name. The package names below are the same in both releases.
SUITES = {"debian12": "bookworm", "debian13": "trixie"}
# Each release boots its own cloud kernel. Debian 13's (6.12) needs the TCG CPU model without
# cx16 (see machines.accel_args); a release whose kernel cannot boot here could take another
# release's kernel by naming that release's archive below.
KERNEL = "linux-image-cloud-amd64"
KERNEL_SUITE = {"debian12": "bookworm", "debian13": "trixie"}
BASE_PACKAGES = [
    "systemd-sysv",
    "openssh-server",
    "python3",
    "initramfs-tools",
    "sudo",
    "iproute2",
    "kmod",
    "procps",
    "iputils-ping",
    "udev",
    "dbus",
]
# What the system and access roles install on a node that lacks it (aide only where the site opts
# in); the lab's nodes reach no package archive, so the images carry it.
HARDENING_PACKAGES = [
    "auditd",
    "audispd-plugins",
    "apparmor",
    "apparmor-utils",
    "systemd-timesyncd",
    "logrotate",
    "aide",
    "aide-common",
    "libpam-pwquality",
    "cracklib-runtime",
    "ufw",
]
# What many Debian servers run and the controls judge: a mail transfer agent (CIS 2.1.21 wants it
# listening on loopback only, which is Debian's default for exim4).
SERVER_PACKAGES = ["exim4-daemon-light"]
# busybox-static is the container image's only content (see oci.py).
CONTAINER_PACKAGES = ["containerd", "runc", "busybox-static"]
# The stand-in kubelet of the kubelet scenario reads its configuration with PyYAML, as the real
# kubelet reads it with a full YAML parser (the collection's own module does not use it).
# python3-grpcio: the lab's CRI client (lab/kubelet/cri.py) runs pods through containerd's CRI
# plugin as a kubelet would; Debian has no crictl.
KUBELET_PACKAGES = ["python3-yaml", "python3-grpcio"]
FIXTURES = {"": [], "containerd": CONTAINER_PACKAGES, "kubelet": [*CONTAINER_PACKAGES, *KUBELET_PACKAGES]}
# The fixtures whose nodes run containerd with the lab's busybox image.
CONTAINERD_FIXTURES = ("containerd", "kubelet")


def recipe(name: str) -> dict:
    """The recipe of an image name such as debian12 or debian13-containerd."""
    base, _unused, fixture = name.partition("-")
    if base not in SUITES or fixture not in FIXTURES:
        raise SystemExit(f"nodelab: no image recipe {name!r}; known: {', '.join(names())}")
    suite, kernel_suite = SUITES[base], KERNEL_SUITE[base]
    kernel = KERNEL if kernel_suite == suite else f"{KERNEL}/{kernel_suite}"
    return {
        "name": name,
        "suite": suite,
        "kernel_suite": kernel_suite,
        "variant": "important",
        "mirror": MIRROR,
        "packages": sorted([*BASE_PACKAGES, *HARDENING_PACKAGES, *SERVER_PACKAGES, *FIXTURES[fixture], kernel]),
        "containerd": fixture in CONTAINERD_FIXTURES,
        "disk_size": "6G",
        "revision": 5,
    }


def sources(recipe: dict) -> list[str]:
    """The archives mmdebstrap installs from: the release's, and the kernel's where it differs."""
    suites = dict.fromkeys([recipe["suite"], recipe["kernel_suite"]])
    return [f"deb {recipe['mirror']} {suite} main" for suite in suites]


def names() -> list[str]:
    return [f"{base}-{fixture}" if fixture else base for base in SUITES for fixture in FIXTURES]
