# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""gVisor's flags: what is accepted, the wrapper script runc's shim runs, the shim's runsc.toml."""

from __future__ import annotations

import subprocess

import pytest
import tomllib

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._sandbox import gvisor

CID = "k8s.sandbox.gvisor_handler"
HEADER = (
    "# gVisor's flags for the runsc runtime handler, written by nodeguard.hardening's sandbox role.\n"
    "# This file is replaced on every run: change the role's variables, not this file.\n"
)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (None, {}),
        ({}, {}),
        ({"platform": "ptrace"}, {"platform": "ptrace"}),
        (
            {"network": "host", "net-raw": True, "overlay2": "root:self"},
            {"network": "host", "net-raw": "true", "overlay2": "root:self"},
        ),
        ({"directfs": False}, {"directfs": "false"}),
        (
            {"watchdog-action": "panic", "num-network-channels": 4, "ratio": 0.5},
            {"watchdog-action": "panic", "num-network-channels": "4", "ratio": "0.5"},
        ),
    ],
)
def test_check_flags_turns_values_into_text(flags, expected):
    assert gvisor.check_flags(CID, flags) == expected


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["platform=ptrace"], "gvisor.flags must map runsc flag names to values"),
        (
            {"--platform": "ptrace"},
            "'--platform' is not a runsc flag name (lower-case words joined by -, no leading --)",
        ),
        ({"Platform": "ptrace"}, "'Platform' is not a runsc flag name"),
        ({"net_raw": True}, "'net_raw' is not a runsc flag name"),
        ({"platform ": "ptrace"}, "'platform ' is not a runsc flag name"),
        ({"platform": ["ptrace"]}, "runsc flag platform needs a string, number or boolean"),
        ({"platform": None}, "runsc flag platform needs a string, number or boolean"),
        ({"platform": ""}, "runsc flag platform needs a one-word value"),
        ({"platform": "ptrace\n--root=/tmp"}, "runsc flag platform needs a one-word value"),
        ({"overlay2": "root:self dir"}, "runsc flag overlay2 needs a one-word value"),
        ({"root-dir": "/tmp/*"}, "needs a one-word value"),
    ],
)
def test_check_flags_refuses(flags, message):
    with pytest.raises(ControlInputError) as error:
        gvisor.check_flags(CID, flags)
    assert str(error.value).startswith(f"control {CID!r}: ")
    assert message in str(error.value)


@pytest.mark.parametrize("name", gvisor.RESERVED)
def test_check_flags_refuses_what_the_shim_sets(name):
    assert name in ("root", "log", "log-format", "debug-log", "panic-log", "systemd-cgroup")
    with pytest.raises(ControlInputError) as error:
        gvisor.check_flags(CID, {"platform": "ptrace", name: "x"})
    assert str(error.value) == (
        f"control {CID!r}: runsc's --{name} is set by containerd's shim; leave it out of gvisor.flags"
    )


def fake_runsc(tmp_path, kill_output: str = "", status: int = 0):
    """A runsc that prints its arguments one per line (and KILL_OUTPUT on kill) and exits STATUS."""
    binary = tmp_path / "runsc"
    binary.write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" kill "*) printf "%s" {kill_output!r} >&2; exit {status} ;; esac\n'
        'for word in "$@"; do printf "%s\\n" "$word"; done\n'
    )
    binary.chmod(0o755)
    return binary


def run_wrapper(tmp_path, binary, flags, *args):
    script = tmp_path / "wrapper"
    script.write_text(gvisor.wrapper("runsc", str(binary), flags))
    script.chmod(0o755)
    return subprocess.run([str(script), *args], check=False, capture_output=True, text=True)


def test_wrapper_text_names_the_handler_and_the_command():
    text = gvisor.wrapper("gvisor", "/usr/bin/runsc", {"platform": "ptrace", "net-raw": "true"})
    assert text.startswith(f"#!/bin/sh\n{HEADER.replace('runsc runtime', 'gvisor runtime')}")
    assert "runsc='/usr/bin/runsc --platform=ptrace --net-raw=true'\n" in text
    assert text.endswith('exec $runsc "$@"\n')


def test_wrapper_passes_flags_then_containerds_arguments(tmp_path):
    done = run_wrapper(
        tmp_path, fake_runsc(tmp_path), {"platform": "ptrace", "network": "host"}, "--root", "/run/x", "state", "id1"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["--platform=ptrace", "--network=host", "--root", "/run/x", "state", "id1"]


def test_wrapper_gives_every_container_a_sandbox_of_its_own(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    config = '{"annotations":{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.sandbox-id":"abc"}}'
    (bundle / "config.json").write_text(config)
    done = run_wrapper(tmp_path, fake_runsc(tmp_path), {}, "--root", "/r", "create", "--bundle", str(bundle), "id2")
    assert done.returncode == 0, done.stderr
    assert (bundle / "config.json").read_text() == config.replace('type":"container"', 'type":"sandbox"')
    assert done.stdout.splitlines() == ["--root", "/r", "create", "--bundle", str(bundle), "id2"]


def test_wrapper_leaves_other_commands_bundles_alone(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    config = '{"annotations":{"io.kubernetes.cri.container-type":"container"}}'
    (bundle / "config.json").write_text(config)
    done = run_wrapper(tmp_path, fake_runsc(tmp_path), {}, "start", "--bundle", str(bundle), "id2")
    assert done.returncode == 0 and (bundle / "config.json").read_text() == config


@pytest.mark.parametrize(
    ("said", "status", "shown"),
    [
        ("sandbox is not running", 1, "container not running\n"),
        ("no such process", 1, "no such process\n"),
        ("", 0, ""),
    ],
)
def test_wrapper_says_a_stopped_sandbox_as_runc_does(tmp_path, said, status, shown):
    done = run_wrapper(tmp_path, fake_runsc(tmp_path, said, status), {}, "--root", "/r", "kill", "id3", "9")
    assert (done.returncode, done.stderr) == (status, shown)


def test_shim_config_puts_the_flags_under_runsc_config():
    text = gvisor.shim_config("runsc", {"platform": "kvm", "net-raw": "true"})
    assert text == f'{HEADER}\n[runsc_config]\nplatform = "kvm"\nnet-raw = "true"\n'
    assert tomllib.loads(text) == {"runsc_config": {"platform": "kvm", "net-raw": "true"}}


def test_shim_config_without_flags_still_has_the_table():
    assert tomllib.loads(gvisor.shim_config("runsc", {})) == {"runsc_config": {}}
