# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet's firewall, probed over the lab's private switch after converge and the side effects.

Every node probes every other node's listeners and SSH ports at once (files/netlab.py); node2 also
probes from its pod namespace. A port is open when the far end's first line comes back, closed when
the connection times out (ufw drops). The matrix below is what the role's port sets make of the
scenario's networks: 10.77.0.0/24 for the nodes, only node1 (10.77.0.11) for the control plane's
own ports, no NodePort clients.
"""

from __future__ import annotations

import json
import re

import pytest

ADDRESSES = {"node1": "10.77.0.11", "node2": "10.77.0.12", "node3": "10.77.0.13"}
METADATA = "169.254.169.254"
LISTEN = {
    "node1": [6443, 2379, 2380, 10250, 10257, 10259, 9999],
    "node2": [10250, 30080, 9999],
    "node3": [10250, 30080, 9999],
}
SSH = [22, 2222]


def allowed(source: str, target: str, port: int) -> bool:
    """Whether the role's rules let SOURCE (a node) in on TARGET's PORT."""
    if port in SSH:
        return True
    if target == "node1":
        return port == 6443 or (source == "node1" and port in (2379, 2380, 10250, 10257, 10259))
    return port == 10250 and source == "node1"


def probe(host, targets: list[str], namespace: str | None = None) -> dict[str, str]:
    command = ["python3", "/usr/local/sbin/nodeguard-lab-net", "probe", *targets]
    if namespace:
        command = ["ip", "netns", "exec", namespace, *command]
    result = host.run(" ".join(command))
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def name(host) -> str:
    return host.backend.get_hostname()


def test_ufw_active_with_the_role_defaults(host):
    status = host.run("ufw status verbose")
    assert status.rc == 0, status.stderr
    assert "Status: active" in status.stdout
    assert "Default: deny (incoming), allow (outgoing), deny (routed)" in status.stdout
    assert "Logging: on (low)" in status.stdout


def test_ufw_starts_at_boot(host):
    assert host.service("ufw").is_enabled
    conf = host.file("/etc/ufw/ufw.conf").content_string
    assert "ENABLED=yes" in conf.splitlines()


def test_kernel_settings_left_to_the_kernel_role(host):
    # prepare set log_martians to 1; ufw's sysctl.conf sets it to 0 whenever ufw starts.
    defaults = host.file("/etc/default/ufw").content_string.splitlines()
    assert "IPT_SYSCTL=" in defaults
    assert "MANAGE_BUILTINS=no" in defaults
    assert host.sysctl("net.ipv4.conf.all.log_martians") == 1


def test_data_plane_chains_kept(host):
    nat = host.run("iptables -t nat -S")
    assert nat.rc == 0, nat.stderr
    assert '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES' in nat.stdout
    assert "--to-destination 10.77.0.11:6443" in nat.stdout
    filter_rules = host.run("iptables -S")
    assert '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD' in filter_rules.stdout
    assert "-A KUBE-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED" in filter_rules.stdout
    # ufw's chains are there too, in the same (nft) backend.
    assert "-A INPUT -j ufw-before-input" in filter_rules.stdout
    assert host.run("readlink -f /usr/sbin/iptables").stdout.strip() == "/usr/sbin/xtables-nft-multi"


def test_ports_from_this_node(host, name):
    targets = [f"{ADDRESSES[other]}:{port}" for other in ADDRESSES if other != name for port in [*LISTEN[other], *SSH]]
    answers = probe(host, targets)
    wrong = {}
    for other in ADDRESSES:
        if other == name:
            continue
        for port in [*LISTEN[other], *SSH]:
            answer = answers[f"{ADDRESSES[other]}:{port}"]
            expected_open = allowed(name, other, port)
            is_open = answer.startswith(("nodeguard-lab", "SSH-2.0"))
            if is_open != expected_open or (not is_open and answer != "timeout"):
                wrong[f"{other}:{port}"] = answer
    assert wrong == {}, answers


def test_own_listeners_answer(host, name):
    # The same listeners answer the node itself (loopback traffic), so a closed port above is ufw.
    targets = [f"{ADDRESSES[name]}:{port}" for port in LISTEN[name]]
    answers = probe(host, targets)
    assert answers == {target: f"nodeguard-lab {target.rsplit(':', 1)[1]}" for target in targets}


def test_ssh_on_the_non_default_port_is_open(host, name):
    others = [f"{ADDRESSES[other]}:2222" for other in ADDRESSES if other != name]
    answers = probe(host, others)
    assert all(answer.startswith("SSH-2.0-OpenSSH") for answer in answers.values()), answers


def test_metadata_routes_stay_in_the_lab(host, name):
    route = host.run(f"ip route get {METADATA}").stdout
    assert "dev eth0" not in route
    assert ("local" in route) if name == "node1" else (f"via {ADDRESSES['node1']} dev eth1" in route)


def fetch(host, url: str, namespace: str | None = None) -> str:
    code = (
        "import urllib.request,sys\n"
        "try:\n"
        f"    print(urllib.request.urlopen('{url}', timeout=5).read().decode().strip())\n"
        "except Exception as error:\n"
        "    print('failed:', type(error).__name__)\n"
    )
    prefix = f"ip netns exec {namespace} " if namespace else ""
    result = host.run(f'{prefix}python3 -c "{code}"')
    assert result.rc == 0, result.stderr
    return result.stdout.strip()


def test_node_keeps_its_metadata_access(host, name):
    if name == "node1":
        pytest.skip("node1 serves the stand-in")
    assert fetch(host, f"http://{METADATA}/latest/meta-data/instance-id") == "nodeguard-lab-metadata-stand-in"


def test_pod_reaches_other_nodes_and_services_but_not_metadata(host, name):
    if name != "node2":
        pytest.skip("the pod namespace is on node2")
    answers = probe(host, ["10.77.0.11:6443", "10.96.0.1:443", "10.77.0.11:2379", "10.77.0.13:10250"], "pod1")
    assert answers == {
        "10.77.0.11:6443": "nodeguard-lab 6443",
        # The kube-proxy stand-in's DNAT, then routed by the pod network's rules.
        "10.96.0.1:443": "nodeguard-lab 6443",
        "10.77.0.11:2379": "timeout",
        "10.77.0.13:10250": "timeout",
    }
    assert fetch(host, f"http://{METADATA}/latest/meta-data/instance-id", "pod1") in (
        "failed: URLError",
        "failed: TimeoutError",
        "failed: timeout",
    )
    # ufw logged the drop of the pod's packet to the metadata address.
    log = host.run("journalctl -k --no-pager -o cat --since '-10min'").stdout
    drops = [line for line in log.splitlines() if f"DST={METADATA}" in line and "SRC=10.244.2.2" in line]
    assert drops and "UFW" in drops[-1], log[-2000:]


def test_ip_in_ip_between_the_nodes_crosses_the_firewall(host, name):
    # IP protocol 4 has no ufw rule; the role accepts it from the node network in before.rules.
    if name == "node2":
        pytest.skip("the tunnel joins node1 and node3")
    chain = host.run("iptables -S ufw-before-input").stdout
    # iptables names protocol 4 from /etc/protocols (ipencap or ipv4, by netbase's version).
    assert re.search(r"^-A ufw-before-input -s 10\.77\.0\.0/24 -p (4|ipencap|ipv4) -j ACCEPT$", chain, re.M), chain
    peer = {"node1": "192.168.250.2", "node3": "192.168.250.1"}[name]
    result = host.run(f"ping -c 2 -W 3 {peer}")
    assert result.rc == 0, result.stdout + result.stderr
