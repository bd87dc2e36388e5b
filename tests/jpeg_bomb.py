"""Genuine decompression bombs for the tests: valid JPEG bitstreams of a uniform grey image of
any size up to 65535×65535 px, a few bytes per thousand blocks, generated without encoding
anything (no binary fixture).

Every 8×8 block is the same: DC difference 0 (Huffman category 0, a one-bit code) and all AC
coefficients zero. Baseline: each block costs two bits (DC "0", end-of-block "0"), so the
entropy-coded data is all zero bits. Progressive (SOF2): a DC-first scan over all components
(one bit a block) and per component one AC scan (1…63) made of end-of-band runs (EOBRUN, up to
32,767 blocks each, ITU T.81 G.1.2.2). A 19000×19000 px YCbCr 4:2:0 progressive one is about
1 MB, the attacker's file of issue 20; decoding it at full size takes ~1.1 GB of coefficients.
"""

from __future__ import annotations

import math
import struct


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _huffman(table_class: int, table_id: int, lengths: dict[int, list[int]]) -> bytes:
    """A DHT segment: ``lengths`` maps a code length (1…16) to its symbols in order."""
    counts = bytes(len(lengths.get(n, [])) for n in range(1, 17))
    symbols = bytes(s for n in range(1, 17) for s in lengths.get(n, []))
    return _segment(0xC4, bytes([table_class << 4 | table_id]) + counts + symbols)


class _Bits:
    """MSB-first bit writer with JPEG byte stuffing (FF → FF 00); pads the last byte with 1s."""

    def __init__(self) -> None:
        self._out = bytearray()
        self._acc = 0
        self._count = 0

    def write(self, value: int, bits: int) -> None:
        for shift in range(bits - 1, -1, -1):
            self._acc = self._acc << 1 | (value >> shift) & 1
            self._count += 1
            if self._count == 8:
                self._out.append(self._acc)
                if self._acc == 0xFF:
                    self._out.append(0)
                self._acc = self._count = 0

    def finish(self) -> bytes:
        if self._count:
            self.write((1 << (8 - self._count)) - 1, 8 - self._count)
        return bytes(self._out)


def _zero_bits(count: int) -> bytes:
    """``count`` zero bits, the last byte padded with 1s."""
    whole, rest = divmod(count, 8)
    return bytes(whole) + (bytes([(1 << (8 - rest)) - 1]) if rest else b"")


def _eob_runs(blocks: int) -> bytes:
    """An AC scan that ends the band in ``blocks`` blocks: EOBRUNs of at most 32,767, each
    symbol ``r << 4`` (4-bit code ``r``) followed by ``r`` bits (run = 2**r + bits)."""
    bits = _Bits()
    while blocks:
        run = min(blocks, 32_767)
        r = run.bit_length() - 1
        bits.write(r, 4)
        bits.write(run - (1 << r), r)
        blocks -= run
    return bits.finish()


def uniform_jpeg(
    width: int, height: int, *, progressive: bool = True, colour: bool = True
) -> bytes:
    """A valid JPEG of ``width`` × ``height`` px, uniform grey (128): YCbCr 4:2:0 when
    ``colour``, else greyscale; progressive (SOF2) or baseline (SOF0)."""
    sampling = [(2, 2), (1, 1), (1, 1)] if colour else [(1, 1)]
    hmax, vmax = sampling[0]
    dqt = _segment(0xDB, b"\x00" + bytes([1] * 64))
    sof = _segment(
        0xC2 if progressive else 0xC0,
        struct.pack(">BHHB", 8, height, width, len(sampling))
        + b"".join(bytes([i + 1, h << 4 | v, 0]) for i, (h, v) in enumerate(sampling)),
    )
    mcus = math.ceil(width / (8 * hmax)) * math.ceil(height / (8 * vmax))
    per_mcu = sum(h * v for h, v in sampling)

    def sos(components: list[int], ss: int, se: int) -> bytes:
        tables = b"".join(bytes([c + 1, 0x00]) for c in components)
        return _segment(0xDA, bytes([len(components)]) + tables + bytes([ss, se, 0]))

    everyone = list(range(len(sampling)))
    parts = [b"\xff\xd8", dqt, sof, _huffman(0, 0, {1: [0]})]  # DC: category 0 is "0"
    if not progressive:
        parts += [_huffman(1, 0, {1: [0x00]}), sos(everyone, 0, 63), _zero_bits(2 * per_mcu * mcus)]
    else:
        parts += [sos(everyone, 0, 0), _zero_bits(per_mcu * mcus)]
        parts.append(_huffman(1, 0, {4: [r << 4 for r in range(15)]}))  # EOB0 … EOB14
        for c, (h, v) in enumerate(sampling):  # non-interleaved: the component's own blocks
            blocks = math.ceil(math.ceil(width * h / hmax) / 8) * math.ceil(
                math.ceil(height * v / vmax) / 8
            )
            parts += [sos([c], 1, 63), _eob_runs(blocks)]
    parts.append(b"\xff\xd9")
    return b"".join(parts)
