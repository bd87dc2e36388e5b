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
