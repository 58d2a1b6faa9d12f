"""RFC 8941 Structured Field dictionaries, the syntax Permissions-Policy is written in.

A parser of its own because the syntax is strict (browsers drop a whole header that does not parse)
and errors must say where the value went wrong. No I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class StructuredFieldError(ValueError):
    pass


@dataclass(frozen=True)
class SfItem:
    """A bare item: kind is "token", "string", "integer", "decimal", "boolean" or "bytes"."""

    kind: str
    value: object
    params: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class SfInnerList:
    items: tuple[SfItem, ...]
    params: tuple[tuple[str, object], ...] = ()


_KEY_START = re.compile(r"[a-z*]")
_KEY_CHARS = re.compile(r"[a-z0-9_\-.*]*")
_TOKEN_START = re.compile(r"[A-Za-z*]")
_TOKEN_CHARS = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_NUMBER = re.compile(r"-?\d{1,15}(\.\d{1,3})?")
_BYTES = re.compile(r":[A-Za-z0-9+/=]*:")


class _SfParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, message: str) -> StructuredFieldError:
        return StructuredFieldError(f"{message} at character {self.pos + 1}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip(self, chars: str) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1

    def dictionary(self) -> list[tuple[str, SfItem | SfInnerList]]:
        members: list[tuple[str, SfItem | SfInnerList]] = []
        self.skip(" ")
        while self.pos < len(self.text):
            key = self.key()
            value: SfItem | SfInnerList
            if self.peek() == "=":
                self.pos += 1
                value = self.inner_list() if self.peek() == "(" else self.item()
            else:
                value = SfItem("boolean", True, self.params())
            members = [(k, v) for k, v in members if k != key] + [(key, value)]
            self.skip(" \t")
            if self.pos >= len(self.text):
                return members
            if self.peek() != ",":
                raise self.fail(f"expected ',' but found {self.peek()!r}")
            self.pos += 1
            self.skip(" \t")
            if self.pos >= len(self.text):
                raise self.fail("trailing comma")
        return members

    def key(self) -> str:
        if not _KEY_START.match(self.peek()):
            raise self.fail(f"a key must start with a lower-case letter or '*', not {self.peek()!r}")
        match = _KEY_CHARS.match(self.text, self.pos + 1)
        end = match.end() if match else self.pos + 1
        key = self.text[self.pos : end]
        self.pos = end
        return key

    def inner_list(self) -> SfInnerList:
        self.pos += 1  # "("
        items: list[SfItem] = []
        while self.pos < len(self.text):
            self.skip(" ")
            if self.peek() == ")":
                self.pos += 1
                return SfInnerList(tuple(items), self.params())
            items.append(self.item())
            if self.peek() not in (" ", ")"):
                raise self.fail(f"expected ' ' or ')' in an inner list, found {self.peek()!r}")
        raise self.fail("unterminated inner list")

    def item(self) -> SfItem:
        kind, value = self.bare_item()
        return SfItem(kind, value, self.params())

    def bare_item(self) -> tuple[str, object]:
        char = self.peek()
        if char == '"':
            return "string", self.string()
        if char == "?":
            if self.text[self.pos + 1 : self.pos + 2] not in ("0", "1"):
                raise self.fail("a boolean is ?0 or ?1")
            self.pos += 2
            return "boolean", self.text[self.pos - 1] == "1"
        if char == ":":
            match = _BYTES.match(self.text, self.pos)
            if not match:
                raise self.fail("unterminated byte sequence")
            self.pos = match.end()
            return "bytes", match.group(0)[1:-1]
        if char == "-" or char.isdigit():
            match = _NUMBER.match(self.text, self.pos)
            if not match:
                raise self.fail("not a number")
            self.pos = match.end()
            text = match.group(0)
            return ("decimal", float(text)) if "." in text else ("integer", int(text))
        if _TOKEN_START.match(char):
            match = _TOKEN_CHARS.match(self.text, self.pos + 1)
            end = match.end() if match else self.pos + 1
            token = self.text[self.pos : end]
            self.pos = end
            return "token", token
        raise self.fail(f"unexpected {char!r}" if char else "unexpected end")

    def string(self) -> str:
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == "\\":
                nxt = self.peek()
                if nxt not in ('"', "\\"):
                    raise self.fail("bad escape in a string")
                out.append(nxt)
                self.pos += 1
            elif char == '"':
                return "".join(out)
            elif not (" " <= char <= "~"):
                raise self.fail("a string may only hold printable ASCII")
            else:
                out.append(char)
        raise self.fail("unterminated string")

    def params(self) -> tuple[tuple[str, object], ...]:
        params: list[tuple[str, object]] = []
        while self.peek() == ";":
            self.pos += 1
            self.skip(" ")
            key = self.key()
            value: object = True
            if self.peek() == "=":
                self.pos += 1
                value = self.bare_item()[1]
            params.append((key, value))
        return tuple(params)


def parse_sf_dictionary(text: str) -> list[tuple[str, SfItem | SfInnerList]]:
    """An RFC 8941 dictionary; raises ``StructuredFieldError`` with the position of the problem."""
    return _SfParser(text.strip(" ")).dictionary()
