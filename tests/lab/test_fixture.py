"""The containerd fixture on real VMs: one Debian 12 and one Debian 13 node in one lab, each
importing the locally built busybox image at boot and running a container from it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from labvm import access, oci

ROOT = Path(__file__).resolve().parents[2]
LAB = [sys.executable, str(ROOT / "lab" / "nodelab.py")]
NAME = "fixture-test"
NODES = {"node1": ("debian12-containerd", "12"), "node2": ("debian13-containerd", "13")}


@pytest.fixture(scope="module")
def inventory():
    images = [arg for image, _unused in NODES.values() for arg in ("--image", image)]
    try:
        command = [*LAB, "up", "--name", NAME, *images]
        up = subprocess.run(command, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        yield json.loads(Path(up.stdout.strip()).read_text(encoding="utf-8"))
    finally:
        subprocess.run([*LAB, "down", "--name", NAME], check=False, stdin=subprocess.DEVNULL)


def ssh(node: str, command: str) -> str:
    done = subprocess.run(
        [*access.ssh_base(NAME), node, command], capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    assert done.returncode == 0, f"{node}: {command}: {done.stderr or done.stdout}"
    return done.stdout


@pytest.mark.parametrize("node", NODES)
def test_node_runs_its_image(inventory, node):
    image, version = NODES[node]
    assert inventory["all"]["children"]["lab"]["hosts"][node]["lab_image"] == image
    assert f'VERSION_ID="{version}"' in ssh(node, "cat /etc/os-release")


@pytest.mark.parametrize("node", NODES)
def test_container_runs_from_the_local_image(inventory, node):
    # A oneshot unit: start returns once the import at boot has finished.
    ssh(node, "systemctl start nodelab-import-image.service")
    assert oci.IMAGE_REF in ssh(node, "ctr -n k8s.io images ls -q").split()
    out = ssh(node, f"ctr -n k8s.io run --rm {oci.IMAGE_REF} hello-{node} /bin/busybox echo hello")
    assert out.strip() == "hello"


@pytest.mark.parametrize("node", NODES)
def test_node_reaches_no_package_archive(inventory, node):
    sources = ssh(node, "cat /etc/apt/sources.list; ls /etc/apt/sources.list.d")
    assert "http" not in sources
