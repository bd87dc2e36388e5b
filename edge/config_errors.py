"""Config errors that a field technician can act on: key path, file line, never a secret.

``tomllib`` keeps no positions, so :func:`locate_keys` scans the TOML text for table headers
and ``key =`` lines and maps each key path (with array-of-tables indices) to its line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError

Loc = tuple[str | int, ...]

_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*([^\]]+?)\s*\]\]")
_TABLE_HEADER = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]")
_KEY_LINE = re.compile(r"^\s*([A-Za-z0-9_\-\".]+)\s*=")
_INLINE_KEY = re.compile(r"[{,]\s*([A-Za-z0-9_\-]+)\s*=")
_SECRET_WORDS = ("password", "secret", "token", "pwd")


def _dotted(raw: str) -> tuple[str, ...]:
    return tuple(part.strip().strip('"') for part in raw.split("."))


def locate_keys(text: str) -> dict[Loc, int]:
    """Map each key path in TOML ``text`` to its 1-based line number (best effort)."""
    lines: dict[Loc, int] = {}
    counts: dict[tuple[str, ...], int] = {}
    current: Loc = ()

    def indexed(path: tuple[str, ...]) -> Loc:
        loc: list[str | int] = []
        for i, part in enumerate(path):
            loc.append(part)
            if path[: i + 1] in counts:
                loc.append(counts[path[: i + 1]])
        return tuple(loc)

    for number, line in enumerate(text.splitlines(), start=1):
        if match := _ARRAY_HEADER.match(line):
            path = _dotted(match.group(1))
            counts[path] = counts.get(path, -1) + 1
            current = indexed(path)
            lines.setdefault(current, number)
        elif match := _TABLE_HEADER.match(line):
            current = indexed(_dotted(match.group(1)))
            lines.setdefault(current, number)
        elif match := _KEY_LINE.match(line):
            key_loc = current + _dotted(match.group(1))
            lines.setdefault(key_loc, number)
            for inner in _INLINE_KEY.finditer(line):
                lines.setdefault((*key_loc, inner.group(1)), number)
    return lines


def _line_for(loc: Loc, lines: Mapping[Loc, int]) -> int | None:
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(file)"


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    loc: Loc
    message: str
    line: int | None = None

    def with_line(self, lines: Mapping[Loc, int]) -> ConfigIssue:
        return replace(self, line=_line_for(self.loc, lines))

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{format_loc(self.loc)}{where}: {self.message}"


class ConfigError(Exception):
    """Every problem found in one config file."""

    def __init__(self, source: str, issues: Sequence[ConfigIssue]) -> None:
        self.source, self.issues = source, list(issues)
        super().__init__(self.render())

    def render(self) -> str:
        head = f"{self.source}: {len(self.issues)} configuration error(s)"
        return "\n".join([head, *(f"  {issue}" for issue in self.issues)])


def _data_path(loc: Sequence[str | int], data: Any) -> Loc:
    """Drop pydantic's union-tag components so the path names keys the technician wrote.

    For ``lanes[0].barrier`` = ``{driver = "camera-relay", channel = 7}`` pydantic reports
    ``("lanes", 0, "barrier", "camera-relay", "channel")``; a component that is not a key of its
    table but equals one of the table's string values is such a tag.
    """
    out: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part not in node and part in node.values():
            continue
        out.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(out)


def _is_secret(loc: Loc) -> bool:
    return any(isinstance(p, str) and any(w in p.lower() for w in _SECRET_WORDS) for p in loc)


def issues_from_validation(
    exc: ValidationError, data: Mapping[str, Any], lines: Mapping[Loc, int]
) -> list[ConfigIssue]:
    issues = []
    for err in exc.errors(include_url=False, include_input=True):
        loc = _data_path(err["loc"], data)
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key (misspelt?)"
        elif err["type"] not in {"missing", "union_tag_invalid"} and not _is_secret(loc):
            shown = repr(err.get("input"))
            message += f" (got {shown[:60]})"
        issues.append(ConfigIssue(loc, message).with_line(lines))
    return issues
