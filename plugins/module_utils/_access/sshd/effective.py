# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What sshd actually uses: C(sshd -T), parsed.

C(sshd -T) reads the configuration as the daemon would (every Include, first value wins, Match
blocks for the connection given with C(-C)) and prints one C(keyword value) line per setting;
keywords that add up (AllowUsers, Port, ListenAddress, HostKey, Subsystem, AcceptEnv, ...) get
one line per value. It is the truth the benchmark's audits read, so the family compares with it
rather than with the files. C(-f FILE) judges another configuration (a candidate) the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node

MAIN_CONFIG = "/etc/ssh/sshd_config"


@dataclass(frozen=True)
class Connection:
    """A connection for C(sshd -T -C): the criteria sshd's Match blocks test. A criterion left None
    is left out, and Match blocks asking for it do not apply (sshd's test mode)."""

    user: str
    host: str | None = None
    addr: str | None = None
    laddr: str | None = None
    lport: int | None = None

    def spec(self) -> str:
        parts = [f"user={self.user}"]
        for name in ("host", "addr", "laddr", "lport"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value}")
        return ",".join(parts)


def parse(text: str) -> dict[str, list[str]]:
    """C(sshd -T) output as keyword (lower case) -> the values of its lines, in order."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        words = line.strip().split(None, 1)
        if not words:
            continue
        found.setdefault(words[0].lower(), []).append(words[1].strip() if len(words) > 1 else "")
    return found


def value(config: dict[str, list[str]], keyword: str, default: str | None = None) -> str | None:
    """The (first) value of a keyword, lower-cased keyword lookup."""
    values = config.get(keyword.lower())
    return values[0] if values else default


def sshd_binary(node: Node) -> str | None:
    return node.binary("sshd")


def argv(binary: str, *, test: str = "-T", config: str | None = None, connection: Connection | None = None) -> list:
    command = [binary, test]
    if config is not None:
        command += ["-f", config]
    if connection is not None:
        command += ["-C", connection.spec()]
    return command


def read(
    node: Node, *, config: str | None = None, connection: Connection | None = None, binary: str | None = None
) -> dict[str, list[str]]:
    """C(sshd -T [-f CONFIG] [-C CONNECTION]), parsed; cached for the inspection when it reads the
    installed configuration. Raises CommandError when sshd refuses the configuration."""
    binary = binary or sshd_binary(node) or "sshd"
    command = argv(binary, config=config, connection=connection)

    def run() -> dict[str, list[str]]:
        return parse(node.run(command)[1])

    if config is None:
        return node.cached("sshd:T:" + " ".join(command[2:]), run)
    return run()


def test(node: Node, config: str, binary: str | None = None) -> None:
    """C(sshd -t -f CONFIG): raises CommandError with sshd's words when it refuses the file."""
    binary = binary or sshd_binary(node) or "sshd"
    node.run(argv(binary, test="-t", config=config))
