# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sshd keywords: canonical case, rendering, and comparison with what sshd -T prints."""

from __future__ import annotations

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd import keywords as kw


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("permitrootlogin", "PermitRootLogin"),
        ("PERMITROOTLOGIN", "PermitRootLogin"),
        ("macs", "MACs"),
        ("gssapiauthentication", "GSSAPIAuthentication"),
        ("ChallengeResponseAuthentication", "KbdInteractiveAuthentication"),
        ("PubkeyAcceptedKeyTypes", "PubkeyAcceptedAlgorithms"),
        ("DebianBanner", "DebianBanner"),
        ("PermitRootLogins", None),
        ("Include", None),
    ],
)
def test_canonical(given, expected):
    assert kw.canonical(given) == expected


@pytest.mark.parametrize(
    ("keyword", "value", "expected"),
    [
        ("Ciphers", ["aes256-gcm@openssh.com", "aes128-ctr"], "aes256-gcm@openssh.com,aes128-ctr"),
        ("MACs", ["hmac-sha2-512", "hmac-sha2-256"], "hmac-sha2-512,hmac-sha2-256"),
        ("KexAlgorithms", ["curve25519-sha256"], "curve25519-sha256"),
        ("AllowUsers", ["alice", "bob@10.0.0.0/8"], "alice bob@10.0.0.0/8"),
        ("PermitRootLogin", False, "no"),
        ("UsePAM", True, "yes"),
        ("MaxAuthTries", 4, "4"),
        ("Banner", "/etc/issue.net", "/etc/issue.net"),
    ],
)
def test_render(keyword, value, expected):
    assert kw.render(keyword, value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("60", 60), ("1m", 60), ("1m30s", 90), ("2H", 7200), ("1w", 604800), ("", None), ("1x", None), ("m1", None)],
)
def test_seconds(text, expected):
    assert kw.seconds(text) == expected


@pytest.mark.parametrize(
    ("keyword", "expected", "actual", "same"),
    [
        ("LoginGraceTime", "1m", ["60"], True),
        ("LoginGraceTime", "60", ["120"], False),
        ("ClientAliveInterval", "15", ["15"], True),
        ("LogLevel", "VERBOSE", ["VERBOSE"], True),
        ("LogLevel", "info", ["INFO"], True),
        ("PermitRootLogin", "prohibit-password", ["without-password"], True),
        ("PermitRootLogin", "no", ["without-password"], False),
        ("UsePAM", "yes", ["yes"], True),
        ("IgnoreRhosts", "YES", ["yes"], True),
        ("MaxStartups", "10:30:60", ["10:30:60"], True),
        ("MaxStartups", "10", ["10:30:10"], True),
        ("MaxStartups", "10:30:60", ["10:30:100"], False),
        ("Ciphers", "aes256-ctr, aes128-ctr", ["aes256-ctr,aes128-ctr"], True),
        ("Ciphers", "aes256-ctr,aes128-ctr", ["aes128-ctr,aes256-ctr"], False),
        ("AllowUsers", "alice bob", ["bob", "alice"], True),
        ("AllowUsers", "alice", ["alice", "mallory"], False),
        ("Port", "22 2222", ["2222", "22"], True),
        ("Port", "2222", ["22"], False),
        ("ListenAddress", "0.0.0.0", ["0.0.0.0:22"], True),
        ("ListenAddress", "0.0.0.0:2222", ["0.0.0.0:22"], False),
        ("ListenAddress", "10.0.0.1", ["10.0.0.1:22", "[::]:22"], False),
        ("ListenAddress", "::1", ["[::1]:22"], True),
        ("Subsystem", "sftp internal-sftp", ["sftp internal-sftp", "other /bin/x"], True),
        ("Subsystem", "sftp internal-sftp", ["sftp /usr/lib/openssh/sftp-server"], False),
        ("Banner", "/etc/issue.net", ["none"], False),
        ("MaxAuthTries", "4", ["4"], True),
        ("MaxAuthTries", "4", [], False),
    ],
)
def test_same(keyword, expected, actual, same):
    assert kw.same(keyword, expected, actual) is same


def test_shown_gives_lists_for_keywords_that_add_up():
    assert kw.shown("AllowUsers", ["alice", "bob carol"]) == ["alice", "bob", "carol"]
    assert kw.shown("LogLevel", ["INFO"]) == "INFO"
    assert kw.shown("Banner", []) is None
