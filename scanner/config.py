"""Reading the configuration files (targets, waivers, criteria profiles) and the paths they name.

Whatever such a file holds, its loader reports problems that name the file and, where it can be
found, the line; nothing in a file may end in a traceback. The helpers here are the parts the
three loaders share: reading and parsing a TOML file, checking a path before the operating
system sees it, finding lines, and quoting a value or a key so a message stays one short line.
"""

from __future__ import annotations

import re
import reprlib
import stat
import tomllib
from collections.abc import Collection
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 8 * 1024 * 1024  # a configuration file is small; this also stops at /dev/zero
MAX_PATH_CHARS = 4096  # PATH_MAX on Linux: a longer value cannot name a file
MAX_KEY_CHARS = 80
MAX_SHOWN_PATH = 300


class ConfigFileError(Exception):
    """The file cannot be read or parsed; the message is one line that names it."""


def shown(value: Any, limit: int = 80) -> str:
    """``repr(value)``, shortened: a file may hold megabytes, or arrays nested hundreds deep, in one value."""
    short = reprlib.Repr()
    short.maxstring = short.maxother = short.maxlong = limit
    short.maxlevel = 3
    short.maxlist = short.maxdict = short.maxtuple = 6
    return short.repr(value)


def key_name(key: str) -> str:
    """A key (or an id) as a message shows it: as it is when it is short and printable, else quoted and
    shortened, so that a key holding a newline or a megabyte cannot break the message's one line."""
    return key if key.isprintable() and len(key) <= MAX_KEY_CHARS else shown(key)


def unknown_key(known: Collection[str]) -> str:
    """The message for a key that is not one of ``known``: unknown keys are errors, so a typo never
    silently turns a setting off."""
    return f"unknown key (expected one of: {', '.join(sorted(known))})"


def parse_toml(text: str, name: str) -> dict[str, Any]:
    """The document in ``text``; ``name`` is how messages call the file."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"{name}: not valid TOML: {exc}") from None
    except RecursionError:
        # tomllib parses nested arrays and inline tables recursively; the stack bounds the depth.
        raise ConfigFileError(f"{name}: not usable: arrays or tables nested too deeply") from None


def read_toml(path: Path, name: str | None = None) -> tuple[str, dict[str, Any]]:
    """The text and the document of the TOML file at ``path``; ``ConfigFileError`` says what is wrong.

    ``name`` is how messages about its content call the file (default: its file name)."""
    name = name or path.name
    problem = path_problem(str(path))
    if problem:
        raise ConfigFileError(f"{shown_path(path)}: {problem}")
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigFileError(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MiB; not a configuration file")
    data = data.removeprefix(b"\xef\xbb\xbf")  # the byte-order mark some Windows editors write
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start
        line = data.count(b"\n", 0, start) + 1
        column = start - (data.rfind(b"\n", 0, start) + 1) + 1
        raise ConfigFileError(
            f"{name}:{line}: not valid UTF-8 (byte 0x{data[start]:02x} at column {column}); save the file as UTF-8"
        ) from None
    return text, parse_toml(text, name)


def shown_path(path: Path | str) -> str:
    """A path as messages quote it: whole, unless it is absurdly long."""
    return shown(str(path), MAX_SHOWN_PATH)


def path_problem(value: str) -> str | None:
    """Why ``value`` cannot be a path at all (before the operating system is asked), or None."""
    if not value.strip():
        return "is empty"
    if "\x00" in value:
        return "contains a NUL character"
    if len(value) > MAX_PATH_CHARS:
        return f"is {len(value)} characters long; a path has at most {MAX_PATH_CHARS}"
    return None


def local_path(value: str, base: Path) -> Path | str:
    """``value`` as an absolute path (``~`` expanded, relative to ``base``), or why it cannot be one."""
    problem = path_problem(value)
    if problem:
        return f"{shown_path(value)} {problem}"
    try:
        path = Path(value).expanduser()
    except RuntimeError:  # "~name" where this machine has no user "name"
        return f"{shown_path(value)}: no user {shown(value[1:].split('/', 1)[0])} to expand '~' for"
    if not path.is_absolute():
        path = base / path
    try:
        return path.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        return f"{shown_path(path)} cannot be resolved ({exc})"


def existing_file(value: str, base: Path) -> Path | str:
    """The regular file ``value`` names (see ``local_path``), or a message saying what is wrong."""
    path = local_path(value, base)
    if isinstance(path, str):
        return path
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return f"{shown_path(path)} does not exist"
    except OSError as exc:  # a name too long for the file system, a file where a folder should be, …
        return f"{shown_path(path)} cannot be used ({exc.strerror or exc})"
    if not stat.S_ISREG(mode):
        return f"{shown_path(path)} is not a file"
    return path


class Lines:
    """Where tables and keys are in a TOML text, so problems can point at lines (tomllib keeps no positions)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers = [
            (number, line.split("#", 1)[0].strip())
            for number, line in enumerate(self.lines, start=1)
            if line.strip().startswith("[")
        ]

    def tables(self, header: str, after: int = 0, before: int | None = None) -> list[int]:
        """The lines of every ``header`` (e.g. ``[[waivers]]``) between ``after`` and ``before``."""
        return [n for n, h in self.headers if h == header and after < n and (before is None or n < before)]

    def end(self, start: int, stop_at: str | None = None) -> int:
        """The line of the next header after ``start`` (the next ``stop_at`` if given), or past the end."""
        for number, header in self.headers:
            if number > start and (stop_at is None or header == stop_at):
                return number
        return len(self.lines) + 1

    def key(self, start: int, key: str) -> int:
        """The line of ``key`` in the table whose header is at ``start``; ``start`` if it is not found."""
        pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        for number in range(start + 1, self.end(start)):
            if pattern.match(self.lines[number - 1]):
                return number
        return start

    def entry(self, header: str, index: int) -> int:
        """The line of the ``index``-th ``header`` table (0 when it is not written as one)."""
        starts = self.tables(header)
        return starts[index] if index < len(starts) else 0
