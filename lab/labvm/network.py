"""Where a lab's nodes are: an SSH port on 127.0.0.1 each, and one private switch they share.

The switch is a vde_switch on a unix socket in the lab's folder and every address is on
loopback, so nothing touches the host's own network.
"""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .guest import OPERATOR, OPERATOR_PORT, PRIVATE_MAC
from .host import run
from .recipes import DEFAULT_IMAGE

PRIVATE_NET = "10.77.0"
USER_MAC = "52:54:00:4e:00"


@dataclass
class Node:
    name: str
    index: int
    port: int
    address: str
    image: str = DEFAULT_IMAGE
    user: str = "root"
    guest_port: int = 22


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def plan(images: list[str], operator: bool = False) -> list[Node]:
    """One node per image name, in order: node i has address 10.77.0.(10+i) on the switch.

    With C(operator), Ansible reaches each node as the sudo user labop on guest port 2222, as a
    site that forbids root logins and moves SSH off port 22 would.
    """
    login = {"user": OPERATOR, "guest_port": OPERATOR_PORT} if operator else {}
    return [
        Node(f"node{i}", i, free_port(), f"{PRIVATE_NET}.{10 + i}", name, **login)
        for i, name in enumerate(images, start=1)
    ]


def start_switch(state: Path) -> None:
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


def nic_args(node: Node, state: Path) -> list[str]:
    """qemu's two NICs: user networking with the SSH port forward, and the private switch."""
    return [
        "-nic",
        f"user,model=virtio-net-pci,mac={USER_MAC}:{node.index:02x},hostfwd=tcp:127.0.0.1:{node.port}-:{node.guest_port}",
        "-nic",
        f"vde,sock={state / 'switch'},model=virtio-net-pci,mac={PRIVATE_MAC}:{node.index:02x}",
    ]
