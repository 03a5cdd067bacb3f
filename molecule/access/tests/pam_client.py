"""Runs on the node: real PAM conversations (libpam through ctypes) against the node's own stacks.

python3 pam_client.py JSON-REQUEST prints one JSON line per step of the request:
  {"steps": [{"op": "auth", "service": "sshd", "user": "u", "password": "p", "real_user": "v"},
             {"op": "chauthtok", "service": "passwd", "user": "u", "password": "p"},
             {"op": "quality", "password": "p", "user": "u"}, {"op": "settings"}]}
auth runs pam_authenticate then pam_acct_mgmt, as sshd does for a password login; chauthtok
changes a password as root does (no old password asked); quality and settings ask libpwquality,
reading the same configuration pam_pwquality reads.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import pwd
import sys

PROMPT_ECHO_OFF, PROMPT_ECHO_ON = 1, 2
# libpwquality's setting numbers (pwquality.h).
SETTINGS = {
    "difok": 1,
    "minlen": 3,
    "minclass": 8,
    "maxrepeat": 9,
    "maxsequence": 14,
    "dictcheck": 15,
    "enforcing": 17,
    "enforce_for_root": 19,
}


class Message(ctypes.Structure):
    _fields_ = [("msg_style", ctypes.c_int), ("msg", ctypes.c_char_p)]


class Response(ctypes.Structure):
    _fields_ = [("resp", ctypes.c_void_p), ("resp_retcode", ctypes.c_int)]


CONV = ctypes.CFUNCTYPE(
    ctypes.c_int,
    ctypes.c_int,
    ctypes.POINTER(ctypes.POINTER(Message)),
    ctypes.POINTER(ctypes.POINTER(Response)),
    ctypes.c_void_p,
)


class Conversation(ctypes.Structure):
    _fields_ = [("conv", CONV), ("appdata_ptr", ctypes.c_void_p)]


libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.calloc.restype = ctypes.c_void_p
libc.strdup.restype = ctypes.c_void_p
libc.strdup.argtypes = [ctypes.c_char_p]
pam = ctypes.CDLL(ctypes.util.find_library("pam"))
pam.pam_strerror.restype = ctypes.c_char_p


def converse(password: str, messages: list[str]):
    def answer(count, msgs, resp, _data):
        block = libc.calloc(count, ctypes.sizeof(Response))
        responses = ctypes.cast(block, ctypes.POINTER(Response))
        for index in range(count):
            message = msgs[index].contents
            messages.append((message.msg or b"").decode("utf-8", "replace"))
            if message.msg_style in (PROMPT_ECHO_OFF, PROMPT_ECHO_ON):
                responses[index].resp = libc.strdup(password.encode())
        resp[0] = responses
        return 0

    return CONV(answer)


def session(step: dict) -> dict:
    """One PAM transaction; with C(real_user), run as a setuid program such as su runs: the real
    uid is that user's (what pam_wheel's use_uid looks at), the effective uid stays root."""
    real = step.get("real_user")
    if real:
        os.setresuid(pwd.getpwnam(real).pw_uid, 0, 0)
    try:
        return transaction(step)
    finally:
        if real:
            os.setresuid(0, 0, 0)


def transaction(step: dict) -> dict:
    messages: list[str] = []
    callback = converse(step["password"], messages)
    conversation = Conversation(callback, None)
    handle = ctypes.c_void_p()
    service, user = step["service"].encode(), step["user"].encode()
    rc = pam.pam_start(service, user, ctypes.byref(conversation), ctypes.byref(handle))
    if rc == 0:
        if step["op"] == "auth":
            rc = pam.pam_authenticate(handle, 0)
            if rc == 0:
                rc = pam.pam_acct_mgmt(handle, 0)
        else:
            rc = pam.pam_chauthtok(handle, 0)
    error = pam.pam_strerror(handle, rc).decode()
    pam.pam_end(handle, rc)
    return {"rc": rc, "error": error, "messages": messages}


def quality(step: dict) -> dict:
    lib = ctypes.CDLL("libpwquality.so.1")
    lib.pwquality_default_settings.restype = ctypes.c_void_p
    settings = ctypes.c_void_p(lib.pwquality_default_settings())
    lib.pwquality_read_config(settings, None, None)
    if step["op"] == "settings":
        found = {}
        for name, number in SETTINGS.items():
            value = ctypes.c_int()
            lib.pwquality_get_int_value(settings, number, ctypes.byref(value))
            found[name] = value.value
        return found
    score = lib.pwquality_check(settings, step["password"].encode(), None, step.get("user", "").encode(), None)
    return {"score": score}


def main() -> None:
    request = json.loads(sys.argv[1])
    for step in request["steps"]:
        result = quality(step) if step["op"] in ("quality", "settings") else session(step)
        print(json.dumps({"step": step["op"], "user": step.get("user"), **result}))


if __name__ == "__main__":
    main()
