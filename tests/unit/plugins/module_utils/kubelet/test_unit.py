# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet import settings, unit
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet.unit import Source, UnitError

# Tests for unit.py: the kubelet's command line rebuilt from the unit file, its drop-ins and the
# environment files, each flag traced to its file and line, and flags taken out of those files.

# -- kubeadm: the deb/rpm package's unit and drop-in, files written by kubeadm and the user ---------

UNIT = "/usr/lib/systemd/system/kubelet.service"
DROP_IN = "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"
KUBEADM_ENV = "/var/lib/kubelet/kubeadm-flags.env"
DEFAULT_ENV = "/etc/default/kubelet"
USER_DROP_IN = "/etc/systemd/system/kubelet.service.d/20-local.conf"

UNIT_TEXT = """\
[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
"""
DROP_IN_TEXT = """\
# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \
--kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
# This is a file that "kubeadm init" and "kubeadm join" generates at runtime, populating the KUBELET_KUBEADM_ARGS \
variable dynamically
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
# This is a file that the user can use for overrides of the kubelet args as a last resort. Preferably, the user \
should use
# the .NodeRegistration.KubeletExtraArgs object in the configuration files instead. KUBELET_EXTRA_ARGS should be \
sourced from this file.
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""
# The drop-in's lines, as numbered in the file.
L_KUBECONFIG, L_CONFIG, L_KUBEADM_FILE, L_DEFAULT_FILE, L_EXEC = 3, 4, 6, 9, 11

RUNTIME = "--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock"
PAUSE = "--pod-infra-container-image=registry.k8s.io/pause:3.10"
KUBEADM_ENV_TEXT = f'KUBELET_KUBEADM_ARGS="{RUNTIME} {PAUSE}"\n'
DEFAULT_ENV_TEXT = "KUBELET_EXTRA_ARGS=\n"

EXEC = Source(DROP_IN, L_EXEC, "ExecStart")
KUBECONFIG_ARGS = Source(DROP_IN, L_KUBECONFIG, "Environment", "KUBELET_KUBECONFIG_ARGS")
CONFIG_ARGS = Source(DROP_IN, L_CONFIG, "Environment", "KUBELET_CONFIG_ARGS")
KUBEADM_ARGS = Source(KUBEADM_ENV, 1, "EnvironmentFile", "KUBELET_KUBEADM_ARGS")


def extra_args(line: int = 1) -> Source:
    return Source(DEFAULT_ENV, line, "EnvironmentFile", "KUBELET_EXTRA_ARGS")


# (name, value, words, source) of the flags kubeadm's files alone give, in command-line order.
KUBEADM_FLAGS = [
    (
        "bootstrap-kubeconfig",
        "/etc/kubernetes/bootstrap-kubelet.conf",
        ("--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",),
        KUBECONFIG_ARGS,
    ),
    ("kubeconfig", "/etc/kubernetes/kubelet.conf", ("--kubeconfig=/etc/kubernetes/kubelet.conf",), KUBECONFIG_ARGS),
    ("config", "/var/lib/kubelet/config.yaml", ("--config=/var/lib/kubelet/config.yaml",), CONFIG_ARGS),
    ("container-runtime-endpoint", "unix:///var/run/containerd/containerd.sock", (RUNTIME,), KUBEADM_ARGS),
    ("pod-infra-container-image", "registry.k8s.io/pause:3.10", (PAUSE,), KUBEADM_ARGS),
]
DROP_IN_FLAGS = KUBEADM_FLAGS[:3]


def kubeadm_files(**replace: str | None) -> dict[str, str | None]:
    """The node's files by path (None: missing); keyword names the file to replace: unit, drop_in,
    kubeadm_env, default_env, user_drop_in."""
    files: dict[str, str | None] = {
        UNIT: UNIT_TEXT,
        DROP_IN: DROP_IN_TEXT,
        KUBEADM_ENV: KUBEADM_ENV_TEXT,
        DEFAULT_ENV: DEFAULT_ENV_TEXT,
    }
    paths = {
        "unit": UNIT,
        "drop_in": DROP_IN,
        "kubeadm_env": KUBEADM_ENV,
        "default_env": DEFAULT_ENV,
        "user_drop_in": USER_DROP_IN,
    }
    for key, text in replace.items():
        files[paths[key]] = text
    return files


def unit_paths(files: dict[str, str | None]) -> list[str]:
    """The unit file, then the drop-ins in the order systemd applies them (by file name)."""
    drop_ins = sorted(
        (p for p in files if ".service.d/" in p and files[p] is not None), key=lambda p: p.rsplit("/")[-1]
    )
    return [UNIT, *drop_ins]


def build(files: dict[str, str | None]) -> tuple[unit.Definition, list[str], list[unit.Flag]]:
    definition = unit.parse_unit([(path, t.cast(str, files[path])) for path in unit_paths(files)])
    loaded = unit.apply_environment_files(definition, files.get)
    return definition, loaded, unit.flags(definition.argv(), lambda name: name in settings.VALUE_FLAGS)


def described(found: list[unit.Flag]) -> list[tuple[str, str, tuple[str, ...], Source]]:
    return [(f.name, f.value, f.words, f.source) for f in found]


# -- the command line --------------------------------------------------------------------------------


def test_kubeadm_command_line_and_sources() -> None:
    definition, loaded, found = build(kubeadm_files())

    assert definition.files == [UNIT, DROP_IN]
    assert loaded == [KUBEADM_ENV, DEFAULT_ENV]
    assert definition.environment_files == [
        (KUBEADM_ENV, True, Source(DROP_IN, L_KUBEADM_FILE, "EnvironmentFile")),
        (DEFAULT_ENV, True, Source(DROP_IN, L_DEFAULT_FILE, "EnvironmentFile")),
    ]
    argv = definition.argv()
    assert [w.text for w in argv] == [
        "/usr/bin/kubelet",
        "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
        "--kubeconfig=/etc/kubernetes/kubelet.conf",
        "--config=/var/lib/kubelet/config.yaml",
        RUNTIME,
        PAUSE,
    ]
    # The unit's own ExecStart= was cleared by the drop-in's empty ExecStart=.
    assert argv[0].source == EXEC
    assert described(found) == KUBEADM_FLAGS
    assert definition.environment["KUBELET_EXTRA_ARGS"] == ("", extra_args())
    assert str(KUBEADM_ARGS) == f"{KUBEADM_ENV} line 1 (KUBELET_KUBEADM_ARGS)"
    assert str(EXEC) == f"{DROP_IN} line {L_EXEC}"


PORT_IN_KUBEADM_ENV = f'KUBELET_KUBEADM_ARGS="{RUNTIME} {PAUSE} --read-only-port=10255"\n'


@pytest.mark.parametrize(
    ("replace", "expected"),
    [
        pytest.param(
            {"kubeadm_env": PORT_IN_KUBEADM_ENV},
            [*KUBEADM_FLAGS, ("read-only-port", "10255", ("--read-only-port=10255",), KUBEADM_ARGS)],
            id="flag-added-to-kubeadm-flags.env",
        ),
        pytest.param(
            {"default_env": "KUBELET_EXTRA_ARGS=--read-only-port 10255\n"},
            [*KUBEADM_FLAGS, ("read-only-port", "10255", ("--read-only-port", "10255"), extra_args())],
            id="value-as-next-word",
        ),
        pytest.param(
            {"default_env": "KUBELET_EXTRA_ARGS=--node-labels foo=bar --v 4\n"},
            # node-labels is not in VALUE_FLAGS: a bare flag, its 'value' is a stray word.
            [
                *KUBEADM_FLAGS,
                ("node-labels", "true", ("--node-labels",), extra_args()),
                ("v", "4", ("--v", "4"), extra_args()),
            ],
            id="next-word-only-for-value-flags",
        ),
        pytest.param(
            {"kubeadm_env": PORT_IN_KUBEADM_ENV, "default_env": "KUBELET_EXTRA_ARGS=--read-only-port=0\n"},
            [
                *KUBEADM_FLAGS,
                ("read-only-port", "10255", ("--read-only-port=10255",), KUBEADM_ARGS),
                ("read-only-port", "0", ("--read-only-port=0",), extra_args()),
            ],
            id="same-flag-twice-in-order",
        ),
        pytest.param(
            {"default_env": "KUBELET_EXTRA_ARGS='--rotate-certificates --read-only-port=0'\n"},
            [
                *KUBEADM_FLAGS,
                ("rotate-certificates", "true", ("--rotate-certificates",), extra_args()),
                ("read-only-port", "0", ("--read-only-port=0",), extra_args()),
            ],
            id="bare-boolean",
        ),
        pytest.param(
            {"default_env": "KUBELET_EXTRA_ARGS=--rotate-certificates false\n"},
            # A boolean flag never takes the next word (pflag): 'false' is a stray argument.
            [*KUBEADM_FLAGS, ("rotate-certificates", "true", ("--rotate-certificates",), extra_args())],
            id="bare-boolean-ignores-next-word",
        ),
        pytest.param(
            {"default_env": "KUBELET_EXTRA_ARGS=--read-only-port\n"},
            [*KUBEADM_FLAGS, ("read-only-port", "true", ("--read-only-port",), extra_args())],
            id="value-flag-last-word",
        ),
        pytest.param(
            {"kubeadm_env": None},
            [*DROP_IN_FLAGS],
            id="optional-kubeadm-env-missing",
        ),
        pytest.param(
            {"kubeadm_env": None, "default_env": None},
            [*DROP_IN_FLAGS],
            id="both-optional-env-files-missing",
        ),
        pytest.param(
            {
                "default_env": (
                    "# KUBELET_EXTRA_ARGS=--read-only-port=10255\n"
                    "; KUBELET_EXTRA_ARGS=--anonymous-auth=true\n"
                    "\n"
                    "   # indented comment\n"
                    "KUBELET_EXTRA_ARGS=--v=2\n"
                )
            },
            [*KUBEADM_FLAGS, ("v", "2", ("--v=2",), extra_args(5))],
            id="env-file-comments",
        ),
        pytest.param(
            {"default_env": "KUBELET_EXTRA_ARGS=--v=2\nKUBELET_EXTRA_ARGS=--v=4\n"},
            [*KUBEADM_FLAGS, ("v", "4", ("--v=4",), extra_args(2))],
            id="env-file-later-assignment-wins",
        ),
        pytest.param(
            {"default_env": 'export KUBELET_EXTRA_ARGS="--node-ip=10.0.0.11 \\\n  --v=2"\n'},
            [
                *KUBEADM_FLAGS,
                ("node-ip", "10.0.0.11", ("--node-ip=10.0.0.11",), extra_args()),
                ("v", "2", ("--v=2",), extra_args()),
            ],
            id="env-file-continuation-and-export",
        ),
        pytest.param(
            {"kubeadm_env": KUBEADM_ENV_TEXT.replace("\n", "\r\n"), "default_env": "KUBELET_EXTRA_ARGS=--v=2\r\n"},
            [*KUBEADM_FLAGS, ("v", "2", ("--v=2",), extra_args())],
            id="env-files-with-crlf",
        ),
        pytest.param(
            {"drop_in": DROP_IN_TEXT.replace("\n", "\r\n")},
            [*KUBEADM_FLAGS],
            id="drop-in-with-crlf",
        ),
    ],
)
def test_kubeadm_variants(replace: dict[str, str | None], expected: list[tuple]) -> None:
    _definition, _loaded, found = build(kubeadm_files(**replace))
    assert described(found) == expected


def test_environment_files_win_over_environment_and_later_files_win() -> None:
    drop_in = """\
[Service]
Environment="KUBELET_EXTRA_ARGS=--v=9" KUBELET_KUBEADM_ARGS=--v=8
"""
    files = kubeadm_files(user_drop_in=drop_in, default_env="KUBELET_EXTRA_ARGS=--v=1\n")
    definition, loaded, found = build(files)
    assert loaded == [KUBEADM_ENV, DEFAULT_ENV]
    # kubeadm-flags.env and /etc/default/kubelet are read after every Environment= line.
    assert definition.environment["KUBELET_KUBEADM_ARGS"] == (f"{RUNTIME} {PAUSE}", KUBEADM_ARGS)
    assert definition.environment["KUBELET_EXTRA_ARGS"] == ("--v=1", extra_args())
    assert described(found)[-1] == ("v", "1", ("--v=1",), extra_args())


def test_environment_set_in_a_later_drop_in_wins() -> None:
    drop_in = """\
[Service]
Environment="KUBELET_CONFIG_ARGS=--config=/etc/kubernetes/kubelet-config.yaml"
"""
    _definition, _loaded, found = build(kubeadm_files(user_drop_in=drop_in))
    assert ("config", "/etc/kubernetes/kubelet-config.yaml") in [(f.name, f.value) for f in found]
    [config] = [f for f in found if f.name == "config"]
    assert config.source == Source(USER_DROP_IN, 2, "Environment", "KUBELET_CONFIG_ARGS")


@pytest.mark.parametrize(
    ("drop_in_line", "expected_files"),
    [
        pytest.param("EnvironmentFile=", [], id="empty-clears-the-list"),
        pytest.param(
            "EnvironmentFile=/etc/kubernetes/kubelet.env",
            [
                (KUBEADM_ENV, True, Source(DROP_IN, L_KUBEADM_FILE, "EnvironmentFile")),
                (DEFAULT_ENV, True, Source(DROP_IN, L_DEFAULT_FILE, "EnvironmentFile")),
                ("/etc/kubernetes/kubelet.env", False, Source(USER_DROP_IN, 2, "EnvironmentFile")),
            ],
            id="non-optional-appended",
        ),
    ],
)
def test_environment_file_list(drop_in_line: str, expected_files: list) -> None:
    files = kubeadm_files(user_drop_in=f"[Service]\n{drop_in_line}\n")
    files["/etc/kubernetes/kubelet.env"] = "KUBELET_ARGS=--v=3\n"
    definition = unit.parse_unit([(p, t.cast(str, files[p])) for p in unit_paths(files)])
    assert definition.environment_files == expected_files


def test_missing_environment_file_that_is_not_optional() -> None:
    drop_in = DROP_IN_TEXT.replace("EnvironmentFile=-/etc/default/kubelet", "EnvironmentFile=/etc/default/kubelet")
    with pytest.raises(UnitError) as caught:
        build(kubeadm_files(drop_in=drop_in, default_env=None))
    assert str(caught.value) == (
        f"{DROP_IN} line {L_DEFAULT_FILE}: EnvironmentFile=/etc/default/kubelet does not exist "
        "and is not optional ('-')"
    )


def test_non_optional_environment_file_that_exists_is_read() -> None:
    drop_in = DROP_IN_TEXT.replace("EnvironmentFile=-/etc/default/kubelet", "EnvironmentFile=/etc/default/kubelet")
    _definition, loaded, found = build(kubeadm_files(drop_in=drop_in, default_env="KUBELET_EXTRA_ARGS=--v=2\n"))
    assert loaded == [KUBEADM_ENV, DEFAULT_ENV]
    assert described(found)[-1] == ("v", "2", ("--v=2",), extra_args())


# -- ExecStart=, continuations, expansion, comments ---------------------------------------------------


def flags_of(drop_in: str, environment: dict[str, str] | None = None) -> list[tuple[str, str, tuple[str, ...], Source]]:
    """The flags of kubeadm's unit plus one drop-in under /etc (no kubeadm drop-in)."""
    files: dict[str, str | None] = {UNIT: UNIT_TEXT, USER_DROP_IN: drop_in, **(environment or {})}
    return described(build(files)[2])


def here(line: int, kind: str = "ExecStart", variable: str = "") -> Source:
    return Source(USER_DROP_IN, line, kind, variable)


@pytest.mark.parametrize(
    ("drop_in", "environment", "expected"),
    [
        pytest.param(
            "[Service]\nExecStart=\nExecStart=/usr/bin/kubelet --read-only-port=0\n",
            None,
            [("read-only-port", "0", ("--read-only-port=0",), here(3))],
            id="execstart-cleared-then-set",
        ),
        pytest.param(
            "[Service]\nExecStart=\n",
            None,
            [],
            id="execstart-cleared-only",
        ),
        pytest.param(
            "[Service]\nExecStart=\nExecStart=-/usr/bin/kubelet --v=2\n",
            None,
            [("v", "2", ("--v=2",), here(3))],
            id="execstart-prefix-dash",
        ),
        pytest.param(
            "[Service]\nExecStart=\nExecStart=/usr/bin/kubelet \\\n    --config=/var/lib/kubelet/config.yaml \\\n"
            "    --read-only-port 10255\nRestart=always\n",
            None,
            [
                ("config", "/var/lib/kubelet/config.yaml", ("--config=/var/lib/kubelet/config.yaml",), here(3)),
                ("read-only-port", "10255", ("--read-only-port", "10255"), here(3)),
            ],
            id="continuation-lines-numbered-by-first",
        ),
        pytest.param(
            '[Service]\nEnvironment="KUBELET_ARGS=--v=2 \\\n  --read-only-port=0"\n'
            "ExecStart=\nExecStart=/usr/bin/kubelet $KUBELET_ARGS\n",
            None,
            [
                ("v", "2", ("--v=2",), here(2, "Environment", "KUBELET_ARGS")),
                ("read-only-port", "0", ("--read-only-port=0",), here(2, "Environment", "KUBELET_ARGS")),
            ],
            id="environment-continuation",
        ),
        pytest.param(
            '[Service]\nEnvironment="OPTS=--node-ip=10.0.0.11 --v=2"\nExecStart=\nExecStart=/usr/bin/kubelet $OPTS\n',
            None,
            [
                ("node-ip", "10.0.0.11", ("--node-ip=10.0.0.11",), here(2, "Environment", "OPTS")),
                ("v", "2", ("--v=2",), here(2, "Environment", "OPTS")),
            ],
            id="dollar-var-splits",
        ),
        pytest.param(
            '[Service]\nEnvironment="OPTS=--node-ip=10.0.0.11 --v=2"\nExecStart=\nExecStart=/usr/bin/kubelet ${OPTS}\n',
            None,
            # One word: the kubelet sees a single argument '--node-ip=10.0.0.11 --v=2'.
            [("node-ip", "10.0.0.11 --v=2", ("--node-ip=10.0.0.11 --v=2",), here(2, "Environment", "OPTS"))],
            id="braced-var-one-word",
        ),
        pytest.param(
            '[Service]\nEnvironment="NODE_IP=10.0.0.11" "PORT=10255"\nExecStart=\n'
            "ExecStart=/usr/bin/kubelet --node-ip=${NODE_IP} --read-only-port=${PORT}0 --address=${NODE_IP}:${PORT}\n",
            None,
            [
                ("node-ip", "10.0.0.11", ("--node-ip=10.0.0.11",), here(2, "Environment", "NODE_IP")),
                ("read-only-port", "102550", ("--read-only-port=102550",), here(2, "Environment", "PORT")),
                # Two variables in the word: traced to the ExecStart= line.
                ("address", "10.0.0.11:10255", ("--address=10.0.0.11:10255",), here(4)),
            ],
            id="braced-var-inside-word",
        ),
        pytest.param(
            "[Service]\nExecStart=\nExecStart=/usr/bin/kubelet $UNSET --node-labels=${UNSET} --v=2 $ALSO_UNSET\n",
            None,
            [
                ("node-labels", "", ("--node-labels=",), here(3)),
                ("v", "2", ("--v=2",), here(3)),
            ],
            id="unset-variables-expand-to-nothing",
        ),
        pytest.param(
            "[Service]\nEnvironment=KUBELET_EXTRA_ARGS=--v=2\nEnvironment=\n"
            "ExecStart=\nExecStart=/usr/bin/kubelet $KUBELET_EXTRA_ARGS\n",
            None,
            [],
            id="empty-environment-resets",
        ),
        pytest.param(
            "# ExecStart=/usr/bin/kubelet --read-only-port=10255\n"
            "; a comment with ; too\n"
            "[Service]\n"
            "#ExecStart=\n"
            ";ExecStart=/usr/bin/kubelet --anonymous-auth=true\n"
            "  # Environment=KUBELET_EXTRA_ARGS=--anonymous-auth=true\n"
            "ExecStart=\n"
            "ExecStart=/usr/bin/kubelet --anonymous-auth=false\n",
            None,
            [("anonymous-auth", "false", ("--anonymous-auth=false",), here(8))],
            id="unit-comments",
        ),
        pytest.param(
            "[Service]\nExecStart=\nExecStart=/usr/bin/kubelet \\\n"
            "  --config=/var/lib/kubelet/config.yaml \\\n"
            "#  --read-only-port=10255 \\\n"
            "; --anonymous-auth=true\n"
            "  --v=2\n",
            None,
            # systemd.syntax: comment lines inside a continuation are dropped and the line goes on after them.
            [
                ("config", "/var/lib/kubelet/config.yaml", ("--config=/var/lib/kubelet/config.yaml",), here(3)),
                ("v", "2", ("--v=2",), here(3)),
            ],
            id="comments-inside-continuation",
        ),
        pytest.param(
            "[Service]\nEnvironmentFile=/etc/kubernetes/kubelet.env\nExecStart=\n"
            "ExecStart=/usr/bin/kubelet $KUBELET_ARGS --v=2\n",
            {"/etc/kubernetes/kubelet.env": "KUBELET_ARGS=\n"},
            [("v", "2", ("--v=2",), here(4))],
            id="empty-variable-gives-no-words",
        ),
        pytest.param(
            "[Service]\nExecStart=\nExecStart=/usr/bin/kubelet --v=2 - --read-only-port=0\n",
            None,
            [("v", "2", ("--v=2",), here(3)), ("read-only-port", "0", ("--read-only-port=0",), here(3))],
            id="lone-dash-is-not-a-flag",
        ),
        pytest.param(
            "[Unit]\nExecStart=/usr/bin/kubelet --read-only-port=10255\n[Install]\nExecStart=/bin/false --v=9\n",
            None,
            [],
            id="only-the-service-section",
        ),
    ],
)
def test_unit_syntax(drop_in: str, environment: dict[str, str] | None, expected: list[tuple]) -> None:
    assert flags_of(drop_in, environment) == expected


@pytest.mark.parametrize(
    ("files", "message"),
    [
        pytest.param(
            [(UNIT, UNIT_TEXT), (USER_DROP_IN, "[Service]\nExecStart=/usr/bin/kubelet --v=2\n")],
            f"{USER_DROP_IN} line 2: a second ExecStart= for a simple service; clear it first with ExecStart=",
            id="second-execstart",
        ),
        pytest.param(
            [(UNIT, "[Service]\nExecStart=/usr/bin/kubelet \\\n")],
            f"{UNIT} line 2: a continuation line ends the file",
            id="continuation-at-end",
        ),
        pytest.param(
            [(UNIT, "[Service]\nExecStart=/usr/bin/kubelet '--v=2\n")],
            f"{UNIT} line 2: ExecStart= cannot be split into words",
            id="execstart-unclosed-quote",
        ),
        pytest.param(
            [(UNIT, '[Service]\nEnvironment="KUBELET_ARGS=--v=2\nExecStart=/usr/bin/kubelet\n')],
            f"{UNIT} line 2: Environment= cannot be split into words",
            id="environment-unclosed-quote",
        ),
        pytest.param(
            [(UNIT, "[Service]\nEnvironment=--v=2\nExecStart=/usr/bin/kubelet\n")],
            f"{UNIT} line 2: '--v=2' is not an assignment NAME=value",
            id="environment-not-an-assignment",
        ),
    ],
)
def test_unit_errors(files: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(UnitError) as caught:
        unit.parse_unit(files)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('A="x y"\n', {"A": ("x y", 1)}, id="double-quotes"),
        pytest.param("A='x \"y\"'\n", {"A": ('x "y"', 1)}, id="single-quotes-keep-inside"),
        pytest.param('A="say \\"hi\\" c:\\\\"\n', {"A": ('say "hi" c:\\', 1)}, id="double-quote-escapes"),
        pytest.param("A=  x y  \n", {"A": ("x y", 1)}, id="unquoted-trimmed"),
        pytest.param("\n\n# c\n;c\nA=1\n\nB=\n", {"A": ("1", 5), "B": ("", 7)}, id="blank-and-comment-lines"),
        pytest.param("A=1\r\nB=2\r\n", {"A": ("1", 1), "B": ("2", 2)}, id="crlf"),
    ],
)
def test_parse_environment_file(text: str, expected: dict[str, tuple[str, int]]) -> None:
    assert unit.parse_environment_file("/etc/default/kubelet", text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("--read-only-port=10255\n", "/etc/default/kubelet line 1: '--read-only-port=10255' is not an"),
        pytest.param('A=1\nB="--v=2\n', "/etc/default/kubelet line 2: the quoted value '\"--v=2' is not closed"),
        pytest.param("A=1\n2A=3\n", "/etc/default/kubelet line 2: '2A=3' is not an assignment"),
    ],
)
def test_parse_environment_file_errors(text: str, message: str) -> None:
    with pytest.raises(UnitError) as caught:
        unit.parse_environment_file("/etc/default/kubelet", text)
    assert str(caught.value).startswith(message)


# -- kubespray: its own unit in /etc and kubelet.env --------------------------------------------------

SPRAY_UNIT = "/etc/systemd/system/kubelet.service"
SPRAY_ENV = "/etc/kubernetes/kubelet.env"
SPRAY_UNIT_TEXT = """\
[Unit]
Description=Kubernetes Kubelet Server
Documentation=https://github.com/GoogleCloudPlatform/kubernetes
After=containerd.service
Wants=containerd.service

[Service]
Slice=kubelet.slice
EnvironmentFile=-/etc/kubernetes/kubelet.env
ExecStart=/usr/local/bin/kubelet \\
\t\t$KUBE_LOGTOSTDERR \\
\t\t$KUBE_LOG_LEVEL \\
\t\t$KUBELET_API_SERVER \\
\t\t$KUBELET_ADDRESS \\
\t\t$KUBELET_PORT \\
\t\t$KUBELET_HOSTNAME \\
\t\t$KUBELET_ARGS \\
\t\t$DOCKER_SOCKET \\
\t\t$KUBELET_NETWORK_PLUGIN \\
\t\t$KUBELET_VOLUME_PLUGIN \\
\t\t$KUBELET_CLOUDPROVIDER
Restart=always
RestartSec=10s
ExecStartPre=-/bin/mkdir -p /var/lib/kubelet/volume-plugins
ExecReload=/bin/kill -HUP $MAINPID

[Install]
WantedBy=multi-user.target
"""
SPRAY_ENV_TEXT = """\
KUBE_LOGTOSTDERR="--logtostderr=true"
KUBE_LOG_LEVEL="--v=2"
KUBELET_ADDRESS="--node-ip=10.0.0.11"
KUBELET_HOSTNAME="--hostname-override=node1"

KUBELET_ARGS="--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \\
--config=/etc/kubernetes/kubelet-config.yaml \\
--kubeconfig=/etc/kubernetes/kubelet.conf \\
--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock \\
--runtime-cgroups=/system.slice/containerd.service \\
 --node-labels=node-role.kubernetes.io/worker= "
KUBELET_VOLUME_PLUGIN="--volume-plugin-dir=/usr/libexec/kubernetes/kubelet-plugins/volume/exec"
KUBELET_CLOUDPROVIDER=""

PATH=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
"""


def spray(line: int, variable: str) -> Source:
    return Source(SPRAY_ENV, line, "EnvironmentFile", variable)


SPRAY_FLAGS = [
    ("logtostderr", "true", ("--logtostderr=true",), spray(1, "KUBE_LOGTOSTDERR")),
    ("v", "2", ("--v=2",), spray(2, "KUBE_LOG_LEVEL")),
    ("node-ip", "10.0.0.11", ("--node-ip=10.0.0.11",), spray(3, "KUBELET_ADDRESS")),
    ("hostname-override", "node1", ("--hostname-override=node1",), spray(4, "KUBELET_HOSTNAME")),
    (
        "bootstrap-kubeconfig",
        "/etc/kubernetes/bootstrap-kubelet.conf",
        ("--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",),
        spray(6, "KUBELET_ARGS"),
    ),
    (
        "config",
        "/etc/kubernetes/kubelet-config.yaml",
        ("--config=/etc/kubernetes/kubelet-config.yaml",),
        spray(6, "KUBELET_ARGS"),
    ),
    (
        "kubeconfig",
        "/etc/kubernetes/kubelet.conf",
        ("--kubeconfig=/etc/kubernetes/kubelet.conf",),
        spray(6, "KUBELET_ARGS"),
    ),
    ("container-runtime-endpoint", "unix:///var/run/containerd/containerd.sock", (RUNTIME,), spray(6, "KUBELET_ARGS")),
    (
        "runtime-cgroups",
        "/system.slice/containerd.service",
        ("--runtime-cgroups=/system.slice/containerd.service",),
        spray(6, "KUBELET_ARGS"),
    ),
    (
        "node-labels",
        "node-role.kubernetes.io/worker=",
        ("--node-labels=node-role.kubernetes.io/worker=",),
        spray(6, "KUBELET_ARGS"),
    ),
    (
        "volume-plugin-dir",
        "/usr/libexec/kubernetes/kubelet-plugins/volume/exec",
        ("--volume-plugin-dir=/usr/libexec/kubernetes/kubelet-plugins/volume/exec",),
        spray(12, "KUBELET_VOLUME_PLUGIN"),
    ),
]


def spray_build(env_text: str | None = SPRAY_ENV_TEXT) -> tuple[unit.Definition, list[str], list[unit.Flag]]:
    definition = unit.parse_unit([(SPRAY_UNIT, SPRAY_UNIT_TEXT)])
    loaded = unit.apply_environment_files(definition, {SPRAY_ENV: env_text}.get)
    return definition, loaded, unit.flags(definition.argv(), lambda name: name in settings.VALUE_FLAGS)


def test_kubespray_command_line() -> None:
    definition, loaded, found = spray_build()
    assert definition.files == [SPRAY_UNIT]
    assert loaded == [SPRAY_ENV]
    assert definition.exec_start[0] == ("/usr/local/bin/kubelet", Source(SPRAY_UNIT, 10, "ExecStart"))
    assert [raw for raw, _where in definition.exec_start[1:]] == [
        "$KUBE_LOGTOSTDERR",
        "$KUBE_LOG_LEVEL",
        "$KUBELET_API_SERVER",
        "$KUBELET_ADDRESS",
        "$KUBELET_PORT",
        "$KUBELET_HOSTNAME",
        "$KUBELET_ARGS",
        "$DOCKER_SOCKET",
        "$KUBELET_NETWORK_PLUGIN",
        "$KUBELET_VOLUME_PLUGIN",
        "$KUBELET_CLOUDPROVIDER",
    ]
    assert described(found) == SPRAY_FLAGS
    assert definition.environment["PATH"][0].startswith("/usr/local/bin:")


def test_kubespray_without_its_env_file() -> None:
    definition, loaded, found = spray_build(None)
    assert loaded == []
    assert [w.text for w in definition.argv()] == ["/usr/local/bin/kubelet"]
    assert found == []


# -- remove_words ---------------------------------------------------------------------------------------

PORT = ("--read-only-port=10255",)
ENV_LINE = Source(KUBEADM_ENV, 1, "EnvironmentFile", "KUBELET_KUBEADM_ARGS")


@pytest.mark.parametrize(
    ("text", "source", "words", "expected"),
    [
        pytest.param(
            f'KUBELET_KUBEADM_ARGS="{RUNTIME} --read-only-port=10255 {PAUSE}"\n',
            ENV_LINE,
            PORT,
            f'KUBELET_KUBEADM_ARGS="{RUNTIME} {PAUSE}"\n',
            id="middle-of-quoted-value",
        ),
        pytest.param(
            f'KUBELET_KUBEADM_ARGS="--read-only-port=10255 {RUNTIME} {PAUSE}"\n',
            ENV_LINE,
            PORT,
            f'KUBELET_KUBEADM_ARGS="{RUNTIME} {PAUSE}"\n',
            id="start-of-quoted-value",
        ),
        pytest.param(
            f'KUBELET_KUBEADM_ARGS="{RUNTIME} {PAUSE} --read-only-port=10255"\n',
            ENV_LINE,
            PORT,
            f'KUBELET_KUBEADM_ARGS="{RUNTIME} {PAUSE}"\n',
            id="end-of-quoted-value",
        ),
        pytest.param(
            "KUBELET_EXTRA_ARGS='--read-only-port=10255'\n",
            extra_args(),
            PORT,
            "KUBELET_EXTRA_ARGS=''\n",
            id="only-word-single-quoted",
        ),
        pytest.param(
            "KUBELET_EXTRA_ARGS=--v=2 --read-only-port=10255 --node-ip=10.0.0.11\n",
            extra_args(),
            PORT,
            "KUBELET_EXTRA_ARGS=--v=2 --node-ip=10.0.0.11\n",
            id="unquoted-middle",
        ),
        pytest.param(
            "KUBELET_EXTRA_ARGS=--read-only-port=10255 --v=2\n",
            extra_args(),
            PORT,
            "KUBELET_EXTRA_ARGS=--v=2\n",
            id="unquoted-start",
        ),
        pytest.param(
            "KUBELET_EXTRA_ARGS=--v=2 --read-only-port=10255\n",
            extra_args(),
            PORT,
            "KUBELET_EXTRA_ARGS=--v=2\n",
            id="unquoted-end",
        ),
        pytest.param(
            "KUBELET_EXTRA_ARGS=--v=2 --read-only-port 10255 --node-ip=10.0.0.11\n",
            extra_args(),
            ("--read-only-port", "10255"),
            "KUBELET_EXTRA_ARGS=--v=2 --node-ip=10.0.0.11\n",
            id="two-word-form",
        ),
        pytest.param(
            "KUBELET_EXTRA_ARGS=--x=1\n",
            extra_args(),
            ("--x=1",),
            "KUBELET_EXTRA_ARGS=\n",
            id="only-flag",
        ),
        pytest.param(
            "KUBELET_EXTRA_ARGS=--x=1",
            extra_args(),
            ("--x=1",),
            "KUBELET_EXTRA_ARGS=",
            id="no-final-newline",
        ),
        pytest.param(
            "KUBELET_EXTRA_ARGS=--read-only-port=102550 --read-only-port=10255\n",
            extra_args(),
            PORT,
            "KUBELET_EXTRA_ARGS=--read-only-port=102550\n",
            id="longer-word-untouched",
        ),
        pytest.param(
            "KUBELET_EXTRA_ARGS=--v=20 --log-v=2 --v=2\n",
            extra_args(),
            ("--v=2",),
            "KUBELET_EXTRA_ARGS=--v=20 --log-v=2\n",
            id="word-boundaries",
        ),
        pytest.param(
            f'# {DEFAULT_ENV}: set by hand\r\nKUBELET_EXTRA_ARGS="--v=2 --read-only-port=10255"\r\nOTHER=1\r\n',
            extra_args(2),
            PORT,
            f'# {DEFAULT_ENV}: set by hand\r\nKUBELET_EXTRA_ARGS="--v=2"\r\nOTHER=1\r\n',
            id="crlf-kept",
        ),
        pytest.param(
            '[Service]\nEnvironment="KUBELET_EXTRA_ARGS=--read-only-port=10255 --v=2" "OTHER=--read-only-port=10255"\n',
            Source(USER_DROP_IN, 2, "Environment", "KUBELET_EXTRA_ARGS"),
            PORT,
            '[Service]\nEnvironment="KUBELET_EXTRA_ARGS=--v=2" "OTHER=--read-only-port=10255"\n',
            id="environment-line-of-drop-in",
        ),
        pytest.param(
            '[Service]\nEnvironment="OTHER=--read-only-port=10255" "KUBELET_EXTRA_ARGS=--read-only-port=10255"\n',
            Source(USER_DROP_IN, 2, "Environment", "KUBELET_EXTRA_ARGS"),
            PORT,
            '[Service]\nEnvironment="OTHER=--read-only-port=10255" "KUBELET_EXTRA_ARGS="\n',
            id="environment-line-second-assignment",
        ),
        pytest.param(
            '[Service]\nEnvironment="KUBELET_EXTRA_ARGS=--read-only-port=10255"\n',
            Source(USER_DROP_IN, 2, "Environment", "KUBELET_EXTRA_ARGS"),
            PORT,
            '[Service]\nEnvironment="KUBELET_EXTRA_ARGS="\n',
            id="only-word-of-environment",
        ),
        pytest.param(
            "[Service]\nExecStart=\nExecStart=/usr/bin/kubelet --read-only-port=10255 \\\n  --v=2\n",
            here(3),
            PORT,
            "[Service]\nExecStart=\nExecStart=/usr/bin/kubelet \\\n  --v=2\n",
            id="execstart-line",
        ),
        pytest.param(
            'KUBELET_ARGS="--v=2 \\\n--read-only-port=10255 \\\n--node-ip=10.0.0.11"\n',
            Source(SPRAY_ENV, 1, "EnvironmentFile", "KUBELET_ARGS"),
            PORT,
            'KUBELET_ARGS="--v=2 \\\n\\\n--node-ip=10.0.0.11"\n',
            id="continued-line-of-env-file",
        ),
        pytest.param(
            "[Service]\nExecStart=\nExecStart=/usr/bin/kubelet \\\n"
            "# --read-only-port=10255 \\\n"
            "  --read-only-port=10255 --v=2\n",
            here(3),
            PORT,
            "[Service]\nExecStart=\nExecStart=/usr/bin/kubelet \\\n# --read-only-port=10255 \\\n  --v=2\n",
            id="not-from-a-comment-inside-continuation",
        ),
    ],
)
def test_remove_words(text: str, source: Source, words: tuple[str, ...], expected: str) -> None:
    assert unit.remove_words(text, source, words) == expected


@pytest.mark.parametrize(
    ("text", "source", "words", "message"),
    [
        pytest.param(
            "KUBELET_EXTRA_ARGS=--read-only-port=10255\n",
            extra_args(2),
            PORT,
            f"{DEFAULT_ENV} line 2 (KUBELET_EXTRA_ARGS): the line is gone; read the node again",
            id="line-gone",
        ),
        pytest.param(
            "",
            extra_args(1),
            PORT,
            f"{DEFAULT_ENV} line 1 (KUBELET_EXTRA_ARGS): the line is gone; read the node again",
            id="file-emptied",
        ),
        pytest.param(
            "KUBELET_EXTRA_ARGS=--read-only-port=10255\n",
            extra_args(0),
            PORT,
            f"{DEFAULT_ENV} line 0 (KUBELET_EXTRA_ARGS): the line is gone; read the node again",
            id="line-zero-is-no-line",
        ),
        pytest.param(
            "# set by hand\nKUBELET_EXTRA_ARGS=--read-only-port=10255\n",
            extra_args(1),
            PORT,
            f"{DEFAULT_ENV} line 1 (KUBELET_EXTRA_ARGS): '--read-only-port=10255' is not written there",
            id="words-not-on-line",
        ),
        pytest.param(
            "KUBELET_EXTRA_ARGS=--read-only-port=0\n",
            extra_args(1),
            PORT,
            f"{DEFAULT_ENV} line 1 (KUBELET_EXTRA_ARGS): '--read-only-port=10255' is not written there",
            id="value-changed",
        ),
        pytest.param(
            "KUBELET_EXTRA_ARGS=--read-only-port 0\n",
            extra_args(1),
            ("--read-only-port", "10255"),
            f"{DEFAULT_ENV} line 1 (KUBELET_EXTRA_ARGS): '--read-only-port 10255' is not written there",
            id="two-words-changed",
        ),
        pytest.param(
            "KUBELET_EXTRA_ARGS=--v=2\nOTHER=--read-only-port=10255\n",
            extra_args(1),
            PORT,
            f"{DEFAULT_ENV} line 1 (KUBELET_EXTRA_ARGS): '--read-only-port=10255' is not written there",
            id="only-on-a-later-line",
        ),
    ],
)
def test_remove_words_stale_source(text: str, source: Source, words: tuple[str, ...], message: str) -> None:
    with pytest.raises(UnitError) as caught:
        unit.remove_words(text, source, words)
    assert str(caught.value) == message


def kubeadm_with_everything() -> dict[str, str | None]:
    return kubeadm_files(
        kubeadm_env=(
            "# written by kubeadm\r\n"
            f'KUBELET_KUBEADM_ARGS="--read-only-port=10255 {RUNTIME} --rotate-certificates {PAUSE}"\r\n'
        ),
        default_env='KUBELET_EXTRA_ARGS="--node-ip=10.0.0.11 --v 4 --anonymous-auth=true"\nKEEP=1\n',
        user_drop_in=(
            "[Service]\n"
            'Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml \\\n'
            '  --tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"\n'
            "EnvironmentFile=-/etc/kubernetes/kubelet.env\n"
        ),
    )


@pytest.mark.parametrize(
    ("files", "name"),
    [
        pytest.param(kubeadm_with_everything(), "read-only-port", id="kubeadm-env-start-crlf"),
        pytest.param(kubeadm_with_everything(), "rotate-certificates", id="kubeadm-env-bare-boolean"),
        pytest.param(kubeadm_with_everything(), "pod-infra-container-image", id="kubeadm-env-end"),
        pytest.param(kubeadm_with_everything(), "v", id="default-env-two-words"),
        pytest.param(kubeadm_with_everything(), "anonymous-auth", id="default-env-end"),
        pytest.param(kubeadm_with_everything(), "node-ip", id="default-env-start"),
        pytest.param(kubeadm_with_everything(), "tls-cipher-suites", id="drop-in-environment-continued"),
        pytest.param(kubeadm_with_everything(), "config", id="drop-in-environment-first-line"),
    ],
)
def test_remove_then_read_again(files: dict[str, str | None], name: str) -> None:
    _definition, _loaded, before = build(files)
    [flag] = [f for f in before if f.name == name]
    path = flag.source.path
    old = t.cast(str, files[path])

    new = unit.remove_words(old, flag.source, flag.words)

    _definition, _loaded, after = build({**files, path: new})
    assert described(after) == [d for d in described(before) if d[0] != name]
    # Only the lines of the assignment change; every other line stays byte for byte.
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    assert len(old_lines) == len(new_lines)
    changed = [i + 1 for i, (a, b) in enumerate(zip(old_lines, new_lines)) if a != b]
    assert len(changed) == 1
    assert flag.source.line <= changed[0]
    assert new_lines[changed[0] - 1].endswith("\r\n" if old_lines[changed[0] - 1].endswith("\r\n") else "\n")
    assert " ".join(flag.words) not in new


def test_remove_from_kubespray_env_then_read_again() -> None:
    _definition, _loaded, before = spray_build()
    for name in ("runtime-cgroups", "bootstrap-kubeconfig", "node-labels", "hostname-override"):
        [flag] = [f for f in before if f.name == name]
        new = unit.remove_words(SPRAY_ENV_TEXT, flag.source, flag.words)
        _definition, _loaded, after = spray_build(new)
        assert described(after) == [d for d in SPRAY_FLAGS if d[0] != name], name
        assert sum(a != b for a, b in zip(SPRAY_ENV_TEXT.splitlines(), new.splitlines())) == 1, name
