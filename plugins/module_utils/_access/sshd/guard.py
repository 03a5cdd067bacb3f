# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Lockout checks: would the candidate configuration still let in the account Ansible uses?

They run on what C(sshd -T -f CANDIDATE -C user=U,host=H,addr=A,laddr=L,lport=P) prints for the
connection Ansible is on (Match blocks applied for it), before anything is installed, and give a
list of refusals, each saying what would lock the account out and what to do instead. What sshd
checks is checked the way sshd checks it (auth.c, match.c): DenyUsers, AllowUsers (C(USER) and
C(USER@HOST) patterns with C(*) and C(?), the host part a list of addresses, CIDR blocks and
names with C(!) negation), DenyGroups and AllowGroups (the primary group and the groups of
/etc/group), PermitRootLogin for root, the port and address sshd listens on, the authentication
method in use (its switch, AuthenticationMethods, for keys the key's algorithm), and what would
end the session even when it is let in (ForceCommand, ChrootDirectory, MaxSessions 0, RefuseConnection,
a locked password with UsePAM off).

What cannot be known is refused, not guessed: an unknown client address where a rule depends on
it, an account whose groups cannot be read, an unknown method when the candidate switches one off.
The functions are pure (the account is read by C(account)), so tables of cases test them.
"""

from __future__ import annotations

import ipaddress
import re
import time
from dataclasses import dataclass

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd import keywords as kw
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd.effective import Connection
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd.session import Session
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node

METHODS = ("publickey", "password", "keyboard-interactive", "gssapi-with-mic", "hostbased")
SWITCHES = {
    "publickey": "pubkeyauthentication",
    "password": "passwordauthentication",
    "keyboard-interactive": "kbdinteractiveauthentication",
    "gssapi-with-mic": "gssapiauthentication",
    "hostbased": "hostbasedauthentication",
}
# What PermitRootLogin leaves root. forced-commands-only runs only the command of the key's
# authorized_keys line, never Ansible's.
ROOT_METHODS = {
    "yes": set(METHODS),
    "prohibit-password": {"publickey", "gssapi-with-mic", "hostbased"},
    "forced-commands-only": set(),
    "no": set(),
}
# Key types sshd logs (C(Accepted publickey ... ssh2: ED25519 SHA256:...)) and the signature
# algorithms PubkeyAcceptedAlgorithms must keep for them.
KEY_ALGORITHMS = {
    "RSA": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"),
    "ED25519": ("ssh-ed25519",),
    "ECDSA": ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"),
    "ED25519-SK": ("sk-ssh-ed25519@openssh.com",),
    "ECDSA-SK": ("sk-ecdsa-sha2-nistp256@openssh.com",),
    "DSA": ("ssh-dss",),
}
WILDCARDS = {"0.0.0.0": 4, "::": 6}
CONNECTION_KEYS = {"user", "port", "address", "client_address", "method", "local"}


@dataclass(frozen=True)
class Operator:
    """The account Ansible connects with and how: C(port) and C(local_address) are the node's end
    of the connection, C(client_address) the controller's (or the jump host's); C(method) and
    C(key_type) as sshd logged them; None where unknown. C(source) says who told."""

    user: str
    port: int | None = None
    local_address: str | None = None
    client_address: str | None = None
    method: str | None = None
    key_type: str | None = None
    source: str = "Ansible's connection"

    def connection(self) -> Connection:
        """The C(sshd -T -C) connection for this operator (the client address as host name too:
        with UseDNS no, sshd's default, that is what sshd matches host patterns against)."""
        return Connection(self.user, self.client_address, self.client_address, self.local_address, self.port)

    def describe(self) -> str:
        port = f"port {self.port}" if self.port else "an unknown port"
        client = f" from {self.client_address}" if self.client_address else ""
        return f"{self.user} on {port}{client}"


@dataclass(frozen=True)
class Account:
    """What sshd reads of the account: its groups (None: unknown) and whether the password field
    locks it (only counts with UsePAM no; None: /etc/shadow unreadable)."""

    groups: tuple[str, ...] | None
    locked: bool | None


# -- patterns as sshd matches them ---------------------------------------------------------------


def match_pattern(text: str, pattern: str) -> bool:
    """sshd's match_pattern: C(*) any run of characters, C(?) one character, nothing else special."""
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, text, re.DOTALL) is not None


def match_list(text: str, patterns: str, lower: bool = False) -> int:
    """sshd's match_pattern_list over a comma list: -1 a negated entry matches, 1 a plain one, 0 none."""
    found = 0
    for item in patterns.split(","):
        negated = item.startswith("!")
        entry = item[1:] if negated else item
        if match_pattern(text, entry.lower() if lower else entry):
            if negated:
                return -1
            found = 1
    return found


def match_addresses(address: str, patterns: str) -> int:
    """sshd's addr_match_list: CIDR blocks or wildcards; -1 negated match, 1 match, 0 none, -2 error."""
    try:
        mine = ipaddress.ip_address(address)
    except ValueError:
        return 0
    found = 0
    for item in patterns.split(","):
        negated = item.startswith("!")
        entry = item[1:] if negated else item
        if not entry:
            return -2
        try:
            network = ipaddress.ip_network(entry, strict=True)
        except ValueError:
            if "/" in entry:
                return -2
            hit = match_pattern(address, entry)
        else:
            hit = mine.version == network.version and mine in network
        if hit:
            if negated:
                return -1
            found = 1
    return found


def host_matches(host: str | None, address: str | None, patterns: str) -> bool | None:
    """sshd's match_host_and_ip; None when the client address is unknown and the patterns matter."""
    if address is None:
        return True if patterns == "*" else None
    by_address = match_addresses(address, patterns)
    if by_address in (-2, -1):
        return False
    by_name = match_list((host or address).lower(), patterns, lower=True)
    if by_name == -1:
        return False
    return by_address == 1 or by_name == 1


def user_matches(user: str, client: str | None, pattern: str) -> bool | None:
    """An AllowUsers or DenyUsers entry (C(USER) or C(USER@HOST)) against the operator."""
    if "@" not in pattern:
        return match_pattern(user, pattern)
    name, _at, hosts = pattern.rpartition("@")
    if not match_pattern(user, name):
        return False
    return host_matches(client, client, hosts)


# -- what the candidate lets in ------------------------------------------------------------------


def value(config: dict[str, list[str]], keyword: str, default: str = "") -> str:
    values = config.get(keyword)
    return values[0] if values else default


def admitted(config: dict[str, list[str]], user: str) -> set[str]:
    """The methods that alone let C(user) in: switched on, allowed for root, and an
    AuthenticationMethods list of just that method (or C(any))."""
    methods = {method for method in METHODS if value(config, SWITCHES[method], "no").lower() == "yes"}
    if user == "root":
        root = kw.normal("permitrootlogin", value(config, "permitrootlogin", "prohibit-password"))
        methods &= ROOT_METHODS.get(root, set())
    lists = value(config, "authenticationmethods", "any").split()
    if not lists or lists == ["any"]:
        return methods
    alone = {entry.split(":")[0] for entry in lists if "," not in entry}
    return methods & alone


def key_refusal(config: dict[str, list[str]], key_type: str | None) -> str | None:
    allowed = value(config, "pubkeyacceptedalgorithms")
    if not key_type or not allowed:
        return None
    cert = key_type.upper().endswith("-CERT")
    base = KEY_ALGORITHMS.get(key_type.upper()[: -len("-CERT")] if cert else key_type.upper())
    if not base:
        return None
    names = [f"{name.split('@')[0]}-cert-v01@openssh.com" if cert else name for name in base]
    if any(name in allowed.split(",") for name in names):
        return None
    return (
        f"PubkeyAcceptedAlgorithms leaves out {' and '.join(names)}, the algorithms of the {key_type} key it "
        "logged in with: add one of them to the list"
    )


def listen_refusal(config: dict[str, list[str]], op: Operator) -> str | None:
    if op.port is None:
        return (
            "the port Ansible connects on is unknown, so a Port or ListenAddress change cannot be checked: give "
            "connection.port"
        )
    family = None
    if op.local_address:
        try:
            family = ipaddress.ip_address(op.local_address).version
        except ValueError:
            family = None
    listens = [kw.split_listen(entry) for entry in config.get("listenaddress", [])]
    for address, port in listens:
        if port is None or not port.isdigit() or int(port) != op.port:
            continue
        if address in WILDCARDS and (family is None or WILDCARDS[address] == family):
            return None
        if op.local_address and address == op.local_address.lower():
            return None
    shown = ", ".join(config.get("listenaddress", [])) or "nothing"
    where = f"{op.local_address} port {op.port}" if op.local_address else f"port {op.port}"
    return (
        f"sshd would listen on {shown} but Ansible is connected to {where}: keep that port in Port (and the "
        "address in ListenAddress), or move Ansible to the new port first"
    )


def refusals(
    config: dict[str, list[str]],
    op: Operator,
    account: Account,
    *,
    current: dict[str, list[str]] | None = None,
    socket_activated: bool = False,
) -> list[str]:
    """Why the candidate (C(config), sshd -T for the operator's connection) would lock the operator
    out; empty when it lets them in. C(current) is the same for the configuration in use."""
    found: list[str] = []
    who = op.user
    if who == "root":
        root = kw.normal("permitrootlogin", value(config, "permitrootlogin", "prohibit-password"))
        if root in ("no", "forced-commands-only"):
            found.append(
                f"PermitRootLogin {root} would refuse root, the account Ansible connects with: connect as an "
                "account with sudo rights (ansible_user, become: true) first, or leave PermitRootLogin as it is"
            )
    found += access_refusals(config, op, account)
    if socket_activated:
        ports = ("port", "listenaddress")
        if current is not None and any(config.get(key) != current.get(key) for key in ports):
            found.append(
                "ssh.socket accepts the connections, so sshd's Port and ListenAddress do not say where it listens: "
                "change the port in the socket unit, not in sshd's configuration"
            )
    else:
        refusal = listen_refusal(config, op)
        if refusal:
            found.append(refusal)
    found += method_refusals(config, op, current)
    found += session_refusals(config, account)
    return found


def access_refusals(config: dict[str, list[str]], op: Operator, account: Account) -> list[str]:
    found = []
    who, client = op.user, op.client_address
    unknown = "the client address is unknown (give connection.client_address)"
    for entry in kw.entries("denyusers", config.get("denyusers", [])):
        hit = user_matches(who, client, entry)
        if hit is None:
            found.append(f"DenyUsers {entry} may refuse {who}: {unknown}; or drop the host part")
        elif hit:
            found.append(f"DenyUsers {entry} refuses {who}, the account Ansible connects with: take it off the list")
    allow = kw.entries("allowusers", config.get("allowusers", []))
    if allow:
        hits = [user_matches(who, client, entry) for entry in allow]
        if not any(hits):
            if None in hits:
                found.append(f"AllowUsers {' '.join(allow)} may leave out {who}: {unknown}")
            else:
                found.append(
                    f"AllowUsers {' '.join(allow)} leaves out {who}, the account Ansible connects with: add {who} "
                    "to the list"
                )
    deny_groups = kw.entries("denygroups", config.get("denygroups", []))
    allow_groups = kw.entries("allowgroups", config.get("allowgroups", []))
    if (deny_groups or allow_groups) and account.groups is None:
        found.append(
            f"the groups of {who} cannot be read (not in /etc/passwd, and id does not know it), so DenyGroups and "
            "AllowGroups cannot be checked: list the account in AllowUsers instead"
        )
    elif account.groups is not None:
        for pattern in deny_groups:
            hits = [group for group in account.groups if match_pattern(group, pattern)]
            if hits:
                found.append(f"DenyGroups {pattern} refuses {who} (group {hits[0]}): take the group off the list")
        if allow_groups and not any(match_pattern(g, p) for g in account.groups for p in allow_groups):
            found.append(
                f"AllowGroups {' '.join(allow_groups)} leaves out {who} (groups {', '.join(account.groups) or 'none'}):"
                f" add one of its groups, or add {who} to a listed group first"
            )
    return found


def method_refusals(config: dict[str, list[str]], op: Operator, current: dict[str, list[str]] | None) -> list[str]:
    found = []
    candidate = admitted(config, op.user)
    if op.method:
        method = op.method.split(":")[0]
        if method not in candidate:
            found.append(
                f"{op.user} logs in with {method}, which the candidate does not allow for it "
                f"({describe_methods(config, op.user, method)}): keep {method} allowed"
            )
        elif method == "publickey":
            refusal = key_refusal(config, op.key_type)
            if refusal:
                found.append(refusal)
    else:
        possible = admitted(current, op.user) if current is not None else set(METHODS)
        lost = sorted(possible - candidate, key=METHODS.index)
        if lost:
            found.append(
                f"it is unknown how {op.user} authenticates, and the candidate takes away {', '.join(lost)}: give "
                "connection.method (publickey or password), or keep those methods"
            )
    return found


def describe_methods(config: dict[str, list[str]], user: str, method: str) -> str:
    switch = SWITCHES[method]
    parts = [f"{switch} {value(config, switch, 'no')}"]
    if user == "root":
        parts.append(f"PermitRootLogin {value(config, 'permitrootlogin', 'prohibit-password')}")
    methods = value(config, "authenticationmethods", "any")
    if methods != "any":
        parts.append(f"AuthenticationMethods {methods}")
    return ", ".join(parts)


def session_refusals(config: dict[str, list[str]], account: Account) -> list[str]:
    found = []
    command = value(config, "forcecommand", "none")
    if command.lower() != "none":
        found.append(f"ForceCommand {command} would run instead of every Ansible command: leave ForceCommand unset")
    chroot = value(config, "chrootdirectory", "none")
    if chroot.lower() != "none":
        found.append(f"ChrootDirectory {chroot} would hide the node's shell and Python from Ansible: leave it unset")
    if value(config, "maxsessions", "10").strip() == "0":
        found.append("MaxSessions 0 allows no shell session at all: give at least 1 (CIS asks 10 or fewer)")
    if value(config, "refuseconnection", "no").lower() == "yes":
        found.append("RefuseConnection yes refuses every connection: leave it unset")
    if value(config, "usepam", "yes").lower() == "no":
        if account.locked:
            found.append(
                "UsePAM no makes sshd refuse accounts whose password is locked or expired, as the account Ansible "
                "connects with is: keep UsePAM yes (CIS 5.1.22)"
            )
        elif account.locked is None:
            found.append("UsePAM no refuses locked accounts and /etc/shadow cannot be read: keep UsePAM yes")
    return found


def match_refusals(criteria: list[str], op: Operator) -> list[str]:
    """Match blocks that test the client's address or name, when that address is unknown."""
    if op.client_address is not None:
        return []
    found = []
    for line in criteria:
        words = [word.lower() for word in line.split()]
        if "address" in words or "host" in words:
            found.append(
                f"Match {line} depends on the client's address, which is unknown here: give "
                "connection.client_address, or run the module over SSH"
            )
    return found


# -- who is connected ----------------------------------------------------------------------------


def check_connection(connection: object) -> dict:
    """The C(connection) module option: what Ansible believes (C(user), C(port), C(address): the
    node's address it connects to; C(client_address), C(method)), or C({local: true})."""
    if connection is None:
        return {}
    if not isinstance(connection, dict):
        raise c.ControlInputError("connection must be a mapping such as {user: ansible, port: 22}")
    unknown = sorted(set(connection) - CONNECTION_KEYS)
    if unknown:
        raise c.ControlInputError(
            f"connection has unknown keys {', '.join(unknown)}; it takes {', '.join(sorted(CONNECTION_KEYS))}"
        )
    found = {key: item for key, item in connection.items() if item not in (None, "")}
    if "port" in found:
        port = found["port"]
        if isinstance(port, str) and port.isdigit():
            port = int(port)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise c.ControlInputError(f"connection.port {found['port']!r} is not a TCP port")
        found["port"] = port
    for key in ("user", "address", "client_address"):
        if key in found and (not isinstance(found[key], str) or not found[key].strip() or "," in found[key]):
            raise c.ControlInputError(f"connection.{key} {found[key]!r} must be one word")
    if "method" in found and found["method"] not in METHODS:
        raise c.ControlInputError(f"connection.method must be one of {', '.join(METHODS)}")
    if "local" in found and not isinstance(found["local"], bool):
        raise c.ControlInputError("connection.local must be true or false")
    return found


def ip_or_none(text: str | None) -> str | None:
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)


def operators(
    session: Session | None, connection: dict, learned: tuple[str, str | None] | None = None
) -> tuple[list[Operator], list[str]]:
    """Who must still get in, from what the node sees (C(session)) and what Ansible believes
    (C(connection), checked), with notes for the report. Raises c.ControlInputError when neither
    tells: nothing is changed blind."""
    notes = []
    method = connection.get("method") or (learned[0] if learned else None)
    key_type = learned[1] if learned and learned[0] == method else None
    if session is not None:
        found = [
            Operator(
                session.user,
                session.local_port,
                session.local_address,
                session.client_address,
                method,
                key_type,
                f"sshd session process {session.pid}",
            )
        ]
        theirs = connection.get("user")
        if theirs and theirs != session.user:
            found.append(
                Operator(
                    theirs, session.local_port, session.local_address, session.client_address, method, None, "Ansible"
                )
            )
            notes.append(f"Ansible names {theirs} but sshd serves {session.user}; both are checked")
        port = connection.get("port")
        if port and session.local_port and port != session.local_port:
            notes.append(
                f"Ansible connects to port {port} and sshd serves port {session.local_port} (a forwarded port): "
                f"port {session.local_port} is checked"
            )
        return found, notes
    if connection.get("local"):
        notes.append("the module does not run over SSH (connection local): only sshd -t judges the candidate")
        return [], notes
    if connection.get("user") and connection.get("port"):
        notes.append("no sshd session among the module's parent processes; Ansible's connection is checked")
        address = ip_or_none(connection.get("address"))
        client = ip_or_none(connection.get("client_address"))
        return [Operator(connection["user"], connection["port"], address, client, method, None)], notes
    raise c.ControlInputError(
        "cannot tell which account and port Ansible connects with: no sshd session is among the module's parent "
        "processes and the connection option gives no user and port; give connection: {user, port} (or "
        "{local: true} when Ansible runs on the node itself). Nothing was changed"
    )


def account(node: Node, user: str) -> Account:
    """The account's groups (primary from /etc/passwd, supplementary from /etc/group, else from
    C(id -Gn)) and whether /etc/shadow locks it for sshd (C(!) first, or expired)."""
    groups: tuple[str, ...] | None = None
    gid = None
    for line in (node.read("/etc/passwd") or "").splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and fields[0] == user:
            gid = fields[3]
            break
    if gid is not None:
        names = []
        for line in (node.read("/etc/group") or "").splitlines():
            fields = line.split(":")
            if len(fields) >= 4 and (fields[2] == gid or user in fields[3].split(",")):
                names.append(fields[0])
        groups = tuple(dict.fromkeys(names))
    else:
        rc, out, _err = node.run([node.binary("id") or "id", "-Gn", "--", user], check=False)
        if rc == 0:
            groups = tuple(out.split())
    locked: bool | None = None
    try:
        shadow = node.read("/etc/shadow")
    except OSError:
        shadow = None
    if shadow is not None:
        locked = False
        today = int(time.time() // 86400)
        for line in shadow.splitlines():
            fields = line.split(":")
            if len(fields) >= 2 and fields[0] == user:
                expired = len(fields) > 7 and fields[7].isdigit() and int(fields[7]) <= today
                locked = fields[1].startswith("!") or expired
    return Account(groups, locked)
