from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from drivers.base import CameraReply
from edge.domain.events import ImageKind
from edge.domain.plates import PlateColor
from edge.ingest.generic import parse_generic_data as parse_generic
from edge.ingest.payload import (
    RAW_LIMIT,
    PayloadError,
    RawPush,
    _strict_base64,
    decode_body,
    diagnostic,
)
from edge.ingest.vzenith import parse_vzenith_data as parse_vzenith
from edge.ingest.vzenith import vzenith_reply
from edge.sim.jpeg import sample_jpeg

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 21, 8, 0, 0, tzinfo=SH)
JPEG = sample_jpeg("t")
B64 = base64.b64encode(JPEG).decode()


def test_generic_minimal_and_full() -> None:
    minimal = parse_generic({"plate": "豫a 12345"}, NOW)
    assert (minimal.plate, minimal.color, minimal.camera_time) == ("豫A12345", "5", NOW)
    full = parse_generic(
        {
            "plate": "豫A12345",
            "color": "yellow",
            "time": "2026-11-21T07:59:58+08:00",
            "confidence": 96.5,
            "id": 17,
            "images": {"scene": B64, "plate": f"data:image/jpeg;base64,{B64}"},
        },
        NOW,
    )
    assert full.color is PlateColor.YELLOW
    assert full.confidence == 96
    assert full.vendor_id == "17"
    assert full.camera_time == datetime(2026, 11, 21, 7, 59, 58, tzinfo=SH)
    assert [i.kind for i in full.images] == [ImageKind.SCENE, ImageKind.PLATE]
    assert full.images[0].data == JPEG


@pytest.mark.parametrize(
    ("color", "expected"),
    [("1", "1"), (4, "4"), ("黄", "1"), ("green", "4"), ("", "0"), (None, "0")],
)
def test_generic_colours(color: Any, expected: str) -> None:
    # without a colour field, the Hikvision-style prefix "蓝" gives blue
    assert parse_generic({"plate": "蓝豫A12345", "color": color}, NOW).color == expected


def test_generic_times() -> None:
    assert parse_generic({"plate": "豫A12345", "time": NOW.timestamp()}, NOW).camera_time == NOW
    naive = parse_generic({"plate": "豫A12345", "time": "2026-11-21 08:00:00"}, NOW)
    assert naive.camera_time == NOW


def test_generic_no_plate() -> None:
    assert parse_generic({"plate": "无牌车"}, NOW).plate is None
    assert parse_generic({"plate": None}, NOW).plate is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "JSON object"),
        ({}, "missing field 'plate'"),
        ({"plate": 5}, "must be a string"),
        ({"plate": "豫A12345", "color": "purple"}, "unknown plate colour"),
        ({"plate": "豫A12345", "time": "yesterday"}, "ISO 8601"),
        ({"plate": "豫A12345", "time": [1]}, "ISO 8601 string or unix"),
        ({"plate": "豫A12345", "images": []}, "'images' must be an object"),
        ({"plate": "豫A12345", "images": {"scene": "!!!"}}, "not valid base64"),
        ({"plate": "豫A12345", "images": {"scene": 5}}, "base64 string"),
        ({"plate": "豫A12345", "confidence": "high"}, "confidence 'high' is not a number"),
    ],
)
def test_generic_errors(body: Any, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        parse_generic(body, NOW)


def test_decode_body_encodings() -> None:
    assert decode_body(json.dumps({"plate": "豫A1"}).encode()) == {"plate": "豫A1"}
    assert decode_body('{"plate": "豫A1"}'.encode("gb18030")) == {"plate": "豫A1"}
    assert decode_body('{"plate": "豫A12345"}'.encode("gbk")) == {"plate": "豫A12345"}
    # a declared charset wins; a wrong declaration falls back to detection
    assert decode_body('{"p": "豫"}'.encode("gbk"), "gbk") == {"p": "豫"}
    assert decode_body('{"p": "豫"}'.encode(), "no-such-charset") == {"p": "豫"}
    # The bytes are ambiguous: UTF-8 "é" (C3 A9) is GBK "茅". GBK wins only when its reading
    # is all GB 2312 and the UTF-8 one is not ("ԥ", "³" from GBK 豫, 鲁 are not).
    assert decode_body('{"p": "é"}'.encode()) == {"p": "é"}
    assert decode_body('{"p": "µ"}'.encode()) == {"p": "碌"}  # no Chinese to tell: GB18030
    assert decode_body('{"p": "µ"}'.encode(), "utf-8") == {"p": "µ"}
    for text in (
        '{"plate":"晋B99724","id":"Caméra-1"}',
        '{"p":"粤B1","t":"5°C µs ×2 Ж"}',
        '{"id":"¡","plate":"绿京B99724"}',  # "绿京" read as GBK is all GB 2312: "缁夸含"
    ):
        assert decode_body(text.encode()) == json.loads(text)
    for text in ('{"plate":"鲁B41664","addr":"灏涤磋杯"}', '{"plate":"豫G88361挂"}'):
        assert decode_body(text.encode("gbk")) == json.loads(text)
    with pytest.raises(PayloadError, match="not valid JSON"):
        decode_body(b"{plate")
    with pytest.raises(PayloadError, match="neither UTF-8 nor GB18030"):
        decode_body(b"\x81\x30")


VZ_BODY: dict[str, Any] = {
    "AlarmInfoPlate": {
        "channel": 0,
        "deviceName": "IVS",
        "ipaddr": "192.168.1.100",
        "serialno": "fe71e106-57263272",
        "rule_id": 1,
        "user_data": "",
        "result": {
            "PlateResult": {
                "license": "豫A12345",
                "colorType": 2,
                "type": 1,
                "confidence": 96,
                "direction": 0,
                "triggerType": 1,
                "plateid": 21085,
                "isoffline": 0,
                "timeStamp": {
                    "Timeval": {"sec": 1686299994, "usec": 687772, "decyear": 2023, "decmon": 6}
                },
                "imageFile": B64,
                "imageFileLen": len(B64),
                "imageFragmentFile": B64,
                "imageFragmentFileLen": len(B64),
                "gioouts": [{"ionum": 0, "ctrltype": 0}],
            }
        },
    }
}


def test_vzenith_plate_result() -> None:
    read = parse_vzenith(VZ_BODY, NOW)
    assert (read.plate, read.color, read.confidence, read.vendor_id) == (
        "豫A12345",
        PlateColor.YELLOW,
        96,
        "vz-21085",
    )
    assert read.camera_time.timestamp() == pytest.approx(1686299994.687772)
    assert [i.kind for i in read.images] == [ImageKind.SCENE, ImageKind.PLATE]
    assert read.echo == 21085
    assert RawPush(json.dumps(VZ_BODY).encode()).json() == VZ_BODY


@pytest.mark.parametrize(
    ("color_type", "expected"),
    [(0, "5"), (1, "0"), (2, "1"), (3, "2"), (4, "3"), (5, "4"), (6, "4"), (7, "5"), ("x", "5")],
)
def test_vzenith_colours_are_spec_plus_one(color_type: Any, expected: str) -> None:
    body = json.loads(json.dumps(VZ_BODY))
    body["AlarmInfoPlate"]["result"]["PlateResult"]["colorType"] = color_type
    assert parse_vzenith(body, NOW).color == expected


@pytest.mark.parametrize(
    ("isoffline", "stored"), [(0, False), ("0", False), (1, True), ("1", True)]
)
def test_vzenith_stored_records_are_told_apart_from_live_reads(
    isoffline: Any, stored: bool
) -> None:
    body = json.loads(json.dumps(VZ_BODY))
    body["AlarmInfoPlate"]["result"]["PlateResult"]["isoffline"] = isoffline
    assert parse_vzenith(body, NOW).historical is stored


def test_vzenith_no_plate_and_no_time() -> None:
    body = json.loads(json.dumps(VZ_BODY))
    result = body["AlarmInfoPlate"]["result"]["PlateResult"]
    result["license"] = "_无_"
    del result["timeStamp"], result["imageFile"], result["imageFragmentFile"]
    read = parse_vzenith(body, NOW)
    assert read.plate is None
    assert read.camera_time == NOW
    assert read.images == ()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"AlarmInfoPlate": {}},
        {"AlarmInfoPlate": {"result": {"PlateResult": "x"}}},
        {"AlarmInfoPlate": {"result": {"PlateResult": {"license": 7}}}},
        {
            "AlarmInfoPlate": {
                "result": {"PlateResult": {"license": "豫A12345", "isoffline": "yes"}}
            }
        },
        {"AlarmInfoPlate": {"result": {"PlateResult": {"license": "豫A12345", "isoffline": 2}}}},
        {"AlarmInfoPlate": {"result": {"PlateResult": {"license": "豫A12345", "plateid": {}}}}},
        {"AlarmInfoPlate": {"result": {"PlateResult": {"license": "豫A12345", "plateid": True}}}},
    ],
)
def test_vzenith_errors(body: Any) -> None:
    with pytest.raises(PayloadError):
        parse_vzenith(body, NOW)


def test_vzenith_reply_commands() -> None:
    idle = vzenith_reply(CameraReply())["Response_AlarmInfoPlate"]
    assert idle == {"info": "no", "content": "retransfer_stop", "is_pay": "true"}

    reply = CameraReply()
    reply.pulse_relay(1, 500)
    frame = "豫A12345\r\n请通行".encode("gbk")
    reply.send_serial(0, frame)
    body = vzenith_reply(reply, plate_id=21085)["Response_AlarmInfoPlate"]
    assert body["info"] == "ok"
    assert body["channelNum"] == 1
    assert body["plateid"] == 21085
    assert body["content"] == "retransfer_stop"
    (serial,) = body["serialData"]
    assert base64.b64decode(serial["data"]) == frame
    assert serial["dataLen"] == len(frame)  # the raw byte count, not the base64 length

    long_pulse = CameraReply()
    long_pulse.pulse_relay(0, 2000)
    body = vzenith_reply(long_pulse)["Response_AlarmInfoPlate"]
    assert body["info"] == "no"
    assert body["ivs_ioctrl"] == {"io": 0, "value": 2, "delay": 2000}


def test_diagnostic_text_keeps_the_message_and_elides_images() -> None:
    photo = "A" * 5000
    kept = diagnostic(json.dumps({"plate": "豫A12345", "image": photo}).encode())
    assert json.loads(kept) == {"plate": "豫A12345", "image": "<5000 characters>"}
    multipart = b"--b\r\nContent-Type: text/xml\r\n\r\n<anpr/>\r\n--b\r\n\xff\xd8\xff\x00" * 400
    text = diagnostic(multipart)
    assert text.startswith("--b\r\nContent-Type: text/xml")
    assert len(text) == RAW_LIMIT
    assert "\x00" not in text
    assert diagnostic("豫A12345") == "豫A12345"


def test_a_pushed_photo_is_decoded_when_it_is_written_not_when_it_is_parsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The plate waits for its check while the push is parsed: the photo's base64 (~0.3 ms
    for 93 KB) is checked there without decoding it, and decoded once, when it is read to be
    written — after the pass is committed and the barrier told (issue 19)."""
    jpeg = sample_jpeg("豫A12345")
    text = base64.b64encode(jpeg).decode()
    decoded: list[int] = []
    a2b = binascii.a2b_base64

    def counted(data: str | bytes, *, strict_mode: bool = False) -> bytes:
        decoded.append(len(data))
        return a2b(data, strict_mode=strict_mode)

    monkeypatch.setattr(binascii, "a2b_base64", counted)
    read = parse_generic({"plate": "豫A12345", "images": {"scene": text}}, NOW)
    assert decoded == []  # not now
    (image,) = read.images
    assert image.data == jpeg
    assert image.data == jpeg
    assert decoded == [len(text)]  # once


def test_a_photo_that_is_no_jpeg_is_kept_with_the_read_to_be_refused_as_a_photo() -> None:
    """A GIF as the scene: the read was refused 400 and lost, its plate crop with it; now
    the read is parsed and the photo check refuses the GIF when it is written."""
    gif, crop = base64.b64encode(b"GIF89a").decode(), sample_jpeg("crop")
    body = {"plate": "豫A12345", "images": {"scene": gif, "plate": base64.b64encode(crop).decode()}}
    read = parse_generic(body, NOW)
    assert [(image.kind, image.data[:6]) for image in read.images] == [
        (ImageKind.SCENE, b"GIF89a"), (ImageKind.PLATE, crop[:6]),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "text",
    ["", "QQ==", "QUI=", "QUJD", "QQ=", "Q===", "====", "QQ==QUJD", "QU=D", "=QUJ", "QUJD\n",
     "QUJ D", "QUJ\u00e9", "QQ\x00=", "QUJD" * 5 + "!", "-_-_", "QUJDRA", "QUJDRA=", "QUJDRA=="],
)  # fmt: skip
def test_the_base64_check_takes_what_strict_decoding_takes(text: str) -> None:
    """Checked without decoding, a photo's base64 is refused exactly when a strict decode
    would refuse it (the camera's answer is the same 400)."""
    try:
        base64.b64decode(text, validate=True)
        strict = True
    except ValueError:  # binascii.Error, or non-ASCII text
        strict = False
    assert _strict_base64(text) is strict
