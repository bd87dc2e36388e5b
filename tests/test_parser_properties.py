"""Property tests of every vendor parser (issue 20): random bytes, and random mutations of real
payloads (the field cases and each vendor's documented form), either parse or raise the
parser's own error (:class:`PayloadError`) — never anything else."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.domain.events import PlateRead
from edge.domain.plates import PROVINCES, PlateColor
from edge.ingest.dahua import parse_dahua
from edge.ingest.dahua_stream import read_event, split_events
from edge.ingest.generic import parse_generic
from edge.ingest.hikvision import parse_hikvision
from edge.ingest.milesight import parse_milesight
from edge.ingest.payload import OtherEvent, PayloadError, RawPush, decode_text
from edge.ingest.vzenith import parse_gpio_input, parse_vzenith
from edge.sim.camera import CameraSim

CASES = Path(__file__).parent / "field_cases"
NOW = datetime(2026, 11, 30, 17, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
Parser = Callable[[RawPush, datetime], PlateRead | OtherEvent]
PARSERS: dict[str, Parser] = {
    "generic": parse_generic,
    "vzenith": parse_vzenith,
    "hikvision": parse_hikvision,
    "dahua": parse_dahua,
    "milesight": parse_milesight,
}
MULTIPART = "multipart/form-data; boundary=boundary"
#: A composite's ``draw`` or ``st.data()``'s.
Draw = Callable[[st.SearchStrategy[Any]], Any]


def _seeds() -> list[tuple[str, bytes, str]]:
    """(parser, body, content type): the field cases and a documented body of each vendor."""
    seeds = [
        (
            "hikvision",
            (CASES / "case-02b-hik-naive-datetime-historical.xml").read_bytes(),
            "application/xml",
        ),
        (
            "hikvision",
            (CASES / "case-03-hik-videoloss-heartbeat.multipart").read_bytes(),
            MULTIPART,
        ),
        ("hikvision", (CASES / "case-04-hik-json-anpr.multipart").read_bytes(), MULTIPART),
        ("generic", (CASES / "case-05-generic-utf8-bom.json").read_bytes(), "application/json"),
        (
            "dahua",
            (CASES / "case-06-dahua-itsapi-vehiclepic.json").read_bytes(),
            "application/json",
        ),
    ]
    for fmt in ("generic", "vzenith", "dahua", "milesight"):
        sim = CameraSim("http://127.0.0.1:9/", fmt)
        body = sim.payload("豫A12345", PlateColor.YELLOW, image=True, plate_id=1)
        seeds.append((fmt, json.dumps(body, ensure_ascii=False).encode(), "application/json"))
    return seeds


SEEDS = _seeds()
CONTENT_TYPES = st.sampled_from(
    ["application/json", "application/xml", "text/plain", MULTIPART, "", "multipart/mixed"]
)


def _check(parser: Parser, body: bytes, content_type: str) -> None:
    try:
        result = parser(RawPush(body, content_type), NOW)
    except PayloadError:
        return
    assert isinstance(result, PlateRead | OtherEvent)


def mutate(draw: Draw, body: bytes) -> bytes:
    """``body`` with 1-8 bytes flipped, runs inserted or deleted, slices repeated, or the rest
    cut off (also used by the readers' property tests)."""
    data = bytearray(body)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "repeat", "truncate"]))
        if action == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif action == "insert":
            data[at:at] = draw(st.binary(max_size=16))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 32))]
        elif action == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 64))] * draw(st.integers(1, 4))
        else:
            del data[at:]
    return bytes(data)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes, str]:
    """A real payload with bytes flipped, inserted, deleted or a slice repeated."""
    name, body, content_type = draw(st.sampled_from(SEEDS))
    return name, mutate(draw, body), content_type


#: Values a broken or hostile camera puts in a JSON field.
HOSTILE_VALUES = st.one_of(
    st.sampled_from([float("nan"), float("inf"), -1e20, 1e20, 10**30, True, None, ""]),
    st.sampled_from(["NaN", "Infinity", "1e20", "-5", "\x00", "豫" * 300, "{}"]),
    st.integers(),
    st.floats(),
    st.text(max_size=40),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def swap_value(draw: Draw, body: bytes) -> bytes:
    """A JSON ``body`` with one value, at any depth of its objects, swapped for a hostile one."""
    data = json.loads(body.removeprefix(b"\xef\xbb\xbf"))
    paths: list[list[str]] = []

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                paths.append([*path, key])
                walk(value, [*path, key])

    walk(data, [])
    path = draw(st.sampled_from(paths))
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = draw(HOSTILE_VALUES)
    return json.dumps(data, ensure_ascii=False).encode()


@st.composite
def mutated_json(draw: st.DrawFn) -> tuple[str, bytes, str]:
    """A real JSON payload with one value swapped for a hostile one (NaN, 1e20, a list …)."""
    name, body, content_type = draw(
        st.sampled_from([s for s in SEEDS if s[2] == "application/json"])
    )
    return name, swap_value(draw, body), content_type


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.sampled_from(sorted(PARSERS)), st.binary(max_size=2048), CONTENT_TYPES)
def test_random_bytes(name: str, body: bytes, content_type: str) -> None:
    _check(PARSERS[name], body, content_type)


@SETTINGS
@given(mutated())
def test_mutated_real_payloads(case: tuple[str, bytes, str]) -> None:
    name, body, content_type = case
    _check(PARSERS[name], body, content_type)


@SETTINGS
@given(mutated_json())
def test_hostile_values_in_real_payloads(case: tuple[str, bytes, str]) -> None:
    name, body, content_type = case
    _check(PARSERS[name], body, content_type)


@SETTINGS
@given(st.binary(max_size=512))
def test_vzenith_io_input(body: bytes) -> None:
    try:
        source, value = parse_gpio_input(RawPush(body))
    except PayloadError:
        return
    assert isinstance(source, int)
    assert isinstance(value, int)


DAHUA_STREAM = (CASES / "case-07-dahua-stream-utc-is-local.txt").read_text()


@SETTINGS
@given(st.data())
def test_dahua_stream(data: st.DataObject) -> None:
    """The pull stream: any text splits into events without raising, and each event either
    reads or raises :class:`PayloadError`."""
    text = data.draw(
        st.one_of(
            st.text(max_size=2048),
            st.builds(
                lambda at, junk: DAHUA_STREAM[:at] + junk + DAHUA_STREAM[at:],
                st.integers(0, len(DAHUA_STREAM)),
                st.text(max_size=64),
            ),
        )
    )
    events, rest = split_events(text)
    assert isinstance(rest, str)
    events += split_events(DAHUA_STREAM)[0]
    for event in events:
        key = data.draw(st.sampled_from(["RealUTC", "UTC", "LocaleTime", "TrafficCar", "CommInfo"]))
        event[key] = data.draw(
            st.one_of(st.none(), st.floats(), st.integers(), st.text(max_size=30), st.just({}))
        )
        try:
            result = read_event(event, NOW)
        except PayloadError:
            continue
        assert result is None or isinstance(result, PlateRead | OtherEvent)


# GB 2312's hanzi (rows 16-87, lead bytes B0..F7): what a legacy camera writes besides a plate.
_HANZI = [
    text
    for lead in range(0xB0, 0xF8)
    for trail in range(0xA1, 0xFF)
    if len(text := bytes((lead, trail)).decode("gb2312", "replace")) == 1 and text != "\ufffd"
]
_PLATES = st.builds(
    "{}{}{}{}".format,
    st.sampled_from(["", "黄", "蓝", "白", "黑", "绿", "黄绿", "渐变绿"]),  # a colour word first
    st.sampled_from(PROVINCES),
    st.sampled_from("ABCDEFGHJKLMNPQRSTUVWXY"),
    st.text("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=5, max_size=6),
)


@given(_PLATES, st.lists(st.sampled_from(_HANZI), max_size=12).map("".join))
def test_a_gbk_plate_payload_is_read_as_gbk(plate: str, words: str) -> None:
    """A legacy camera's GBK body without a charset, valid UTF-8 by accident or not."""
    text = json.dumps({"plate": plate, "addr": words}, ensure_ascii=False)
    assert decode_text(text.encode("gbk")) == text


@given(
    _PLATES,
    st.text(st.characters(min_codepoint=0xA0, max_codepoint=0x7FF), min_size=1, max_size=6),
    st.lists(st.sampled_from(_HANZI), max_size=12).map("".join),
)
def test_a_utf8_plate_payload_with_any_two_byte_letter_is_read_as_utf8(
    plate: str, name: str, words: str
) -> None:
    """A UTF-8 body without a charset naming its camera "Caméra", "Ж-1", "5°C"…"""
    text = json.dumps({"plate": plate, "id": name, "addr": words}, ensure_ascii=False)
    assert decode_text(text.encode()) == text
