# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The TOML writer and reader for containerd's files: exact text, round trips, refusals."""

from __future__ import annotations

import pytest
import tomllib

from ansible_collections.nodeguard.hardening.plugins.module_utils._sandbox import tomltext

CRI = "io.containerd.grpc.v1.cri"


def test_dumps_writes_plain_values_first_and_every_table_under_its_full_header():
    data = {
        "plugins": {
            CRI: {
                "containerd": {
                    "runtimes": {
                        "runsc": {
                            "options": {"BinaryName": "/usr/local/libexec/nodeguard/runsc"},
                            "runtime_type": "io.containerd.runc.v2",
                        }
                    },
                    "default_runtime_name": "runc",
                },
                "sandbox_image": "registry.k8s.io/pause:3.9",
            }
        },
        "version": 2,
    }
    assert tomltext.dumps(data, "# written by a test\n") == (
        "# written by a test\n"
        "version = 2\n"
        "\n"
        f'[plugins."{CRI}"]\n'
        'sandbox_image = "registry.k8s.io/pause:3.9"\n'
        "\n"
        f'[plugins."{CRI}".containerd]\n'
        'default_runtime_name = "runc"\n'
        "\n"
        f'[plugins."{CRI}".containerd.runtimes.runsc]\n'
        'runtime_type = "io.containerd.runc.v2"\n'
        "\n"
        f'[plugins."{CRI}".containerd.runtimes.runsc.options]\n'
        'BinaryName = "/usr/local/libexec/nodeguard/runsc"\n'
    )


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({}, "\n"),
        ({"a": {}}, "[a]\n"),
        ({"a": {"b": {}}}, "[a.b]\n"),
        ({"flag": True, "off": False}, "flag = true\noff = false\n"),
        ({"n": -3, "x": 0.5}, "n = -3\nx = 0.5\n"),
        ({"list": ["a", 1, True, [2, 3]]}, 'list = ["a", 1, true, [2, 3]]\n'),
        ({"empty": []}, "empty = []\n"),
        ({"with space": 1, "": 2, "dot.ted": 3}, '"with space" = 1\n"" = 2\n"dot.ted" = 3\n'),
        ({"bare_key-1": "v"}, 'bare_key-1 = "v"\n'),
    ],
)
def test_dumps_exact_text(data, text):
    assert tomltext.dumps(data) == text


@pytest.mark.parametrize(
    "data",
    [
        {"version": 2, "imports": ["/etc/containerd/conf.d/*.toml"]},
        {"plugins": {CRI: {"containerd": {"runtimes": {"runc": {"options": {"SystemdCgroup": True}}}}}}},
        {"s": 'quote " backslash \\ new\nline tab\t cr\r end'},
        {"unicode": "gVisor — Pod-Sandbox ✓", "schlüssel": "wert"},
        {"float": 1e-07, "big": 10**18, "inf": float("inf"), "neg": -0.25},
        {"nested": [[1, 2], ["a"], []]},
        {"a": {"x": 1, "b": {"y": 2, "c": {"z": 3}}}, "top": "last in the data, first in the text"},
        {"t": {"only": {"sub": {"tables": {"k": "v"}}}}},
    ],
)
def test_dumps_reads_back_as_the_same_data(data):
    assert tomllib.loads(tomltext.dumps(data)) == data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", '"plain"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("C:\\runsc", '"C:\\\\runsc"'),
        ("a\nb\tc\rd", '"a\\nb\\tc\\rd"'),
    ],
)
def test_string_escapes(text, expected):
    assert tomltext.string(text) == expected


@pytest.mark.parametrize(
    ("name", "expected"), [("runsc", "runsc"), ("Binary_Name-2", "Binary_Name-2"), (CRI, f'"{CRI}"')]
)
def test_key_is_bare_only_when_toml_allows_it(name, expected):
    assert tomltext.key(name) == expected


@pytest.mark.parametrize(
    ("text", "escaped"),
    [("bell\x07", '"bell\\u0007"'), ("nul\x00", '"nul\\u0000"'), ("escape\x1b[0m", '"escape\\u001B[0m"')],
)
def test_string_escapes_control_characters(text, escaped):
    assert tomltext.string(text) == escaped
    assert tomllib.loads(f"value = {escaped}") == {"value": text}


def test_delete_character_is_escaped():
    text = tomltext.dumps({"value": "a\x7fb"})
    assert "\\u007F" in text
    assert tomllib.loads(text) == {"value": "a\x7fb"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"mirrors": [{"endpoint": "x"}]}, "mirrors: arrays of tables are not written here"),
        ({"a": {"b": None}}, "a.b: a NoneType has no TOML form here"),
        ({"when": {1, 2}}, "when: a set has no TOML form here"),
        ({"list": [1, None]}, "list: a NoneType has no TOML form here"),
    ],
)
def test_dumps_refuses_what_has_no_form_here(data, message):
    with pytest.raises(tomltext.TomlError) as error:
        tomltext.dumps(data)
    assert str(error.value) == message


def test_loads_reads_toml():
    assert tomltext.loads('version = 2\n[plugins."x".y]\nz = true\n', "config.toml") == {
        "version": 2,
        "plugins": {"x": {"y": {"z": True}}},
    }


def test_loads_names_the_file_of_invalid_toml():
    with pytest.raises(tomltext.TomlError, match=r"^/etc/containerd/config\.toml is not valid TOML: "):
        tomltext.loads("version = 2\n[plugins\n", "/etc/containerd/config.toml")


def test_loads_without_tomllib_says_what_the_node_needs(monkeypatch):
    monkeypatch.setattr(tomltext, "tomllib", None)
    with pytest.raises(tomltext.TomlError) as error:
        tomltext.loads("version = 2\n", "/etc/containerd/config.toml")
    assert str(error.value) == (
        "/etc/containerd/config.toml: reading TOML needs Python 3.11 or newer on the node (tomllib)"
    )
