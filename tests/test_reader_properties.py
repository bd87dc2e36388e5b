"""Property tests of the readers the daemon connects to (issue 20), beside the push parsers'
in test_parser_properties.py: the serial line reader, the MQTT message reader and the ONVIF
notification reader. Random bytes, and random mutations of real messages (the forms their
own tests and the field cases use), either read or raise the reader's own error
(:class:`PayloadError`, :class:`OnvifPlateError`) — never anything else. A read's plate is
always one the plate grammar gives back unchanged."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import tty
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from onvif.client import ONVIFService

from edge.config.model import (
    ONVIF_TOPICS,
    SERIAL_PLATE_PATTERN,
    SerialCamera,
)
from edge.domain.camera_health import CameraHealth
from edge.domain.events import PlateEvent, PlateRead
from edge.domain.plates import PlateColor, normalise_plate
from edge.ingest.mqtt_reader import mqtt_event
from edge.ingest.onvif_reader import (
    ERRORS,
    WSDL_DIR,
    OnvifPlateError,
    pull_notifications,
    read_notification,
)
from edge.ingest.payload import PayloadError
from edge.ingest.serial_reader import MAX_LINE, SerialPlateReader, parse_serial_line, split_lines
from edge.sim import onvif_camera
from edge.sim.camera import CameraSim
from tests.helpers import eventually
from tests.test_parser_properties import CASES, NOW, SETTINGS, mutate, swap_value


def _check_read(read: PlateRead) -> None:
    """What every reader's read must be: a plate the grammar keeps as it is, or no plate."""
    assert isinstance(read, PlateRead)
    assert isinstance(read.color, PlateColor)
    assert read.camera_time.tzinfo is not None
    if read.plate is not None:
        assert normalise_plate(read.plate).text == read.plate


# -- serial ---------------------------------------------------------------------------------

#: The lines of the serial reader's own test: plates among noise, in GBK.
SERIAL_LINES = [
    "PLATE:豫A12345 COLOR:1".encode("gbk"),
    "识别结果 黄晋E55123".encode("gbk"),
    "豫K23456".encode("gbk"),
    "黑AF2793".encode("gbk"),
    "豫G88361挂".encode("gbk"),
    b"\x00\xff\xfe garbage",
    b"OK",
]
SERIAL_PATTERNS = [
    re.compile(SERIAL_PLATE_PATTERN),
    re.compile(r"PLATE:(?P<plate>\S+) COLOR:(?P<color>\S+)"),
    re.compile(r"^(?P<plate>[^,]*)?,?(?P<color>.*)$"),  # an optional group: no plate at all
]
SERIAL_ENCODINGS = ["gbk", "gb18030", "utf-8", "ascii"]


@SETTINGS
@given(st.data(), st.sampled_from(SERIAL_PATTERNS), st.sampled_from(SERIAL_ENCODINGS))
def test_serial_lines(data: st.DataObject, pattern: re.Pattern[str], encoding: str) -> None:
    """Random bytes, or a real line mutated, with each pattern and encoding."""
    if data.draw(st.booleans()):
        line = data.draw(st.binary(max_size=1024))
    else:
        line = mutate(data.draw, data.draw(st.sampled_from(SERIAL_LINES)))
    try:
        read = parse_serial_line(line, pattern, encoding, NOW)
    except PayloadError:
        return
    _check_read(read)


@SETTINGS
@given(st.lists(st.binary(max_size=600), max_size=20))
def test_serial_stream_splits_without_losing_a_line(chunks: list[bytes]) -> None:
    """Any stream, in any chunks: the buffer never grows past ``MAX_LINE``, and unless an
    over-long rest was dropped, every line of the stream comes out whole."""
    buffer, lines, dropped = bytearray(), [], False
    for chunk in chunks:
        complete, overflow = split_lines(buffer, chunk)
        assert len(buffer) <= MAX_LINE
        assert all(line and b"\r" not in line and b"\n" not in line for line in complete)
        lines += complete
        dropped |= overflow
    if not dropped:
        stream = b"".join(chunks)
        assert [*lines, bytes(buffer)] == [
            *[p for p in re.split(rb"[\r\n]+", stream)[:-1] if p],
            re.split(rb"[\r\n]+", stream)[-1],
        ]


@dataclass
class _Lane:
    """What the serial reader needs of a lane: its id, its camera's health, and ``offer``."""

    id: str = "in-1"
    camera: CameraHealth = field(default_factory=lambda: CameraHealth("in-1"))
    offered: list[PlateEvent] = field(default_factory=list)

    def offer(self, event: PlateEvent) -> None:
        self.offered.append(event)


async def test_serial_port_of_random_bytes(tmp_path: Path) -> None:
    """The real reader on a real pseudo-terminal: 64 KB of random bytes around two plates —
    the reader keeps reading, counts the noise, and the plates come through."""
    master, slave = os.openpty()
    tty.setraw(slave)
    path = tmp_path / "ttyCAM"
    path.symlink_to(os.ttyname(slave))
    lane = _Lane()
    cfg = SerialCamera(kind="serial", port=str(path))
    reader = SerialPlateReader(lane, cfg, ZoneInfo("Asia/Shanghai"))  # type: ignore[arg-type]
    task = asyncio.create_task(reader.run())
    try:
        await eventually(lambda: lane.camera.connected is True)
        noise = random.Random(20).randbytes(64 * 1024)  # the same bytes each run
        stream = noise[:32768] + "\r\n豫A12345\r\n".encode("gbk") + noise[32768:]
        stream += "\n黄晋E55123\n".encode("gbk")
        for at in range(0, len(stream), 4096):  # blocking writes, off the loop the reader is on
            await asyncio.to_thread(os.write, master, stream[at : at + 4096])
        await eventually(lambda: "晋E55123" in [e.plate for e in lane.offered], timeout=10)
        assert not task.done()
        assert "豫A12345" in [e.plate for e in lane.offered]
        assert lane.camera.rejected > 0
        for event in lane.offered:
            assert event.plate is None or normalise_plate(event.plate).text == event.plate
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        os.close(master)
        os.close(slave)


# -- MQTT -----------------------------------------------------------------------------------


def _mqtt_seeds() -> list[tuple[str, bytes]]:
    """(format, payload): the MQTT test's message, the field cases, each format's sim form."""
    seeds = [
        ("generic", json.dumps({"plate": "豫A12345"}).encode()),
        ("generic", (CASES / "case-05-generic-utf8-bom.json").read_bytes()),
        ("vzenith", (CASES / "case-01-vz-heilongjiang.json").read_bytes()),
    ]
    seeds += [
        ("vzenith", line.encode())
        for line in (CASES / "case-13-vz-sequential-fleet-plates.jsonl").read_text().splitlines()
    ]
    for fmt in ("generic", "vzenith", "milesight"):
        body = CameraSim("http://127.0.0.1:9/", fmt).payload(
            "豫A12345", PlateColor.YELLOW, image=True, plate_id=1
        )
        seeds.append((fmt, json.dumps(body, ensure_ascii=False).encode()))
    return seeds


MQTT_SEEDS = _mqtt_seeds()
MQTT_FORMATS = st.sampled_from(["generic", "vzenith", "milesight"])


@st.composite
def mqtt_messages(draw: st.DrawFn) -> tuple[str, bytes]:
    """Random bytes, or a real message mutated bytewise or with a hostile value, read as its
    own format or another."""
    kind = draw(st.sampled_from(["random", "mutated", "hostile"]))
    if kind == "random":
        return draw(MQTT_FORMATS), draw(st.binary(max_size=2048))
    fmt, body = draw(st.sampled_from(MQTT_SEEDS))
    body = mutate(draw, body) if kind == "mutated" else swap_value(draw, body)
    return draw(st.sampled_from([fmt, fmt, "generic", "vzenith", "milesight"])), body


@SETTINGS
@given(mqtt_messages())
def test_mqtt_messages(message: tuple[str, bytes]) -> None:
    fmt, payload = message
    try:
        event = mqtt_event(payload, fmt, lane_id="in-1", received=NOW)
    except PayloadError:
        return
    assert isinstance(event, PlateEvent)
    assert event.source == f"mqtt-{fmt}"
    assert event.raw is not None
    if event.plate is not None:
        assert normalise_plate(event.plate).text == event.plate


# -- ONVIF ----------------------------------------------------------------------------------

PROFILE_M = (  # research/onvif.md §3: a Profile M plate, its details in an ElementItem
    "<wsnt:NotificationMessage><wsnt:Topic "
    'Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">'
    "tns1:RuleEngine/Recognition/LicensePlate</wsnt:Topic><wsnt:Message>"
    '<tt:Message UtcTime="2026-01-01T10:00:00Z" PropertyOperation="Changed">'
    '<tt:Source><tt:SimpleItem Name="VideoSource" Value="VS1"/>'
    '<tt:SimpleItem Name="Rule" Value="LPR1"/></tt:Source><tt:Data>'
    '<tt:SimpleItem Name="Likelihood" Value="0.92"/>'
    '<tt:SimpleItem Name="ImageURI" Value="http://127.0.0.1/snap/1.jpg"/>'
    '<tt:ElementItem Name="LicensePlateInfo"><tt:LicensePlateInfo>'
    '<tt:PlateNumber Likelihood="0.9">豫A12345</tt:PlateNumber><tt:CountryCode>CN</tt:CountryCode>'
    "</tt:LicensePlateInfo></tt:ElementItem></tt:Data></tt:Message></wsnt:Message>"
    "</wsnt:NotificationMessage>"
)


def _pull_response(notifications: str) -> bytes:
    return (
        onvif_camera._HEAD
        + "<tev:PullMessagesResponse><tev:CurrentTime>2026-01-01T10:00:00Z</tev:CurrentTime>"
        "<tev:TerminationTime>2026-01-01T10:10:00Z</tev:TerminationTime>"
        + notifications
        + "</tev:PullMessagesResponse>"
        + onvif_camera._TAIL
    ).encode()


def _onvif_seeds() -> list[bytes]:
    """PullMessages responses as the device double sends them (Hikvision's items, Axis's
    ``text``, a state replay) and the Profile M form of the research notes."""
    at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    hik = {"PlateNumber": "豫A12345", "Likelihood": "96", "PictureUri": "http://127.0.0.1/p/1.jpg"}
    notes = [
        onvif_camera.Notification(onvif_camera.HIKVISION_TOPIC, hik, at),
        onvif_camera.Notification(
            "tnsaxis:CameraApplicationPlatform/ALPV.AllPlates", {"text": "黄豫B6789G"}, at
        ),
        onvif_camera.Notification(onvif_camera.HIKVISION_TOPIC, hik, at, "Initialized"),
    ]
    seeds = [_pull_response(onvif_camera._notification(n)) for n in notes]
    return [*seeds, _pull_response(PROFILE_M)]


ONVIF_SEEDS = _onvif_seeds()


@dataclass
class _Reply:
    """What zeep's binding reads of an HTTP reply."""

    content: bytes
    status_code: int = 200
    headers: dict[str, str] = field(
        default_factory=lambda: {"Content-Type": "application/soap+xml; charset=utf-8"}
    )
    encoding: str = "utf-8"


class PullPoint:
    """onvif-zeep-async's own pull-point service (its WSDL, its datetime types, zeep's reading
    of the reply) answering ``PullMessages`` with the bytes a test gives it, without a camera:
    only the HTTP post is replaced."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.reply = b""

        async def post_xml(*_: Any) -> _Reply:  # address, envelope, headers
            return _Reply(self.reply)

        async def setup() -> ONVIFService:
            service = ONVIFService(
                "http://127.0.0.1:9/onvif/Subscription/1",
                "admin",
                "sim-camera",
                f"{WSDL_DIR}/events.wsdl",
                no_cache=True,
                binding_name="{http://www.onvif.org/ver10/events/wsdl}PullPointSubscriptionBinding",
            )
            await service.setup()
            service.transport.post_xml = post_xml
            return service

        self.service = self.loop.run_until_complete(setup())

    def __call__(self, reply: bytes) -> list[Any]:
        """The notifications as the reader gets them from a camera answering ``reply``."""
        self.reply = reply
        request = {"MessageLimit": 100, "Timeout": timedelta(seconds=5)}
        return self.loop.run_until_complete(pull_notifications(self.service, request))

    def close(self) -> None:
        self.loop.run_until_complete(self.service.close())
        self.loop.close()


@pytest.fixture(scope="module")
def pull_point() -> Iterator[PullPoint]:
    pull = PullPoint()
    yield pull
    pull.close()


def _read_pull(pull: PullPoint, reply: bytes, offset: timedelta | None) -> None:
    """Read a reply as the reader does: pulling raises only what ends the session
    (:data:`ERRORS`), and each notification reads or raises :class:`OnvifPlateError`."""
    try:
        notifications = pull(reply)
    except ERRORS:
        return
    for notification in notifications:
        try:
            found = read_notification(
                notification, ONVIF_TOPICS, color="yellow", now=NOW, clock_offset=offset
            )
        except OnvifPlateError:
            continue
        if found is not None:
            _check_read(found.read)


OFFSETS = st.one_of(st.none(), st.timedeltas(timedelta(days=-800_000), timedelta(days=800_000)))


@SETTINGS
@given(st.data(), OFFSETS)
def test_onvif_random_and_mutated_replies(
    pull_point: PullPoint, data: st.DataObject, offset: timedelta | None
) -> None:
    if data.draw(st.booleans()):
        body = data.draw(st.binary(max_size=2048))
    else:
        body = mutate(data.draw, data.draw(st.sampled_from(ONVIF_SEEDS)))
    _read_pull(pull_point, body, offset)


#: Text an XML attribute or element can hold (no surrogates, no C0 controls but tab/CR/LF).
XML_TEXT = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00\ufffe\uffff").filter(
        lambda ch: ch >= " " or ch in "\t\r\n"
    ),
    max_size=30,
)
ITEM_NAMES = (
    st.sampled_from(
        ["PlateNumber", "text", "Likelihood", "PictureUri", "ImageURI", "VehicleDirection"]
    )
    | XML_TEXT
)
_UTC_TIMES = st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30))  # noqa: DTZ001 - read as UTC
TIMES = st.one_of(
    _UTC_TIMES.map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0") + "Z"),
    st.sampled_from(["2024-08-17-12:30:45Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]),
    XML_TEXT,
)


_TAG = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@st.composite
def notifications(draw: st.DrawFn) -> str:
    """A notification of random shape: a plate topic (or not), random items of the names the
    topics use, any time and operation, element items nested any way."""
    topic = draw(
        st.sampled_from([t.topic for t in ONVIF_TOPICS]).map(lambda t: t + "//.") | XML_TEXT
    )
    items = draw(st.lists(st.tuples(ITEM_NAMES, XML_TEXT), max_size=6))
    simple = "".join(f"<tt:SimpleItem Name={quoteattr(k)} Value={quoteattr(v)}/>" for k, v in items)
    nested = draw(st.lists(st.tuples(ITEM_NAMES, XML_TEXT), max_size=4))
    tags = [(k if _TAG.fullmatch(k) else "PlateNumber", v) for k, v in nested]
    inner = "".join(f"<tt:{tag}>{escape(v)}</tt:{tag}>" for tag, v in tags)
    element = (
        f'<tt:ElementItem Name="LicensePlateInfo"><tt:LicensePlateInfo>{inner}<!-- c -->'
        "</tt:LicensePlateInfo></tt:ElementItem>"
        if draw(st.booleans())
        else ""
    )
    operation = draw(st.sampled_from(["Changed", "Initialized", "Deleted", ""]) | XML_TEXT)
    return (
        "<wsnt:NotificationMessage><wsnt:Topic "
        'Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">'
        f"{escape(topic)}</wsnt:Topic><wsnt:Message>"
        f"<tt:Message UtcTime={quoteattr(draw(TIMES))} PropertyOperation={quoteattr(operation)}>"
        f"<tt:Data>{simple}{element}</tt:Data></tt:Message></wsnt:Message>"
        "</wsnt:NotificationMessage>"
    )


@SETTINGS
@given(st.lists(notifications(), min_size=1, max_size=3), OFFSETS)
def test_onvif_notifications_of_any_shape(
    pull_point: PullPoint, notes: list[str], offset: timedelta | None
) -> None:
    _read_pull(pull_point, _pull_response("".join(notes)), offset)


def test_the_seeds_read(pull_point: PullPoint) -> None:
    """The control: the unmutated replies read as the reader's own tests expect."""
    plates = []
    for body in ONVIF_SEEDS:
        for notification in pull_point(body):
            found = read_notification(
                notification, ONVIF_TOPICS, color="blue", now=NOW, clock_offset=None
            )
            plates.append(None if found is None else (found.read.plate, found.read.color))
    assert plates == [
        ("豫A12345", PlateColor.BLUE),
        ("豫B6789G", PlateColor.YELLOW),
        None,  # the state replay
        ("豫A12345", PlateColor.BLUE),
    ]
