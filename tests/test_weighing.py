"""Weighing-indicator parsers (issue 16): golden frames from the research note
(research/ledger-and-weighbridge.md §1, including the recomputed real frames), and property
tests: frames among noise and split at random still read exactly, random bytes never raise."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.weighing import (
    A12Parser,
    CommandReplyParser,
    FrameParser,
    Reading,
    ToledoParser,
    YaohuaEqualsParser,
    YaohuaTf0Parser,
    command_frame,
    encode_a12,
    encode_equals,
    encode_reply,
    encode_tf0,
    encode_toledo,
    toledo_checksum,
    xor_hex,
)

D = Decimal


def _weights(parser: FrameParser, data: bytes) -> list[Decimal | None]:
    return [r.weight for r in parser.feed(data)]


# -- golden frames ----------------------------------------------------------------------------
TF0_GOLDEN = [
    ("02 2B 30 30 30 30 30 30 30 31 42 03", D(0)),  # real capture, empty scale, 1200 baud
    ("02 2B 30 30 31 35 36 30 30 31 39 03", D(1560)),  # real capture, truck
    ("02 2B 30 30 31 36 35 30 30 31 39 03", D(1650)),  # real capture, truck + person
    ("02 2B 30 30 32 30 30 30 32 31 42 03", D("20.00")),  # 2 decimals (device-ctrl doc)
    ("02 2B 30 33 35 36 38 30 30 31 33 03", D(35680)),  # constructed
    ("02 2D 30 30 30 31 32 30 30 31 45 03", D(-120)),  # constructed, negative
]


@pytest.mark.parametrize(("frame", "weight"), TF0_GOLDEN)
def test_tf0_golden_frames(frame: str, weight: Decimal) -> None:
    raw = bytes.fromhex(frame)
    parser = YaohuaTf0Parser()
    assert parser.feed(raw) == [Reading(weight)]
    assert parser.bad_frames == 0
    decimals = -weight.as_tuple().exponent  # type: ignore[operator]
    assert encode_tf0(weight, decimals) == raw


def test_tf0_refuses_a_bad_check_and_keeps_reading() -> None:
    good = bytes.fromhex(TF0_GOLDEN[4][0])
    corrupt = bytearray(good)
    corrupt[5] = ord("9")  # a digit hit by noise: the XOR no longer matches
    parser = YaohuaTf0Parser()
    assert _weights(parser, bytes(corrupt) + good) == [D(35680)]
    assert parser.bad_frames == 1
    assert parser.last_error is not None
    assert "XOR" in parser.last_error
    assert _weights(parser, b"\x02+00a000011\x03" + b"\x02+0000009X1\x03") == []
    assert parser.bad_frames == 3
    with pytest.raises(ValueError, match="does not fit"):
        encode_tf0(D(1_000_000))


@pytest.mark.parametrize(
    ("frame", "weight"),
    [(b"=000.3000", D("3.000")), (b"=00.1000-", D("-1.00")), (b"=08653000", D(35680))],
)
def test_equals_reversed_golden_frames(frame: bytes, weight: Decimal) -> None:
    assert _weights(YaohuaEqualsParser(), frame) == [weight]


def test_equals_forward_variant_and_refusals() -> None:
    assert _weights(YaohuaEqualsParser(reversed_digits=False), b"=0003.000") == [D("3.000")]
    assert encode_equals(D("3.000"), 3, reversed_digits=False) == b"=0003.000"
    assert encode_equals(D(35680)) == b"=08653000"
    parser = YaohuaEqualsParser()
    assert _weights(parser, b"=0865=08653000") == [D(35680)]  # a frame cut short by the next
    assert _weights(parser, b"=0x653000" + b"=0.0.3000") == []
    assert parser.bad_frames == 3
    with pytest.raises(ValueError, match="does not fit"):
        encode_equals(D(12345678))


def test_a12e_golden_line_and_variants() -> None:
    line = bytes.fromhex("57 47 30 30 34 2E 31 33 39 6B 67 33 44 0D 0A")  # 4.139 kg, XOR 3D
    parser = A12Parser()
    assert parser.feed(line) == [Reading(D("4.139"), kind="gross", unit="kg")]
    assert encode_a12(D("4.139"), 3) == line
    assert parser.feed(b"         OL23\r\n") == [Reading(None, fault="overload")]
    lo = b"         LO" + xor_hex(b"         LO") + b"\r\n"
    assert parser.feed(lo) == [Reading(None, fault="underload")]
    # The lower-case firmware (no check): ww weight, wn net, wt tare.
    assert parser.feed(b"ww000.000lb\r\nwn-0000.1kg\r\nwt0001.5kg\n") == [
        Reading(D("0.000"), unit="lb"),
        Reading(D("-0.1"), kind="net", unit="kg"),
        Reading(D("1.5"), kind="tare", unit="kg"),
    ]
    assert parser.feed(encode_a12(D(-120)) + encode_a12(D(35680), kind="N")) == [
        Reading(D(-120), kind="gross", unit="kg"),
        Reading(D(35680), kind="net", unit="kg"),
    ]
    assert parser.bad_frames == 0
    assert parser.feed(b"WG004.139kg3E\r\nhello\r\nwwabc.dkg\r\nww1.2.3kg\r\n") == []
    assert parser.bad_frames == 4


def test_command_mode_frames() -> None:
    assert command_frame("A", "B") == bytes.fromhex("02 41 42 30 33 03")  # read gross at A
    assert command_frame("A", "A") == bytes.fromhex("02 41 41 30 30 03")  # handshake
    with pytest.raises(ValueError, match="one letter"):
        command_frame("a", "B")
    parser = CommandReplyParser()
    replies = (
        bytes.fromhex("02 41 41 30 30 03")  # handshake answer: nothing to read
        + encode_reply("A", "B", D(35680))
        + encode_reply("A", "C", D(15200))
        + encode_reply("A", "D", D("20.48"), 2)
    )
    assert len(encode_reply("A", "B", D(35680))) == 14
    assert parser.feed(replies) == [
        Reading(D(35680), kind="gross"),
        Reading(D(15200), kind="tare"),
        Reading(D("20.48"), kind="net"),
    ]
    bad = bytearray(encode_reply("A", "B", D(1)))
    bad[11] = ord("F")
    assert parser.feed(bytes(bad) + b"\x02AA01\x03" + b"\x02AX+0000010XX\x03") == []
    assert parser.bad_frames == 3


TOLEDO_STABLE = "02 2A 30 20 30 33 35 36 38 30 30 30 30 30 30 30 0D 21"


def test_toledo_golden_frames() -> None:
    stable = bytes.fromhex(TOLEDO_STABLE)
    moving = bytes.fromhex("02 2A 38 20 30 33 35 36 38 30 30 30 30 30 30 30 0D 19")
    assert sum(stable) & 0x7F == 0
    assert toledo_checksum(stable[:-1]) == 0x21
    parser = ToledoParser()
    assert parser.feed(stable + moving) == [
        Reading(D(35680), kind="gross", stable=True, tare=D(0)),
        Reading(D(35680), kind="gross", stable=False, tare=D(0)),
    ]
    assert encode_toledo(D(35680)) == stable
    assert encode_toledo(D(35680), moving=True) == moving


def test_toledo_status_words_and_options() -> None:
    # net, negative, 2 decimals (code 4), tare 12.00, spaces for leading zeros, parity bit set
    frame = bytearray(encode_toledo(D("-3.50"), tare=D("12.00"), net=True, decimal_code=4))
    frame[4:7] = b"   "
    frame[1] |= 0x80  # a parity bit on SWA (7E1 lines): ignored
    frame[-1] = toledo_checksum(bytes(frame[:-1]))
    assert ToledoParser().feed(bytes(frame)) == [
        Reading(D("-3.50"), kind="net", stable=True, tare=D("12.00"))
    ]
    # A clone whose motion bit means stable, without tare or checksum, LF after CR (衡天 9800).
    clone = encode_toledo(
        D(35680), moving=False, with_tare=False, checksum=False, motion_bit_moving=False
    )
    parser = ToledoParser(with_tare=False, checksum=False, motion_bit_moving=False)
    assert parser.feed(clone + b"\n" + clone + b"\n") == [Reading(D(35680), "gross", True)] * 2
    assert parser.bad_frames == 0
    # The unit bits, when trusted; dummy-zero codes when configured.
    kg = ToledoParser(unit_from_status=True).feed(bytes.fromhex(TOLEDO_STABLE))
    assert kg[0].unit == "kg"
    lb = bytearray(bytes.fromhex(TOLEDO_STABLE))
    lb[2] &= ~0x10
    lb[-1] = toledo_checksum(bytes(lb[:-1]))
    assert ToledoParser(unit_from_status=True).feed(bytes(lb))[0].unit == "lb"
    hundreds = encode_toledo(D(356), decimal_code=0)
    assert _weights(ToledoParser(), hundreds) == [D(356)]
    assert _weights(ToledoParser(dummy_zero_multiply=True), hundreds) == [D(35600)]


def test_toledo_refusals() -> None:
    stable = bytes.fromhex(TOLEDO_STABLE)
    parser = ToledoParser()
    broken = bytearray(stable)
    broken[6] ^= 0x01
    assert parser.feed(bytes(broken)) == []
    assert parser.last_error is not None
    assert "checksum" in parser.last_error
    over = bytearray(stable)
    over[2] |= 0x04
    over[-1] = toledo_checksum(bytes(over[:-1]))
    assert parser.feed(bytes(over)) == [Reading(None, fault="out of range")]
    letters = bytearray(stable)
    letters[5] = ord("x")
    letters[-1] = toledo_checksum(bytes(letters[:-1]))
    assert parser.feed(bytes(letters) + b"\x02\x00\x00\x00" + bytes(14)) == []
    assert parser.bad_frames >= 3


# -- properties: noise, split frames, garbage -------------------------------------------------
Case = tuple[Callable[[], FrameParser], Callable[[Decimal], bytes], bytes]
#: parser, encoder, the bytes that start or end frames (kept out of the noise)
CASES: dict[str, Case] = {
    "tf0": (YaohuaTf0Parser, encode_tf0, b"\x02\x03"),
    "equals": (YaohuaEqualsParser, encode_equals, b"="),
    "a12": (A12Parser, encode_a12, b"\r\n"),
    "command": (CommandReplyParser, lambda w: encode_reply("A", "B", w), b"\x02\x03"),
    "toledo": (ToledoParser, encode_toledo, b"\x02\r"),
}


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_frames_among_noise_and_split_read_exactly(name: str, data: st.DataObject) -> None:
    make, encode, framing = CASES[name]
    weights = data.draw(st.lists(st.integers(0, 99_999).map(Decimal), min_size=1, max_size=8))
    noise = st.binary(max_size=12).map(lambda b: bytes(c for c in b if c not in framing))
    stream = b"".join(data.draw(noise) + encode(w) for w in weights)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    parser = make()
    readings: list[Reading] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        readings += parser.feed(stream[start:end])
    assert [r.weight for r in readings] == weights


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=80, deadline=None)
@given(chunks=st.lists(st.binary(max_size=64), max_size=20))
def test_random_bytes_never_raise_and_stay_bounded(name: str, chunks: list[bytes]) -> None:
    parser = CASES[name][0]()
    for chunk in chunks:
        for reading in parser.feed(chunk):
            assert isinstance(reading, Reading)
    assert len(parser.buf) <= 256  # type: ignore[attr-defined]
