"""What the lab hands qemu, SSH and Ansible, and how it finds its processes, without booting a node."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from labvm import access, cli, host, lab, machines, network

KEY = Path("/keys/id_ed25519")


@pytest.fixture
def nodes() -> list[network.Node]:
    return [
        network.Node("node1", 1, 40001, "10.77.0.11", "debian12-containerd"),
        network.Node("node2", 2, 40002, "10.77.0.12", "debian13"),
    ]


def option(command: list[str], name: str) -> list[str]:
    """Every value given to one qemu option."""
    return [command[i + 1] for i, arg in enumerate(command) if arg == name]


def test_qemu_command_never_touches_the_callers_terminal(monkeypatch, nodes, tmp_path):
    monkeypatch.setenv("NODELAB_ACCEL", "tcg")
    img = tmp_path / "images" / "debian12-containerd-x-y"
    cmd = machines.qemu_command("unit", nodes[0], img, tmp_path, 1024)
    assert cmd[0] == "qemu-system-x86_64"
    assert option(cmd, "-display") == ["none"]
    assert "-daemonize" in cmd
    assert "-nodefaults" in cmd
    assert not any("stdio" in arg or arg == "-nographic" for arg in cmd)
    assert option(cmd, "-serial") == [f"file:{tmp_path / 'node1.console.log'}"]
    assert option(cmd, "-pidfile") == [str(tmp_path / "node1.pid")]
    # The marker by which down and status find the process.
    assert option(cmd, "-name") == ["nodelab-unit-node1"]
    assert option(cmd, "-kernel") == [str(img / "vmlinuz")]
    assert option(cmd, "-initrd") == [str(img / "initrd.img")]
    assert option(cmd, "-drive") == [f"file={tmp_path / 'node1.qcow2'},if=virtio,format=qcow2,discard=unmap"]
    assert "nodelab.ip=10.77.0.11/24" in option(cmd, "-append")[0].split()
    user, private = option(cmd, "-nic")
    assert "hostfwd=tcp:127.0.0.1:40001-:22" in user.split(",")
    assert f"mac={network.USER_MAC}:01" in user.split(",")
    assert private.startswith(f"vde,sock={tmp_path / 'switch'},")
    assert f"mac={network.PRIVATE_MAC}:01" in private.split(",")


@pytest.mark.parametrize(
    ("verdict", "accel", "cpu"),
    [("kvm", "kvm", "host"), ("tcg", "tcg,thread=multi", "max,-cx16")],
)
def test_accelerator_arguments(monkeypatch, verdict, accel, cpu):
    monkeypatch.delenv("NODELAB_TCG", raising=False)
    monkeypatch.delenv("NODELAB_TCG_CPU", raising=False)
    assert machines.accel_args(verdict) == ["-accel", accel, "-cpu", cpu]


def test_accelerator_probe_is_cached(monkeypatch, tmp_path):
    monkeypatch.delenv("NODELAB_ACCEL", raising=False)
    monkeypatch.setattr(machines, "CACHE", tmp_path)
    probes = []
    monkeypatch.setattr(machines, "kvm_works", lambda: probes.append(1) or False)
    assert machines.accel()[:2] == ["-accel", "tcg,thread=multi"]
    assert machines.accel()[:2] == ["-accel", "tcg,thread=multi"]
    assert probes == [1]
    assert (tmp_path / "accel-probe").read_text(encoding="utf-8") == "tcg"


def test_inventory_and_instances_name_each_nodes_image(monkeypatch, nodes, tmp_path):
    monkeypatch.setattr(host, "CACHE", tmp_path)
    monkeypatch.setattr(access, "lab_dir", lambda name: tmp_path / name)
    (tmp_path / "unit").mkdir()
    access.write_access_files("unit", nodes, KEY)
    inventory = json.loads((tmp_path / "unit/inventory.yml").read_text(encoding="utf-8"))
    hosts = inventory["all"]["children"]["lab"]["hosts"]
    assert {name: h["lab_image"] for name, h in hosts.items()} == {"node1": "debian12-containerd", "node2": "debian13"}
    assert hosts["node2"]["ansible_port"] == 40002
    assert hosts["node2"]["lab_private_address"] == "10.77.0.12"
    instances = json.loads((tmp_path / "unit/instances.json").read_text(encoding="utf-8"))
    assert [(i["instance"], i["port"], i["image"]) for i in instances] == [
        ("node1", 40001, "debian12-containerd"),
        ("node2", 40002, "debian13"),
    ]
    assert {"address", "user", "identity_file", "private_address"} <= set(instances[0])
    assert [n.image for n in access.read_instances(tmp_path / "unit")] == ["debian12-containerd", "debian13"]
    config = (tmp_path / "unit/ssh_config").read_text(encoding="utf-8")
    assert "Host node2\n  HostName 127.0.0.1\n  Port 40002\n" in config


def test_plan_gives_node_i_its_address_and_a_free_port():
    planned = network.plan(["debian13", "debian12"])
    assert [(n.name, n.index, n.address, n.image) for n in planned] == [
        ("node1", 1, "10.77.0.11", "debian13"),
        ("node2", 2, "10.77.0.12", "debian12"),
    ]
    assert all(1024 < n.port < 65536 for n in planned)


@pytest.mark.parametrize(
    ("argv", "images"),
    [
        (["up"], ["debian12"]),
        (["up", "--nodes", "3"], ["debian12"] * 3),
        (["up", "--image", "debian12-containerd", "--image", "debian13"], ["debian12-containerd", "debian13"]),
    ],
)
def test_up_chooses_an_image_per_node(argv, images):
    args = cli.parser().parse_args(argv)
    assert cli.node_images(args, pytest.fail) == images


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["up", "--nodes", "2", "--image", "debian13"], "not both"),
        (["up", "--nodes", "0"], "1 to 9 nodes"),
        (["up", "--nodes", "10"], "1 to 9 nodes"),
    ],
)
def test_up_refuses_bad_node_choices(argv, message):
    def error(text):
        raise ValueError(text)

    with pytest.raises(ValueError, match=message):
        cli.node_images(cli.parser().parse_args(argv), error)


def test_up_refuses_an_unknown_image():
    with pytest.raises(SystemExit, match="no image recipe 'debian9'"):
        cli.node_images(cli.parser().parse_args(["up", "--image", "debian9"]), pytest.fail)


def test_build_and_down_keep_their_flags():
    parser = cli.parser()
    assert parser.parse_args(["build"]).image is None
    assert parser.parse_args(["build", "--all"]).all
    assert parser.parse_args(["build", "--image", "debian13", "--image", "debian12"]).image == ["debian13", "debian12"]
    assert parser.parse_args(["down"]).name == "default"
    assert parser.parse_args(["down", "--prefix", "molecule-"]).prefix == "molecule-"
    with pytest.raises(SystemExit):
        parser.parse_args(["build", "--all", "--image", "debian12"])


def test_a_labs_processes_are_found_by_the_marker_and_stopped(tmp_path):
    """A stand-in process whose command line looks like a lab node's qemu."""
    fake_qemu = tmp_path / "qemu-system-stand-in"
    fake_qemu.symlink_to(sys.executable)
    marker = f"{machines.MARKER}-unit-proc-test-node1"
    proc = subprocess.Popen(
        [str(fake_qemu), "-c", "import time; time.sleep(60)", "-name", marker],
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while proc.pid not in machines.lab_processes("unit-proc-test") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert machines.lab_processes("unit-proc-test") == [proc.pid]
        assert "unit-proc-test" in machines.running_labs()
        assert proc.pid not in machines.lab_processes("unit-proc")
        lab.down("unit-proc-test")
        assert proc.wait(timeout=15) != 0
        assert machines.lab_processes("unit-proc-test") == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not os.path.exists(host.lab_dir("unit-proc-test"))


def test_an_operator_lab_logs_in_as_the_sudo_user_on_port_2222(monkeypatch, tmp_path):
    monkeypatch.setattr(access, "lab_dir", lambda name: tmp_path / name)
    planned = network.plan(["debian12-containerd"], operator=True)
    assert [(n.user, n.guest_port) for n in planned] == [("labop", 2222)]
    assert f"hostfwd=tcp:127.0.0.1:{planned[0].port}-:2222" in " ".join(network.nic_args(planned[0], tmp_path))
    (tmp_path / "op").mkdir()
    access.write_access_files("op", planned, KEY)
    host = json.loads((tmp_path / "op/inventory.yml").read_text(encoding="utf-8"))["all"]["children"]["lab"]["hosts"]
    assert (host["node1"]["ansible_user"], host["node1"]["ansible_become"]) == ("labop", True)
    assert [(n.user, n.guest_port) for n in access.read_instances(tmp_path / "op")] == [("labop", 2222)]
    assert "  User labop\n" in (tmp_path / "op/ssh_config").read_text(encoding="utf-8")
    # A root lab is what it was: root on port 22, no become.
    root = network.plan(["debian12"])[0]
    assert (root.user, root.guest_port) == ("root", 22)
    assert f"hostfwd=tcp:127.0.0.1:{root.port}-:22" in network.nic_args(root, tmp_path)[1]
