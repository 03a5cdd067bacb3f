# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read and edit a kubelet configuration file (YAML or JSON) with the standard library only.

load() reads a well-defined YAML subset (the one kubeadm, kubespray and hand-written kubelet
configurations use) and refuses anything outside it with a message naming the line. set_values()
edits values in place: lines it does not change stay byte for byte, so comments, key order and
formatting survive. Plain scalars resolve as YAML 1.1 (Go's yaml.v2, which the kubelet uses, and
PyYAML); a plain scalar that those two read differently (y, 1e3, 0o17, 08, dates...) is refused.
"""

from __future__ import annotations

import copy
import json
import math
import re
import typing as t


class YamlError(ValueError):
    """Message says what is wrong and where: 'line 12: tabs are not allowed for indentation'."""


REMOVE = object()  # sentinel value for set_values(): delete the key and its whole block

# Characters YAML accepts in a stream, less the ones PyYAML treats as line breaks and the BOM.
_BAD_CHAR_RE = re.compile("[^\t\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
_LINE_RE = re.compile(r"[^\n]*\n|[^\n]+\Z")

# --- plain scalar resolution -------------------------------------------------------------------
# PyYAML's YAML 1.1 resolver (yaml/resolver.py).
_PY_BOOL = dict.fromkeys(("yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True)
_PY_BOOL.update(dict.fromkeys(("no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False))
_PY_FLOAT_RE = re.compile(
    r"[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
_PY_INT_RE = re.compile(
    r"[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+"
)
_PY_TIMESTAMP_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}"
    r"(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?"
)
_NULLS = ("", "~", "null", "Null", "NULL")
# Go's gopkg.in/yaml.v2 (resolve.go): y/n are booleans too, ints go through strconv.ParseInt(s, 0, 64)
# with every underscore removed, and floats match yamlStyleFloat.
_GO_BOOL = dict(_PY_BOOL, y=True, Y=True, n=False, N=False)
_GO_SPECIAL = {".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan}
_GO_SPECIAL.update({s + v: math.inf for s in ("", "+") for v in (".inf", ".Inf", ".INF")})
_GO_SPECIAL.update({"-" + v: -math.inf for v in (".inf", ".Inf", ".INF")})
_GO_INT_RE = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_GO_PREFIXES = {"0x": 16, "0o": 8, "0b": 2}
_GO_FLOAT_RE = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_KEY_RE = re.compile(r"(?:[^#]|(?<! )#)*?:(?= |$)")  # a plain key: up to the first ': ' before any ' #'
_INDICATORS = {"&": "anchors ('&')", "*": "aliases ('*')", "!": "tags ('!')", "?": "complex keys ('?')"}
_INDICATORS.update({"|": "block scalars ('|')", ">": "block scalars ('>')"})
_OTHER = object()  # a resolution this module does not support (dates, sexagesimal numbers, '=')


def _pyyaml_value(text: str) -> object:
    if text in _NULLS:
        return None
    if text in _PY_BOOL:
        return _PY_BOOL[text]
    is_number = _PY_FLOAT_RE.fullmatch(text) or _PY_INT_RE.fullmatch(text)
    if text in ("=", "<<") or _PY_TIMESTAMP_RE.fullmatch(text) or (is_number and ":" in text):
        return _OTHER  # PyYAML's value and merge tags, dates, sexagesimal (base 60) numbers
    plain = text.replace("_", "")
    sign = -1 if plain[:1] == "-" else 1
    digits = plain.lstrip("+-")
    if _PY_FLOAT_RE.fullmatch(text):
        if digits.lower() == ".inf":
            return sign * math.inf
        return math.nan if digits.lower() == ".nan" else sign * float(digits)
    if _PY_INT_RE.fullmatch(text):
        for prefix, base in (("0b", 2), ("0x", 16)):
            if digits.startswith(prefix):
                return sign * int(digits[2:], base) if digits[2:] else _OTHER
        return sign * int(digits, 8 if digits.startswith("0") and digits != "0" else 10)
    return text


def _go_value(text: str) -> object:
    if text in _NULLS:
        return None
    if text in _GO_BOOL:
        return _GO_BOOL[text]
    if text in _GO_SPECIAL:
        return _GO_SPECIAL[text]
    if text[:1] == ".":  # yaml.v2 hands these to strconv.ParseFloat unchanged
        return float(text) if re.fullmatch(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?", text) else text
    if text[:1] not in "+-0123456789" or _PY_TIMESTAMP_RE.fullmatch(text):
        return text  # yaml.v2 keeps timestamps as strings when decoding into interface{}
    plain = text.replace("_", "")
    if _GO_INT_RE.fullmatch(plain):
        sign = -1 if plain[0] == "-" else 1
        digits = plain.lstrip("+-").lower()
        if digits[:2] in _GO_PREFIXES:
            number = sign * int(digits[2:], _GO_PREFIXES[digits[:2]])
        else:
            number = sign * int(digits, 8 if digits.startswith("0") else 10)
        if -(2**63) <= number < 2**63 or (plain[0] not in "+-" and number < 2**64):
            return number
    return float(plain) if _GO_FLOAT_RE.fullmatch(plain) else text


def _same(a: object, b: object) -> bool:
    """Equality as data: types strict (True is not 1, 1 is not 1.0), NaN equals NaN, lists equal tuples."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def _resolve_plain(text: str, num: int) -> object:
    py_value = _pyyaml_value(text)
    if py_value is _OTHER or not _same(py_value, _go_value(text)):
        raise YamlError(f"line {num}: the plain value {text!r} is read differently by YAML parsers; quote it")
    return py_value


# --- rendering -----------------------------------------------------------------------------------
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}
_UNESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r"}
_UNESCAPES.update({"e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0"})
_UNESCAPES.update({"L": "\u2028", "P": "\u2029"})


def render_scalar(value: object) -> str:
    """A YAML scalar for bool/int/float/None/str; strings are double-quoted only when plain would misread."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if not -(2**63) <= value < 2**64:
            raise YamlError(f"the integer {value} is out of the range YAML parsers read back")
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value).lower()
        return text.replace("e", ".0e", 1) if "." not in text else text  # 1e+16 alone would read as a string
    if isinstance(value, str):
        return value if _plain_ok(value) else _double_quoted(value)
    raise YamlError(f"cannot write a value of type {type(value).__name__}")


def _plain_ok(text: str) -> bool:
    if not text or text != text.strip(" ") or text.startswith(("---", "...")) or not all(" " <= c <= "~" for c in text):
        return False
    try:
        raw, stop = _Parser([text])._plain(0, 0, flow=False)
        return stop == len(text) and _resolve_plain(raw, 1) == text
    except YamlError:
        return False


def _double_quoted(text: str) -> str:
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif " " <= char <= "~" or (char >= "\xa0" and not _BAD_CHAR_RE.match(char)):
            out.append(char)
        else:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _inline_text(value: object) -> str:
    if isinstance(value, dict) and not value:
        return "{}"
    if isinstance(value, (list, tuple)) and not value:
        return "[]"
    return render_scalar(value)


# --- parsing -------------------------------------------------------------------------------------
class _Node:
    """A parsed value. Inline nodes (scalar, flow) sit on `line` from `col` to `stop`; an empty
    value (`key:` and nothing below) is a scalar with col == stop. `end` is one past the last line."""

    def __init__(self, kind: str, line: int, col: int, data: object = None, stop: int | None = None):
        self.kind = kind  # "scalar", "flow", "map" or "seq"
        self.line, self.col, self.data = line, col, data
        self.stop = col if stop is None else stop
        self.end = line + 1
        self.entries: dict[str, _Entry] = {}
        self.items: list[_Node] = []

    def to_data(self) -> object:
        if self.kind == "map":
            return {key: entry.value.to_data() for key, entry in self.entries.items()}
        if self.kind == "seq":
            return [item.to_data() for item in self.items]
        return copy.deepcopy(self.data)


class _Entry:
    """A 'key: value' of a block mapping: its key line and column, and the lines its value covers."""

    def __init__(self, line: int, col: int, colon: int):
        self.line, self.col = line, col
        self.colon = colon  # column just after the ':'
        self.value = _Node("scalar", line, colon)
        self.end = line + 1


def _fail(i: int, message: str) -> t.NoReturn:
    """Refuse, naming the line (i counts from 0)."""
    raise YamlError(f"line {i + 1}: {message}")


def _is_dash(text: str, col: int) -> bool:
    return text[col : col + 1] == "-" and text[col + 1 : col + 2] in ("", " ")


class _Parser:
    """Recursive descent over physical lines; `col` arguments are where a node starts on its line."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        self.doc_end = len(lines)  # where top-level entries are appended (a '...' line or the end)
        self.root: _Node | None = None

    def parse(self) -> _Parser:
        significant = [False] * len(self.lines)
        started = marker = False
        for i, text in enumerate(self.lines):
            stripped = text.lstrip(" ")
            if "\t" in text[: len(text) - len(text.lstrip(" \t"))]:
                _fail(i, "tabs are not allowed for indentation")
            if not stripped or stripped.startswith("#"):
                continue
            is_marker = text.startswith(("---", "...")) and text[3:4] in ("", " ")
            if self.doc_end < len(self.lines) or (is_marker and text[0] == "-" and (started or marker)):
                _fail(i, "multiple documents are not supported")
            if is_marker:
                if text[3:].strip(" ")[:1] not in ("", "#"):
                    _fail(i, "content on a document marker line is not supported")
                if text.startswith("..."):
                    self.doc_end = i  # alone it ends an empty document (PyYAML refuses that; harmless)
                marker = True
                continue
            if text.startswith("%"):
                _fail(i, "directives are not supported")
            significant[i] = started = True
        self._next = [len(self.lines)] * (len(self.lines) + 1)
        for i in range(len(self.lines) - 1, -1, -1):
            self._next[i] = i if significant[i] else self._next[i + 1]
        first = self._next[0]
        if first < len(self.lines):
            self.root = self._node(first, self._indent(first))
            after = self._next[self.root.end]
            if after < len(self.lines):
                raise YamlError(f"line {after + 1}: unexpected content after the top-level value (bad indentation?)")
        return self

    def _indent(self, i: int) -> int:
        return len(self.lines[i]) - len(self.lines[i].lstrip(" "))

    def _node(self, i: int, col: int) -> _Node:
        if _is_dash(self.lines[i], col):
            return self._seq(i, col)
        key = self._key(i, col)
        return self._map(i, col, key) if key else self._inline(i, col)

    def _below(self, i: int, col: int, same_indent_seq: bool) -> _Node | None:
        """The block value under line i (whose key or dash is at col), if any."""
        j = self._next[i + 1]
        if j == len(self.lines):
            return None
        indent = self._indent(j)
        if indent > col or (same_indent_seq and indent == col and _is_dash(self.lines[j], col)):
            node = self._node(j, indent)
            if node.kind not in ("map", "seq"):
                _fail(j, "a scalar must be on its key's or dash's line (multi-line scalars are not supported)")
            return node
        return None

    def _map(self, i: int, col: int, key: tuple[str, int]) -> _Node:
        node = _Node("map", i, col)
        while True:
            if key[0] in node.entries:
                _fail(i, f"duplicate key {key[0]!r}")
            entry = node.entries[key[0]] = _Entry(i, col, key[1])
            text = self.lines[i]
            start = len(text) - len(text[key[1] :].lstrip(" "))
            if start == len(text) or text[start] == "#":
                entry.value = self._below(i, col, same_indent_seq=True) or entry.value
            elif _is_dash(text, start) or self._key(i, start):
                _fail(i, "a block sequence or mapping cannot start on its key's line")
            else:
                entry.value = self._inline(i, start)
            node.end = entry.end = max(i + 1, entry.value.end)
            j = self._next[node.end]
            if j == len(self.lines) or self._indent(j) < col:
                return node
            if self._indent(j) > col:
                _fail(j, f"unexpected indentation: expected a key at column {col + 1} (multi-line values?)")
            key = self._key(j, col)  # type: ignore[assignment]
            if not key:
                _fail(j, "expected 'key: value'" if not _is_dash(self.lines[j], col) else "unexpected '- ' item")
            i = j

    def _seq(self, i: int, col: int) -> _Node:
        node = _Node("seq", i, col)
        while True:
            text = self.lines[i]
            start = len(text) - len(text[col + 1 :].lstrip(" "))
            if start == len(text) or text[start] == "#":
                item = self._below(i, col, same_indent_seq=False) or _Node("scalar", i, start)
            else:
                item = self._node(i, start)
            node.items.append(item)
            node.end = max(i + 1, item.end)
            j = self._next[node.end]
            if j == len(self.lines) or self._indent(j) < col:
                return node
            if self._indent(j) > col:
                _fail(j, f"unexpected indentation (expected '- ' at column {col + 1})")
            if not _is_dash(self.lines[j], col):
                return node  # the parent mapping resumes, or reports the line
            i = j

    def _key(self, i: int, col: int) -> tuple[str, int] | None:
        """(key, column after ':') when a 'key:' starts at col, else None."""
        text = self.lines[i]
        if text[col] in "'\"":
            key, stop = self._quoted(i, col)
            stop = len(text) - len(text[stop:].lstrip(" "))
            return (key, stop + 1) if text[stop : stop + 1] == ":" and text[stop + 1 : stop + 2] in ("", " ") else None
        if text[col] == "?" and text[col + 1 : col + 2] in ("", " "):
            _fail(i, "complex keys ('? ') are not supported")
        match = _KEY_RE.match(text, col)
        if not match or text[col] in "[{":
            return None
        raw = text[col : match.end() - 1].rstrip(" ")
        if raw == "<<":
            _fail(i, "merge keys ('<<') are not supported")
        if not raw:
            _fail(i, "empty key")
        self._check_plain_start(i, col, flow=False)
        if "\t" in raw:
            _fail(i, "tabs are not allowed outside quoted strings")
        if not isinstance(_resolve_plain(raw, i + 1), str):
            _fail(i, f"key {raw!r} would not read as a string; quote it")
        return raw, match.end()

    def _check_plain_start(self, i: int, col: int, flow: bool) -> None:
        text = self.lines[i]
        char, after = text[col], text[col + 1 : col + 2]
        if char in _INDICATORS:
            _fail(i, f"{_INDICATORS[char]} are not supported")
        if char in "#,[]{}%@`'\":" or (char == "-" and (after in ("", " ") or (flow and after in ",[]{}"))):
            _fail(i, f"a plain value cannot start with {text[col : col + 2].strip()!r}; quote it")

    def _plain(self, i: int, col: int, flow: bool) -> tuple[str, int]:
        text = self.lines[i]
        self._check_plain_start(i, col, flow)
        pos = col
        while pos < len(text):
            char = text[pos]
            if char == "\t":
                _fail(i, "tabs are not allowed outside quoted strings")
            if (char == "#" and text[pos - 1] == " ") or (flow and char in ",[]{}"):
                break
            if flow and char == "?":
                _fail(i, "'?' inside a plain value in a flow collection is not supported; quote the value")
            if char == ":" and (flow or text[pos + 1 : pos + 2] in ("", " ")):
                if flow and text[pos + 1 : pos + 2] == " ":
                    break
                _fail(i, "':' inside a plain value is not supported here; quote the value")
            pos += 1
        raw = text[col:pos].rstrip(" ")
        return raw, col + len(raw)

    def _quoted(self, i: int, col: int) -> tuple[str, int]:
        text, quote, out, pos = self.lines[i], self.lines[i][col], [], col + 1
        while pos < len(text):
            char = text[pos]
            if char == quote and quote == "'" and text[pos + 1 : pos + 2] == "'":
                out.append("'")
                pos += 2
            elif char == quote:
                return "".join(out), pos + 1
            elif char == "\\" and quote == '"':
                escape = text[pos + 1 : pos + 2]
                size = {"x": 2, "u": 4, "U": 8}.get(escape, 0)
                digits = text[pos + 2 : pos + 2 + size]
                if escape in _UNESCAPES:
                    out.append(_UNESCAPES[escape])
                elif size and re.fullmatch(f"[0-9a-fA-F]{{{size}}}", digits) and not 0xD800 <= int(digits, 16) < 0xE000:
                    if int(digits, 16) > 0x10FFFF:
                        _fail(i, f"invalid escape '\\{escape}{digits}'")
                    out.append(chr(int(digits, 16)))
                else:
                    _fail(i, f"unsupported escape {text[pos : pos + 2 + size]!r} in a double-quoted string")
                pos += 2 + size
            else:
                out.append(char)
                pos += 1
        _fail(i, "unterminated quoted string (multi-line quoted strings are not supported)")

    def _inline(self, i: int, col: int) -> _Node:
        text = self.lines[i]
        if text[col] in "[{":
            data, stop = self._flow(i, col)
            node = _Node("flow", i, col, data, stop)
        elif text[col] in "'\"":
            data, stop = self._quoted(i, col)
            node = _Node("scalar", i, col, data, stop)
        else:
            raw, stop = self._plain(i, col, flow=False)
            node = _Node("scalar", i, col, _resolve_plain(raw, i + 1), stop)
        rest = text[stop:]
        if "\t" in rest.split("#", 1)[0]:
            _fail(i, "tabs are not allowed outside quoted strings")
        if rest.strip(" ") and not (rest[0] == " " and rest.lstrip(" ").startswith("#")):
            after = "a flow collection" if node.kind == "flow" else "a value"
            _fail(i, f"unexpected text {rest.strip()!r} after {after}")
        return node

    def _flow_skip(self, i: int, pos: int) -> int:
        text = self.lines[i]
        while text[pos : pos + 1] == " ":
            pos += 1
        if pos == len(text) or (text[pos] == "#" and text[pos - 1] == " "):
            _fail(i, "flow collection not closed on this line (multi-line flow collections are not supported)")
        if text[pos] == "\t":
            _fail(i, "tabs are not allowed outside quoted strings")
        return pos

    def _flow_item(self, i: int, pos: int) -> tuple[object, int]:
        text = self.lines[i]
        if text[pos] in "[{":
            return self._flow(i, pos)
        if text[pos] in "'\"":
            return self._quoted(i, pos)
        raw, stop = self._plain(i, pos, flow=True)
        return _resolve_plain(raw, i + 1), stop

    def _flow(self, i: int, col: int) -> tuple[object, int]:
        text = self.lines[i]
        close = "]" if text[col] == "[" else "}"
        result: t.Any = [] if close == "]" else {}
        pos = self._flow_skip(i, col + 1)
        while text[pos] != close:
            if text[pos] in ",]}":
                _fail(i, f"unexpected {text[pos]!r} in a flow collection")
            if close == "]":
                item, pos = self._flow_item(i, pos)
                if text[self._flow_skip(i, pos)] == ":":
                    _fail(i, "'key: value' pairs inside a flow sequence are not supported")
                result.append(item)
            else:
                if text[pos] in "[{":
                    _fail(i, "complex keys in a flow mapping are not supported")
                key, pos = self._flow_item(i, pos)
                pos = self._flow_skip(i, pos)
                if not isinstance(key, str) or text[pos] != ":":
                    _fail(i, "expected 'key: value' with a string key in a flow mapping")
                pos = self._flow_skip(i, pos + 1)
                value, pos = (None, pos) if text[pos] in ",}" else self._flow_item(i, pos)
                if key in result:
                    _fail(i, f"duplicate key {key!r}")
                result[key] = value
            pos = self._flow_skip(i, pos)
            if text[pos] == ",":
                pos = self._flow_skip(i, pos + 1)
            elif text[pos] != close:
                _fail(i, f"expected ',' or {close!r} in a flow collection")
        return result, pos + 1


def _split(text: str) -> tuple[list[str], list[str]]:
    """Line contents and their endings; CRLF files are kept CRLF, mixed or bare CR refused."""
    contents, endings = [], []
    for num, line in enumerate(_LINE_RE.findall(text), 1):
        ending = "\r\n" if line.endswith("\r\n") else "\n" if line.endswith("\n") else ""
        content = line[: len(line) - len(ending)]
        bad = _BAD_CHAR_RE.search(content)
        if "\r" in content:
            raise YamlError(f"line {num}: carriage return not followed by a line feed")
        if bad:
            raise YamlError(f"line {num}: unsupported character U+{ord(bad.group()):04X}")
        if ending and endings and endings[-1] and ending != endings[-1]:
            raise YamlError(f"line {num}: mixed line endings (LF and CRLF)")
        contents.append(content)
        endings.append(ending)
    return contents, endings


def _is_json(text: str) -> bool:
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped.startswith("{")
    return False


def _load_json(text: str) -> object:
    def pairs(items: list[tuple[str, object]]) -> dict:
        result: dict = {}
        for key, value in items:
            if key in result:
                line = text[: max(text.rfind(json.dumps(key)), 0)].count("\n") + 1
                raise YamlError(f"line {line}: duplicate key {key!r}")
            result[key] = value
        return result

    def constant(name: str) -> t.NoReturn:
        raise YamlError(f"{name} is not valid JSON")

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except json.JSONDecodeError as error:
        raise YamlError(f"line {error.lineno}: invalid JSON: {error.msg}") from None


def load(text: str) -> object:
    """The document's data: dict, list, str, int, float, bool or None (an empty document).

    JSON when the first character that is not blank or in a comment is '{', else the YAML subset;
    YamlError, naming the line, for anything invalid or outside the subset.
    """
    if _is_json(text):
        return _load_json(text)
    root = _Parser(_split(text)[0]).parse().root
    return None if root is None else root.to_data()


def outline(text: str) -> tuple[t.Any, list[str], list[str]]:
    """(root node, line contents, line endings) of a YAML document, for editors that work by lines.

    Nodes carry their kind ("map", "seq", "scalar", "flow"), C(line), C(col), C(stop) and C(end)
    (one past their last line); a map's C(entries) map keys to entries (C(line), C(col), C(value),
    C(end)), a sequence's C(items) are nodes. The root is None for an empty document.
    """
    lines, endings = _split(text)
    return _Parser(list(lines)).parse().root, lines, endings


# --- editing -------------------------------------------------------------------------------------
def _nest(keys: tuple[str, ...], value: object) -> object:
    for key in reversed(keys):
        value = {key: value}
    return value


def _has_path(data: object, keys: tuple[str, ...]) -> bool:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return False
        data = data[key]
    return True


def _apply(data: dict, path: tuple[str, ...], value: object) -> None:
    """What set_values() must achieve, computed on plain data."""
    node = data
    for depth, key in enumerate(path[:-1]):
        child = node.get(key)
        if child is None:
            if value is REMOVE:
                return
            child = node[key] = {}
        elif not isinstance(child, dict):
            raise YamlError(f"{'.'.join(path[: depth + 1])} is not a mapping")
        node = child
    if value is REMOVE:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = copy.deepcopy(value)


class _Editor:
    """One edit of a parsed YAML document, made by replacing, inserting or removing whole lines."""

    def __init__(self, text: str):
        self.text = text
        self.lines, self.endings = _split(text)
        self.newline = "\r\n" if "\r\n" in self.endings else "\n"
        self.parsed = _Parser(list(self.lines)).parse()
        root = self.parsed.root
        if root is not None and root.kind != "map":
            raise YamlError(f"line {root.line + 1}: the top level is not a block mapping")
        self.root = root or _Node("map", self.parsed.doc_end, 0)
        # New nested blocks follow the document: its mapping step and where its dashes sit.
        self.step, self.seq_offset = None, None
        self._learn_style(self.root)
        self.step = self.step or 2
        self.seq_offset = self.seq_offset or 0

    def _learn_style(self, node: _Node) -> None:
        for entry in node.entries.values():
            value = entry.value
            if value.kind == "map" and self.step is None:
                self.step = value.col - entry.col
            elif value.kind == "seq" and self.seq_offset is None:
                self.seq_offset = value.col - entry.col
            self._learn_style(value)
        for item in node.items:
            self._learn_style(item)

    def result(self) -> str:
        for i in range(len(self.lines) - 1):
            self.endings[i] = self.endings[i] or self.newline
        return "".join(c + e for c, e in zip(self.lines, self.endings))

    def _splice(self, start: int, stop: int, new: list[str]) -> None:
        self.lines[start:stop] = new
        self.endings[start:stop] = [self.newline] * len(new)

    def apply(self, path: tuple[str, ...], value: object) -> str:
        node, parent = self.root, None
        for depth, key in enumerate(path[:-1]):
            entry = node.entries.get(key)
            if entry is None:
                return self.text if value is REMOVE else self._add(node, key, _nest(path[depth + 1 :], value))
            current = entry.value
            if current.kind == "map":
                node, parent = current, entry
                continue
            dotted = ".".join(path[: depth + 1])
            if current.kind == "flow" and isinstance(current.data, dict) and current.data:
                if value is REMOVE and not _has_path(current.data, path[depth + 1 :]):
                    return self.text
                _fail(current.line, f"{dotted} is a flow mapping; editing inside it is not supported")
            if (current.kind == "flow" and current.data == {}) or (current.kind == "scalar" and current.data is None):
                return self.text if value is REMOVE else self._replace(entry, _nest(path[depth + 1 :], value))
            _fail(entry.line, f"{dotted} is not a mapping")
        entry = node.entries.get(path[-1])
        if value is REMOVE:
            if entry is None:
                return self.text
            if parent is not None and len(node.entries) == 1:
                return self._replace(parent, {})  # keep the parent key, now an empty mapping
            self._splice(entry.line, entry.end, [])
            return self.result()
        if entry is None:
            return self._add(node, path[-1], value)
        if _same(entry.value.to_data(), value):
            return self.text
        return self._replace(entry, value)

    def _add(self, node: _Node, key: str, value: object) -> str:
        at = self.parsed.doc_end if node is self.root else node.end
        self._splice(at, at, self._entry_lines(key, value, node.col))
        return self.result()

    def _replace(self, entry: _Entry, value: object) -> str:
        text, old = self.lines[entry.line], entry.value
        inline = old.kind in ("scalar", "flow") and old.stop > old.col
        tail = text[old.stop :] if inline else text[entry.colon :]
        if isinstance(value, (dict, list, tuple)) and value:
            comment = tail if tail.strip() else ""
            new = [text[: entry.colon] + comment, *self._block_lines(value, entry.col)]
        elif inline:
            new = [text[: old.col] + _inline_text(value) + tail]
        else:
            new = [text[: entry.colon] + " " + _inline_text(value) + (tail if tail.strip() else "")]
        at_end, last_ending = entry.end == len(self.lines), self.endings[entry.end - 1]
        self._splice(entry.line, entry.end, new)
        if at_end and not last_ending:
            self.endings[-1] = ""  # the file had no final newline; keep it so
        return self.result()

    def _block_lines(self, value: object, key_col: int) -> list[str]:
        if isinstance(value, dict):
            return [line for k, v in value.items() for line in self._entry_lines(k, v, key_col + self.step)]
        return self._seq_lines(value, key_col + self.seq_offset)

    def _entry_lines(self, key: object, value: object, col: int) -> list[str]:
        if not isinstance(key, str):
            raise YamlError(f"mapping keys must be strings, not {type(key).__name__}")
        head = " " * col + render_scalar(key) + ":"
        if isinstance(value, (dict, list, tuple)) and value:
            return [head, *self._block_lines(value, col)]
        return [head + " " + _inline_text(value)]

    def _seq_lines(self, items: t.Iterable[object], col: int) -> list[str]:
        out = []
        for item in items:
            if isinstance(item, dict) and item:
                sub = [line for k, v in item.items() for line in self._entry_lines(k, v, col + 2)]
            elif isinstance(item, (list, tuple)) and item:
                sub = self._seq_lines(item, col + 2)
            else:
                sub = [" " * (col + 2) + _inline_text(item)]
            out.extend([" " * col + "- " + sub[0][col + 2 :], *sub[1:]])
        return out


def _set_json(text: str, changes: dict[tuple[str, ...], object]) -> str:
    data = _load_json(text)
    if not isinstance(data, dict):
        raise YamlError("line 1: the top level is not a JSON object")
    wanted = copy.deepcopy(data)
    for path, value in changes.items():
        _apply(wanted, path, value)
    if _same(wanted, data):
        return text
    key_sep = ": " if re.search(r'"\s*:\s', text) or ":" not in text else ":"
    lines = [line for line in text.splitlines() if line.strip()]
    indented = [line for line in lines[1:] if line[:1] in (" ", "\t")]
    indent: int | str | None = None
    if len(lines) > 1:
        lead = indented[0][: len(indented[0]) - len(indented[0].lstrip())] if indented else "  "
        indent = len(lead) if lead.strip(" ") == "" else lead
    item_sep = "," if indent is not None or ("," in text and not re.search(r",\s", text)) else ", "
    try:
        out = json.dumps(
            wanted, indent=indent, separators=(item_sep, key_sep), ensure_ascii=text.isascii(), allow_nan=False
        )
    except (TypeError, ValueError) as error:
        raise YamlError(f"cannot write the value as JSON: {error}") from None
    out += "\n" if text.endswith("\n") else ""
    return out.replace("\n", "\r\n") if "\r\n" in text else out


def set_values(text: str, changes: dict[tuple[str, ...], object]) -> str:
    """The document with each key path set to its value, or removed when the value is REMOVE.

    Lines outside the changed values stay byte for byte and the text itself comes back when nothing
    changes; the top level must be a mapping. The result is read back before it is returned: if it
    does not hold exactly the intended data, YamlError('internal: ...') is raised instead.
    """
    for path in changes:
        if not isinstance(path, tuple) or not path or not all(isinstance(key, str) for key in path):
            raise YamlError(f"a key path must be a non-empty tuple of strings, not {path!r}")
    if _is_json(text):
        result = _set_json(text, changes)  # refuses a top level that is not an object
    else:
        _Editor(text)  # refuses a top level that is not a mapping, naming its line
        result = text
        for path, value in changes.items():
            result = _Editor(result).apply(path, value)
    wanted = load(text)
    wanted = {} if wanted is None else wanted
    for path, value in changes.items():
        _apply(wanted, path, value)  # type: ignore[arg-type]
    try:
        actual = load(result)
    except YamlError as error:
        raise YamlError(f"internal: the edited document does not read back ({error}); nothing was changed") from None
    if not _same({} if actual is None else actual, wanted):
        raise YamlError("internal: the edited document does not read back as intended; nothing was changed")
    return result
