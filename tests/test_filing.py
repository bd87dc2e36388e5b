"""The electronic ledger (issue 15): the spec's rules for an entry (every bad field named at
once), the ledger's entries, images, filings, history, search and export on a real SQLite
file, and the operator actions over them (authorised, audited once, imports all or nothing,
images fitted under 1 MB, the filing queued only when it may be sent)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from edge.actions.filing import EntryRefusedError, Filings, ImportRefusedError
from edge.actions.operator import (
    Actor,
    Face,
    InvalidInputError,
    NotAllowedError,
    NotFoundError,
    Operator,
)
from edge.config.model import ListsConfig
from edge.domain.codes import EmissionStage
from edge.domain.filing import (
    MAX_IMAGE_BYTES,
    EntryStatus,
    FilingError,
    ImageKind,
    InnerVehicle,
    Machine,
    Register,
    TransportVehicle,
    changes,
    check_for_sending,
    check_image,
    entry_form,
    field_names,
    parse_date,
    parse_entry,
    required_fields,
)
from edge.domain.filing_words import title, words
from edge.domain.plates import PlateColor
from edge.domain.text import holds_hidden
from edge.ledger.books import ListBook, PlanBook
from edge.ledger.filings import EXPORT_PAGE, IN_CHUNK, EntryExistsError, VinInUseError
from edge.ledger.rows import NewFilingImage
from edge.ledger.store import Store
from edge.sim.jpeg import sample_4k_frame, sample_jpeg
from tests.test_operator_actions import REMOTE, ROOT, SH, STRANGER

CLERK = Actor("文员王五", "127.0.0.1", Face.PAGE)

TRUCK = {
    "plate": "豫A12345",
    "plate_color": "1",
    "vehicle_type": "H11",
    "vin": "lzzaeljd5ka123456",
    "use_character": "F",
    "engine_no": "WP10.336E53",
    "owner": "郑州某物流有限公司",
    "register_date": "2019/5/1",
    "emission": "6",
    "fleet": "一车队",
}
LOADER = {
    "plate": "豫A0001Z",
    "name": "轮式装载机",
    "emission": "4",
    "code": "LG855N-2021-0001",
    "production_date": "20210301",
}


# -- the domain --------------------------------------------------------------------------------
def test_a_valid_form_becomes_a_typed_entry() -> None:
    entry = parse_entry("vehicle", TRUCK)
    assert isinstance(entry, TransportVehicle)
    assert entry.REGISTER is Register.VEHICLE
    assert (entry.plate, entry.plate_color, entry.vin) == ("豫A12345", PlateColor.YELLOW,
                                                          "LZZAELJD5KA123456")  # fmt: skip
    assert (entry.register_date, entry.emission, entry.status) == (
        "2019-05-01", EmissionStage.STAGE_6, EntryStatus.NORMAL,
    )  # fmt: skip
    assert parse_entry(Register.VEHICLE, entry_form(entry)) == entry
    machine = parse_entry("machine", LOADER)
    assert isinstance(machine, Machine)
    assert machine.production_date == "2021-03-01"
    inner = parse_entry("inner", {**TRUCK, "plate": "厂内-叉车-07", "status": "2"})
    assert isinstance(inner, InnerVehicle)
    assert inner.plate == "厂内-叉车-07"
    assert inner.status is EntryStatus.SEALED


def test_every_bad_field_is_named_at_once() -> None:
    bad = {
        **TRUCK,
        "plate": "not a plate",
        "plate_color": "9",
        "vehicle_type": "ZZZ",
        "use_character": "Z",
        "engine_no": "E" * 33,
        "register_date": "2019-02-30",
        "emission": "8",
        "colour": "blue",
    }
    del bad["vin"]
    with pytest.raises(FilingError) as caught:
        parse_entry("vehicle", bad)
    assert set(caught.value.fields) == {
        "colour", "plate", "plate_color", "vehicle_type", "vin", "use_character",
        "engine_no", "register_date", "emission",
    }  # fmt: skip
    assert "required" in str(caught.value)
    assert "§7.7" in str(caught.value)
    with pytest.raises(FilingError, match="register"):
        parse_entry("bus", TRUCK)


@pytest.mark.parametrize(
    ("vin", "why"),
    [
        ("LZZAELJD5KA12345", "16 characters, a VIN has 17 (GB 16735)"),
        ("LZZAELJD5KA1234567", "18 characters, a VIN has 17 (GB 16735)"),
        ("LZZAELJD5KA12345O", "O not used in a VIN (GB 16735: I, O, Q)"),
        ("lzzaeljd5ka1234iq", "I, Q not used in a VIN (GB 16735: I, O, Q)"),
        ("LZZAELJD5KA-23456", "letters and digits only"),
    ],
)
def test_a_vin_is_17_characters_of_gb_16735(vin: str, why: str) -> None:
    with pytest.raises(FilingError) as caught:
        parse_entry("inner", {**TRUCK, "vin": vin})
    assert [(p.field, p.reason) for p in caught.value.problems] == [("vin", why)]


def test_a_vin_in_lower_case_is_upper_cased_before_the_check() -> None:
    entry = parse_entry("vehicle", {**TRUCK, "vin": " lzzaeljd5ka123456 "})
    assert isinstance(entry, TransportVehicle)
    assert entry.vin == "LZZAELJD5KA123456"
    # an entry stored before the rule is read back as it was
    old = parse_entry("vehicle", {**TRUCK, "vin": "lzzaeljd5ka1234o"}, as_stored=True)
    assert isinstance(old, TransportVehicle)
    assert old.vin == "LZZAELJD5KA1234O"


def test_free_text_holding_hidden_characters_is_refused() -> None:
    """An owner, address, model or fleet with NUL, ESC, U+202E, U+200B or a line separator is
    refused naming each field (a fresh verification, session 18: '张\\x00三' as the owner was
    stored and sent to the platform); an ideographic space is text; an entry stored before
    the rule is read back as it was."""
    hidden = {
        "owner": "张\x00三",
        "address": "郑州\u200b市",
        "model": "\x1b[31m",
        "fleet": "a\u2028b",
    }
    with pytest.raises(FilingError) as caught:
        parse_entry("vehicle", {**TRUCK, **hidden, "engine_no": "\u202eX1"})
    assert set(caught.value.fields) == {*hidden, "engine_no"}
    spaced = parse_entry("vehicle", {**TRUCK, "owner": "张\u3000三"})
    old = parse_entry("vehicle", {**TRUCK, "owner": "张\x00三"}, as_stored=True)
    assert isinstance(spaced, TransportVehicle)
    assert isinstance(old, TransportVehicle)
    assert (spaced.owner, old.owner) == ("张\u3000三", "张\x00三")


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("张\u3164三", True),  # a Hangul filler: shows as nothing
        ("\u2800", True),  # the blank Braille pattern
        ("警告\ufe0f", True),  # a variation selector
        ("a\u034fb", True),  # the combining grapheme joiner
        ("Z" + "\u0336\u0321\u031b", True),  # three marks piled on one letter
        ("\u0301\u0302", True),  # marks with nothing to carry them
        ("a \u0301", True),
        ("石\u17b4", True),  # Khmer's inherent vowel: shows as nothing
        ("石\U00016fe4", True),  # the Khitan filler
        ("e\u0302\u0301", False),  # ế decomposed: two marks
        ("lü\u0301", False),  # pinyin typed decomposed
        ("张\u3000三 ⚠", False),  # an ideographic space; a sign without its selector
    ],
)
def test_characters_that_show_as_nothing_or_pile_up_are_hidden(text: str, hidden: bool) -> None:
    """A fresh verification (session 18): U+3164, U+2800, U+FE0F and stacked combining marks
    were taken in a guard's reason (letters, symbols and marks to Unicode, not controls)."""
    assert holds_hidden(text) is hidden


def test_a_machines_closed_lists_are_its_stage_and_status() -> None:
    """The machinery methods (§4.1.8, §4.2.20/21) carry two closed lists, emissionLevel (§7.6)
    and mhyStatus (1-3); they have no machine type or fuel field. Both are named."""
    with pytest.raises(FilingError) as caught:
        parse_entry("machine", {**LOADER, "emission": "国四", "status": "4"})
    assert caught.value.fields == ("emission", "status")
    assert parse_entry("machine", {**LOADER, "emission": "x"}).emission is EmissionStage.NONE
    assert "vehicle_type" not in field_names(Register.MACHINE)


def test_no_date_after_today() -> None:
    today = date(2026, 12, 1)
    assert parse_entry("vehicle", {**TRUCK, "register_date": "2026-12-01"}, today=today)
    with pytest.raises(FilingError) as caught:
        parse_entry("vehicle", {**TRUCK, "register_date": "2026/12/2", "issue_date": "20270101"},
                    today=today)  # fmt: skip
    assert [(p.field, p.reason) for p in caught.value.problems] == [
        ("register_date", "2026-12-02 is after today (2026-12-01)"),
        ("issue_date", "2027-01-01 is after today (2026-12-01)"),
    ]
    with pytest.raises(FilingError, match="production_date: 2030-01-01 is after today"):
        parse_entry("machine", {**LOADER, "production_date": "2030-01-01"}, today=today)
    stored = parse_entry("machine", {**LOADER, "production_date": "2030-01-01"}, as_stored=True)
    assert isinstance(stored, Machine)
    assert stored.production_date == "2030-01-01"
    assert parse_entry("vehicle", {**TRUCK, "register_date": "2999-01-01"})  # no today given


def test_the_forms_fields_and_what_is_required() -> None:
    assert field_names(Register.MACHINE) == (
        "plate", "name", "emission", "code", "production_date", "status",
    )  # fmt: skip
    assert required_fields(Register.VEHICLE) == {
        "plate", "plate_color", "vin", "engine_no", "register_date", "emission",
    }  # fmt: skip
    assert field_names(Register.INNER) == field_names(Register.VEHICLE)
    assert parse_date("2020年5月1日") == parse_date("20200501") == "2020-05-01"
    with pytest.raises(ValueError, match="not a date"):
        parse_date("May 1st")


def test_before_sending_the_licence_or_the_list_and_sizes() -> None:
    truck, machine = parse_entry("vehicle", TRUCK), parse_entry("machine", LOADER)
    with pytest.raises(FilingError, match="行驶证与随车清单不能同时为空"):
        check_for_sending(truck, {})
    with pytest.raises(FilingError, match="发动机铭牌与随车清单不能同时为空"):
        check_for_sending(machine, {ImageKind.DRIVING_LICENSE: 10})
    check_for_sending(truck, {ImageKind.EMISSION_LIST: 10})
    check_for_sending(machine, {ImageKind.NAMEPLATE: 10})
    with pytest.raises(FilingError) as caught:
        check_for_sending(truck, {ImageKind.DRIVING_LICENSE: MAX_IMAGE_BYTES + 1})
    assert caught.value.fields == ("driving_license",)
    with pytest.raises(FilingError, match="not one of"):
        check_image(Register.VEHICLE, "nameplate", sample_jpeg("x"))
    with pytest.raises(FilingError, match="not a JPEG"):
        check_image(Register.MACHINE, "nameplate", b"GIF89a")
    big = b"\xff\xd8\xff" + bytes(MAX_IMAGE_BYTES)
    with pytest.raises(FilingError, match="over the platform"):
        check_image(Register.MACHINE, "nameplate", big)


def test_changes_name_before_and_after() -> None:
    before = parse_entry("vehicle", TRUCK)
    after = parse_entry("vehicle", {**TRUCK, "owner": "新主人", "emission": "5"})
    assert changes(before, after) == {
        "owner": ("郑州某物流有限公司", "新主人"),
        "emission": ("6", "5"),
    }


# -- the ledger --------------------------------------------------------------------------------
@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "edge.db", clock=lambda: 1000.0)
    yield s
    await s.close()


async def test_entries_images_history_and_filings(store: Store) -> None:
    truck = parse_entry("vehicle", TRUCK)
    image = NewFilingImage("driving_license", "filings/a.jpg", 1234)
    entry_id = await store.add_entry(truck, "王五", [image], file_to="province")
    with pytest.raises(EntryExistsError):
        await store.add_entry(truck, "王五")
    # the same plate in another register, or in another colour, is another entry
    await store.add_entry(parse_entry("inner", TRUCK), "王五")
    blue = {**TRUCK, "plate_color": "0", "vin": "LZZAELJD5KA654321"}
    await store.add_entry(parse_entry("vehicle", blue), "王五")
    # one vehicle (VIN) on two plates in force is refused; its plate 注销, the VIN may move
    with pytest.raises(VinInUseError) as caught:
        await store.add_entry(parse_entry("vehicle", {**TRUCK, "plate": "豫A77777"}), "王五")
    assert (caught.value.entry_id, caught.value.plate, caught.value.field) == (
        entry_id, "豫A12345", "vin",
    )  # fmt: skip
    stored = await store.get_entry(entry_id)
    assert stored is not None
    assert stored.entry() == truck
    assert stored.created_by == "王五"
    (filing,) = await store.filings_of(entry_id)
    assert (filing.platform, filing.state, filing.license_pk) == ("province", "sent", None)
    (due,) = await store.due_filings(10)
    assert (due.entry_id, due.platform, due.state) == (entry_id, "province", "pending")
    # a change before the send is not queued twice: the sender sends the entry as it is
    modified = parse_entry("vehicle", {**TRUCK, "owner": "新主人"})
    assert await store.modify_entry(entry_id, modified, "李四", "province") == {
        "owner": ("郑州某物流有限公司", "新主人")
    }
    assert await store.modify_entry(entry_id, modified, "李四", "province") == {}
    assert len(await store.due_filings(10)) == 1
    with pytest.raises(ValueError, match="cannot be changed"):
        await store.modify_entry(entry_id, parse_entry("vehicle", {**TRUCK, "plate": "豫A99999"}),
                                 "李四")  # fmt: skip
    with pytest.raises(KeyError):
        await store.set_status(999, EntryStatus.SEALED, "李四")
    await store.filing_answered(due.id, "VehElecAccountAdd", accepted=True, answer="",
                                license_pk="PK00000001")  # fmt: skip
    (filing,) = await store.filings_of(entry_id)
    assert (filing.state, filing.license_pk, filing.method) == (
        "accepted", "PK00000001", "VehElecAccountAdd",
    )  # fmt: skip
    assert await store.license_pk_of("豫A12345", "1") == "PK00000001"
    assert await store.license_pk_of("豫A12345", "0") is None
    assert await store.set_status(entry_id, EntryStatus.CANCELLED, "李四")
    assert not await store.set_status(entry_id, EntryStatus.CANCELLED, "李四")
    assert await store.license_pk_of("豫A12345", "1") is None  # 注销: no longer carried
    second = NewFilingImage("driving_license", "filings/b.jpg", 99)
    await store.add_image(entry_id, second, "李四")
    (current,) = await store.images_of(entry_id)
    assert current.path == "filings/b.jpg"
    assert [i.path for i in await store.images_of(entry_id, replaced=True)] == [
        "filings/a.jpg", "filings/b.jpg",
    ]  # fmt: skip
    history = await store.entry_history(entry_id)
    assert [(h.actor, h.action) for h in history] == [
        ("王五", "add"), ("王五", "image"), ("李四", "modify"), ("platform:province", "filing"),
        ("李四", "status"), ("李四", "image"),
    ]  # fmt: skip
    assert history[0].changes["vin"] == ("", "LZZAELJD5KA123456")
    assert history[3].changes["license_pk"] == ("", "PK00000001")
    assert history[4].changes == {"status": ("1", "3")}
    assert history[5].changes == {"driving_license": ("filings/a.jpg", "filings/b.jpg")}


async def test_a_refused_filing_is_a_dead_letter_with_the_platforms_words(store: Store) -> None:
    entry_id = await store.add_entry(parse_entry("machine", LOADER), "王五", file_to="city")
    (due,) = await store.due_filings(10)
    await store.filing_failed(due.id, "connection refused", retry_at=1060.0)
    assert await store.due_filings(10) == []  # not before its time
    assert await store.next_filing_due_at() == 1060.0
    await store.filing_answered(due.id, "shareInnerMHYElec", accepted=False,
                                answer="mhyFrameNo: longer than 64")  # fmt: skip
    (filing,) = await store.filings_of(entry_id)
    assert (filing.state, filing.words) == ("refused", "mhyFrameNo: longer than 64")
    (dead,) = await store.dead_filings()
    assert (dead.last_error, dead.attempts) == ("mhyFrameNo: longer than 64", 2)
    assert await store.retry_dead_filings() == 1
    assert await store.retry_dead_filings() == 0
    (again,) = await store.due_filings(10)
    assert again.id == due.id
    await store.filing_failed(due.id, "HTTP 500, gave up", retry_at=None)
    assert [e.state for e in await store.filing_outbox_of(entry_id)] == ["dead"]
    # a change queues a new row; the dead one then stays dead
    await store.set_status(entry_id, EntryStatus.SEALED, "王五", "city")
    assert await store.retry_dead_filings([due.id]) == 0


async def test_search_by_prefix_in_keyset_pages_and_export_streams(store: Store) -> None:
    entries = [
        parse_entry("vehicle", {**TRUCK, "plate": f"豫A{n:05d}", "vin": f"LVN{n:014d}",
                                "engine_no": f"E{n}"})
        for n in range(EXPORT_PAGE + 20)
    ]  # fmt: skip
    ids = await store.import_entries(entries, "导入")
    await store.add_entry(parse_entry("machine", LOADER), "王五")
    page = await store.search_entries("vehicle", limit=7)
    assert [e.id for e in page] == ids[::-1][:7]
    following = await store.search_entries("vehicle", limit=7, before=page[-1].id)
    assert [e.id for e in following] == ids[::-1][7:14]
    assert [e.plate for e in await store.search_entries("vehicle", "豫a0001")] == [
        f"豫A0001{n}" for n in range(9, -1, -1)
    ]
    assert [e.plate for e in await store.search_entries(None, "lvn00000000000003")] == ["豫A00003"]
    assert [e.plate for e in await store.search_entries(None, "lg855")] == ["豫A0001Z"]
    assert await store.search_entries("inner") == []
    assert len(await store.search_entries(status="1", limit=1000)) == len(ids) + 1
    exported = [e.id async for e in store.export_entries("vehicle")]
    assert exported == ids
    assert [e.plate async for e in store.export_entries("machine")] == ["豫A0001Z"]
    # an import with a plate already there stores nothing
    with pytest.raises(EntryExistsError) as caught:
        await store.import_entries([parse_entry("vehicle", {**TRUCK, "plate": "豫B11111"}),
                                    entries[3]], "导入")  # fmt: skip
    assert caught.value.index == 1
    assert await store.find_entry("vehicle", "豫B11111", "1") is None


async def test_the_search_walks_an_index(store: Store) -> None:
    plan = await store.database.history.fetchall(
        "EXPLAIN QUERY PLAN SELECT * FROM filing_entries WHERE register = ? AND "
        "((plate >= ? AND plate < ?) OR (vin >= ? AND vin < ?)) ORDER BY id DESC LIMIT 50",
        ("vehicle", "豫A", "豫A\U0010ffff", "LZ", "LZ\U0010ffff"),
    )
    text = " ".join(str(r["detail"]) for r in plan)
    assert "USING INDEX" in text or "USING COVERING INDEX" in text, text


# -- the actions -------------------------------------------------------------------------------
@dataclass
class Desk:
    filings: Filings
    store: Store
    photo_dir: Path
    gained: list[tuple[str, str, str]]

    async def audit(self) -> list[tuple[str, str, str, str]]:
        rows = await self.store.audit_log()
        return [(r.actor, r.action, r.result, r.detail) for r in reversed(rows)]


def _operator(store: Store) -> Operator:
    return Operator(store, ListBook(store, ListsConfig(), SH), PlanBook(store, [], SH))


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    store = await Store.open(tmp_path / "edge.db")
    gained: list[tuple[str, str, str]] = []

    async def gain(plate: str, color: str, pk: str) -> Mapping[str, str]:
        gained.append((plate, color, pk))
        if plate == "豫A40404":
            raise RuntimeError("未找到车辆备案信息")
        return {
            "license": plate, "licenseColor": color, "vin": "LFV3A23C0E3012345",
            "engineNo": "ENG123", "onwer": "外省某公司", "registerDate": "2018-01-02",
            "emissionStandard": "5", "licensePK": "PK-OTHER-1",
            "drivingLicenseImg": base64.b64encode(sample_jpeg("licence")).decode(),
        }  # fmt: skip

    filings = Filings(_operator(store), tmp_path / "photos", platform="province", gain=gain)
    try:
        yield Desk(filings, store, tmp_path / "photos", gained)
    finally:
        await store.close()


async def test_adding_with_a_licence_image_queues_the_filing(desk: Desk) -> None:
    licence = sample_4k_frame()
    assert len(licence) > MAX_IMAGE_BYTES
    done = await desk.filings.add(CLERK, "vehicle", TRUCK, {"driving_license": licence})
    assert done.ok
    assert done.plate == "豫A12345"
    assert done.note == ""
    assert done.id is not None
    (image,) = await desk.store.images_of(done.id)
    stored = (desk.photo_dir / image.path).read_bytes()
    assert image.path.startswith("filings/")
    assert image.size == len(stored)
    assert len(stored) <= MAX_IMAGE_BYTES
    assert stored.startswith(b"\xff\xd8")
    (due,) = await desk.store.due_filings(10)
    assert (due.entry_id, due.platform) == (done.id, "province")
    assert await desk.audit() == [("文员王五", "add ledger entry", "ok", "豫A12345: added")]


async def test_an_edit_with_images_is_all_or_nothing(desk: Desk) -> None:
    added = await desk.filings.add(CLERK, "vehicle", TRUCK)  # no images: kept 未备案
    assert added.id is not None
    assert await desk.store.due_filings(10) == []
    bad = {"driving_license": sample_jpeg("行驶证"), "emission_list": b"<html>"}
    with pytest.raises(EntryRefusedError) as caught:
        await desk.filings.modify(CLERK, added.id, {"owner": "新主人"}, bad)
    assert caught.value.key == "emission_list"
    stored = await desk.store.get_entry(added.id)
    assert stored is not None
    assert stored.owner == TRUCK["owner"]  # the fields as they were
    assert await desk.store.images_of(added.id) == []  # no image either
    assert await desk.store.due_filings(10) == []  # and nothing queued
    good = {"driving_license": sample_jpeg("行驶证")}
    done = await desk.filings.modify(CLERK, added.id, {"owner": "新主人"}, good)
    assert done.detail == "豫A12345: changed owner, driving_license"
    assert [i.kind for i in await desk.store.images_of(added.id)] == ["driving_license"]
    assert len(await desk.store.due_filings(10)) == 1  # one change, one filing
    images_only = await desk.filings.modify(CLERK, added.id, {}, good)
    assert images_only.ok
    assert [a[2] for a in await desk.audit()] == ["ok", "refused", "ok", "ok"]


async def test_without_images_it_is_kept_unfiled_and_says_why(desk: Desk) -> None:
    long_number = {**LOADER, "plate": "厂内编号-ABCDEFGHIJKL"}  # the wire model takes 14
    with pytest.raises(EntryRefusedError) as caught:  # with a platform: refused, in Chinese
        await desk.filings.add(CLERK, "machine", long_number)
    ((problem,),) = [caught.value.problems]
    assert problem.field == "plate"
    assert words(problem.field, problem.reason).startswith(f"{title('plate')}超过平台规定的 14")
    with pytest.raises(ImportRefusedError) as refused:
        await desk.filings.import_rows(CLERK, "machine", [long_number])
    assert [(p.row, p.field) for p in refused.value.problems] == [(2, "plate")]
    ledger_only = Filings(desk.filings.operator, desk.photo_dir)  # no platform: kept
    kept = await ledger_only.add(CLERK, "machine", long_number)
    assert "longer than the platform's 14" in kept.note
    done = await desk.filings.add(CLERK, "machine", {**LOADER, "plate": "厂内编号-ABC"})
    assert "未备案" in done.note
    assert "发动机铭牌与随车清单不能同时为空" in done.note
    assert await desk.store.due_filings(10) == []
    assert done.id is not None
    image = await desk.filings.attach_image(CLERK, done.id, "nameplate", sample_jpeg("铭牌"))
    assert image.ok
    assert image.note == ""
    assert len(await desk.store.due_filings(10)) == 1
    with pytest.raises(EntryRefusedError) as caught:
        await desk.filings.attach_image(CLERK, done.id, "driving_license", sample_jpeg("x"))
    assert caught.value.key == "image"
    with pytest.raises(EntryRefusedError) as caught:
        await desk.filings.attach_image(CLERK, done.id, "nameplate", b"<html>")
    assert caught.value.key == "nameplate"
    with pytest.raises(NotFoundError):
        await desk.filings.attach_image(CLERK, 999, "nameplate", sample_jpeg("x"))


async def test_a_bad_form_names_every_field_and_is_audited_refused(desk: Desk) -> None:
    with pytest.raises(EntryRefusedError) as caught:
        await desk.filings.add(CLERK, "vehicle", {**TRUCK, "vin": "", "emission": "9"},
                               {"nameplate": b"x"})  # fmt: skip
    assert {p.field for p in caught.value.problems} == {"vin", "emission"}
    assert caught.value.key == "vin"
    ((_, action, result, detail),) = await desk.audit()
    assert (action, result) == ("add ledger entry", "refused")
    assert "emission" in detail
    await desk.filings.add(CLERK, "vehicle", TRUCK)
    with pytest.raises(InvalidInputError, match="already"):
        await desk.filings.add(CLERK, "vehicle", TRUCK)
    with pytest.raises(NotAllowedError):
        await desk.filings.add(STRANGER, "vehicle", TRUCK)
    with pytest.raises(NotAllowedError):
        await desk.filings.add(REMOTE, "vehicle", TRUCK)


async def test_modify_and_status(desk: Desk) -> None:
    added = await desk.filings.add(ROOT, "inner", TRUCK, {"emission_list": sample_jpeg("清单")})
    assert added.id is not None
    changed = await desk.filings.modify(CLERK, added.id, {"owner": "新主人", "fleet": ""})
    assert changed.ok
    assert changed.detail == "豫A12345: changed owner, fleet"
    same = await desk.filings.modify(CLERK, str(added.id), {"owner": "新主人"})
    assert not same.ok
    with pytest.raises(InvalidInputError, match="cannot change"):
        await desk.filings.modify(CLERK, added.id, {"plate": "豫A99999"})
    with pytest.raises(EntryRefusedError):
        await desk.filings.modify(CLERK, added.id, {"register_date": "yesterday"})
    with pytest.raises(NotFoundError):
        await desk.filings.modify(CLERK, "77", {"owner": "x"})
    assert (await desk.filings.change_status(CLERK, added.id, "封存")).ok
    assert not (await desk.filings.change_status(CLERK, added.id, "2")).ok
    with pytest.raises(InvalidInputError) as caught:
        await desk.filings.change_status(CLERK, added.id, "9")
    assert caught.value.key == "status"
    stored = await desk.store.get_entry(added.id)
    assert stored is not None
    assert (stored.status, stored.owner) == ("2", "新主人")
    assert len(await desk.store.due_filings(10)) == 1  # one pending row, sent as it is then


async def test_a_reissued_plate_is_a_new_entry_beside_the_cancelled_one(desk: Desk) -> None:
    old = await desk.filings.add(CLERK, "vehicle", TRUCK, {"driving_license": sample_jpeg("x")})
    with pytest.raises(InvalidInputError, match="in the ledger already"):
        await desk.filings.add(CLERK, "vehicle", {**TRUCK, "vin": "LZZAELJD5KA999999"})
    assert old.id is not None
    await desk.filings.change_status(CLERK, old.id, "注销")
    new = await desk.filings.add(CLERK, "vehicle", {**TRUCK, "vin": "LZZAELJD5KA999999"})
    assert new.id is not None
    assert new.id != old.id
    with pytest.raises(InvalidInputError, match="in the ledger already") as caught:
        await desk.filings.change_status(CLERK, old.id, "正常")
    assert caught.value.key == "status"
    await desk.filings.change_status(CLERK, new.id, "封存")  # a sealed one is in force too
    with pytest.raises(InvalidInputError):
        await desk.filings.change_status(CLERK, old.id, "1")
    found = await desk.store.find_entry("vehicle", TRUCK["plate"], "1")
    assert found is not None
    assert found.id == new.id


async def test_an_import_with_bad_rows_is_refused_whole(desk: Desk) -> None:
    rows = [
        {**TRUCK, "plate": "豫A00001", "vin": "LZZAELJD5KA000001"},
        {**TRUCK, "plate": "豫A00002", "emission": "9"},
        {**TRUCK, "plate": "豫A00003", "vin": "LZZAELJD5KA000003"},
        {**TRUCK, "plate": "豫A00001"},
        {**TRUCK, "plate": "豫A00005", "vin": "", "plate_color": "7"},
    ]
    with pytest.raises(ImportRefusedError) as caught:
        await desk.filings.import_rows(CLERK, "vehicle", rows)
    assert [(p.row, p.field) for p in caught.value.problems] == [
        (3, "emission"), (5, "plate"), (6, "plate_color"), (6, "vin"),
    ]  # fmt: skip
    assert await desk.store.search_entries() == []
    good = [r for i, r in enumerate(rows) if i in (0, 2)]
    done = await desk.filings.import_rows(CLERK, "vehicle", good)
    assert done.count == 2
    again = [{**TRUCK, "plate": "豫B11111", "emission": "9"}, good[1]]  # bad; already there
    with pytest.raises(ImportRefusedError) as caught:
        await desk.filings.import_rows(CLERK, "vehicle", again)
    assert [(p.row, p.field) for p in caught.value.problems] == [(2, "emission"), (3, "plate")]
    assert "in the ledger already" in caught.value.problems[1].reason
    with pytest.raises(InvalidInputError):
        await desk.filings.import_rows(CLERK, "lorries", good)
    assert [(a, r) for _, a, r, _ in await desk.audit()] == [
        ("import ledger entries", "refused"), ("import ledger entries", "ok"),
        ("import ledger entries", "refused"), ("import ledger entries", "refused"),
    ]  # fmt: skip
    assert await desk.store.due_filings(10) == []  # imported rows wait for their images


async def test_one_vehicle_one_vin_among_the_entries_in_force(desk: Desk) -> None:
    """The same VIN on two entries in force (two plates) of a register is refused, naming
    the VIN and the entry that has it: adding, importing (also twice in the file), changing
    the VIN, and bringing back a 注销 entry. Once the old plate is 注销 the VIN may move."""
    first = await desk.filings.add(CLERK, "vehicle", TRUCK)
    assert first.id is not None
    moved = {**TRUCK, "plate": "豫A54321"}
    with pytest.raises(InvalidInputError, match="VIN LZZAELJD5KA123456 is on 豫A12345") as caught:
        await desk.filings.add(CLERK, "vehicle", moved)
    assert caught.value.key == "vin"
    await desk.filings.add(CLERK, "inner", moved)  # another register: its own ledger
    other = await desk.filings.add(CLERK, "vehicle", {**moved, "vin": "LZZAELJD5KA000009"})
    assert other.id is not None
    with pytest.raises(InvalidInputError) as caught:
        await desk.filings.modify(CLERK, other.id, {"vin": TRUCK["vin"]})
    assert caught.value.key == "vin"
    rows = [
        {**TRUCK, "plate": "豫B00001"},  # the VIN of 豫A12345
        {**TRUCK, "plate": "豫B00002", "vin": "LZZAELJD5KB000002"},
        {**TRUCK, "plate": "豫B00003", "vin": "lzzaeljd5kb000002"},  # row 3's, upper-cased
        {**TRUCK, "plate": "豫B00004", "vin": TRUCK["vin"], "status": "3"},  # 注销: kept
    ]
    with pytest.raises(ImportRefusedError) as caught_rows:
        await desk.filings.import_rows(CLERK, "vehicle", rows)
    assert [(p.row, p.field, p.reason) for p in caught_rows.value.problems] == [
        (2, "vin", f"VIN LZZAELJD5KA123456 is on 豫A12345 already (entry {first.id})"),
        (4, "vin", "VIN also in row 3"),
    ]
    await desk.filings.change_status(CLERK, first.id, "注销")
    done = await desk.filings.add(CLERK, "vehicle", {**TRUCK, "plate": "豫A65432"})  # new plate
    with pytest.raises(InvalidInputError, match="VIN"):
        await desk.filings.change_status(CLERK, first.id, "正常")
    assert done.ok


async def test_an_import_asks_the_ledger_once_per_chunk_not_once_per_row(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """5,000 rows against a ledger of 2,000: the rows already there are found by one IN
    query per 900 plates and per 900 VINs (not 5,000 look-ups), across chunk boundaries."""
    there = [
        parse_entry("vehicle", {**TRUCK, "plate": f"豫C{n:05d}", "vin": f"LZZAELJD5KC{n:06d}"})
        for n in range(2000)
    ]
    await desk.store.import_entries(there, "导入")
    rows = [{**TRUCK, "plate": f"豫D{n:05d}", "vin": f"LZZAELJD5KD{n:06d}"} for n in range(5000)]
    rows[100]["plate"] = "豫C00100"  # in the ledger
    rows[4321]["plate"] = "豫C01999"
    rows[2500]["vin"] = "LZZAELJD5KC001234"  # a VIN in the ledger
    queries: list[str] = []
    real = desk.store.database.fetchall

    async def counted(sql: str, args: tuple[object, ...] = ()) -> list[Any]:
        queries.append(sql)
        return await real(sql, args)

    monkeypatch.setattr(desk.store.database, "fetchall", counted)
    with pytest.raises(ImportRefusedError) as caught:
        await desk.filings.import_rows(CLERK, "vehicle", rows)
    assert [(p.row, p.field) for p in caught.value.problems] == [
        (102, "plate"), (2502, "vin"), (4323, "plate"),
    ]  # fmt: skip
    asked = [q for q in queries if "filing_entries" in q]
    assert len(asked) == 2 * -(-5000 // IN_CHUNK) == 12
    assert all(" IN (" in q for q in asked)


async def test_fetching_a_filing_from_the_province(desk: Desk) -> None:
    done = await desk.filings.fetch(CLERK, "豫a77777", "1")
    assert done.ok
    assert done.detail == "licensePK PK-OTHER-1"
    assert done.id is not None
    assert desk.gained == [("豫A77777", "1", "")]
    stored = await desk.store.get_entry(done.id)
    assert stored is not None
    assert (stored.vin, stored.emission) == ("LFV3A23C0E3012345", "5")
    assert await desk.store.license_pk_of("豫A77777", "1") == "PK-OTHER-1"
    (image,) = await desk.store.images_of(done.id)
    assert image.kind == "driving_license"
    again = await desk.filings.fetch(CLERK, "豫A77777", "1", "PK-OTHER-1")
    assert again.ok
    assert again.id == done.id
    missing = await desk.filings.fetch(CLERK, "豫A40404", "1")
    assert not missing.ok
    assert "未找到" in missing.detail
    with pytest.raises(EntryRefusedError):
        await desk.filings.fetch(CLERK, "nothing", "8")
    city = Filings(desk.filings.operator, desk.photo_dir, platform="city")
    with pytest.raises(NotAllowedError):
        await city.fetch(CLERK, "豫A77777", "1")


async def test_retry_dead_filings(desk: Desk) -> None:
    added = await desk.filings.add(CLERK, "vehicle", TRUCK, {"driving_license": sample_jpeg("x")})
    (due,) = await desk.store.due_filings(10)
    await desk.store.filing_answered(due.id, "VehElecAccountAdd", accepted=False, answer="拒绝")
    assert not (await desk.filings.retry(CLERK, [12345])).ok
    assert (await desk.filings.retry(CLERK, None)).count == 1
    assert added.id is not None


async def test_no_platform_keeps_entries_local(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "edge.db")
    try:
        filings = Filings(_operator(store), tmp_path / "photos")
        done = await filings.add(ROOT, "vehicle", TRUCK, {"driving_license": sample_jpeg("x")})
        assert "no platform" in done.note
        assert await store.due_filings(10) == []
    finally:
        await store.close()


def test_an_issue_date_before_the_register_date_is_refused_in_chinese() -> None:
    """A 行驶证 is issued at the registration or later: an issue date before the register
    date is refused naming 发证日期 (the same day, or later, is taken)."""
    with pytest.raises(FilingError) as caught:
        parse_entry("vehicle", {**TRUCK, "register_date": "2019/5/1", "issue_date": "2019/4/30"})
    (problem,) = caught.value.problems
    assert problem.field == "issue_date"
    said = words(problem.field, problem.reason)
    assert said.startswith("发证日期")
    assert "早于注册日期" in said
    for later, stored in (("2019/5/1", "2019-05-01"), ("2023/1/2", "2023-01-02")):
        entry = parse_entry("vehicle", {**TRUCK, "issue_date": later})
        assert isinstance(entry, TransportVehicle)
        assert entry.issue_date == stored
