# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Validation of seccomp profiles: every rule refuses what it should, naming the JSON path, and
accepts the OCI and containerd CRI forms; the library profiles pass with the host's libseccomp."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._seccomp import native, schema

LIBRARY = Path(__file__).resolve().parents[5] / "roles" / "seccomp" / "files" / "profiles"
TABLE = native.Table(
    "SCMP_ARCH_X86_64",
    {
        "SCMP_ARCH_X86_64": {"read", "write", "unshare", "clone", "socket", "mount", "keyctl", "ptrace"},
        "SCMP_ARCH_X86": {"read", "write", "socketcall", "socket"},
        "SCMP_ARCH_AARCH64": {"read", "write", "unshare", "clone"},
    },
)


def refused(document, says: str) -> str:
    text = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(ControlInputError) as caught:
        schema.validate("p.json", text, TABLE)
    message = str(caught.value)
    assert message.startswith("seccomp profile 'p.json': ")
    assert says in message, message
    return message


def rule(**fields) -> dict:
    return {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", **fields}]}


def test_a_realistic_oci_profile_passes_and_says_what_it_holds():
    document = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG"],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["socketcall"], "action": "SCMP_ACT_ALLOW", "comment": "x86 only"},
            {
                "names": ["clone"],
                "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}],
            },
            {"names": ["unshare"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
        ],
    }
    profile = schema.validate("p.json", json.dumps(document), TABLE)
    assert (profile.default_action, profile.syscall_count) == ("SCMP_ACT_ERRNO", 4)
    assert profile.data == document


def test_the_containerd_cri_form_with_arch_map_name_and_conditions_passes():
    document = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
        "syscalls": [
            {"name": "mount", "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8", "arches": ["amd64"]}},
            {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO", "excludes": {"minKernel": "4.8"}},
        ],
    }
    assert schema.validate("p.json", json.dumps(document), TABLE).syscall_count == 3


def test_notify_needs_a_listener_path_and_cannot_be_the_default():
    document = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_NOTIFY"}]}
    refused(document, "listenerPath: SCMP_ACT_NOTIFY needs listenerPath")
    schema.validate("p.json", json.dumps({**document, "listenerPath": "/run/agent.sock"}), TABLE)
    refused({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/run/a"}, "cannot be the default action")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "the profile is empty"),
        ('{"defaultAction": "SCMP_ACT_ERRNO",', "not valid JSON at line 1 column"),
        ('{\n  "defaultAction": "SCMP_ACT_ERRNO"\n  "syscalls": []\n}', "line 3 column 3"),
        ('{"defaultAction": "SCMP_ACT_ERRNO", "defaultAction": "SCMP_ACT_ALLOW"}', "'defaultAction' appears twice"),
        ("[]", "a profile must be an object"),
    ],
)
def test_text_that_is_not_one_json_object_is_refused(text, says):
    refused(text, says)


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({"defaultActoin": "SCMP_ACT_ERRNO"}, "unknown key 'defaultActoin' (did you mean 'defaultAction'?)"),
        ({"syscalls": []}, "defaultAction is required"),
        ({"defaultAction": "SCMP_ACT_DENY"}, "defaultAction: unknown action 'SCMP_ACT_DENY'"),
        (
            {"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1},
            "defaultErrnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE",
        ),
        ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1}, "defaultErrnoRet: must be a whole number"),
        ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": True}, "defaultErrnoRet: must be a whole number"),
        (
            {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_65"]},
            "(did you mean 'SCMP_ARCH_X86_64'?)",
        ),
        (
            {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_S390X"]},
            "not an architecture this node's libseccomp supports",
        ),
        ({"defaultAction": "SCMP_ACT_ERRNO", "architectures": "SCMP_ARCH_X86_64"}, "architectures: must be a list"),
        (
            {"defaultAction": "SCMP_ACT_ERRNO", "architectures": [], "archMap": []},
            "give architectures or archMap, not both",
        ),
        (
            {"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"subArchitectures": []}]},
            "archMap[0]: architecture is required",
        ),
        ({"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_SPEC"]}, "flags[0]: unknown flag"),
        ({"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_LOG"] * 2}, "a flag is given twice"),
        ({"defaultAction": "SCMP_ACT_ERRNO", "listenerPath": 3}, "listenerPath: must be a string"),
        ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": {}}, "syscalls: must be a list"),
    ],
)
def test_the_top_level_is_checked(document, says):
    refused(document, says)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        (
            {"action": "SCMP_ACT_ALOW"},
            "syscalls[0].action: unknown action 'SCMP_ACT_ALOW' (did you mean 'SCMP_ACT_ALLOW'?)",
        ),
        ({"errnoRet": 1}, "syscalls[0].errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE return a value"),
        ({"acton": "x"}, "unknown key 'acton' (did you mean 'action'?)"),
        ({"names": []}, "syscalls[0].names: must be a non-empty list"),
        ({"names": ["read", ""]}, "syscalls[0].names[1]: must be a non-empty string"),
        ({"names": ["read", "read"]}, "syscalls[0].names[1]: 'read' is listed twice"),
        ({"names": ["unshar"]}, "'unshar' is not a system call on SCMP_ARCH_X86_64 (did you mean 'unshare'?)"),
        ({"name": "read"}, "give names (a list) or name (one), exactly one of them"),
        (
            {"args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]},
            "args[0].index: must be a whole number from 0 to 5",
        ),
        ({"args": [{"index": 0, "value": 2**64, "op": "SCMP_CMP_EQ"}]}, "args[0].value: must be a whole number"),
        ({"args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQUAL"}]}, "args[0].op: unknown operator 'SCMP_CMP_EQUAL'"),
        ({"args": [{"index": 0, "op": "SCMP_CMP_EQ"}]}, "args[0]: value is required"),
        (
            {"args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ", "valu2": 1}]},
            "unknown key 'valu2' (did you mean 'value'?)",
        ),
        ({"comment": 3}, "syscalls[0].comment: must be a string"),
        ({"includes": {"caps": ["sys_admin"]}}, "includes.caps[0]: 'sys_admin' is not a capability name"),
        ({"includes": {"arches": ["amd65"]}}, "includes.arches[0]: unknown architecture 'amd65'"),
        ({"excludes": {"minKernel": "four"}}, "excludes.minKernel: must be a kernel version"),
    ],
)
def test_each_rule_is_checked(fields, says):
    document = rule(**fields)
    if "name" in fields:
        document["syscalls"][0]["names"] = ["write"]
    if fields.get("acton"):
        del document["syscalls"][0]["action"]
    refused(document, says)


def test_a_rule_without_action_is_refused():
    refused({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"]}]}, "syscalls[0]: action is required")


def test_a_name_is_looked_up_on_the_architectures_the_profile_lists():
    x86_only = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["socketcall"], "action": "SCMP_ACT_ALLOW"}]}
    refused(x86_only, "'socketcall' is not a system call on SCMP_ARCH_X86_64")
    schema.validate("p.json", json.dumps({**x86_only, "architectures": ["SCMP_ARCH_X86"]}), TABLE)


def test_one_call_with_two_unconditional_actions_is_refused_but_conditions_may_differ():
    document = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["unshare"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["unshare"], "action": "SCMP_ACT_ERRNO"},
        ],
    }
    refused(document, "syscalls[1].names[0]: 'unshare' already has SCMP_ACT_ALLOW in syscalls[0]")
    document["syscalls"][1]["args"] = [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]
    schema.validate("p.json", json.dumps(document), TABLE)


# The library, with the libseccomp of the machine the tests run on.
DENIED = {
    "unshare", "setns", "keyctl", "add_key", "request_key", "ptrace", "mount", "umount2", "mount_setattr",
    "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "pivot_root", "chroot", "bpf",
    "perf_event_open", "userfaultfd", "process_vm_readv", "process_vm_writev", "kcmp", "io_uring_setup",
    "io_uring_enter", "io_uring_register",
}  # fmt: skip


@pytest.fixture(scope="module")
def libseccomp():
    return native.load()


@pytest.mark.parametrize("name", ["audit.json", "strict.json", "deny-by-default.json"])
def test_every_library_profile_passes_on_this_machine(libseccomp, name):
    assert schema.validate(name, (LIBRARY / name).read_text(), libseccomp).syscall_count >= 1


def allowed(document: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for item in document["syscalls"]:
        if item["action"] == "SCMP_ACT_ALLOW":
            for name in item["names"]:
                found.setdefault(name, []).append(item)
    return found


def test_strict_allows_none_of_the_calls_it_denies_and_clone_only_without_namespaces():
    document = json.loads((LIBRARY / "strict.json").read_text())
    assert (document["defaultAction"], document["defaultErrnoRet"]) == ("SCMP_ACT_ERRNO", 1)
    rules = allowed(document)
    assert not DENIED & set(rules)
    [clone] = rules["clone"]
    assert clone["args"] == [{"index": 0, "value": 0x7E020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]
    assert all({"index": 0, "value": 17, "op": "SCMP_CMP_NE"} in item["args"] for item in rules["socket"])
    assert {"read", "write", "openat", "execve", "futex", "exit_group"} <= set(rules)
    [clone3] = [item for item in document["syscalls"] if item["names"] == ["clone3"]]
    assert (clone3["action"], clone3["errnoRet"]) == ("SCMP_ACT_ERRNO", 38)


def test_audit_logs_and_deny_by_default_refuses():
    assert json.loads((LIBRARY / "audit.json").read_text())["defaultAction"] == "SCMP_ACT_LOG"
    template = json.loads((LIBRARY / "deny-by-default.json").read_text())
    assert template["defaultAction"] == "SCMP_ACT_ERRNO"
    assert not DENIED & set(allowed(template))


def test_libseccomp_on_this_machine(libseccomp):
    assert libseccomp.native == "SCMP_ARCH_X86_64"
    assert libseccomp.known("unshare", "SCMP_ARCH_X86_64")
    assert not libseccomp.known("unshar", "SCMP_ARCH_X86_64")
    # socket on x86 is also reached through socketcall; libseccomp knows it as a pseudo call.
    assert libseccomp.known("socket", "SCMP_ARCH_X86")
    assert libseccomp.known("read", "SCMP_ARCH_X32")
    assert not libseccomp.arch_supported("SCMP_ARCH_NONE")
    names = libseccomp.names("SCMP_ARCH_X86_64")
    assert "openat" in names and len(names) > 300
    assert "read" in libseccomp.names("SCMP_ARCH_X32")


def test_a_node_without_libseccomp_gets_a_message_saying_what_to_install(monkeypatch):
    def missing(_name):
        raise OSError("not found")

    monkeypatch.setattr(native.ctypes, "CDLL", missing)
    with pytest.raises(ControlInputError, match="install the libseccomp2 package"):
        native.load()
