# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""gVisor confines real containers: pods run through containerd's CRI plugin, as a kubelet runs them.

The lab's CRI client (lab/kubelet/cri.py, on the node) starts a pod sandbox with a runtime
handler, a container in it from the lab's busybox image, and runs a command there. With the runsc
handler the role configured, the container sees gVisor's kernel (its own version and boot log);
the same image under the default handler (runc) sees the node's kernel. The runsc sandbox's
processes run on the node while the pod exists.
"""

from __future__ import annotations

import json

import pytest
import tomllib

CRI = "python3 /root/nodeguard-lab/kubelet/cri.py"
IMAGE = "localhost/nodelab/busybox:latest"
DROP_IN = "/etc/containerd/conf.d/90-nodeguard-sandbox.toml"
WRAPPER = "/usr/local/libexec/nodeguard/runsc"
# gVisor reports this kernel release to what runs in it, whatever the node's kernel is.
GVISOR_RELEASE = "4.4.0"


def option(options: dict, name: str):
    """An option of a runtime handler, whatever the case of its first letter."""
    matches = [value for key, value in options.items() if key.lower() == name.lower()]
    assert len(matches) == 1, options
    return matches[0]


def pod(host, handler: str, command: str) -> dict:
    """Run COMMAND (sh -c) in a new pod with HANDLER ("" for the default) and return what it printed."""
    done = host.run(f"{CRI} run --handler '{handler}' --image {IMAGE} --timeout 240 -- /bin/sh -c '{command}'")
    assert done.rc == 0, f"the pod with handler {handler!r} did not run: {done.stdout} {done.stderr}"
    result = json.loads(done.stdout)
    assert result["exit_code"] == 0, result
    return result


@pytest.fixture(scope="module", autouse=True)
def images(host):
    # A oneshot unit: start returns once the import at boot has finished.
    host.run_expect([0], "systemctl start nodelab-import-image.service")


@pytest.fixture(scope="module")
def node_kernel(host) -> str:
    return host.check_output("uname -r").strip()


def test_a_runsc_pod_sees_gvisors_kernel_not_the_nodes(host, node_kernel):
    result = pod(host, "runsc", "uname -r; echo ---; dmesg")
    release, _sep, log = result["stdout"].partition("---")
    assert release.strip() == GVISOR_RELEASE != node_kernel, result
    # gVisor's own boot log, which no Linux kernel prints.
    assert "Starting gVisor" in log, log


def test_the_same_image_under_the_default_handler_sees_the_nodes_kernel(host, node_kernel):
    result = pod(host, "", "uname -r; echo ---; dmesg 2>&1 || true")
    release, _sep, log = result["stdout"].partition("---")
    assert release.strip() == node_kernel, result
    # The check of the runsc test fails here: it tells the two runtimes apart.
    assert release.strip() != GVISOR_RELEASE and "Starting gVisor" not in log, result


def test_containerd_reads_the_handler_and_keeps_the_users_settings(host):
    dumped = tomllib.loads(host.check_output("containerd config dump"))
    cri = dumped["plugins"]["io.containerd.grpc.v1.cri"]
    runsc = cri["containerd"]["runtimes"]["runsc"]
    assert runsc["runtime_type"] == "io.containerd.runc.v2"
    assert runsc["options"]["BinaryName"] == WRAPPER
    # The layout's settings survive the drop-in that replaces the CRI section.
    assert cri["sandbox_image"] == "localhost/nodelab/pause:latest"
    # kubespray spells the runc options in lower camel case; containerd reads them either way.
    assert option(cri["containerd"]["runtimes"]["runc"]["options"], "SystemdCgroup") is True
    assert option(runsc["options"], "SystemdCgroup") is True


def test_the_main_configuration_only_imports_the_drop_in(host):
    main = tomllib.loads(host.file("/etc/containerd/config.toml").content_string)
    assert DROP_IN in main["imports"]
    assert "runsc" not in main["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]
    assert host.file(DROP_IN).mode == 0o644


def test_the_wrapper_runs_debians_runsc_with_the_scenarios_flags(host):
    wrapper = host.file(WRAPPER)
    assert wrapper.mode == 0o755 and wrapper.user == "root"
    assert "runsc='/usr/bin/runsc --network=host --platform=ptrace'" in wrapper.content_string
    assert host.package("runsc").is_installed


def test_the_gvisor_runtimeclass_manifest_is_written_and_kata_is_not(host):
    path = "/etc/nodeguard/runtimeclasses/gvisor.yaml"
    manifest = host.check_output(f"python3 -c 'import json, yaml; print(json.dumps(yaml.safe_load(open(\"{path}\"))))'")
    assert json.loads(manifest) == {
        "apiVersion": "node.k8s.io/v1",
        "kind": "RuntimeClass",
        "metadata": {"name": "gvisor"},
        "handler": "runsc",
        "scheduling": {"nodeSelector": {"sandbox.nodeguard.io/runsc": "true"}},
    }
    # Kata needs hardware virtualisation, which an emulated node lacks: nothing of it is installed.
    assert not host.file("/etc/nodeguard/runtimeclasses/kata.yaml").exists
    assert not host.file("/opt/kata").exists
