"""The history's pages made by SQLite: a page of passes turned into its CSV lines (the export)
or its JSON (``/api/passes``) by one statement, so that Python only hands the bytes on
(issue 19, issue 20).

Formatted in Python, a month's export held the interpreter lock for most of its time (in a
worker thread, but the gate's event loop waited for the lock each time it woke: plate → coil
p99 6.7-9.9× the empty ledger's while a month streamed); so did a 5,000-row page of the
history made into dictionaries and JSON (a flood of them without a login: +15 to +30 ms on
another lane's p99). Inside ``sqlite3_step`` the lock is free; a page is one step of an
aggregate (``group_concat`` over the ordered lines), so the lock is held for one row a page
(and the history reader's budget check, about once a millisecond).

The lines are byte for byte what Python's ``csv.writer`` (``QUOTE_MINIMAL``, ``\\r\\n``) made
of :func:`edge.actions.inspection.spreadsheet_cell` of each value, the time as
``datetime.fromtimestamp(at, zone).isoformat(sep=" ", timespec="seconds")`` and the
correction's mark as the status page made it in Python (``tests/test_export_loop.py``
compares them on awkward values and on zones with summer time); the JSON reads as the one
the status page made in Python (the same test module).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, fields
from datetime import datetime, tzinfo

from edge.ledger.rows import PassListing

#: What makes a spreadsheet read a cell as a formula: :data:`FORMULA_STARTS` of
#: ``edge.actions.inspection`` (= + - @, a tab, a carriage return), as SQL.
_FORMULA_STARTS = "('=', '+', '-', '@', char(9), char(13))"
#: A day in seconds: zone offsets are looked at once a day over the export's range, a change
#: found then pinned to its second (no zone changes its offset twice within a day).
_DAY = 86_400


def _cell(expr: str) -> str:
    """``expr`` (text or NULL) as one CSV field: NULL as nothing, a leading apostrophe where a
    spreadsheet would read a formula, quoted (quotes doubled) where it holds a comma, a quote,
    a line feed or a carriage return."""
    value = f"coalesce({expr}, '')"
    text = (
        f"(CASE WHEN substr({value}, 1, 1) IN {_FORMULA_STARTS} THEN '''' ELSE '' END || {value})"
    )
    special = " OR ".join(f"instr({value}, {c})" for c in ("','", "'\"'", "char(10)", "char(13)"))
    return (
        f"(CASE WHEN {special} THEN '\"' || replace({text}, '\"', '\"\"') || '\"' ELSE {text} END)"
    )


@dataclass(frozen=True, slots=True)
class ZoneSpan:
    """From the second ``since`` on (None: from ever), the site's clock is ``offset`` seconds
    ahead of UTC and ``isoformat`` writes it ``text`` (``+08:00``)."""

    since: int | None
    offset: int
    text: str


def _offset_at(zone: tzinfo, second: int) -> tuple[int, str]:
    moment = datetime.fromtimestamp(second, zone)
    delta = moment.utcoffset()
    assert delta is not None, "a site zone has an offset"
    return int(delta.total_seconds()), moment.isoformat(timespec="seconds")[19:]


def zone_spans(zone: tzinfo, first: float, last: float) -> list[ZoneSpan]:
    """The zone's offsets from ``first`` to ``last`` (unix seconds), as spans; the first one
    reaches back for ever and the last one on (a pass received during the export). Remembered
    for the last 64 ranges of whole days (a history page asks for 24 months' each time)."""
    return list(_days_spans(zone, int(first) // _DAY, int(last) // _DAY + 1))


@functools.lru_cache(maxsize=64)
def _days_spans(zone: tzinfo, first_day: int, last_day: int) -> tuple[ZoneSpan, ...]:
    first, last = first_day * _DAY, last_day * _DAY
    second = first - _DAY
    offset, text = _offset_at(zone, second)
    spans = [ZoneSpan(None, offset, text)]
    while second <= last + _DAY:
        following = _offset_at(zone, second + _DAY)
        if following != (offset, text):  # the change: the first second with the new offset
            low, high = second, second + _DAY
            while high - low > 1:
                middle = (low + high) // 2
                if _offset_at(zone, middle) == (offset, text):
                    low = middle
                else:
                    high = middle
            offset, text = _offset_at(zone, high)
            spans.append(ZoneSpan(high, offset, text))
        second += _DAY
    return tuple(spans)


def _pick(spans: list[ZoneSpan], second: str, value: str) -> str:
    """The span's ``value`` (``offset`` or ``text``) for the unix second ``second``, as SQL."""
    if len(spans) == 1:
        only = getattr(spans[0], value)
        return str(only) if value == "offset" else f"'{only}'"
    whens = []
    for before, span in itertools.pairwise(spans):
        got = getattr(before, value)
        whens.append(
            f"WHEN {second} < {span.since} THEN " + (str(got) if value == "offset" else f"'{got}'")
        )
    last = getattr(spans[-1], value)
    return (
        f"(CASE {' '.join(whens)} ELSE "
        + (str(last) if value == "offset" else f"'{last}'")
        + " END)"
    )


#: The second ``datetime.fromtimestamp`` shows of ``received_at`` (>= 0): it rounds to the
#: microsecond, half to even, so a fraction of .9999995 or more shows the next second.
_SECOND = (
    "(CAST(received_at AS INTEGER) + "
    "((received_at - CAST(received_at AS INTEGER)) * 1000000.0 >= 999999.5))"
)


def site_time(spans: list[ZoneSpan]) -> str:
    """``received_at`` in the site's time with its offset (``2026-12-02 10:00:00+08:00``),
    as an SQL expression: what ``datetime.fromtimestamp(received_at, zone)`` shows of it
    (``isoformat(sep=" ", timespec="seconds")``)."""
    return (
        f"(strftime('%Y-%m-%d %H:%M:%S', {_SECOND} + {_pick(spans, _SECOND, 'offset')}, "
        f"'unixepoch') || {_pick(spans, _SECOND, 'text')})"
    )


def csv_line(spans: list[ZoneSpan]) -> str:
    """One pass's CSV line (``\\r\\n`` at its end), as an SQL expression over the columns of
    a history page (:class:`edge.ledger.rows.PassListing`'s): 流水号, 车道, 方向, 车牌 (the
    corrected one, else the camera's, else 无牌车), 车牌颜色, 结果, 原因, 决定方, 时间 (the
    site's, with its offset), 标记, 车牌更正 (the camera's read beside a corrected plate)."""
    shown = "coalesce(nullif(corrected, ''), nullif(plate, ''), '无牌车')"
    color = "coalesce(nullif(corrected_color, ''), plate_color)"
    mark = (
        "CASE WHEN corrected IS NULL THEN '' ELSE '已更正（相机识别：' || "
        "coalesce(nullif(plate, ''), '无牌车') || CASE WHEN corrected_color IS NOT plate_color "
        "THEN '，颜色 ' || plate_color ELSE '' END || '）' END"
    )
    fields = [
        _cell("serial"), _cell("lane_id"), _cell("direction"), _cell(shown), _cell(color),
        _cell("verdict"), _cell("reason"), _cell("decided_by"),
        site_time(spans),  # digits, '-', ' ', ':' and the offset: never quoted, never a formula
        _cell("flag"), _cell(mark),
    ]  # fmt: skip
    return " || ',' || ".join(fields) + " || char(13, 10)"


def csv_page(page: str, order: str, spans: list[ZoneSpan]) -> str:
    """The statement making the history page ``page`` (a statement listing passes in
    ``order``, of columns without a table's prefix) into one row: how many passes, their CSV
    lines in that order as one text, and the last one's id and time (the next page's
    cursor). The lines are made in a materialized table in the page's order and joined in
    the order they are stored in (one ``sqlite3_step`` for the whole page)."""
    return _page(page, order, csv_line(spans), "coalesce(group_concat(line, ''), '')")


def _page(page: str, order: str, line: str, joined: str) -> str:
    """``page``'s passes made into ``line`` each, in a materialized table in ``order``, and
    ``joined`` (an aggregate over ``line``) with the count and the last one's id and time."""
    ascending = order.replace(" DESC", "")
    return (
        f"WITH lines AS MATERIALIZED (SELECT id, received_at, {line} AS line "  # noqa: S608 - fixed clauses only
        f"FROM ({page}) ORDER BY {order}) "
        f"SELECT count(*) AS n, CAST({joined} AS BLOB) AS text, "
        f"(SELECT id FROM lines ORDER BY {ascending} LIMIT 1) AS last_id, "
        f"(SELECT received_at FROM lines ORDER BY {ascending} LIMIT 1) AS last_at FROM lines"
    )


def json_item(spans: list[ZoneSpan]) -> str:
    """One pass as the history page lists it, a JSON object, as an SQL expression over the
    columns of a history page (:class:`edge.ledger.rows.PassListing`'s): each of them by its
    name, ``received_at`` in the site's time with its offset (:func:`site_time`), and
    ``photo``, the path of its first photo (``/photos/<serial>-1.jpg``; "" without one)."""
    pairs = [
        f"'{field.name}', " + (site_time(spans) if field.name == "received_at" else field.name)
        for field in fields(PassListing)
    ]
    pairs.append("'photo', CASE WHEN photos THEN '/photos/' || serial || '-1.jpg' ELSE '' END")
    return f"json_object({', '.join(pairs)})"


def json_page(page: str, order: str, spans: list[ZoneSpan]) -> str:
    """As :func:`csv_page`, the page's passes as one JSON array (:func:`json_item` each)."""
    return _page(
        page, order, json_item(spans), "'[' || coalesce(group_concat(line, ','), '') || ']'"
    )
