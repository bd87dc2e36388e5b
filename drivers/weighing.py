"""Truck-scale indicators (称重显示控制器): their serial frames, read from a byte stream.

Each parser takes the bytes as they arrive (any chunking: a frame may come split over several
reads, several frames in one read, line noise between them) and returns the readings of the
whole, valid frames it completed. A frame that fails its check is counted in ``bad_frames``
(and described in ``last_error``) and skipped; the parser resynchronises on the next start
byte, so noise costs at most the frame it hit. The buffer is bounded: a line of pure noise
cannot grow it.

Protocols (layouts, worked frames and sources: research/ledger-and-weighbridge.md §1):

- :class:`YaohuaTf0Parser` — Yaohua 耀华 XK3190 (A9/A9+ ``tF=0``, A26/A23P format 0, D9, DS3)
  continuous 12-byte frame ``STX sign 6 digits decimals XORhi XORlo ETX`` (§1.1); also what
  Keli 柯力 indicators are said to send continuously.
- :class:`YaohuaEqualsParser` — the 9-byte ``=`` frame, digits least-significant first by
  default (A9 ``tF=1``, A26 format 1), or forward (A26 format 2) (§1.2).
- :class:`A12Parser` — XK3190-A12/A12E text lines ``WG 004.139kg XOR CR LF`` and the
  lower-case firmware's ``ww000.000kg`` (§1.3).
- :class:`CommandReplyParser` with :func:`command_frame` — Yaohua/Keli command mode: the host
  asks ``STX addr cmd XORhi XORlo ETX`` and the indicator answers with gross, tare or net
  (§1.4); the only way to get tare and net separately from these indicators.
- :class:`ToledoParser` — Mettler Toledo continuous (8142/8530, IND231/245/445 and clones):
  ``STX SWA SWB SWC weight(6) tare(6) CR [checksum]`` with status words (§1.5). Motion-bit
  polarity, the tare field, the checksum and trusting the unit bits are options, because
  clones differ.

Weights are :class:`~decimal.Decimal` in the indicator's displayed unit (truck scales show kg;
the driver converts with its configured unit). Only the standard library is used.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import reduce
from typing import ClassVar, Literal, Protocol

STX, ETX, CR, LF = 0x02, 0x03, 0x0D, 0x0A
#: Bytes kept while waiting for the rest of a frame; longer than any frame, so that only
#: noise is ever dropped.
_BUFFER_LIMIT = 256

Kind = Literal["gross", "net", "tare", "displayed"]
Fault = Literal["overload", "underload", "out of range"]


@dataclass(frozen=True, slots=True)
class Reading:
    """One frame's content.

    ``weight`` is the displayed value in the indicator's unit (``None`` with a ``fault``);
    ``kind`` says what it is where the protocol tells (``displayed`` where it does not:
    gross or net, whichever the indicator shows); ``stable`` is the indicator's own motion
    flag where the protocol has one, else ``None`` (stability is then inferred by the daemon);
    ``unit`` is set only when the protocol carries one and it is trusted; ``tare`` is the
    tare the frame carries (Toledo), in the same unit.
    """

    weight: Decimal | None
    kind: Kind = "displayed"
    stable: bool | None = None
    unit: str | None = None
    tare: Decimal | None = None
    fault: Fault | None = None


#: A frame parsed: its reading; True: a valid frame without one (a handshake); False: refused.
Parsed = Reading | bool


class FrameParser(Protocol):
    bad_frames: int
    last_error: str | None

    def feed(self, data: bytes) -> list[Reading]:
        """The readings of the frames that ``data`` completed, in order."""


def xor(data: bytes) -> int:
    return reduce(lambda a, b: a ^ b, data, 0)


def xor_hex(data: bytes) -> bytes:
    """The XOR of ``data`` as two upper-case ASCII hex digits (nibble + 0x30, or + 0x37 above 9)."""
    return f"{xor(data):02X}".encode("ascii")


def _digits(raw: bytes, decimals: int, *, negative: bool) -> Decimal:
    value = Decimal(int(raw)).scaleb(-decimals)
    return -value if negative else value


class _Stream:
    """The shared buffer and error bookkeeping of every parser."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.bad_frames = 0
        self.last_error: str | None = None

    def _bad(self, why: str, frame: bytes) -> Literal[False]:
        self.bad_frames += 1
        self.last_error = f"{why}: {frame.hex(' ')}"
        return False

    def _trim(self) -> None:
        del self.buf[:-_BUFFER_LIMIT]

    def _scan(
        self, data: bytes, start: int, length: Callable[[], int], parse: Callable[[bytes], Parsed]
    ) -> list[Reading]:
        """Frames that begin with the byte ``start`` and are ``length()`` bytes long (asked
        once the start is at the buffer's head): a parsed frame is consumed; a refused one
        only loses its start byte, so the scan resynchronises on the next one."""
        self.buf += data
        out: list[Reading] = []
        while True:
            at = self.buf.find(start)
            if at < 0:
                self.buf.clear()
                return out
            del self.buf[:at]
            size = length()
            if len(self.buf) < size:
                self._trim()
                return out
            parsed = parse(bytes(self.buf[:size]))
            del self.buf[: 1 if parsed is False else size]
            if isinstance(parsed, Reading):
                out.append(parsed)


# -- Yaohua tF=0 (§1.1) -----------------------------------------------------------------------
TF0_LENGTH = 12


def encode_tf0(value: Decimal, decimals: int = 0) -> bytes:
    """The 12-byte frame that shows ``value`` with ``decimals`` places (for the simulator).

    Raises :class:`ValueError` when it does not fit six digits."""
    digits = int(abs(value).scaleb(decimals).to_integral_value())
    if not 0 <= decimals <= 4 or digits > 999_999:
        raise ValueError(f"{value} with {decimals} decimals does not fit a tF=0 frame")
    body = b"-" if value < 0 else b"+"
    body += f"{digits:06d}{decimals}".encode("ascii")
    return bytes([STX]) + body + xor_hex(body) + bytes([ETX])


class YaohuaTf0Parser(_Stream):
    def feed(self, data: bytes) -> list[Reading]:
        return self._scan(data, STX, lambda: TF0_LENGTH, self._frame)

    def _frame(self, frame: bytes) -> Parsed:
        body = frame[1:9]
        if frame[11] != ETX or body[0:1] not in (b"+", b"-"):
            return self._bad("not a tF=0 frame", frame)
        if not body[1:8].isdigit() or body[7] > ord("4"):
            return self._bad("tF=0 digits or decimals invalid", frame)
        if frame[9:11] != xor_hex(body):
            return self._bad("tF=0 XOR check failed", frame)
        return Reading(_digits(body[1:7], body[7] - 0x30, negative=body[0:1] == b"-"))


# -- Yaohua "=" (§1.2) ------------------------------------------------------------------------
EQUALS_LENGTH = 9


def encode_equals(value: Decimal, decimals: int = 0, *, reversed_digits: bool = True) -> bytes:
    """The 9-byte ``=`` frame (7 characters of value incl. the point, and a sign position)."""
    text = f"{abs(value):.{decimals}f}"
    if len(text) > 7:
        raise ValueError(f"{value} does not fit an '=' frame")
    forward = ("-" if value < 0 else "0") + text.rjust(7, "0")
    return b"=" + (forward[::-1] if reversed_digits else forward).encode("ascii")


class YaohuaEqualsParser(_Stream):
    def __init__(self, *, reversed_digits: bool = True) -> None:
        super().__init__()
        self.reversed_digits = reversed_digits

    def feed(self, data: bytes) -> list[Reading]:
        return self._scan(data, ord("="), lambda: EQUALS_LENGTH, self._frame)

    def _frame(self, frame: bytes) -> Parsed:
        if b"=" in frame[1:]:
            return self._bad("'=' frame cut short", frame)
        text = frame[1:].decode("ascii", "replace")
        forward = text[::-1] if self.reversed_digits else text
        sign, value = forward[0], forward[1:]
        if sign not in "0-" or value.count(".") > 1 or not value.replace(".", "").isdigit():
            return self._bad("not an '=' frame", frame)
        number = Decimal(value)
        return Reading(-number if sign == "-" else number)


# -- Yaohua A12/A12E text lines (§1.3) --------------------------------------------------------
_LOWER_LINE = re.compile(rb"w[wnt][ 0-9.-]{1,9}(?:kg|lb)$")


class A12Parser(_Stream):
    """``W`` + ``G``/``N`` + 7 characters + ``kg``/``lb`` + XOR (hex, over the 11 bytes before it)
    + CR LF; the overload (``OL``) and underload (``LO``) lines; and the lower-case firmware's
    lines without a check (``ww``/``wn``/``wt`` + value + unit)."""

    _KINDS: ClassVar[dict[str, Kind]] = {
        "G": "gross",
        "N": "net",
        "w": "displayed",
        "n": "net",
        "t": "tare",
    }

    def feed(self, data: bytes) -> list[Reading]:
        self.buf += data
        out: list[Reading] = []
        while (end := self.buf.find(LF)) >= 0:
            line = bytes(self.buf[:end]).rstrip(b"\r")
            del self.buf[: end + 1]
            if line.strip():
                reading = self._line(line)
                if reading is not None:
                    out.append(reading)
        self._trim()
        return out

    def _line(self, line: bytes) -> Reading | None:
        checked = line[-13:]  # noise before a line is ignored
        if (
            len(checked) == 13
            and checked[0:1] in (b"W", b" ")
            and checked[11:13] == xor_hex(checked[:11])
        ):
            text = checked.decode("ascii", "replace")
            if text[:11].endswith(("OL", "LO")):
                return Reading(None, fault="overload" if text[9:11] == "OL" else "underload")
            return self._value(line, text[1], text[2:9], text[9:11])
        if match := _LOWER_LINE.search(line):
            text = match.group().decode("ascii")
            return self._value(line, text[1], text[2:-2], text[-2:])
        self._bad("not an A12 line or its XOR check failed", line)
        return None

    def _value(self, line: bytes, kind: str, value: str, unit: str) -> Reading | None:
        value = value.strip()
        negative = value.startswith("-")
        digits = value.lstrip("-")
        if kind not in self._KINDS or unit not in ("kg", "lb") or not digits:
            self._bad("A12 line fields invalid", line)
            return None
        if digits.count(".") > 1 or not digits.replace(".", "").isdigit():
            self._bad("A12 weight not a number", line)
            return None
        number = Decimal(digits)
        return Reading(-number if negative else number, kind=self._KINDS[kind], unit=unit)


def encode_a12(value: Decimal, decimals: int = 0, kind: Literal["G", "N"] = "G") -> bytes:
    """One checked A12E line (for the simulator)."""
    text = f"{abs(value):.{decimals}f}" if decimals else f"{abs(value):.0f} "
    if len(text) > (6 if value < 0 else 7):
        raise ValueError(f"{value} does not fit an A12 line")
    field = ("-" + text.rjust(6, "0")) if value < 0 else text.rjust(7, "0")
    body = f"W{kind}{field}kg".encode("ascii")
    return body + xor_hex(body) + b"\r\n"


# -- Yaohua/Keli command mode (§1.4) ----------------------------------------------------------
Command = Literal["A", "B", "C", "D"]
COMMAND_KINDS: dict[str, Kind] = {"B": "gross", "C": "tare", "D": "net"}
REPLY_LENGTH = 14
HANDSHAKE_LENGTH = 6


def command_frame(address: str, command: Command) -> bytes:
    """The host's request: ``STX addr cmd XORhi XORlo ETX`` (XOR over address and command).

    ``command_frame("A", "B")`` (read gross) is ``02 41 42 30 33 03``."""
    if len(address) != 1 or not "A" <= address <= "Z":
        raise ValueError(f"an indicator address is one letter A-Z, not {address!r}")
    body = (address + command).encode("ascii")
    return bytes([STX]) + body + xor_hex(body) + bytes([ETX])


def encode_reply(address: str, command: Command, value: Decimal, decimals: int = 0) -> bytes:
    """The indicator's 14-byte answer (for the simulator): XOR over address … decimals."""
    digits = int(abs(value).scaleb(decimals).to_integral_value())
    body = f"{address}{command}{'-' if value < 0 else '+'}{digits:06d}{decimals}".encode("ascii")
    return bytes([STX]) + body + xor_hex(body) + bytes([ETX])


class CommandReplyParser(_Stream):
    """The answers to B (gross), C (tare) and D (net); a handshake answer (A) is accepted and
    yields nothing."""

    def feed(self, data: bytes) -> list[Reading]:
        return self._scan(data, STX, self._length, self._frame)

    def _length(self) -> int:
        return HANDSHAKE_LENGTH if self.buf[2:3] == b"A" else REPLY_LENGTH

    def _frame(self, frame: bytes) -> Parsed:
        if len(frame) == HANDSHAKE_LENGTH:
            ok = frame[5] == ETX and frame[3:5] == xor_hex(frame[1:3])
            return ok or self._bad("handshake reply invalid", frame)
        body = frame[1:11]
        kind = chr(frame[2])
        if frame[13] != ETX or kind not in COMMAND_KINDS or body[2:3] not in (b"+", b"-"):
            return self._bad("not a command reply", frame)
        if not body[3:10].isdigit() or body[9] > ord("4"):
            return self._bad("reply digits or decimals invalid", frame)
        if frame[11:13] != xor_hex(body):
            return self._bad("reply XOR check failed", frame)
        value = _digits(body[3:9], body[9] - 0x30, negative=body[2:3] == b"-")
        return Reading(value, kind=COMMAND_KINDS[kind])


# -- Mettler Toledo continuous (§1.5) ---------------------------------------------------------
_TOLEDO_SCALE = {0: 0, 1: 0, 2: 0, 3: 1, 4: 2, 5: 3, 6: 4, 7: 5}
_DUMMY_ZEROS = {0: 2, 1: 1}


def toledo_checksum(frame: bytes) -> int:
    """The byte that makes the 7-bit sum of the whole frame zero (2's complement)."""
    return -sum(frame) & 0x7F


def encode_toledo(
    weight: Decimal,
    *,
    tare: Decimal = Decimal(0),
    moving: bool = False,
    net: bool = False,
    decimal_code: int = 2,
    checksum: bool = True,
    with_tare: bool = True,
    motion_bit_moving: bool = True,
) -> bytes:
    """One frame (for the simulator); ``decimal_code`` is SWA b0-b2 (2: ``XXXXXX``)."""
    places = _TOLEDO_SCALE[decimal_code]
    swa = 0x20 | 0x08 | decimal_code  # b3: increment x1, b5 always 1
    moving_bit = moving if motion_bit_moving else not moving
    swb = 0x20 | 0x10 | (0x01 if net else 0) | (0x02 if weight < 0 else 0) | (0x08 * moving_bit)
    frame = bytes([STX, swa, swb, 0x20])
    frame += f"{int(abs(weight).scaleb(places)):06d}".encode("ascii")
    if with_tare:
        frame += f"{int(abs(tare).scaleb(places)):06d}".encode("ascii")
    frame += bytes([CR])
    return frame + bytes([toledo_checksum(frame)]) if checksum else frame


class ToledoParser(_Stream):
    """Options: ``checksum`` (the 18th byte is sent), ``with_tare`` (the 6 tare digits are
    sent; 衡天 9800-style clones send none), ``motion_bit_moving`` (SWB b3 = 1 means moving, as
    Toledo documents; ``False`` for clones where 1 means stable), ``unit_from_status`` (trust
    SWB b4 / SWC b0 for the unit; clones often send b4 constant), ``dummy_zero_multiply``
    (decimal codes 0 and 1 mean the six digits leave out two/one fixed trailing zeros; not
    confirmed, so off: the digits are taken as they come)."""

    def __init__(
        self,
        *,
        checksum: bool = True,
        with_tare: bool = True,
        motion_bit_moving: bool = True,
        unit_from_status: bool = False,
        dummy_zero_multiply: bool = False,
    ) -> None:
        super().__init__()
        self.checksum, self.with_tare = checksum, with_tare
        self.motion_bit_moving, self.unit_from_status = motion_bit_moving, unit_from_status
        self.dummy_zero_multiply = dummy_zero_multiply
        self.length = 4 + 6 + (6 if with_tare else 0) + 1 + (1 if checksum else 0)

    def feed(self, data: bytes) -> list[Reading]:
        return self._scan(data, STX, lambda: self.length, self._frame)

    def _frame(self, frame: bytes) -> Parsed:
        swa, swb, swc = (b & 0x7F for b in frame[1:4])  # b7 is parity on 7-bit lines
        cr_at = self.length - (2 if self.checksum else 1)
        if frame[cr_at] != CR or not all(w & 0x20 for w in (swa, swb, swc)) or swa & 0x40:
            return self._bad("not a Toledo frame", frame)
        if self.checksum and sum(frame) & 0x7F:
            return self._bad("Toledo checksum failed", frame)
        fields = [frame[4:10]] + ([frame[10:16]] if self.with_tare else [])
        texts = [f.decode("ascii", "replace").replace(" ", "0") for f in fields]
        if not all(t.isdigit() for t in texts):
            return self._bad("Toledo weight not digits", frame)
        if swb & 0x04:
            return Reading(None, fault="out of range")
        code = swa & 0x07
        places = _TOLEDO_SCALE[code]
        shift = _DUMMY_ZEROS.get(code, 0) if self.dummy_zero_multiply else 0
        weight = Decimal(int(texts[0])).scaleb(shift - places)
        tare = Decimal(int(texts[1])).scaleb(shift - places) if self.with_tare else None
        motion_bit = bool(swb & 0x08)
        unit = None
        if self.unit_from_status:
            unit = "g" if swc & 0x01 else ("kg" if swb & 0x10 else "lb")
        return Reading(
            -weight if swb & 0x02 else weight,
            kind="net" if swb & 0x01 else "gross",
            stable=not motion_bit if self.motion_bit_moving else motion_bit,
            unit=unit,
            tare=tare,
        )
