"""structlog set-up: JSON lines for journald in production, readable lines for people.

Libraries that log through the standard library (httpx, aiohttp, pymodbus, zeep, …) go through
the same renderer onto the same stream, at WARNING: one log, one format. Timestamps carry
their offset (the site's zone when given), like the serial numbers and records.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from datetime import datetime, tzinfo
from typing import Any, Literal

import structlog

#: Library loggers quieter than WARNING. pymodbus logs each failed exchange as an ERROR with
#: raw hex dumps, every retry; the drivers report a board going and coming back once each,
#: with the reason.
QUIET_LIBRARIES = {"pymodbus": logging.CRITICAL}


def _timestamper(zone: tzinfo | None) -> structlog.typing.Processor:
    def stamp(_logger: Any, _name: str, event: structlog.typing.EventDict) -> Any:
        now = datetime.now(zone) if zone is not None else datetime.now().astimezone()
        event["timestamp"] = now.isoformat(timespec="milliseconds")
        return event

    return stamp


def _library_name(_logger: Any, _name: str, event: structlog.typing.EventDict) -> Any:
    record = event.get("_record")
    if record is not None:
        event["logger"] = record.name
    return event


def setup_logging(
    level: str = "info",
    fmt: Literal["json", "console"] = "json",
    stream: object = None,
    zone: tzinfo | None = None,
) -> None:
    """Our log lines at ``level``, library lines at WARNING, both to ``stream`` (stdout)."""
    out = stream or sys.stdout
    stamp = _timestamper(zone)
    shared: list[structlog.typing.Processor] = [structlog.processors.add_log_level, stamp]
    renderer: list[structlog.typing.Processor]
    if fmt == "json":
        renderer = [
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(
                serializer=functools.partial(json.dumps, ensure_ascii=False, default=str)
            ),
        ]
    else:
        # Plain tracebacks whatever is installed: with ``rich`` present (a dev tool brings it)
        # structlog would render each trace as a table with every local, which takes long
        # enough (hundreds of ms) to stall the event loop when errors come in bursts.
        renderer = [
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            )
        ]
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, *shared, *renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(out),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)  # type: ignore[arg-type]
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, _library_name],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
        )
    )
    # force: some libraries configure the root logger when imported (onvif: INFO to stderr).
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    for name, quiet in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(quiet)
