"""Read many things of a node in one command each: every command through testinfra costs seconds
under the lab's emulation, so the tests ask once and look up many times."""

from __future__ import annotations

import json

# Runs on the node (its python3): path -> mode, owner, group, kind, and the text of small files.
FILES_SCRIPT = r"""
import glob, grp, json, os, pwd, stat, sys
out = {}
for pattern in json.loads(sys.argv[1]):
    for path in sorted(glob.glob(pattern)) or [pattern]:
        try:
            info = os.lstat(path)
        except OSError:
            out[path] = None
            continue
        def name(get, ident):
            try:
                return get(ident)[0]
            except KeyError:
                return str(ident)
        entry = {"mode": stat.S_IMODE(info.st_mode), "user": name(pwd.getpwuid, info.st_uid),
                 "group": name(grp.getgrgid, info.st_gid), "link": stat.S_ISLNK(info.st_mode),
                 "dir": stat.S_ISDIR(info.st_mode), "pattern": pattern, "mtime": info.st_mtime}
        if stat.S_ISREG(info.st_mode) and info.st_size < 65536:
            with open(path, encoding="utf-8", errors="replace") as handle:
                entry["text"] = handle.read()
        out[path] = entry
print(json.dumps(out))
"""


def files(host, patterns: list[str]) -> dict[str, dict | None]:
    """Every path (globs expanded on the node) with its mode, owner, group and small-file text."""
    argument = json.dumps(sorted(set(patterns)))
    command = "python3 -c " + _quote(FILES_SCRIPT) + " " + _quote(argument)
    return json.loads(host.check_output(command))


def units(host, names: list[str]) -> dict[str, dict[str, str]]:
    """LoadState, ActiveState and UnitFileState of each unit, from one systemctl show."""
    ordered = list(dict.fromkeys(names))
    if not ordered:
        return {}
    out = host.check_output("systemctl show -p LoadState -p ActiveState -p UnitFileState " + " ".join(ordered))
    # systemctl show prints one block per unit, in the order asked for.
    blocks = [dict(line.partition("=")[::2] for line in block.splitlines()) for block in out.strip().split("\n\n")]
    assert len(blocks) == len(ordered), out
    return dict(zip(ordered, blocks))


def packages(host) -> dict[str, str]:
    """Installed state of every package dpkg knows ("ii" is installed)."""
    out = host.check_output("dpkg-query -W -f '${Package} ${db:Status-Abbrev}\\n'")
    return {line.split()[0]: line.split()[1] for line in out.splitlines() if len(line.split()) > 1}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"
