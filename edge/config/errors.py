"""Config errors that a field technician can act on: key path, file line, never a secret.

``tomllib`` keeps no positions, so :func:`locate_keys` scans the TOML text for table headers
and ``key =`` lines and maps each key path (with array-of-tables indices) to its line.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, ValidationError

Loc = tuple[str | int, ...]

_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*([^\]]+?)\s*\]\]")
_TABLE_HEADER = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]")
_KEY_LINE = re.compile(r"^\s*([A-Za-z0-9_\-\".]+)\s*=")
_INLINE_KEY = re.compile(r"[{,]\s*([A-Za-z0-9_\-]+)\s*=")
_SECRET_WORDS = ("password", "secret", "token", "pwd")
ENV_PREFIX = "EDGE_"
#: The error type of a value that may hold a secret (a password typed into an address):
#: its message is said, the value never shown.
NOT_ECHOED = "not_echoed"

#: The config's patterns in words.
PATTERN_WORDS = {
    r"^\d{10}$": "10 digits",
    r"^\d{2}$": "2 digits",
    r"^\d{2}:\d{2}-\d{2}:\d{2}$": "HH:MM-HH:MM, e.g. 06:00-22:00",
    r"^https?://[^\s/]+": "a URL starting with http:// or https://, e.g. http://10.1.2.3:8080/ysgk",
    r"^[A-Za-z0-9_-]{1,32}$": "1-32 letters, digits, _ or -",
    r"^scrypt\$": "a hash written by `edge set-password`",
    r"^[A-Za-z0-9_/-]+$": "letters, digits, _, - or /",
}
#: pydantic error types in a technician's words (others: pydantic's message, reworded).
_TYPE_WORDS = {
    "missing": "required",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text in quotes",
    "extra_forbidden": "unknown key (misspelt?)",
    "dict_type": "must be a table: a [section] or { key = value, … }",
    "model_type": "must be a table: a [section] or { key = value, … }",
    "model_attributes_type": "must be a table: a [section] or { key = value, … }",
    "list_type": "must be a list: [ … ] (or [[section]] tables)",
}


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


def env_overrides(environ: Mapping[str, str]) -> dict[Loc, str]:
    """The config keys set by ``EDGE_<SECTION>__<KEY>`` variables, each with its variable."""
    found: dict[Loc, str] = {}
    for name in environ:
        if name.upper().startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX):
            parts = name[len(ENV_PREFIX) :].lower().split("__")
            found[tuple(int(p) if p.isdigit() else p for p in parts)] = name
    return found


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    loc: Loc
    message: str
    line: int | None = None
    #: The environment variable the faulty value came from (then no line is shown).
    variable: str | None = None

    def with_line(
        self, lines: Mapping[Loc, int], env: Mapping[Loc, str] | None = None
    ) -> ConfigIssue:
        for end in range(len(self.loc), 0, -1):
            if env and self.loc[:end] in env:
                return replace(self, variable=env[self.loc[:end]])
        return replace(self, line=_line_for(self.loc, lines))

    def __str__(self) -> str:
        if self.variable:
            where = f" (from {self.variable})"
        else:
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


def models_in(annotation: Any) -> list[type[BaseModel]]:
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in models_in(arg)]


def field_description(model: type[BaseModel], loc: Sequence[str | int]) -> str | None:
    """The ``description`` of the field at pydantic's ``loc`` (union tags and list indices
    skipped), or None."""
    candidates: list[type[BaseModel]] = [model]
    described: str | None = None
    for part in loc:
        if isinstance(part, int):
            continue
        fields = [c.model_fields[part] for c in candidates if part in c.model_fields]
        if not fields:
            described = None  # a union tag, a dict key: keep looking below it
            continue
        described = fields[0].description
        candidates = [m for f in fields for m in models_in(f.annotation)]
    return described


def plain_message(err: Mapping[str, Any], description: str | None) -> str:
    """pydantic's message in the field's terms: "企业编号 §6.2: must be 10 digits"."""
    kind = err["type"]
    if kind == "string_pattern_mismatch":
        pattern = str(err.get("ctx", {}).get("pattern", ""))
        message = f"must be {PATTERN_WORDS.get(pattern, f'text matching {pattern}')}"
    elif kind in ("too_short", "string_too_short"):  # a SecretStr is "too_short"
        least = err.get("ctx", {}).get("min_length")
        text = isinstance(err.get("input"), str) or kind == "string_too_short"
        unit = "characters" if text else "entries"
        message = "must not be empty" if least == 1 else f"must be at least {least} {unit} long"
    elif kind in ("too_long", "string_too_long"):  # a SecretStr is "too_long"; its length
        most = err.get("ctx", {}).get("max_length")  # is not said (a secret's shape)
        text = isinstance(err.get("input"), str) or kind == "string_too_long"
        message = f"must be at most {most} {'characters' if text else 'entries'} long"
    elif kind in _TYPE_WORDS:
        message = _TYPE_WORDS[kind]
    else:
        message = str(err["msg"])
        for said, meant in (
            ("Input should be ", "must be "),
            ("String should ", "must "),
            ("Value error, ", ""),  # our own validators' words, as they wrote them
            ("Assertion failed, ", ""),
        ):
            if message.startswith(said):
                message = meant + message[len(said) :]
    if description and kind != "extra_forbidden":
        return f"{description}: {message}"
    return message


def issues_from_validation(
    exc: ValidationError,
    data: Mapping[str, Any],
    lines: Mapping[Loc, int],
    model: type[BaseModel] | None = None,
    env: Mapping[Loc, str] | None = None,
) -> list[ConfigIssue]:
    issues = []
    for err in exc.errors(include_url=False, include_input=True):
        loc = _data_path(err["loc"], data)
        description = field_description(model, err["loc"]) if model is not None else None
        message = plain_message(err, description)
        if err["type"] not in {
            "missing",
            "union_tag_invalid",
            "extra_forbidden",
            NOT_ECHOED,
        } and not _is_secret(loc):
            shown = repr(err.get("input"))
            message += f" (got {shown[:60]})"
        issues.append(ConfigIssue(loc, message).with_line(lines, env))
    return issues
