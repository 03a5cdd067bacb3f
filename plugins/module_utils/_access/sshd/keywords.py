# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The keywords of sshd_config, their canonical case, and how a value given compares with what
C(sshd -T) prints.

sshd reads keywords in any case and prints them in lower case (OpenSSH 10.5 and later in mixed
case), each with its value normalised: times in seconds (C(LoginGraceTime 1m) is C(60)), log
levels in capitals, C(prohibit-password) as C(without-password) before OpenSSH 9.8, a MaxStartups
of C(10) as C(10:30:10). Comparing the text a control gives with that output needs the same
normalisation, kept here as pure functions.

Most keywords keep the first value sshd reads. Some add up instead, every line of every file
adding its values (ACCUMULATING); Subsystem adds up by subsystem name.
"""

from __future__ import annotations

import re
import typing as t

# sshd_config(5) of OpenSSH 9.2 (Debian 12) to 10.x (Debian 13 and later), with Debian's own
# (DebianBanner, GSSAPI key exchange). Canonical case as the manual writes them.
KEYWORDS = (
    "AcceptEnv",
    "AddressFamily",
    "AllowAgentForwarding",
    "AllowGroups",
    "AllowStreamLocalForwarding",
    "AllowTcpForwarding",
    "AllowUsers",
    "AuthenticationMethods",
    "AuthorizedKeysCommand",
    "AuthorizedKeysCommandUser",
    "AuthorizedKeysFile",
    "AuthorizedPrincipalsCommand",
    "AuthorizedPrincipalsCommandUser",
    "AuthorizedPrincipalsFile",
    "Banner",
    "CASignatureAlgorithms",
    "ChannelTimeout",
    "ChrootDirectory",
    "Ciphers",
    "ClientAliveCountMax",
    "ClientAliveInterval",
    "Compression",
    "DebianBanner",
    "DenyGroups",
    "DenyUsers",
    "DisableForwarding",
    "ExposeAuthInfo",
    "FingerprintHash",
    "ForceCommand",
    "GatewayPorts",
    "GSSAPIAuthentication",
    "GSSAPICleanupCredentials",
    "GSSAPIDelegateCredentials",
    "GSSAPIKexAlgorithms",
    "GSSAPIKeyExchange",
    "GSSAPIStoreCredentialsOnRekey",
    "GSSAPIStrictAcceptorCheck",
    "HostbasedAcceptedAlgorithms",
    "HostbasedAuthentication",
    "HostbasedUsesNameFromPacketOnly",
    "HostCertificate",
    "HostKey",
    "HostKeyAgent",
    "HostKeyAlgorithms",
    "IgnoreRhosts",
    "IgnoreUserKnownHosts",
    "IPQoS",
    "KbdInteractiveAuthentication",
    "KerberosAuthentication",
    "KerberosGetAFSToken",
    "KerberosOrLocalPasswd",
    "KerberosTicketCleanup",
    "KexAlgorithms",
    "ListenAddress",
    "LoginGraceTime",
    "LogLevel",
    "LogVerbose",
    "MACs",
    "MaxAuthTries",
    "MaxSessions",
    "MaxStartups",
    "ModuliFile",
    "PAMServiceName",
    "PasswordAuthentication",
    "PermitEmptyPasswords",
    "PermitListen",
    "PermitOpen",
    "PermitRootLogin",
    "PermitTTY",
    "PermitTunnel",
    "PermitUserEnvironment",
    "PermitUserRC",
    "PerSourceMaxStartups",
    "PerSourceNetBlockSize",
    "PerSourcePenalties",
    "PerSourcePenaltyExemptList",
    "PidFile",
    "Port",
    "PrintLastLog",
    "PrintMotd",
    "PubkeyAcceptedAlgorithms",
    "PubkeyAuthentication",
    "PubkeyAuthOptions",
    "RDomain",
    "RefuseConnection",
    "RekeyLimit",
    "RequiredRSASize",
    "RevokedKeys",
    "SecurityKeyProvider",
    "SetEnv",
    "SshdAuthPath",
    "SshdSessionPath",
    "StreamLocalBindMask",
    "StreamLocalBindUnlink",
    "StrictModes",
    "Subsystem",
    "SyslogFacility",
    "TCPKeepAlive",
    "TrustedUserCAKeys",
    "UnusedConnectionTimeout",
    "UseDNS",
    "UsePAM",
    "VersionAddendum",
    "X11DisplayOffset",
    "X11Forwarding",
    "X11UseLocalhost",
    "XAuthLocation",
)
CANONICAL = {name.lower(): name for name in KEYWORDS}
# Old names sshd still reads for a keyword; C(sshd -T) prints the new one.
ALIASES = {
    "challengeresponseauthentication": "KbdInteractiveAuthentication",
    "skeyauthentication": "KbdInteractiveAuthentication",
    "pubkeyacceptedkeytypes": "PubkeyAcceptedAlgorithms",
    "hostbasedacceptedkeytypes": "HostbasedAcceptedAlgorithms",
    "dsaauthentication": "PubkeyAuthentication",
    "hostdsakey": "HostKey",
    "keepalive": "TCPKeepAlive",
}
# Keywords a settings map cannot carry, and why.
REFUSED = {
    "include": "Include changes which files sshd reads; the managed drop-in only sets values",
    "match": "Match starts a conditional block; the managed drop-in only sets global values",
}
DEPRECATED = (
    "afstokenpassing",
    "authorizedkeysfile2",
    "checkmail",
    "kerberostgtpassing",
    "keyregenerationinterval",
    "pamauthenticationviakbdint",
    "protocol",
    "reversemappingcheck",
    "rhostsauthentication",
    "rhostsrsaauthentication",
    "rsaauthentication",
    "serverkeybits",
    "uselogin",
    "useprivilegeseparation",
    "verifyreversemapping",
)

# Every line of every file adds its values (sshd -T prints one line per value).
ACCUMULATING = frozenset(
    {"acceptenv", "allowgroups", "allowusers", "denygroups", "denyusers", "hostcertificate", "hostkey", "port"}
)
# ListenAddress adds up too, but sshd -T prints ADDRESS:PORT for every port.
LISTEN = "listenaddress"
# Subsystem adds up per name: the first line of a name wins (OpenSSH 9.2 refuses a second one).
SUBSYSTEM = "subsystem"
MULTI_LINE = ACCUMULATING | {LISTEN, SUBSYSTEM, "setenv"}

FLAGS = frozenset(
    {
        "allowagentforwarding",
        "debianbanner",
        "disableforwarding",
        "exposeauthinfo",
        "gssapiauthentication",
        "gssapicleanupcredentials",
        "gssapidelegatecredentials",
        "gssapikeyexchange",
        "gssapistorecredentialsonrekey",
        "gssapistrictacceptorcheck",
        "hostbasedauthentication",
        "hostbasedusesnamefrompacketonly",
        "ignoreuserknownhosts",
        "kbdinteractiveauthentication",
        "kerberosauthentication",
        "kerberosgetafstoken",
        "kerberosorlocalpasswd",
        "kerberosticketcleanup",
        "passwordauthentication",
        "permitemptypasswords",
        "permittty",
        "permituserrc",
        "printlastlog",
        "printmotd",
        "pubkeyauthentication",
        "refuseconnection",
        "streamlocalbindunlink",
        "strictmodes",
        "tcpkeepalive",
        "usedns",
        "usepam",
        "x11forwarding",
        "x11uselocalhost",
    }
)
# Words compared without regard to case, with sshd's synonyms.
ENUMS = frozenset(
    {
        "addressfamily",
        "allowstreamlocalforwarding",
        "allowtcpforwarding",
        "compression",
        "fingerprinthash",
        "gatewayports",
        "ignorerhosts",
        "loglevel",
        "permitrootlogin",
        "permittunnel",
        "permituserenvironment",
        "pubkeyauthoptions",
        "syslogfacility",
    }
)
SYNONYMS = {
    "permitrootlogin": {"without-password": "prohibit-password"},
    "compression": {"delayed": "yes"},
    "allowtcpforwarding": {"all": "yes"},
    "allowstreamlocalforwarding": {"all": "yes"},
    "loglevel": {"debug": "debug1"},
}
TIMES = frozenset({"clientaliveinterval", "logingracetime", "unusedconnectiontimeout"})
INTEGERS = frozenset(
    {
        "clientalivecountmax",
        "maxauthtries",
        "maxsessions",
        "persourcemaxstartups",
        "requiredrsasize",
        "x11displayoffset",
    }
)
# Lists given as YAML lists and written joined with commas.
COMMA_LISTS = frozenset(
    {
        "casignaturealgorithms",
        "ciphers",
        "gssapikexalgorithms",
        "hostbasedacceptedalgorithms",
        "hostkeyalgorithms",
        "kexalgorithms",
        "macs",
        "pubkeyacceptedalgorithms",
    }
)
TIME_RE = re.compile(r"^(\d+[sSmMhHdDwW]?)+$")
TIME_PART_RE = re.compile(r"(\d+)([sSmMhHdDwW]?)")
TIME_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def canonical(name: str) -> str | None:
    """The canonical spelling of a keyword (aliases resolved), None when sshd does not know it."""
    lower = name.lower()
    if lower in ALIASES:
        return ALIASES[lower]
    return CANONICAL.get(lower)


def render(keyword: str, value: t.Any) -> str:
    """A value as the managed drop-in writes it: yes/no for booleans, lists joined with commas for
    algorithm lists and with blanks otherwise."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        joiner = "," if keyword.lower() in COMMA_LISTS else " "
        return joiner.join(render(keyword, item) for item in value)
    return str(value)


def seconds(text: str) -> int | None:
    """sshd's time format (C(90), C(1m30s), C(2h)) in seconds; None when it is not one."""
    text = text.strip()
    if not TIME_RE.match(text):
        return None
    return sum(int(number) * TIME_UNITS[unit.lower()] for number, unit in TIME_PART_RE.findall(text))


def entries(keyword: str, values: list[str]) -> list[str]:
    """The single values of a keyword that adds up, from the lines that set it."""
    found = []
    for value in values:
        found += value.split()
    return found if keyword != "port" else [str(int(port)) if port.isdigit() else port for port in found]


def normal(keyword: str, value: str) -> t.Any:
    """One value of a single-valued keyword, normalised for comparison."""
    key = keyword.lower()
    text = " ".join(value.split())
    if key in FLAGS:
        return text.lower()
    if key in ENUMS:
        word = text.lower()
        return SYNONYMS.get(key, {}).get(word, word)
    if key in TIMES:
        if text.lower() == "none":
            return 0
        found = seconds(text)
        return found if found is not None else text
    if key in INTEGERS:
        return int(text) if re.match(r"^-?\d+$", text) else text
    if key in COMMA_LISTS:
        return ",".join(part.strip() for part in text.split(","))
    if key == "maxstartups":
        if re.match(r"^\d+$", text):
            return f"{text}:30:{text}"
        return text
    return text


def split_listen(entry: str) -> tuple[str, str | None]:
    """(address, port) of a ListenAddress entry: C(10.0.0.1), C(10.0.0.1:22), C([::1]:22), C(::1)."""
    entry = entry.split(maxsplit=1)[0] if entry.split() else entry
    if entry.startswith("["):
        host, sep, rest = entry[1:].partition("]")
        return host.lower(), rest[1:] if sep and rest.startswith(":") else None
    if entry.count(":") == 1:
        host, port = entry.split(":")
        return host, port
    return entry.lower(), None


def same(keyword: str, expected: str, actual: list[str]) -> bool:
    """Whether what sshd uses (C(actual), the values of every line sshd -T prints for the keyword)
    is what the managed value (C(expected), as rendered) asks."""
    key = keyword.lower()
    if key in ACCUMULATING:
        return set(entries(key, [expected])) == set(entries(key, actual))
    if key == LISTEN:
        wanted = [split_listen(entry) for entry in expected.split()]
        have = [split_listen(entry) for entry in actual]
        cover = all(any(w[0] == h[0] and w[1] in (None, h[1]) for w in wanted) for h in have)
        return cover and all(any(w[0] == h[0] and w[1] in (None, h[1]) for h in have) for w in wanted)
    if key == SUBSYSTEM:
        name = expected.split(maxsplit=1)[0] if expected.split() else ""
        mine = [" ".join(line.split()) for line in actual if line.split()[:1] == [name]]
        return mine == [" ".join(expected.split())]
    if len(actual) != 1:
        return False
    return normal(key, expected) == normal(key, actual[0])


def shown(keyword: str, actual: list[str]) -> t.Any:
    """What sshd uses, for a report: one value, or the list of values of a keyword that adds up."""
    key = keyword.lower()
    if not actual:
        return None
    if key in MULTI_LINE or len(actual) > 1:
        return entries(key, actual) if key in ACCUMULATING else list(actual)
    return actual[0]
