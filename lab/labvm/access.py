"""How people and tools reach a lab's nodes: the SSH key, ssh_config, inventory and instances.json."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .host import CACHE, lab_dir, run, write
from .network import Node


def ssh_key() -> Path:
    key = CACHE / "ssh" / "id_ed25519"
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "nodelab", "-f", str(key)])
    return key


def ssh_config(nodes: list[Node], key: Path) -> str:
    lines = []
    for node in nodes:
        lines += [
            f"Host {node.name}",
            "  HostName 127.0.0.1",
            f"  Port {node.port}",
            f"  User {node.user}",
            f"  IdentityFile {key}",
            "  IdentitiesOnly yes",
            "  StrictHostKeyChecking no",
            "  UserKnownHostsFile /dev/null",
            "  LogLevel ERROR",
            "",
        ]
    return "\n".join(lines)


def inventory(nodes: list[Node], key: Path) -> dict:
    hosts = {
        node.name: {
            "ansible_host": "127.0.0.1",
            "ansible_port": node.port,
            "ansible_user": node.user,
            **({"ansible_become": True} if node.user != "root" else {}),
            "ansible_ssh_private_key_file": str(key),
            "lab_private_address": node.address,
            "lab_image": node.image,
        }
        for node in nodes
    }
    return {
        "all": {
            "vars": {
                "ansible_python_interpreter": "/usr/bin/python3",
                "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                "-o IdentitiesOnly=yes",
            },
            "children": {"lab": {"hosts": hosts}},
        }
    }


def instances(nodes: list[Node], key: Path) -> list[dict]:
    """What molecule's create playbook reads (instance, address, user, port, identity_file)."""
    return [
        {
            "instance": n.name,
            "address": "127.0.0.1",
            "port": n.port,
            "user": n.user,
            "identity_file": str(key),
            "private_address": n.address,
            "image": n.image,
            "guest_port": n.guest_port,
        }
        for n in nodes
    ]


def read_instances(state: Path) -> list[Node]:
    return [
        Node(
            inst["instance"],
            0,
            inst["port"],
            inst["private_address"],
            inst.get("image", "?"),
            inst.get("user", "root"),
            inst.get("guest_port", 22),
        )
        for inst in json.loads((state / "instances.json").read_text(encoding="utf-8"))
    ]


def write_access_files(lab: str, nodes: list[Node], key: Path) -> None:
    state = lab_dir(lab)
    (state / "cp").mkdir(exist_ok=True)
    write(state / "ssh_config", ssh_config(nodes, key))
    # JSON is valid YAML: the inventory needs no YAML library here.
    write(state / "inventory.yml", json.dumps(inventory(nodes, key), indent=2) + "\n")
    write(state / "instances.json", json.dumps(instances(nodes, key), indent=2) + "\n")


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
