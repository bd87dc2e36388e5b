"""The JSON log: every record one line, also the standard library's (aiohttp, pymodbus), with
an exception's trace as a field rather than lines of plain text (issue 20)."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from edge.ops.logsetup import setup_logging


def test_exceptions_are_one_json_record_with_the_trace_as_a_field(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = io.StringIO()
    setup_logging("info", "json", out)
    try:
        int("x")
    except ValueError:
        logging.getLogger("aiohttp.server").exception("Error handling request")
        structlog.get_logger("edge.ingest").exception("camera payload could not be read")
    lines = [*capsys.readouterr().err.splitlines(), *out.getvalue().splitlines()]
    records = [json.loads(line) for line in lines]  # every line is a whole JSON record
    assert [r["event"] for r in records] == [
        "Error handling request",
        "camera payload could not be read",
    ]
    for record in records:
        assert record["level"] == "error"
        assert "Traceback" in record["exception"]
        assert "ValueError" in record["exception"]
    assert records[0]["logger"] == "aiohttp.server"


def test_console_traces_are_plain_text_whatever_is_installed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The console format writes a trace as Python prints it, never a table of locals: with
    ``rich`` installed (a developer's tool may bring it) structlog would otherwise render one,
    slowly enough to stall the loop when a burst of clients drops."""
    out = io.StringIO()
    setup_logging("info", "console", out)
    renderer = structlog.get_config()["processors"][-1]
    assert isinstance(renderer, structlog.dev.ConsoleRenderer)
    assert renderer.exception_formatter is structlog.dev.plain_traceback  # not rich's
    secret_local = "a local that a rich trace would show"
    try:
        int("x")
    except ValueError:
        logging.getLogger("aiohttp.server").exception("Error handling request")
        structlog.get_logger("edge.ingest").exception("camera payload could not be read")
    text = capsys.readouterr().err + out.getvalue()
    assert text.count("Traceback (most recent call last):") == 2
    assert secret_local not in text
