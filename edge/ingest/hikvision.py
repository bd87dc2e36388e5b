"""Hikvision ISAPI ANPR push (``EventNotificationAlert``), see research/anpr_formats.md §2.

The camera POSTs multipart/form-data: a part ``anpr.xml`` with the alert and JPEG parts named
by ``pictureInfo/fileName``; without pictures the body may be bare XML. Firmware set to JSON
sends the same alert as an ``application/json`` part (or a bare JSON body) with the same field
names; it is read through the same code as the XML (each JSON key becomes an element).
Namespaces differ by firmware, so elements are matched by local name. XML is parsed with
defusedxml: entity declarations (XML bombs, external entities) are refused.

Alerts that are not plate reads — ``videoloss`` / ``inactive`` keep-alives, motion, tamper and
every other ``eventType`` posted to the same listener — are :class:`OtherEvent`.

Pictures, by ``pictureInfo/type`` (or, for a part no ``pictureInfo`` names, by the part's
name): ``detectionPicture`` (the whole scene) is photo 1, else ``vehiclePicture``;
``licensePlatePicture`` / ``plateBinaryPicture`` is the plate crop; faces are not kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.message import Message
from typing import Any
from xml.etree.ElementTree import Element, ParseError, SubElement

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from edge.domain.events import Image, ImageKind, PlateRead
from edge.domain.plates import PlateColor, normalise_plate
from edge.ingest.payload import (
    OtherEvent,
    PayloadError,
    RawPush,
    camera_time,
    confidence,
    decode_body,
    decode_text,
)

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
#: Picture types (lower case) → (kind, rank): the lowest-ranked scene is photo 1.
PICTURE_TYPES: dict[str, tuple[ImageKind, int]] = {
    "detectionpicture": (ImageKind.SCENE, 0),
    "vehiclepicture": (ImageKind.SCENE, 1),
    "backgroundpicture": (ImageKind.SCENE, 2),
    "licenseplatepicture": (ImageKind.PLATE, 0),
    "platebinarypicture": (ImageKind.PLATE, 1),
    "platepicture": (ImageKind.PLATE, 0),
}
#: Pictures that are not of the vehicle (driver and passenger faces).
_NOT_KEPT = ("pilot", "copilot", "face")
_UNKNOWN_PICTURE = (ImageKind.SCENE, 3)
_MAX_JSON_DEPTH = 32


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


def _from_json(tag: str, value: Any, depth: int = 0) -> Element:
    """The alert's JSON form as the element tree of its XML form: an object's keys become
    child elements, a list ``xList`` a ``xList`` element holding one ``x`` per item."""
    if depth > _MAX_JSON_DEPTH:
        raise PayloadError("JSON alert nested too deeply")
    element = Element(tag)
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, list):
                holder = SubElement(element, key)
                singular = key.removesuffix("List") or key
                holder.extend(_from_json(singular, entry, depth + 1) for entry in item)
            else:
                element.append(_from_json(key, item, depth + 1))
    elif isinstance(value, list):
        element.extend(_from_json(tag, entry, depth + 1) for entry in value)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)
    return element


@dataclass(frozen=True, slots=True)
class _Part:
    name: str
    data: bytes


def _parts(raw: RawPush) -> tuple[bytes | None, bool, list[_Part]]:
    """The alert (bytes, and whether it is JSON) and the other parts of a multipart push."""
    head = f"Content-Type: {raw.content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message: Message = message_from_bytes(head + raw.body)
    if not message.is_multipart():
        raise PayloadError("multipart body without parts")
    alert: bytes | None = None
    is_json = False
    files: list[_Part] = []
    for part in message.get_payload():
        if not isinstance(part, Message):
            continue
        name = part.get_param("name", header="content-disposition") or ""
        filename = part.get_filename() or ""
        data = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(data, bytes):
            continue
        kind, lowered = part.get_content_type(), name.lower()
        if alert is None and (lowered.endswith(".xml") or "xml" in kind):
            alert = data
        elif alert is None and (lowered.endswith(".json") or "json" in kind):
            alert, is_json = data, True
        else:
            files.append(_Part(name or filename, data))
    return alert, is_json, files


def _alert(raw: RawPush) -> tuple[Element, list[_Part]]:
    """The alert as an element tree (from XML or JSON) and the picture parts."""
    if raw.content_type.startswith("multipart/"):
        body, is_json, files = _parts(raw)
        if body is None:
            raise PayloadError("multipart push without an XML or JSON alert part")
    else:
        body, files = raw.body, []
        is_json = "json" in raw.content_type or raw.body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"
    if is_json:
        data = raw.json() if body is raw.body else decode_body(body, raw.charset)  # (once)
        if not isinstance(data, dict):
            raise PayloadError("a JSON alert must be an object")
        wrapped = data.get("EventNotificationAlert")
        return _from_json("EventNotificationAlert", wrapped or data), files
    try:
        return SafeET.fromstring(decode_text(body, raw.charset)), files
    except DefusedXmlException:
        raise PayloadError("XML with entity declarations is refused") from None
    except ParseError as exc:
        raise PayloadError(f"malformed XML: {exc}") from None


def _picture_kind(name: str) -> tuple[ImageKind, int] | None:
    lowered = name.lower().removesuffix(".jpg")
    if any(word in lowered for word in _NOT_KEPT):
        return None
    return PICTURE_TYPES.get(lowered, _UNKNOWN_PICTURE)


def _images(anpr: Element, files: list[_Part]) -> tuple[Image, ...]:
    """Photo 1 is the best scene (see :data:`PICTURE_TYPES`), the plate crop after it."""
    by_name = {part.name: part for part in files}
    ranked: list[tuple[int, int, Image]] = []
    named: set[str] = set()
    for info in (el for el in anpr.iter() if _local(el.tag) == "pictureInfo"):
        file_name = _text(info, "fileName")
        named.add(file_name)
        part = by_name.get(file_name)
        kind = _picture_kind(_text(info, "type") or file_name)
        if part is not None and kind is not None:  # (no JPEG: refused as a photo when written)
            ranked.append((kind[1], len(ranked), Image(part.data, kind[0])))
    for part in files:  # pictures no pictureInfo names (JSON firmware): by the part's name
        kind = _picture_kind(part.name)
        if part.name not in named and kind is not None:
            ranked.append((kind[1], len(ranked), Image(part.data, kind[0])))
    ranked.sort(key=lambda entry: entry[:2])
    return tuple(image for _, _, image in ranked)


def _camera_opened(anpr: Element, historical: bool) -> bool | None:  # noqa: FBT001
    """``barrierGateCtrlType``: 0 opened, 1 not opened — HCNetSDK documents it only for
    historical records (whether the camera's own list opened the gate); live records carry a
    0 that means nothing. Absent, or on a live record: unknown (None)."""
    value = _text(anpr, "barrierGateCtrlType")
    if not historical or value not in ("0", "1"):
        return None
    return value == "0"


def parse_hikvision(raw: RawPush, received: datetime) -> PlateRead | OtherEvent:
    """An ISAPI alert (XML or JSON, multipart or bare) → a plate read, or an
    :class:`OtherEvent` for an alert without an ANPR element (keep-alives, video loss …).

    ``received`` carries the site zone: a ``dateTime`` without an offset is wall-clock time
    there. Raises :class:`PayloadError` for anything unreadable."""
    root, files = _alert(raw)
    anpr = _first(root, "ANPR")
    event_type, state = _text(root, "eventType"), _text(root, "eventState")
    if anpr is None:
        if event_type and not (event_type.lower() == "anpr" and state.lower() == "active"):
            return OtherEvent(f"{event_type[:40]}/{state[:40]}")
        raise PayloadError("EventNotificationAlert without an ANPR element")
    plate = normalise_plate(_text(anpr, "licensePlate"), colour_prefix=True)
    color = HIKVISION_COLORS.get(_text(anpr, "plateColor").lower())
    if color is None:
        color = GAT_COLORS.get(_text(_first(root, "VehicleGATInfo"), "plateColorByGAT"))
    when = camera_time(_text(root, "dateTime"), "dateTime", received.tzinfo) or received
    uuid = _text(root, "UUID")
    # alarmDataType 1: a stored (historical) record sent again.
    historical = _text(anpr, "alarmDataType") == "1"
    return PlateRead(
        plate=plate.text,
        unreadable=plate.unreadable,
        color=color or plate.color_hint or PlateColor.OTHER,
        camera_time=when,
        images=_images(anpr, files),
        confidence=confidence(_text(anpr, "confidenceLevel"), "confidenceLevel"),
        vendor_id=f"hik-{uuid[:64]}" if uuid else None,
        historical=historical,
        camera_opened=_camera_opened(anpr, historical),
    )
