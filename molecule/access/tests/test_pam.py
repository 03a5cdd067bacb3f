"""PAM on the node after converge and a reboot, exercised through real PAM conversations.

pam_client.py runs on the node and talks to libpam and libpwquality directly, so every answer
below comes from the node's own stacks (/etc/pam.d/sshd, passwd and su with the common-* files
pam-auth-update wrote) and its own settings files. One shell script does every step, so the
whole demonstration costs one command.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "default" / "tests"))
from catalog import controls

CONTROLS = {
    control["id"]: control for control in controls("access", Path(__file__).resolve().parents[1] / "molecule.yml")
}
CLIENT = Path(__file__).with_name("pam_client.py")
# Strong enough for the pwquality settings (length, four classes, no runs or sequences).
FIRST, SECOND = "Qv7-Tm2x-Lp9w-Rk4z", "Wn5-Hj8c-Zb3y-Ds6f"
ROOT = "Xk4-Pr7v-Gm2q-Ct9s"
USER = "lockme"


def spec(cid: str) -> dict:
    return CONTROLS[cid]["spec"]


def steps(*items: dict) -> str:
    return json.dumps({"steps": list(items)})


def auth(service: str, user: str, password: str) -> dict:
    return {"op": "auth", "service": service, "user": user, "password": password}


def chauthtok(user: str, password: str) -> dict:
    return {"op": "chauthtok", "service": "passwd", "user": user, "password": password}


@pytest.fixture(scope="module")
def deny() -> int:
    return int(spec("cis.pam.faillock_deny")["faillock"]["deny"])


@pytest.fixture(scope="module")
def demo(host, deny) -> dict:
    """Run every step on the node once; results by name."""
    wrong = [auth("sshd", USER, "not-the-password")] * deny
    main = steps(
        {"op": "settings"},
        {"op": "quality", "password": "Short1!", "user": USER},
        {"op": "quality", "password": FIRST, "user": USER},
        chauthtok(USER, "short"),
        chauthtok(USER, SECOND),
        chauthtok(USER, FIRST),
        *wrong,
        auth("sshd", USER, SECOND),
        *([auth("sshd", "root", "not-the-password")] * (deny + 1)),
        auth("sshd", "root", ROOT),
        *([auth("sshd", "labop", "not-the-password")] * deny),
    )
    su = steps(dict(auth("su", "root", ROOT), real_user="labop"))
    group = spec("cis.su.restricted")["group"]
    script = f"""
set -u
echo {base64.b64encode(CLIENT.read_bytes()).decode()} | base64 -d > /var/tmp/pam_client.py
chmod 0644 /var/tmp/pam_client.py
id {USER} >/dev/null 2>&1 || useradd --create-home --shell /bin/bash {USER}
printf '%s\\n' '{USER}:{FIRST}' | chpasswd; echo "chpasswd $?"
rootfield=$(getent shadow root | cut -d: -f2)
printf '%s\\n' 'root:{ROOT}' | chpasswd; echo "rootpw $?"
python3 /var/tmp/pam_client.py '{main}'
echo "faillock-user $(faillock --user {USER} | grep -c ' V$')"
echo "faillock-labop $(faillock --user labop | grep -c ' V$')"
python3 /var/tmp/pam_client.py '{su}'
gpasswd --add labop {group} >/dev/null
python3 /var/tmp/pam_client.py '{su}'
gpasswd --delete labop {group} >/dev/null
usermod -p "$rootfield" root; echo "rootrestored $?"
"""
    encoded = base64.b64encode(script.encode()).decode()
    out = host.check_output(f"echo {encoded} | base64 -d > /root/pam_demo.sh && bash /root/pam_demo.sh")
    found: dict = {"json": [], "text": {}}
    for line in out.splitlines():
        if line.startswith("{"):
            found["json"].append(json.loads(line))
        elif " " in line:
            key, value = line.split(" ", 1)
            found["text"][key] = value
    return found


def test_setting_passwords_works_with_the_new_stacks(demo):
    """chpasswd goes through common-password: pwquality, pwhistory and pam_unix accept a good one."""
    assert demo["text"]["chpasswd"] == "0" and demo["text"]["rootpw"] == "0", demo["text"]
    assert demo["text"]["rootrestored"] == "0"


def test_libpwquality_reads_the_managed_settings(demo):
    settings = demo["json"][0]
    for cid, control in CONTROLS.items():
        if control["family"] == "pam" and "pwquality" in control["spec"]:
            for key, value in control["spec"]["pwquality"].items():
                assert settings[key] == int(value), f"{cid}: {key} {settings[key]}"


def test_weak_passwords_are_refused_and_strong_ones_pass(demo):
    short, strong = demo["json"][1], demo["json"][2]
    assert short["score"] < 0 and strong["score"] >= 0, (short, strong)
    refused = demo["json"][3]
    assert refused["rc"] != 0 and any("shorter than" in m for m in refused["messages"]), refused


def test_a_recent_password_cannot_be_used_again(demo):
    changed, reused = demo["json"][4], demo["json"][5]
    assert changed["rc"] == 0, changed
    assert reused["rc"] != 0 and any("already" in m for m in reused["messages"]), reused


def test_wrong_passwords_lock_the_account(demo, deny):
    attempts = demo["json"][6 : 6 + deny]
    assert all(step["rc"] != 0 for step in attempts)
    right = demo["json"][6 + deny]
    assert right["rc"] != 0, "the right password still opened a locked account"
    assert int(demo["text"]["faillock-user"]) >= deny, demo["text"]


def test_root_is_not_locked(demo, deny):
    start = 7 + deny
    wrong = demo["json"][start : start + deny + 1]
    assert all(step["rc"] != 0 for step in wrong)
    right = demo["json"][start + deny + 1]
    assert right["user"] == "root" and right["rc"] == 0, right


def test_su_is_refused_to_a_user_outside_the_empty_group(demo):
    """labop gives root's right password: refused outside the group, accepted once a member, so
    the refusal is pam_wheel's (pam_wheel logs nothing without debug)."""
    outside, member = demo["json"][-2], demo["json"][-1]
    assert outside["user"] == member["user"] == "root"
    assert outside["rc"] != 0 and member["rc"] == 0, (outside, member)


def test_the_operator_key_login_works_after_failed_passwords(host, demo, deny):
    """labop failed its password as often as locks an account; its key login still works and the
    account stack resets the count."""
    assert int(demo["text"]["faillock-labop"]) >= deny, demo["text"]
    variables = host.backend.get_variables()
    key = variables.get("ansible_ssh_private_key_file") or variables.get("ansible_private_key_file")
    assert key, f"no private key among the host's variables: {sorted(variables)}"
    ssh = [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "ControlPath=none",
        "-i",
        key,
        "-p",
        str(variables["ansible_port"]),
        f"labop@{variables['ansible_host']}",
        "faillock --user labop | grep -c ' V$' || true",
    ]
    login = subprocess.run(ssh, capture_output=True, text=True, timeout=120, check=False)
    assert login.returncode == 0, login.stderr
    assert login.stdout.strip() == "0", f"failures left after a key login: {login.stdout}"


def test_stacks_hold_each_module_in_place(host):
    text = {kind: host.file(f"/etc/pam.d/common-{kind}").content_string for kind in ("auth", "account", "password")}

    def modules(kind: str) -> list[str]:
        """Each line's module and arguments, in order."""
        found = []
        for line in text[kind].splitlines():
            words = line.split("#", 1)[0].split()
            at = [index for index, word in enumerate(words) if word.endswith(".so")]
            if at:
                found.append(" ".join(words[at[0] :]))
        return found

    auth_stack = modules("auth")
    unix = [index for index, line in enumerate(auth_stack) if line.startswith("pam_unix.so")]
    assert len(unix) == 1 and "nullok" not in auth_stack[unix[0]], auth_stack
    assert auth_stack[unix[0] - 1] == "pam_faillock.so preauth", auth_stack
    assert auth_stack[unix[0] + 1] == "pam_faillock.so authfail", auth_stack
    assert modules("account")[0] == "pam_faillock.so", modules("account")
    password = [line.split()[0] for line in modules("password")]
    assert password.index("pam_pwquality.so") < password.index("pam_pwhistory.so") < password.index("pam_unix.so")
