"""Hikvision ISAPI ANPR push (``EventNotificationAlert``), see research/anpr_formats.md §2.

The camera POSTs multipart/form-data: a part ``anpr.xml`` with the alert and JPEG parts named
by ``pictureInfo/fileName``; without pictures the body may be bare XML. Namespaces differ by
firmware, so elements are matched by local name. XML is parsed with defusedxml: entity
declarations (XML bombs, external entities) are refused.
"""

from __future__ import annotations

from datetime import datetime
from email import message_from_bytes
from email.message import Message
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from edge.events import Image, ImageKind, PlateRead
from edge.ingest.payload import PayloadError, RawPush, decode_text
from edge.photos import is_jpeg
from edge.plates import PlateColor, normalise_plate

#: ISAPI ``plateColor`` strings → spec §7.1.
HIKVISION_COLORS: dict[str, PlateColor] = {
    "blue": PlateColor.BLUE,
    "yellow": PlateColor.YELLOW,
    "white": PlateColor.WHITE,
    "black": PlateColor.BLACK,
    "green": PlateColor.NEW_ENERGY,
    "newenergygreen": PlateColor.NEW_ENERGY,
    "newenergyyellowgreen": PlateColor.NEW_ENERGY,
}
#: ``VehicleGATInfo/plateColorByGAT`` (GA/T codes: blue and white are swapped vs §7.1).
GAT_COLORS: dict[str, PlateColor] = {
    "0": PlateColor.WHITE,
    "1": PlateColor.YELLOW,
    "2": PlateColor.BLUE,
    "3": PlateColor.BLACK,
    "4": PlateColor.NEW_ENERGY,
}
_PLATE_PICTURES = {"licenseplatepicture", "platepicture"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(parent: Element | None, name: str) -> Element | None:
    if parent is None:
        return None
    return next((el for el in parent if _local(el.tag) == name), None)


def _text(parent: Element | None, name: str) -> str:
    el = _child(parent, name)
    return (el.text or "").strip() if el is not None else ""


def _first(root: Element, name: str) -> Element | None:
    return next((el for el in root.iter() if _local(el.tag) == name), None)


def _parts(raw: RawPush) -> tuple[bytes | None, dict[str, bytes]]:
    """The alert XML and the binary parts (by name) of a multipart push."""
    head = f"Content-Type: {raw.content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message: Message = message_from_bytes(head + raw.body)
    if not message.is_multipart():
        raise PayloadError("multipart body without parts")
    xml: bytes | None = None
    files: dict[str, bytes] = {}
    for part in message.get_payload():
        assert isinstance(part, Message)
        name = part.get_param("name", header="content-disposition") or ""
        data = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(data, bytes):
            continue
        if name.lower().endswith(".xml") or "xml" in part.get_content_type():
            xml = data
        else:
            files[name] = data
    return xml, files


def parse_hikvision(raw: RawPush, received: datetime) -> PlateRead:
    if raw.content_type.startswith("multipart/"):
        xml, files = _parts(raw)
        if xml is None:
            raise PayloadError("multipart push without an anpr.xml part")
    else:
        xml, files = raw.body, {}
    try:
        root = SafeET.fromstring(decode_text(xml, raw.charset))
    except DefusedXmlException:
        raise PayloadError("XML with entity declarations is refused") from None
    except ParseError as exc:
        raise PayloadError(f"malformed XML: {exc}") from None
    anpr = _first(root, "ANPR")
    if anpr is None:
        raise PayloadError("EventNotificationAlert without an ANPR element")
    plate = normalise_plate(_text(anpr, "licensePlate"), colour_prefix=True)
    color = HIKVISION_COLORS.get(_text(anpr, "plateColor").lower())
    if color is None:
        color = GAT_COLORS.get(_text(_first(root, "VehicleGATInfo"), "plateColorByGAT"))
    when = received
    if stamp := _text(root, "dateTime"):
        try:
            when = datetime.fromisoformat(stamp)
        except ValueError:
            raise PayloadError(f"dateTime {stamp!r} is not ISO 8601") from None
    images = []
    for info in (el for el in anpr.iter() if _local(el.tag) == "pictureInfo"):
        data = files.get(_text(info, "fileName"))
        if data is not None and is_jpeg(data):
            kind = _text(info, "type").lower() in _PLATE_PICTURES
            images.append(Image(data, ImageKind.PLATE if kind else ImageKind.SCENE))
    confidence = _text(anpr, "confidenceLevel")
    uuid = _text(root, "UUID")
    return PlateRead(
        plate=plate.text,
        unreadable=plate.unreadable,
        color=color or plate.color_hint or PlateColor.OTHER,
        camera_time=when,
        images=tuple(images),
        confidence=int(confidence) if confidence.isdigit() else None,
        vendor_id=f"hik-{uuid}" if uuid else None,
        # alarmDataType 1: a stored (historical) record sent again; barrierGateCtrlType 0
        # means the camera opened the gate itself.
        historical=_text(anpr, "alarmDataType") == "1",
        camera_opened=_text(anpr, "barrierGateCtrlType") == "0",
    )
