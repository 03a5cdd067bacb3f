# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PAM as CIS 5.3 wants it, through Debian's pam-auth-update (never by editing common-* by hand).

One spec kind per control:

- C({feature: unix|faillock|pwquality|pwhistory}): the module is in the stacks where it belongs,
  in the right place (CIS 5.3.2.1 to 5.3.2.4): pam_unix once in each of common-auth, -account,
  -password and -session; pam_faillock C(preauth) ahead of pam_unix and C(authfail) after it in
  common-auth and in common-account; pam_pwquality and pam_pwhistory ahead of pam_unix in
  common-password.
- C({unix: {nullok: false}}), C({unix: {remember: false}}), C({unix: {hash: yescrypt}}),
  C({unix: {use_authtok: true}}): the arguments of pam_unix (5.3.3.4).
- C({pwhistory: {remember: 24, enforce_for_root: true, use_authtok: true}}) (5.3.3.3).
- C({faillock: {deny: 5, unlock_time: 900, ...}}): /etc/security/faillock.conf (5.3.3.1).
- C({pwquality: {minlen: 14, ...}}): pam_pwquality's settings (5.3.3.2) in
  /etc/security/pwquality.conf, which libpwquality reads after every file of pwquality.conf.d,
  so its lines win over theirs.

The stacks are judged as PAM reads them (the common-* files, line by line) and fixed by writing
the profiles (profiles.py) and running C(pam-auth-update --enable ... --force) without its saved
copy of the last stacks (with it, pam-auth-update merges options added by hand back in, C(nullok)
among them; an option no profile gives is named in the action before it goes). Before that, every
module the new stacks load must exist, and a line of common-* that no profile provides (one
added by hand for a module no profile knows) stops the fix: C(--force) would drop it. After it,
the stacks must name only modules that exist, and C(sudo -n true) run as the account that called
sudo for this module must still succeed where it did before: otherwise the previous common-*
files, pam-auth-update's state and the profiles are put back, and the run fails.

A setting given as an argument on the module's line wins over the files; such an argument is a
difference of the setting's control, fixed with the stacks (the profiles carry none).
"""

from __future__ import annotations

import glob
import os
import typing as t
from dataclasses import dataclass, field

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.pam import profiles as pr
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.pam import settings as st
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.pam import stack as sk
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd.origin import on_node
from ansible_collections.nodeguard.hardening.plugins.module_utils._files import atomic_write, file_diff, state_diff
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import (
    Action,
    Family,
    Finding,
    one_kind,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.writes import (
    content_differences,
    write_action,
)

STATE_DIR = "/var/lib/pam"
# Where libcrack looks for its dictionary unless pwquality.conf names another (dictpath).
CRACKLIB_DICT = "/var/cache/cracklib/cracklib_dict"
STATE_FILES = ("seen", "auth", "account", "password", "session", "session-noninteractive")
MODULE_DIRS = ("/usr/lib/*/security", "/lib/*/security", "/usr/lib/security", "/lib/security")
# pam-auth-update's templates: the lines it writes around the profiles' (pam_deny, pam_permit and,
# on Debian 13, pam_umask in the session stacks).
TEMPLATE_DIR = "/usr/share/pam"
HASH_CHOICES = ("yescrypt", "sha512")
UNIX_OPTIONS = {"nullok": bool, "remember": bool, "hash": str, "use_authtok": bool}
PWHISTORY_OPTIONS = {"remember": int, "enforce_for_root": bool, "use_authtok": bool}
FEATURE_MODULES = {
    "unix": "pam_unix.so",
    "faillock": "pam_faillock.so",
    "pwquality": "pam_pwquality.so",
    "pwhistory": "pam_pwhistory.so",
}
# CIS 5.3.3.1 and 5.3.3.2 bounds: (lowest, highest), None where open.
BOUNDS = {
    ("faillock", "deny"): (1, 5),
    ("faillock", "root_unlock_time"): (60, None),
    ("pwquality", "difok"): (2, None),
    ("pwquality", "minlen"): (14, None),
    ("pwquality", "minclass"): (0, 4),
    ("pwquality", "maxrepeat"): (1, 3),
    ("pwquality", "maxsequence"): (1, 3),
    ("pwquality", "dictcheck"): (1, 1),
    ("pwquality", "enforcing"): (1, 1),
    ("pwhistory", "remember"): (24, 400),
}


@dataclass
class Spec:
    kind: str
    values: dict[str, t.Any] = field(default_factory=dict)
    feature: str = ""


@dataclass
class Wanted:
    """Everything the enabled controls want, merged: what the profiles and files are built from."""

    features: dict[str, str] = field(default_factory=dict)
    unix: dict[str, t.Any] = field(default_factory=dict)
    pwhistory: dict[str, t.Any] = field(default_factory=dict)
    faillock: dict[str, t.Any] = field(default_factory=dict)
    pwquality: dict[str, t.Any] = field(default_factory=dict)

    def takes_unix(self) -> bool:
        """Debian's unix profile gives way to ours once any pam_unix argument is managed."""
        return bool(self.unix) or "unix" in self.features

    def profiles(self) -> list[str]:
        names = []
        if self.takes_unix():
            names.append(pr.UNIX)
        for feature in ("faillock", "pwquality", "pwhistory"):
            if feature in self.features:
                names += pr.FEATURES[feature]
        return names

    def pwhistory_args(self) -> list[str]:
        args = []
        if "remember" in self.pwhistory:
            args.append(f"remember={self.pwhistory['remember']}")
        if self.pwhistory.get("enforce_for_root"):
            args.append("enforce_for_root")
        args.append("try_first_pass")
        if self.pwhistory.get("use_authtok"):
            args.append("use_authtok")
        return args


def check_value(cid: str, kind: str, key: str, value: t.Any, expected: type | None) -> t.Any:
    if expected is None or expected is bool:
        if not isinstance(value, bool):
            raise c.ControlInputError(f"control {cid!r}: {kind}.{key} is a flag: give true or false")
        return value
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise c.ControlInputError(f"control {cid!r}: {kind}.{key} must be a whole number, not {value!r}")
        low, high = BOUNDS.get((kind, key), (None, None))
        if (low is not None and value < low) or (high is not None and value > high):
            bound = f"{low}" if low == high else f"{low if low is not None else ''}..{high if high is not None else ''}"
            raise c.ControlInputError(
                f"control {cid!r}: {kind}.{key} {value} is outside what CIS 5.3.3 accepts ({bound})"
            )
        if (kind, key) == ("faillock", "unlock_time") and 0 < value < 900:
            raise c.ControlInputError(
                f"control {cid!r}: faillock.unlock_time {value} must be 0 (until an administrator unlocks) or 900 "
                "seconds or more (CIS 5.3.3.1.2)"
            )
        return value
    if not isinstance(value, str) or not value.strip() or any(char.isspace() for char in value):
        raise c.ControlInputError(f"control {cid!r}: {kind}.{key} must be one word, not {value!r}")
    return value


def node_glob(node: Node, pattern: str) -> list[str]:
    """The node's paths of the files matching C(pattern), sorted."""
    return [on_node(node, full) for full in sorted(glob.glob(node.path(pattern))) if os.path.isfile(full)]


def profile_lines(text: str) -> list[sk.PamLine]:
    """The lines a profile's stack fields give (type left as C(x): a field names its stack)."""
    found = []
    for key, lines in pr.fields(text).items():
        if key.split("-")[0] in {"Auth", "Account", "Password", "Session"}:
            found += sk.parse("", "".join(f"x {line}\n" for line in lines))
    return found


def profile_modules(text: str) -> set[str]:
    """The modules a profile's stack fields load."""
    return {line.name for line in profile_lines(text)}


def module_dirs(node: Node) -> list[str]:
    found = []
    for pattern in MODULE_DIRS:
        found += [path for path in sorted(glob.glob(node.path(pattern))) if os.path.isdir(path)]
    return found


def module_exists(node: Node, module: str) -> bool:
    if module.startswith("/"):
        return os.path.exists(node.path(module))
    return any(os.path.exists(os.path.join(directory, module)) for directory in module_dirs(node))


class Pam(Family):
    name = "pam"

    def validate(self, node: Node, control: dict, spec: t.Any) -> Spec:
        cid = control["id"]
        kinds = ("feature", "unix", "pwhistory", "faillock", "pwquality")
        kind, body = one_kind(
            control,
            spec,
            kinds,
            f"spec must have exactly one of {', '.join(kinds)}, such as {{feature: faillock}} "
            "or {faillock: {deny: 5}}",
        )
        if kind == "feature":
            if body not in pr.FEATURES:
                raise c.ControlInputError(
                    f"control {cid!r}: feature {body!r} is not one of {', '.join(sorted(pr.FEATURES))}"
                )
            return Spec(kind, feature=body)
        known = {
            "unix": UNIX_OPTIONS,
            "pwhistory": PWHISTORY_OPTIONS,
            "faillock": st.FAILLOCK_KEYS,
            "pwquality": st.PWQUALITY_KEYS,
        }[kind]
        if not isinstance(body, dict) or not body:
            raise c.ControlInputError(f"control {cid!r}: {kind} must map settings to values")
        unknown = sorted(set(body) - set(known))
        if unknown:
            raise c.ControlInputError(
                f"control {cid!r}: {kind} does not know {', '.join(unknown)}; it knows {', '.join(sorted(known))}"
            )
        values = {key: check_value(cid, kind, key, value, known[key]) for key, value in body.items()}
        if kind == "unix":
            if values.get("nullok") is True or values.get("remember") is True:
                raise c.ControlInputError(
                    f"control {cid!r}: unix.nullok and unix.remember can only be false (taken out); leave them out "
                    "to keep what Debian's profile has"
                )
            if "hash" in values and values["hash"] not in HASH_CHOICES:
                raise c.ControlInputError(
                    f"control {cid!r}: unix.hash {values['hash']!r} is not a strong hash; use "
                    f"{' or '.join(HASH_CHOICES)} (CIS 5.3.3.4.3)"
                )
        self._claim(node, cid, kind, values)
        return Spec(kind, values)

    @staticmethod
    def _claim(node: Node, cid: str, kind: str, values: dict) -> None:
        claims: dict[tuple[str, str], tuple[str, t.Any]] = node.cached("pam:claims", dict)
        for key, value in values.items():
            other = claims.setdefault((kind, key), (cid, value))
            if other[0] != cid and other[1] != value:
                raise c.ControlInputError(
                    f"controls {other[0]!r} and {cid!r} set {kind}.{key} to {other[1]!r} and {value!r}; switch one "
                    "of them off or give both the same value"
                )

    # -- reading ---------------------------------------------------------------------------------

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        wanted = Wanted()
        for control, spec in items:
            if spec.kind == "feature":
                wanted.features[spec.feature] = control["id"]
            else:
                getattr(wanted, spec.kind).update(spec.values)
        stacks = {kind: sk.parse(path, node.read(path) or "") for kind, path in sk.COMMON.items()}
        desired = self.desired_profiles(node, wanted)
        reading = Reading(node, wanted, stacks, desired)
        found: dict[str, Finding] = {}
        for control, spec in items:
            finding = Finding(expected=spec.feature or spec.values, actual={})
            getattr(reading, f"judge_{spec.kind}")(finding, spec, control["id"])
            found[control["id"]] = finding
        reading.attach_actions(found)
        return found

    @staticmethod
    def desired_profiles(node: Node, wanted: Wanted) -> dict[str, str | None]:
        """Our profiles' content (None: cannot be built here, with the reason in the Reading)."""
        desired: dict[str, str | None] = {}
        if wanted.takes_unix():
            debian = node.read(pr.path(pr.DEBIAN_UNIX))
            desired[pr.UNIX] = (
                None
                if debian is None
                else pr.derive_unix(
                    debian,
                    wanted.unix.get("nullok"),
                    wanted.unix.get("remember"),
                    wanted.unix.get("hash"),
                    bool(wanted.unix.get("use_authtok")),
                )
            )
        names = wanted.profiles()
        if pr.FAILLOCK in names:
            desired[pr.FAILLOCK] = pr.faillock()
            desired[pr.FAILLOCK_AUTHFAIL] = pr.faillock_authfail()
        if pr.PWHISTORY in names:
            desired[pr.PWHISTORY] = pr.pwhistory(wanted.pwhistory_args())
        return desired


class Reading:
    """One inspection's view of the node: the stacks, the profiles, the settings files."""

    def __init__(self, node: Node, wanted: Wanted, stacks: dict[str, list[sk.PamLine]], desired: dict) -> None:
        self.node = node
        self.wanted = wanted
        self.stacks = stacks
        self.desired = desired
        # Control ids needing the stacks rebuilt, faillock.conf written, pwquality.conf written.
        self.needs_stacks: list[str] = []
        self.needs_faillock: list[str] = []
        self.needs_pwquality: list[str] = []
        self.blocked: str | None = self.stack_blocker()

    # -- what stops a rebuild -------------------------------------------------------------------

    def stack_blocker(self) -> str | None:
        missing = [name for name, content in self.desired.items() if content is None]
        if missing:
            return (
                f"{pr.path(pr.DEBIAN_UNIX)} (Debian's unix profile, from libpam-runtime) is missing, so "
                f"{pr.UNIX} cannot be derived from it"
            )
        if not self.node.binary("pam-auth-update"):
            return "pam-auth-update is not installed (libpam-runtime)"
        needed = {FEATURE_MODULES[f] for f in ("unix", "faillock", "pwhistory") if pr.FEATURES[f][0] in self.desired}
        if pr.PWQUALITY in self.wanted.profiles():
            needed.add("pam_pwquality.so")
            if self.node.read(pr.path(pr.PWQUALITY)) is None:
                return f"{pr.path(pr.PWQUALITY)} is missing: install libpam-pwquality (cis.pam.pwquality_installed)"
        absent = sorted(name for name in needed if not module_exists(self.node, name))
        if absent:
            return (
                f"PAM module {', '.join(absent)} is not installed (libpam-modules, libpam-pwquality): a stack "
                "naming it would refuse every login"
            )
        foreign = self.foreign_lines()
        if foreign:
            return (
                "pam-auth-update --force would drop lines that no profile in /usr/share/pam-configs provides: "
                + "; ".join(f"{line.where} '{line.text}'" for line in foreign)
                + " - put them into a profile of their own (then pam-auth-update keeps them)"
            )
        return None

    def foreign_lines(self) -> list[sk.PamLine]:
        provided = set()
        for path in node_glob(self.node, f"{TEMPLATE_DIR}/common-*"):
            if not path.endswith(".md5sums"):
                provided |= {line.name for line in sk.parse(path, self.node.read(path) or "")}
        for path in node_glob(self.node, f"{pr.PROFILE_DIR}/*"):
            provided |= profile_modules(self.node.read(path) or "")
        for content in self.desired.values():
            provided |= profile_modules(content or "")
        return [line for lines in self.stacks.values() for line in lines if line.name not in provided]

    # -- judging ---------------------------------------------------------------------------------

    def stack_difference(self, finding: Finding, cid: str, item: str, where: str, expected: t.Any, actual: t.Any):
        finding.differences.append(c.difference(item, where, expected, actual))
        if cid not in self.needs_stacks:
            self.needs_stacks.append(cid)

    def judge_feature(self, finding: Finding, spec: Spec, cid: str) -> None:
        module = FEATURE_MODULES[spec.feature]
        getattr(self, f"feature_{spec.feature}")(finding, cid, module)
        for name in pr.FEATURES[spec.feature]:
            if name in self.desired:
                before = self.node.read(pr.path(name))
                for found in content_differences(pr.path(name), before, self.desired[name] or "", name):
                    finding.differences.append(found)
                    if cid not in self.needs_stacks:
                        self.needs_stacks.append(cid)

    def placed(self, kind: str, module: str, args: tuple[str, ...] = ()) -> list[sk.PamLine]:
        return [line for line in sk.modules(self.stacks[kind], module) if all(line.has(arg) for arg in args)]

    def first_unix(self, kind: str) -> int | None:
        lines = sk.modules(self.stacks[kind], "pam_unix.so")
        return self.stacks[kind].index(lines[0]) if lines else None

    def feature_unix(self, finding: Finding, cid: str, module: str) -> None:
        for kind in ("auth", "account", "password", "session"):
            lines = sk.modules(self.stacks[kind], module)
            finding.actual[sk.COMMON[kind]] = [line.number for line in lines]
            if len(lines) != 1:
                self.stack_difference(
                    finding,
                    cid,
                    module,
                    sk.COMMON[kind],
                    "once",
                    f"{len(lines)} times"
                    + (f" (lines {', '.join(str(line.number) for line in lines)})" if lines else ""),
                )

    def ahead_of_unix(self, finding: Finding, cid: str, kind: str, module: str, args: tuple[str, ...] = ()) -> None:
        label = " ".join([module, *args])
        lines = self.placed(kind, module, args)
        unix = self.first_unix(kind)
        finding.actual[f"{sk.COMMON[kind]} {label}"] = [line.number for line in lines]
        if not lines:
            self.stack_difference(finding, cid, label, sk.COMMON[kind], "ahead of pam_unix.so", None)
        elif unix is not None and self.stacks[kind].index(lines[0]) > unix:
            self.stack_difference(finding, cid, label, lines[0].where, "ahead of pam_unix.so", "after pam_unix.so")

    def feature_faillock(self, finding: Finding, cid: str, module: str) -> None:
        self.ahead_of_unix(finding, cid, "auth", module, ("preauth",))
        lines = self.placed("auth", module, ("authfail",))
        unix = self.first_unix("auth")
        finding.actual[f"{sk.COMMON['auth']} {module} authfail"] = [line.number for line in lines]
        if not lines:
            self.stack_difference(finding, cid, f"{module} authfail", sk.COMMON["auth"], "after pam_unix.so", None)
        elif unix is not None and self.stacks["auth"].index(lines[-1]) < unix:
            self.stack_difference(
                finding, cid, f"{module} authfail", lines[-1].where, "after pam_unix.so", "ahead of pam_unix.so"
            )
        account = sk.modules(self.stacks["account"], module)
        finding.actual[f"{sk.COMMON['account']} {module}"] = [line.number for line in account]
        if not account:
            self.stack_difference(finding, cid, module, sk.COMMON["account"], "present", None)

    def feature_pwquality(self, finding: Finding, cid: str, module: str) -> None:
        self.ahead_of_unix(finding, cid, "password", module)

    def feature_pwhistory(self, finding: Finding, cid: str, module: str) -> None:
        self.ahead_of_unix(finding, cid, "password", module)

    def judge_unix(self, finding: Finding, spec: Spec, cid: str) -> None:
        lines = [line for kind in sk.COMMON for line in sk.modules(self.stacks[kind], "pam_unix.so")]
        password = sk.modules(self.stacks["password"], "pam_unix.so")
        for key, value in spec.values.items():
            if key in ("nullok", "remember"):
                having = [line for line in lines if line.has(key)]
                finding.actual[key] = [line.where for line in having]
                for line in having:
                    self.stack_difference(finding, cid, f"pam_unix.so {key}", line.where, "absent", line.text)
            elif key == "hash":
                finding.actual[key] = [
                    " ".join(arg for arg in line.args if arg in pr.HASHES) or None for line in password
                ]
                for line in password:
                    hashes = [arg for arg in line.args if arg in pr.HASHES]
                    if hashes != [value]:
                        self.stack_difference(
                            finding, cid, "pam_unix.so hash", line.where, value, " ".join(hashes) or None
                        )
            elif key == "use_authtok":
                finding.actual[key] = [line.has("use_authtok") for line in password]
                for line in password:
                    if line.has("use_authtok"):
                        continue
                    first = self.stacks["password"].index(line) == 0
                    self.stack_difference(finding, cid, "pam_unix.so use_authtok", line.where, "present", None)
                    if first and not ({"pwquality", "pwhistory"} & set(self.wanted.features)):
                        finding.unfixable = (
                            "pam_unix is the first password module, so use_authtok would have nothing to take the "
                            "new password from: switch on cis.pam.pwquality or cis.pam.pwhistory"
                        )
            if not password and key in ("hash", "use_authtok"):
                self.stack_difference(finding, cid, "pam_unix.so", sk.COMMON["password"], "present", None)

    def judge_pwhistory(self, finding: Finding, spec: Spec, cid: str) -> None:
        lines = sk.modules(self.stacks["password"], "pam_pwhistory.so")
        if not lines:
            self.stack_difference(finding, cid, "pam_pwhistory.so", sk.COMMON["password"], "present", None)
            if "pwhistory" not in self.wanted.features:
                finding.unfixable = "pam_pwhistory is not in the password stack: switch on cis.pam.pwhistory"
            return
        for line in lines:
            for key, value in spec.values.items():
                actual: t.Any = line.value(key) if key == "remember" else line.has(key)
                finding.actual[f"{line.where} {key}"] = actual
                differs = actual != str(value) if key == "remember" else actual is not value
                if differs:
                    self.stack_difference(finding, cid, f"pam_pwhistory.so {key}", line.where, value, actual)

    def judge_faillock(self, finding: Finding, spec: Spec, cid: str) -> None:
        self.judge_settings(finding, spec, cid, st.FAILLOCK_CONF, self.needs_faillock)
        for key, value in spec.values.items():
            self.line_arguments(finding, cid, "pam_faillock.so", ("auth", "account"), key, value)

    def judge_pwquality(self, finding: Finding, spec: Spec, cid: str) -> None:
        self.judge_settings(finding, spec, cid, st.PWQUALITY_CONF, self.needs_pwquality)
        for key, value in spec.values.items():
            self.line_arguments(finding, cid, "pam_pwquality.so", ("password",), key, value)
        if spec.values.get("dictcheck"):
            self.judge_dictionary(finding)

    def judge_dictionary(self, finding: Finding) -> None:
        """With dictcheck on and no cracklib dictionary, pam_pwquality refuses every new password
        ("error loading dictionary"): the dictionary must exist (update-cracklib builds it)."""
        custom = st.parse(st.PWQUALITY_CONF, self.node.read(st.PWQUALITY_CONF) or "")
        paths = [setting.value for setting in custom if setting.key == "dictpath" and setting.value]
        base = paths[-1] if paths else CRACKLIB_DICT
        finding.actual["dictionary"] = f"{base}.pwd" if self.node.exists(f"{base}.pwd") else None
        if finding.actual["dictionary"]:
            return
        finding.differences.append(c.difference("cracklib dictionary", f"{base}.pwd", "present", None))
        tool = self.node.binary("update-cracklib")
        if not tool or paths:
            finding.unfixable = (
                f"no cracklib dictionary at {base}.pwd, so every new password would be refused: install "
                "cracklib-runtime (cis.pam.pwquality_installed) or build the dictionary named by dictpath"
            )
            return
        node = self.node

        def run() -> None:
            node.run([tool])

        def undo() -> None:
            for suffix in (".pwd", ".pwi", ".hwm"):
                if os.path.lexists(node.path(f"{base}{suffix}")):
                    os.unlink(node.path(f"{base}{suffix}"))

        finding.actions.append(
            Action(
                "pam:cracklib",
                f"build the cracklib dictionary ({tool})",
                run,
                undo,
                [state_diff(f"{base}.pwd", "absent\n", "built by update-cracklib\n")],
            )
        )

    def judge_settings(self, finding: Finding, spec: Spec, cid: str, path: str, bucket: list[str]) -> None:
        """Every line of a key in the file has the value (a flag: is there, or is not)."""
        current = st.parse(path, self.node.read(path) or "")
        for key, value in spec.values.items():
            lines = [setting for setting in current if setting.key == key and setting.readable]
            for setting in current:
                if setting.key == key and not setting.readable:
                    finding.differences.append(
                        c.difference(key, setting.where, value, f"{setting.value} (unreadable: reading stops here)")
                    )
                    self.needs(bucket, cid)
            finding.actual[f"{path} {key}"] = (
                (lines[-1].value if lines[-1].value is not None else True) if lines else None
            )
            if isinstance(value, bool):
                if bool(lines) is not value:
                    finding.differences.append(c.difference(key, lines[0].where if lines else path, value, bool(lines)))
                    self.needs(bucket, cid)
                continue
            if not lines:
                finding.differences.append(c.difference(key, path, value, None))
                self.needs(bucket, cid)
            for setting in lines:
                if not st.same(setting, value):
                    finding.differences.append(c.difference(key, setting.where, value, setting.value))
                    self.needs(bucket, cid)

    def line_arguments(self, finding: Finding, cid: str, module: str, kinds: tuple, key: str, value: t.Any) -> None:
        """An argument on the module's line overrides the file: a difference unless it agrees."""
        for kind in kinds:
            for line in sk.modules(self.stacks[kind], module):
                if not line.has(key):
                    continue
                actual = True if line.value(key) is None else line.value(key)
                if actual != value and str(actual) != str(value):
                    self.stack_difference(finding, cid, f"{module} {key}", line.where, value, actual)

    @staticmethod
    def needs(bucket: list[str], cid: str) -> None:
        if cid not in bucket:
            bucket.append(cid)

    # -- fixing ----------------------------------------------------------------------------------

    def attach_actions(self, found: dict[str, Finding]) -> None:
        if self.needs_stacks:
            if self.blocked:
                for cid in self.needs_stacks:
                    found[cid].unfixable = found[cid].unfixable or self.blocked
            else:
                action = self.stacks_action()
                for cid in self.needs_stacks:
                    found[cid].actions.append(action)
        for path, bucket, values in (
            (st.FAILLOCK_CONF, self.needs_faillock, self.wanted.faillock),
            (st.PWQUALITY_CONF, self.needs_pwquality, self.wanted.pwquality),
        ):
            if bucket:
                action = write_action(self.node, path, st.rewrite(path, self.node.read(path), values), 0o644)
                for cid in bucket:
                    found[cid].actions.append(action)

    def stacks_action(self) -> Action:
        node = self.node
        names = self.wanted.profiles()
        watched = [*sk.COMMON.values(), *(f"{STATE_DIR}/{name}" for name in STATE_FILES)]
        watched += [pr.path(name) for name in self.desired]
        saved = {path: node.read(path) for path in watched}
        modes = {}
        for path in watched:
            try:
                modes[path] = os.stat(node.path(path)).st_mode & 0o7777
            except FileNotFoundError:
                modes[path] = 0o644
        caller = os.environ.get("SUDO_USER")
        argv = [node.binary("pam-auth-update") or "pam-auth-update", "--enable", *names]
        if pr.UNIX in names:
            argv += ["--disable", pr.DEBIAN_UNIX]
        argv.append("--force")

        def undo() -> None:
            for path, content in saved.items():
                if content is None:
                    if os.path.lexists(node.path(path)):
                        os.unlink(node.path(path))
                else:
                    atomic_write(node.module, node.path(path), content, modes[path])

        def run() -> None:
            sudo_before = self.sudo_works(caller)
            try:
                for name, content in self.desired.items():
                    if content is not None:
                        atomic_write(node.module, node.path(pr.path(name)), content, 0o644)
                # Without its saved copy of the last stacks, pam-auth-update has no local edits to
                # merge back (it keeps options added by hand, nullok among them) and builds from
                # the profiles alone.
                for name in STATE_FILES[1:]:
                    if os.path.lexists(node.path(f"{STATE_DIR}/{name}")):
                        os.unlink(node.path(f"{STATE_DIR}/{name}"))
                node.run(argv)
                node.forget()
                self.check_stacks(caller, sudo_before)
            except (OSError, CommandError):
                # The engine undoes the actions that completed; this one puts back its own part.
                undo()
                raise

        diff = [
            file_diff(pr.path(name), saved.get(pr.path(name)), content)
            for name, content in self.desired.items()
            if content is not None and content != saved.get(pr.path(name))
        ]
        dropped = self.dropped_options()
        what = f"rebuild /etc/pam.d/common-* from the profiles: pam-auth-update {' '.join(argv[1:])}"
        if dropped:
            what += f" (options no profile gives are dropped: {'; '.join(dropped)})"
        return Action("pam:stacks", what, run, undo, diff)

    def dropped_options(self) -> list[str]:
        """Arguments on the stacks' lines that no profile gives its module: a rebuild drops them."""
        given: dict[str, set[str]] = {}
        texts = [self.node.read(path) or "" for path in node_glob(self.node, f"{pr.PROFILE_DIR}/*")]
        for text in [*texts, *(content or "" for content in self.desired.values())]:
            for line in profile_lines(text):
                given.setdefault(line.name, set()).update(line.args)
        found = []
        for lines in self.stacks.values():
            for line in lines:
                extra = [arg for arg in line.args if line.name in given and arg not in given[line.name]]
                if extra:
                    found.append(f"{line.where} {line.name} {' '.join(extra)}")
        return found

    def check_stacks(self, caller: str | None, sudo_before: bool) -> None:
        """The new stacks load only installed modules and keep sudo working for its caller."""
        node = self.node
        stacks = {kind: sk.parse(path, node.read(path) or "") for kind, path in sk.COMMON.items()}
        absent = sorted(
            {
                line.module
                for lines in stacks.values()
                for line in lines
                if line.type != "@include" and not module_exists(node, line.module)
            }
        )
        if absent:
            raise CommandError(f"the new PAM stacks name modules that are not installed: {', '.join(absent)}")
        if sudo_before and not self.sudo_works(caller):
            raise CommandError(
                f"sudo -n true as {caller} worked before the new PAM stacks and fails with them (the escalation "
                "Ansible uses)"
            )

    def sudo_works(self, caller: str | None) -> bool:
        """Whether C(sudo -n true) as the account that called sudo succeeds (False without one)."""
        if not caller or caller == "root":
            return False
        runuser = self.node.binary("runuser")
        sudo = self.node.binary("sudo")
        if not runuser or not sudo:
            return False
        rc, _out, _err = self.node.run([runuser, "-u", caller, "--", sudo, "-n", "true"], check=False)
        return rc == 0
