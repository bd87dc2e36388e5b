"""The plate grammar (edge.domain.plates): normalisation, colour prefixes only where the rest is a
whole plate, every province and special suffix, unreadable and unusual reads, and a
property test of the whole grammar."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.domain.plates import (
    COLOR_WORDS,
    MAX_PLATE_LENGTH,
    MIN_PLATE_LENGTH,
    PLATE_ALPHABET,
    PROVINCES,
    SPECIAL_SUFFIXES,
    PlateColor,
    PlateStatus,
    escape_read,
    normalise_plate,
    plate_pattern,
    plate_shape,
    to_halfwidth,
    typed_plate,
    within_one_edit,
)


@pytest.mark.parametrize(
    ("raw", "text", "hint"),
    [
        ("豫A12345", "豫A12345", None),
        (" 豫a 12345 ", "豫A12345", None),  # spaces, lower case
        ("豫Ａ１２３４５", "豫A12345", None),  # full-width letters and digits
        ("豫\u3000A12345", "豫A12345", None),  # ideographic space
        ("豫A·12345", "豫A12345", None),  # middle dot separator
        ("豫A-1234学", "豫A1234学", None),
        ("蓝苏A8HK52", "苏A8HK52", PlateColor.BLUE),  # Hikvision colour prefix
        ("黄绿豫AD12345", "豫AD12345", PlateColor.NEW_ENERGY),
        ("绿豫AD12345", "豫AD12345", PlateColor.NEW_ENERGY),
        ("豫AD12345", "豫AD12345", None),  # 8-character new-energy plate
        ("黑AF2793", "黑AF2793", None),  # Heilongjiang, not "black AF2793"
        ("黑黑AF2793", "黑AF2793", PlateColor.BLACK),  # a black Heilongjiang plate
        ("蓝黑AF2793", "黑AF2793", PlateColor.BLUE),
        ("黑AD12345", "黑AD12345", None),  # Heilongjiang NEV, not black "AD12345"
        ("黄黑A12345D", "黑A12345D", PlateColor.YELLOW),
    ],
)
def test_normalise_plate_with_colour_prefixes(raw: str, text: str, hint: PlateColor | None) -> None:
    plate = normalise_plate(raw, colour_prefix=True)
    assert (plate.text, plate.color_hint) == (text, hint)
    assert not plate.no_plate


@pytest.mark.parametrize("province", PROVINCES)
@pytest.mark.parametrize("word", list(COLOR_WORDS))
def test_every_province_keeps_its_character_and_loses_only_a_colour_word(
    province: str, word: str
) -> None:
    plate = f"{province}AF2793"
    assert normalise_plate(plate).text == plate  # a source that adds no prefix
    assert normalise_plate(plate, colour_prefix=True).text == plate
    prefixed = normalise_plate(word + plate, colour_prefix=True)
    assert (prefixed.text, prefixed.color_hint) == (plate, COLOR_WORDS[word])
    # without a whole plate after it, the colour word is not removed
    assert normalise_plate(word + plate[:5], colour_prefix=True).color_hint is None


@pytest.mark.parametrize("province", PROVINCES)
@pytest.mark.parametrize("suffix", SPECIAL_SUFFIXES)
def test_every_special_suffix_with_every_province(province: str, suffix: str) -> None:
    plate = f"{province}A1234{suffix}"
    read = normalise_plate(plate)
    assert (read.text, read.status, read.pattern) == (plate, PlateStatus.OK, "standard")
    prefixed = normalise_plate(f"黄{plate}", colour_prefix=True)
    assert (prefixed.text, prefixed.color_hint) == (plate, PlateColor.YELLOW)


@pytest.mark.parametrize("suffix", SPECIAL_SUFFIXES)
def test_a_special_suffix_after_five_characters_is_a_standard_plate_typed_too(
    suffix: str,
) -> None:
    """豫G88362挂 (the README's fleet trailer) was used at ingest but flagged unusual, and a
    clerk typing it was refused (``typed_plate`` takes known patterns only)."""
    plate = f"豫G88362{suffix}"
    read = normalise_plate(plate)
    assert (read.text, read.status, read.pattern) == (plate, PlateStatus.OK, "standard")
    assert typed_plate(f"黄 豫g 88362{suffix}") == plate
    assert typed_plate(f"豫G883621{suffix}") is None  # six characters before it: no plate
    assert typed_plate("豫G883621") is None


def test_sources_without_colour_prefixes_do_not_strip() -> None:
    read = normalise_plate("蓝苏A8HK52")  # 蓝 is no plate character
    assert read.text is None
    assert read.status is PlateStatus.UNREADABLE
    assert read.unreadable == "蓝苏A8HK52"


@pytest.mark.parametrize(
    ("plate", "pattern"),
    [
        ("豫A12345", "standard"),
        ("粤Z1234港", "standard"),
        ("豫G88362挂", "standard"),  # a fleet's trailer plate (README): was unusual
        ("豫A12345学", "standard"),
        ("粤Z1234澳", "standard"),
        ("沪A1234领", "standard"),
        ("豫AD12345", "new-energy"),
        ("豫AF1234", None),  # 7 characters with F: a standard plate
        ("豫A12345F", "new-energy"),
        ("使014578", "embassy"),
        ("014578使", "embassy"),
        ("WJ豫12345", "armed-police"),
        ("WJ豫1234消", "armed-police"),
        ("WJ12345", "armed-police"),
        ("豫A1234应急", "emergency"),
        ("豫A12345应急", "emergency"),
        ("民航12345", "civil-aviation"),
        ("KA12345", "military"),
    ],
)
def test_known_patterns(plate: str, pattern: str | None) -> None:
    read = normalise_plate(plate)
    assert read.text == plate
    assert read.pattern == (pattern or "standard")


@pytest.mark.parametrize(
    "raw", [None, "", "  ", "_无_", "无牌车", "noPlate", "UNKNOWN", "unknown", "--"]
)
def test_no_plate_markers(raw: str | None) -> None:
    read = normalise_plate(raw)
    assert read.no_plate
    assert read.status is PlateStatus.NO_PLATE
    assert read.unreadable is None


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("豫A1", "豫A1"),  # no plate is that short
        ("豫A12345\x00", "豫A12345\\u0000"),  # NUL
        ("豫A\x1b[31m12345", "豫A\\u001b[31m12345"),  # ESC
        ("豫\u202eA12345", "豫\\u202eA12345"),  # right-to-left override
        ("豫A1234\x07", "豫A1234\\u0007"),  # BEL
        ("X'); DROP TABLE passes;--", "X'); DROP TABLE passes;--"),
        ("=HYPERLINK(1)", "=HYPERLINK(1)"),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123"),  # 30 characters
        ("<script>1", "<script>1"),
        # letters whose Unicode upper case is ASCII: str.upper() made plates of them (a fresh
        # verification, session 17: 豫Aﬀ1234 was 豫AFF1234, a new-energy plate)
        ("豫A\ufb001234", "豫A\ufb001234"),
        ("豫A\u01312345", "豫A\u01312345"),
        ("豫A\u017f2345", "豫A\u017f2345"),
        ("豫A\u00df\u00df\u00df1", "豫A\u00df\u00df\u00df1"),
    ],
)
def test_reads_that_are_not_plates_are_unreadable_and_kept_escaped(raw: str, shown: str) -> None:
    read = normalise_plate(raw, colour_prefix=True)
    assert read.text is None
    assert read.status is PlateStatus.UNREADABLE
    assert read.unreadable == shown


def test_a_100_kb_plate_is_refused_at_once() -> None:
    raw = "豫" * 100_000
    start = time.perf_counter()
    read = normalise_plate(raw, colour_prefix=True)
    elapsed = time.perf_counter() - start
    assert read.status is PlateStatus.UNREADABLE
    assert read.unreadable is not None
    assert read.unreadable.endswith("(100000 characters)")
    assert len(read.unreadable) < 80
    assert elapsed < 0.005  # generous: a length check and a 48-character escape


@pytest.mark.parametrize(
    ("plate", "shape"),
    [
        ("豫A1234O", None),
        ("豫A123456", "省A999999"),
        ("豫A3K7学", "省A9A9学"),
        ("12345678", "99999999"),
    ],
)
def test_plate_characters_of_no_known_pattern_are_used_but_unusual(
    plate: str, shape: str | None
) -> None:
    read = normalise_plate(plate)
    assert read.text == plate
    if shape is None:
        assert read.status is PlateStatus.OK
    else:
        assert read.status is PlateStatus.UNUSUAL
        assert read.pattern is None
        assert plate_shape(plate) == shape


def test_escape_read_cuts_long_reads() -> None:
    assert escape_read("a" * 49) == "a" * 48 + "…(49 characters)"


def test_halfwidth_leaves_chinese_alone() -> None:
    assert to_halfwidth("豫Ｂ６７８９Ｇ") == "豫B6789G"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("豫A12345", "豫A12345", True),
        ("豫A12345", "豫A12346", True),  # one substitution
        ("豫A12345", "豫A1234", True),  # one deletion
        ("豫A1234", "豫A12345", True),  # one insertion
        ("豫A12345", "豫A123456", True),
        ("豫A12345", "豫A12366", False),
        ("豫A12345", "豫A123", False),
        ("豫A12345", "晋A12346", False),
    ],
)
def test_within_one_edit(a: str, b: str, same: bool) -> None:
    assert within_one_edit(a, b) is same


# -- properties ------------------------------------------------------------------------------

_PLATE_CHARS = "".join(sorted(PLATE_ALPHABET))


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60), st.booleans())
def test_any_text_is_one_of_the_four_kinds(raw: str, prefix: bool) -> None:
    read = normalise_plate(raw, colour_prefix=prefix)
    if read.status in (PlateStatus.OK, PlateStatus.UNUSUAL):
        assert read.text is not None
        assert MIN_PLATE_LENGTH <= len(read.text) <= MAX_PLATE_LENGTH
        assert PLATE_ALPHABET.issuperset(read.text)
        assert (read.status is PlateStatus.OK) == (plate_pattern(read.text) is not None)
        assert normalise_plate(read.text).text == read.text  # idempotent
    else:
        assert read.text is None
    if read.status is PlateStatus.UNREADABLE:
        assert read.unreadable is not None
        assert all(ch.isprintable() for ch in read.unreadable)
    if read.color_hint is not None:
        assert prefix
        assert read.status is PlateStatus.OK


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PROVINCES), st.text(_PLATE_CHARS, min_size=5, max_size=8))
def test_plate_characters_of_a_plate_length_are_always_used(province: str, rest: str) -> None:
    read = normalise_plate(province + rest)
    assert read.text == province + rest  # never refused: known, or used and flagged


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(PROVINCES),
    st.sampled_from("ABCDEFGHJKLMNPQRSTUVWXYZ"),
    st.text("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=4, max_size=4),
    st.sampled_from("0123456789" + SPECIAL_SUFFIXES),
    st.sampled_from(list(COLOR_WORDS)),
)
def test_standard_plates_survive_a_colour_prefix(
    province: str, letter: str, body: str, last: str, word: str
) -> None:
    plate = province + letter + body + last
    assert normalise_plate(plate, colour_prefix=True).text == plate
    read = normalise_plate(word + plate, colour_prefix=True)
    assert (read.text, read.color_hint, read.pattern) == (plate, COLOR_WORDS[word], "standard")
