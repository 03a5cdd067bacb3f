# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A fake node for the sshd family: a temporary tree, a small sshd that reads it, systemd, a /proc."""

from __future__ import annotations

import fnmatch
import glob
import ipaddress
import os
import shlex
import typing as t
from pathlib import Path

from ..system.conftest import Tree as SystemTree

DEBIAN_SSHD_CONFIG = """\
# This is the sshd server system-wide configuration file.

Include /etc/ssh/sshd_config.d/*.conf

#Port 22
#PermitRootLogin prohibit-password
KbdInteractiveAuthentication no
UsePAM yes
X11Forwarding yes
PrintMotd no
AcceptEnv LANG LC_*
Subsystem\tsftp\t/usr/lib/openssh/sftp-server
"""
PASSWD = """\
root:x:0:0:root:/root:/bin/bash
ansible:x:1000:1000:Ansible:/home/ansible:/bin/bash
alice:x:1001:1001::/home/alice:/bin/bash
"""
GROUP = """\
root:x:0:
sudo:x:27:ansible
ansible:x:1000:
alice:x:1001:
sshusers:x:2000:alice
"""
SHADOW = """\
root:*:19000:0:99999:7:::
ansible:!:19000:0:99999:7:::
alice:$y$j9T$abc:19000:0:99999:7:::
"""
DEFAULTS = {
    "usepam": "no",
    "logingracetime": "120",
    "maxauthtries": "6",
    "maxsessions": "10",
    "clientaliveinterval": "0",
    "clientalivecountmax": "3",
    "permitrootlogin": "prohibit-password",
    "ignorerhosts": "yes",
    "hostbasedauthentication": "no",
    "pubkeyauthentication": "yes",
    "gssapiauthentication": "no",
    "passwordauthentication": "yes",
    "kbdinteractiveauthentication": "yes",
    "x11forwarding": "no",
    "permitemptypasswords": "no",
    "disableforwarding": "no",
    "loglevel": "INFO",
    "banner": "none",
    "forcecommand": "none",
    "chrootdirectory": "none",
    "ciphers": "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,"
    "aes256-gcm@openssh.com",
    "macs": "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,"
    "hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,"
    "hmac-sha2-256,hmac-sha2-512,hmac-sha1",
    "kexalgorithms": "sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,"
    "ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,"
    "diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256",
    "pubkeyacceptedalgorithms": "ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256",
    "maxstartups": "10:30:100",
    "permituserenvironment": "no",
    "authenticationmethods": "any",
}
ADDING = {"allowusers", "denyusers", "allowgroups", "denygroups", "port", "listenaddress", "hostkey", "acceptenv"}
ALIASES = {"challengeresponseauthentication": "kbdinteractiveauthentication"}
MODULE_PID = 4000
TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class FakeModule:
    """What the family uses of AnsibleModule. C(commands) maps a program name to a handler taking
    the argv; every command and every atomic move is recorded in C(calls), in order."""

    def __init__(self, controls: list[dict] | None = None, *, check_mode: bool = False) -> None:
        self.params = {"controls": controls or []}
        self.check_mode = check_mode
        self.calls: list[list[str]] = []
        self.commands: dict[str, t.Callable[[list[str]], tuple[int, str, str]]] = {}
        self.bins: dict[str, str | None] = {}

    def run_command(self, argv, data=None, environ_update=None):
        argv = [str(a) for a in argv]
        self.calls.append(argv)
        name = os.path.basename(argv[0])
        if name in self.commands:
            return self.commands[name](argv)
        return 127, "", f"{name}: not scripted in this test"

    def get_bin_path(self, name, required=False, opt_dirs=None):
        return self.bins.get(name, f"/usr/sbin/{name}")

    def atomic_move(self, src, dest):
        self.calls.append(["atomic_move", dest])
        os.rename(src, dest)

    def names(self) -> list[str]:
        """Each call as its program and first argument (the verb), for order checks."""
        found = []
        for call in self.calls:
            words = [os.path.basename(call[0]), *call[1:2]] if call[0] != "atomic_move" else [call[0]]
            found.append(" ".join(words))
        return found


class Tree(SystemTree):
    """The system families' fake node, with a Debian sshd_config and the account files."""

    def __init__(self, base: Path) -> None:
        super().__init__(base)
        self.write("/etc/ssh/sshd_config", DEBIAN_SSHD_CONFIG, 0o600)
        (self.root / "etc/ssh/sshd_config.d").mkdir()
        self.write("/etc/passwd", PASSWD)
        self.write("/etc/group", GROUP)
        self.write("/etc/shadow", SHADOW, 0o640)

    def snapshot(self) -> dict[str, tuple[bytes, int]]:
        """Every file but the fake /proc, with its mode."""
        found = {}
        for path in sorted(self.root.rglob("*")):
            name = str(path.relative_to(self.root))
            if path.is_file() and not path.is_symlink() and not name.startswith("proc/"):
                found[name] = (path.read_bytes(), path.stat().st_mode)
        return found


def seconds(text: str) -> str:
    if text.isdigit():
        return text
    total, number = 0, ""
    for char in text:
        if char.isdigit():
            number += char
        else:
            total += int(number) * TIME_UNITS[char.lower()]
            number = ""
    return str(total + int(number or 0))


class FakeSshd:
    """sshd -t / -T over the tree: Includes (globs, relative to /etc/ssh), first value wins, some
    keywords add up, Match User/Address/LocalPort/all blocks for -C. C(refuse) maps a text that,
    found in a configuration line, makes sshd refuse it, to sshd's message. C(version) 9 prints
    prohibit-password as without-password."""

    def __init__(self, tree: Tree, *, refuse: dict[str, str] | None = None, version: int = 9) -> None:
        self.tree = tree
        self.refuse = refuse or {}
        self.version = version
        self.calls: list[list[str]] = []

    def real(self, path: str) -> str:
        root = str(self.tree.root)
        return path if path.startswith(root) else os.path.join(root, path.lstrip("/"))

    def lines(self, path: str, conn: dict, active: bool = True):
        text = Path(self.real(path)).read_text()
        here = active
        for number, raw in enumerate(text.splitlines(), 1):
            words = shlex.split(raw, comments=True)
            if not words:
                continue
            key, args = words[0].lower(), words[1:]
            if key == "include":
                for pattern in args:
                    full = pattern if pattern.startswith("/") else f"/etc/ssh/{pattern}"
                    for found in sorted(glob.glob(self.real(full))):
                        yield from self.lines(found, conn, here)
                continue
            if key == "match":
                here = active and self.matches(args, conn)
                continue
            if here:
                yield path, number, ALIASES.get(key, key), args

    @staticmethod
    def matches(args: list[str], conn: dict) -> bool:
        if [a.lower() for a in args] == ["all"]:
            return True
        pairs = list(zip(args[::2], args[1::2]))
        fields = {"user": "user", "address": "addr", "localport": "lport", "host": "host"}
        for name, pattern in pairs:
            have = conn.get(fields.get(name.lower(), ""))
            if have is None or not any(fnmatch.fnmatchcase(have, p) for p in pattern.split(",")):
                return False
        return True

    def evaluate(self, config: str, conn: dict) -> tuple[dict[str, list[str]], str | None]:
        values: dict[str, list[str]] = {}
        for path, number, key, args in self.lines(config, conn):
            text = " ".join(args)
            for needle, message in self.refuse.items():
                if needle in f"{key} {text}".lower():
                    return {}, f"{path} line {number}: {message}"
            if key in ADDING:
                values.setdefault(key, []).extend(args if key != "listenaddress" else [text])
            elif key == "subsystem":
                names = [v.split()[0] for v in values.get(key, [])]
                if args[0] not in names:
                    values.setdefault(key, []).append(text)
            else:
                values.setdefault(key, [text])
        return values, None

    def output(self, values: dict[str, list[str]]) -> str:
        ports = values.get("port") or ["22"]
        out = [f"port {port}" for port in ports]
        for entry in values.get("listenaddress") or ["[::]", "0.0.0.0"]:
            if entry.startswith("["):
                host, _sep, rest = entry.partition("]")
                host, port = host + "]", rest[1:] or None
            elif entry.count(":") == 1:
                host, port = entry.split(":")
            else:
                host, port = (f"[{entry}]" if ":" in entry else entry), None
            out += [f"listenaddress {host}:{p}" for p in ([port] if port else ports)]
        merged = dict(DEFAULTS)
        for key, items in values.items():
            if key not in ADDING and key != "subsystem":
                merged[key] = items[0]
        for key, given in merged.items():
            out.append(f"{key} {self.printed(key, given)}")
        for key in ("allowusers", "denyusers", "allowgroups", "denygroups", "acceptenv", "hostkey"):
            out += [f"{key} {item}" for item in values.get(key, [])]
        out += [f"subsystem {item}" for item in values.get("subsystem", [])]
        return "\n".join(out) + "\n"

    def printed(self, key: str, text: str) -> str:
        """A value as sshd -T prints it."""
        if key in ("logingracetime", "clientaliveinterval"):
            return seconds(text)
        if key == "loglevel":
            return text.upper()
        if key == "permitrootlogin" and text == "prohibit-password" and self.version < 10:
            return "without-password"
        if key == "maxstartups" and text.isdigit():
            return f"{text}:30:{text}"
        return text

    def __call__(self, argv: list[str]) -> tuple[int, str, str]:
        self.calls.append(argv)
        config = argv[argv.index("-f") + 1] if "-f" in argv else "/etc/ssh/sshd_config"
        conn: dict[str, str] = {}
        if "-C" in argv:
            for part in argv[argv.index("-C") + 1].split(","):
                name, _eq, value = part.partition("=")
                conn[name] = value
        values, error = self.evaluate(config, conn)
        if error:
            return 255, "", error
        if "-t" in argv:
            return 0, "", ""
        return 0, self.output(values), ""


class FakeSystemd:
    """systemctl over unit -> active (True/False); systemd-run records its timers. C(fail) maps a
    verb (reload, reload-or-restart, ...) to the stderr of its failure; C(stops) a verb that
    leaves ssh.service stopped."""

    def __init__(self, units: dict[str, bool] | None = None, fail: dict[str, str] | None = None) -> None:
        self.units = {"ssh.service": True, "ssh.socket": False, **(units or {})}
        self.fail = fail or {}
        self.stops: set[str] = set()
        self.timers: list[list[str]] = []

    def register(self, module: FakeModule) -> None:
        module.commands["systemctl"] = self
        module.commands["systemd-run"] = self.run

    def __call__(self, argv: list[str]) -> tuple[int, str, str]:
        verb = argv[1]
        if verb == "is-active":
            return (0 if self.units.get(argv[-1]) else 3), "", ""
        if verb in self.fail:
            return 1, "", self.fail[verb]
        if verb in self.stops:
            self.units["ssh.service"] = False
        if verb == "stop":
            for name in argv[2:]:
                self.units[name] = False
        if verb == "reload-or-restart":
            self.units[argv[-1]] = True
        return 0, "", ""

    def run(self, argv: list[str]) -> tuple[int, str, str]:
        if "systemd-run" in self.fail:
            return 1, "", self.fail["systemd-run"]
        self.timers.append(argv)
        unit = next(arg.split("=", 1)[1] for arg in argv if arg.startswith("--unit="))
        self.units[f"{unit}.timer"] = True
        return 0, "", ""


def hex_address(address: str) -> str:
    """An address as /proc/net/tcp prints it on a little-endian machine."""
    packed = ipaddress.ip_address(address).packed
    return "".join(f"{int.from_bytes(packed[i : i + 4], 'little'):08X}" for i in range(0, len(packed), 4))


class FakeProc:
    """A /proc under the tree's root: processes (stat, cmdline, status, fd links, environ) and
    the TCP tables of a process's network namespace."""

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self.base = tree.root / "proc"

    def process(
        self,
        pid: int,
        ppid: int,
        name: str,
        title: str,
        *,
        uid: int = 0,
        sockets: dict[int, int] | None = None,
        environ: dict[str, str] | None = None,
    ) -> None:
        folder = self.base / str(pid)
        (folder / "fd").mkdir(parents=True)
        (folder / "stat").write_text(f"{pid} ({name}) S {ppid} {pid} {pid} 0 -1 4194560 0 0 0 0\n")
        (folder / "cmdline").write_bytes(title.encode() + b"\0" * 8)
        (folder / "status").write_text(f"Name:\t{name}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n")
        (folder / "fd" / "0").symlink_to("/dev/null")
        for fd, inode in (sockets or {}).items():
            (folder / "fd" / str(fd)).symlink_to(f"socket:[{inode}]")
        if environ is not None:
            (folder / "environ").write_bytes(b"\0".join(f"{k}={v}".encode() for k, v in environ.items()) + b"\0")

    def tcp(self, pid: int, entries: list[tuple[str, int, str, int, str, int]]) -> None:
        """(local address, port, remote address, port, state, inode) rows into /proc/PID/net/tcp(6)."""
        folder = self.base / str(pid) / "net"
        folder.mkdir(parents=True, exist_ok=True)
        tables: dict[str, list[str]] = {"tcp": [], "tcp6": []}
        for index, (local, lport, remote, rport, state, inode) in enumerate(entries):
            table = "tcp6" if ":" in local else "tcp"
            tables[table].append(
                f"{index:4d}: {hex_address(local)}:{lport:04X} {hex_address(remote)}:{rport:04X} {state} "
                f"00000000:00000000 00:00000000 00000000     0        0 {inode} 1 0000000000000000 20 4 30 10 -1"
            )
        header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
        for name, rows in tables.items():
            (folder / name).write_text("\n".join([header, *rows]) + "\n")


def ssh_chain(proc, program, user, *, tty="notty", sockets=None, monitor_sockets=None, sudo=True, environ=None):
    """listener 700 -> monitor 800 -> session 900 -> sh 910 [-> sudo 920 -> sh 930] -> python MODULE_PID."""
    proc.process(700, 1, program.split("-")[0], "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups")
    proc.process(800, 700, program, f"{program}: {user} [priv]", sockets=monitor_sockets)
    proc.process(900, 800, program, f"{program}: {user}@{tty}", uid=1000, sockets=sockets)
    proc.process(910, 900, "sh", "/bin/sh -c sudo -H -S -n -u root /bin/sh -c ...", uid=1000, environ=environ)
    parent = 910
    if sudo:
        proc.process(920, 910, "sudo", "sudo -H -S -n -u root /bin/sh -c ...")
        proc.process(930, 920, "sh", "/bin/sh -c /usr/bin/python3")
        parent = 930
    proc.process(MODULE_PID, parent, "python3", "/usr/bin/python3")
