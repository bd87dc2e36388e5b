"""Filing through the outbox of filings (issue 15) over real HTTP: the ledger's entries reach
the city and province simulators, which check every field with their own tables (not our
models), return licensePK (province), refuse what a strict platform would (kept as a dead
letter with the platform's words) and keep what they received; a platform away is retried;
the stored licensePK goes with the vehicle's next pass record; GetNeedCompleteVehEx and
DrivingLicenseScanEx."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from edge.actions.filing import EntryRefusedError, Filings
from edge.actions.operator import NotAllowedError, NotFoundError
from edge.domain.filing import OBSOLETE, SUPERSEDED, ImageKind, parse_entry
from edge.domain.filing_words import is_chinese, refusal_words
from edge.domain.plates import PlateColor
from edge.ledger.store import Store
from edge.sim.jpeg import jpeg_label, sample_jpeg
from edge.sim.platform import CityPlatformSim, Fault, PlatformSim, load_vehicles
from edge.sim.province import ProvincePlatformSim
from edge.sim.spec_check import CITY, PROVINCE, violations
from edge.uplink.breaker import LinkMonitor
from edge.uplink.filing_sender import LOST_ADD, FilingSender
from edge.uplink.platform.city import CityPlatform
from edge.uplink.platform.errors import PermanentError
from edge.uplink.platform.province import ProvincePlatform
from tests.helpers import REPORT, city_client, eventually, province_client
from tests.test_filing import CLERK, LOADER, TRUCK, _operator
from tests.test_operator_actions import STRANGER

ENTERPRISE = "4101000001"


@dataclass
class Site:
    sim: PlatformSim
    client: CityPlatform | ProvincePlatform
    store: Store
    filings: Filings
    sender: FilingSender
    now: list[float]

    async def send_due(self) -> list[bool]:
        return [await self.sender.send(row) for row in await self.store.due_filings(50)]


async def _site(tmp_path: Path, mode: str) -> AsyncIterator[Site]:
    sim: PlatformSim = ProvincePlatformSim() if mode == "province" else CityPlatformSim()
    await sim.start()
    client = province_client(sim) if mode == "province" else city_client(sim)  # type: ignore[arg-type]
    now = [1000.0]
    store = await Store.open(tmp_path / "edge.db", clock=lambda: now[0])
    filings = Filings(_operator(store), tmp_path / "photos", platform=mode)
    if isinstance(client, ProvincePlatform):
        province_client_ = client

        async def listing() -> list[tuple[str, str, str]]:
            return [(v.license, v.licenseColor, v.addDate)
                    for v in await province_client_.need_complete()]  # fmt: skip

        filings = Filings(_operator(store), tmp_path / "photos", platform=mode,
                          scan=client.scan_licence, need_complete=listing)  # fmt: skip
    sender = FilingSender(
        store, client, filings.photos, LinkMonitor(lambda: now[0]),
        company_code=ENTERPRISE, backoff_initial=1.0, backoff_max=60.0,
        clock=lambda: now[0], rand=lambda: 0.5,
    )  # fmt: skip
    try:
        yield Site(sim, client, store, filings, sender, now)
    finally:
        await client.aclose()
        await store.close()
        await sim.stop()


@pytest.fixture
async def province(tmp_path: Path) -> AsyncIterator[Site]:
    async for site in _site(tmp_path, "province"):
        yield site


@pytest.fixture
async def city(tmp_path: Path) -> AsyncIterator[Site]:
    async for site in _site(tmp_path, "city"):
        yield site


LICENCE = {"driving_license": sample_jpeg("豫A12345")}


async def test_province_add_then_modify_every_register(province: Site) -> None:
    truck = await province.filings.add(CLERK, "vehicle", TRUCK, LICENCE)
    inner = await province.filings.add(CLERK, "inner", {**TRUCK, "plate": "豫A55555"},
                                       {"emission_list": sample_jpeg("清单")})  # fmt: skip
    machine = await province.filings.add(CLERK, "machine", LOADER,
                                         {"nameplate": sample_jpeg("铭牌")})  # fmt: skip
    assert await province.send_due() == [True, True, True]
    assert [m for m, _ in province.sim.filings] == [
        "VehElecAccountAdd", "InnerVehElecAccountAdd", "InnerMHYElecAccountAdd",
    ]  # fmt: skip
    for method, body in province.sim.filings:  # every field valid by the simulator's tables
        assert violations({**body, "accessToken": "t"}, PROVINCE[method]) == []
    vehicle_body = province.sim.filings[0][1]
    assert (vehicle_body["license"], vehicle_body["onwer"], vehicle_body["registerDate"]) == (
        "豫A12345", "郑州某物流有限公司", "2019-05-01",
    )  # fmt: skip
    assert jpeg_label(base64.b64decode(vehicle_body["drivingLicenseImg"])) == "豫A12345"
    assert province.sim.filings[1][1]["carStatus"] == "1"
    assert province.sim.filings[1][1]["companyCode"] == ENTERPRISE
    assert province.sim.filings[2][1]["mhyPlate"] == "豫A0001Z"
    pks = []
    for done in (truck, inner, machine):
        assert done.id is not None
        (filing,) = await province.store.filings_of(done.id)
        assert filing.state == "accepted"
        pks.append(filing.license_pk)
    assert pks == ["PK00000001", "PK00000002", "PK00000003"]
    assert await province.store.license_pk_of("豫A12345", "1") == "PK00000001"
    # changes go as Modify with the licensePK
    assert truck.id is not None
    assert inner.id is not None
    assert machine.id is not None
    await province.filings.modify(CLERK, truck.id, {"owner": "新主人"})
    await province.filings.change_status(CLERK, inner.id, "封存")
    await province.filings.change_status(CLERK, machine.id, "注销")
    assert await province.send_due() == [True, True, True]
    assert [(m, b["licensePK"]) for m, b in province.sim.filings[3:]] == [
        ("VehElecAccountModify", "PK00000001"), ("InnerVehElecAccountModify", "PK00000002"),
        ("InnerMHYElecAccountModify", "PK00000003"),
    ]  # fmt: skip
    assert province.sim.filings[4][1]["carStatus"] == "2"
    assert province.sim.filings[5][1]["mhyStatus"] == "3"
    history = await province.store.entry_history(truck.id)
    assert [h.actor for h in history if h.action == "filing"] == ["platform:province"] * 2


async def test_the_next_pass_record_carries_the_stored_license_pk(province: Site) -> None:
    await province.filings.add(CLERK, "vehicle", TRUCK, LICENCE)
    await province.send_due()
    assert isinstance(province.client, ProvincePlatform)
    pk = await province.store.license_pk_of(REPORT.plate, REPORT.color)
    report = replace(REPORT, license_pk=pk or "")
    record = province.client.enter_exit_record(report)
    assert (record.islicensePK, record.licensePK) == ("1", "PK00000001")
    await province.client.send_passes([report])
    (sent,) = province.sim.records[REPORT.serial]
    assert (sent["islicensePK"], sent["licensePK"]) == ("1", "PK00000001")


async def test_a_refusal_keeps_the_platforms_words_and_retry_sends_it_again(
    province: Site,
) -> None:
    assert isinstance(province.sim, ProvincePlatformSim)
    right = province.sim.company_secret_code
    province.sim.company_secret_code = "ANOTHER"
    done = await province.filings.add(CLERK, "vehicle", TRUCK, LICENCE)
    assert await province.send_due() == [False]
    assert done.id is not None
    (filing,) = await province.store.filings_of(done.id)
    assert (filing.state, filing.words) == ("refused", "企业授权号错误")
    (dead,) = await province.store.dead_filings()
    assert dead.last_error == "企业授权号错误"
    province.sim.company_secret_code = right
    assert (await province.filings.retry(CLERK)).count == 1
    assert await province.send_due() == [True]
    (filing,) = await province.store.filings_of(done.id)
    assert filing.state == "accepted"


async def test_a_platform_away_is_retried_after_a_backoff(province: Site) -> None:
    await province.filings.add(CLERK, "vehicle", TRUCK, LICENCE)
    await province.sim.stop()
    assert await province.send_due() == [False]
    (row,) = await province.store.filing_outbox_of(1)
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.next_attempt_at > province.now[0]
    assert await province.store.due_filings(10) == []
    await province.sim.start()
    province.now[0] = row.next_attempt_at
    assert await province.send_due() == [True]


def _accounts(sim: PlatformSim, kind: str) -> list[str]:
    assert isinstance(sim, ProvincePlatformSim)
    return [pk for pk, k in sim.account_kinds.items() if k == kind]


@pytest.mark.parametrize("lost", [Fault("lost", "reset"), Fault("lost", 504)],
                         ids=["connection reset", "gateway 504"])  # fmt: skip
async def test_a_lost_add_reply_is_not_added_again(province: Site, lost: Fault) -> None:
    """The platform took the Add, its reply was lost: the sender asks (VehElecAccountGain)
    before adding again, stores the licensePK the platform holds and sends the entry's
    latest change as Modify — one licensePK at the platform, the ledger holds it."""
    done = await province.filings.add(CLERK, "vehicle", TRUCK, LICENCE)
    assert done.id is not None
    province.sim.faults.append(replace(lost, ipctype="VehElecAccountAdd"))
    assert await province.send_due() == [False]
    assert _accounts(province.sim, "vehicle") == ["PK00000001"]  # taken, the reply lost
    (row,) = await province.store.filing_outbox_of(done.id)
    assert (row.state, row.unanswered) == ("pending", "VehElecAccountAdd")
    await province.filings.modify(CLERK, done.id, {"owner": "改过的所有人"})  # meanwhile
    province.now[0] = row.next_attempt_at
    assert await province.send_due() == [True]
    assert province.sim.calls["VehElecAccountAdd"] == 1
    assert province.sim.calls["VehElecAccountGain"] == 1
    assert _accounts(province.sim, "vehicle") == ["PK00000001"]
    assert [m for m, _ in province.sim.filings] == ["VehElecAccountAdd", "VehElecAccountModify"]
    assert province.sim.filings[-1][1]["onwer"] == "改过的所有人"
    (filing,) = await province.store.filings_of(done.id)
    assert (filing.state, filing.license_pk) == ("accepted", "PK00000001")
    assert await province.store.license_pk_of("豫A12345", "1") == "PK00000001"
    assert province.sim.rejected == []


async def test_an_add_that_never_reached_the_platform_is_added_after_asking(
    province: Site,
) -> None:
    """The daemon was killed after noting the send (or the link failed before the platform
    took it): Gain finds nothing, so the Add goes out — once."""
    done = await province.filings.add(CLERK, "vehicle", TRUCK, LICENCE)
    (row,) = await province.store.due_filings(10)
    await province.store.filing_sending(row.id, "VehElecAccountAdd")  # …and then the kill
    assert await province.send_due() == [True]
    assert (province.sim.calls["VehElecAccountGain"], province.sim.calls["VehElecAccountAdd"]) == (
        1,
        1,
    )
    assert done.id is not None
    (filing,) = await province.store.filings_of(done.id)
    assert (filing.state, filing.license_pk) == ("accepted", "PK00000001")


@pytest.mark.parametrize("register", ["inner", "machine"])
async def test_a_lost_inner_add_is_sent_again(province: Site, register: str) -> None:
    """In-plant vehicles and machines: the spec has no query, so the Add is sent again; the
    simulator answers a second Add of a filing it holds with its licensePK — one licensePK,
    the ledger holds it."""
    form, image = ({**TRUCK, "plate": "豫A55555"}, "emission_list") if register == "inner" else (
        LOADER, "nameplate")  # fmt: skip
    done = await province.filings.add(CLERK, register, form, {image: sample_jpeg("x")})
    assert done.id is not None
    province.sim.faults.append(Fault("lost", "reset"))
    assert await province.send_due() == [False]
    (row,) = await province.store.filing_outbox_of(done.id)
    province.now[0] = row.next_attempt_at
    assert await province.send_due() == [True]
    assert province.sim.calls["VehElecAccountGain"] == 0
    assert _accounts(province.sim, register) == ["PK00000001"]
    (filing,) = await province.store.filings_of(done.id)
    assert (filing.state, filing.license_pk) == ("accepted", "PK00000001")


async def test_a_refused_second_inner_add_says_the_first_may_have_been_taken(
    province: Site,
) -> None:
    """A platform that refuses a second Add instead: the dead letter keeps its words and
    says the first Add's answer was lost, so an operator checks on the platform."""
    done = await province.filings.add(CLERK, "machine", LOADER, {"nameplate": sample_jpeg("x")})
    province.sim.faults += [Fault("lost", 504), Fault("code", "机械备案已存在，请勿重复新增")]
    assert await province.send_due() == [False]
    assert done.id is not None
    (row,) = await province.store.filing_outbox_of(done.id)
    province.now[0] = row.next_attempt_at
    assert await province.send_due() == [False]
    (filing,) = await province.store.filings_of(done.id)
    assert (filing.state, filing.words) == ("refused", "机械备案已存在，请勿重复新增" + LOST_ADD)


async def test_a_refused_add_is_not_asked_about_again(province: Site) -> None:
    """A clear refusal is an answer: the operator's retry sends the Add without a query."""
    assert isinstance(province.sim, ProvincePlatformSim)
    province.sim.faults.append(Fault("code", "号牌号码格式错误", "VehElecAccountAdd"))
    await province.filings.add(CLERK, "vehicle", TRUCK, LICENCE)
    assert await province.send_due() == [False]
    (dead,) = await province.store.dead_filings()
    assert dead.unanswered is None
    assert (await province.filings.retry(CLERK)).count == 1
    assert await province.send_due() == [True]
    assert province.sim.calls["VehElecAccountGain"] == 0


async def test_the_province_simulator_refuses_a_second_add(province: Site) -> None:
    """One filing per vehicle, never a second licensePK: a second Add of a held transport
    vehicle (plate and colour) is refused in the platform's words (Gain fetches it); one of
    a held machine or in-plant vehicle is answered with its licensePK; one set to 注销 may be
    added again (a reissued number)."""
    client = province.client
    assert isinstance(client, ProvincePlatform)
    entry = parse_entry("vehicle", TRUCK)
    first = await client.file_entry(entry, {ImageKind.DRIVING_LICENSE: sample_jpeg("a")},
                                    company_code=ENTERPRISE)  # fmt: skip
    with pytest.raises(PermanentError, match="车辆备案已存在，请勿重复新增"):
        await client.file_entry(entry, {ImageKind.DRIVING_LICENSE: sample_jpeg("a")},
                                company_code=ENTERPRISE)  # fmt: skip
    other_colour = parse_entry("vehicle", {**TRUCK, "plate_color": "0"})
    second = await client.file_entry(other_colour, {ImageKind.DRIVING_LICENSE: b"\xff\xd8x"},
                                     company_code=ENTERPRISE)  # fmt: skip
    assert first.license_pk != second.license_pk
    held = await client.held_filing(entry)
    assert held is not None
    assert held.license_pk == first.license_pk
    assert await client.held_filing(parse_entry("vehicle", {**TRUCK, "plate": "豫A99999"})) is None
    machine = parse_entry("machine", LOADER)
    plate = {ImageKind.NAMEPLATE: sample_jpeg("铭牌")}
    pk = (await client.file_entry(machine, plate, company_code=ENTERPRISE)).license_pk
    renamed = parse_entry("machine", {**LOADER, "name": "装载机二号"})
    assert (await client.file_entry(renamed, plate, company_code=ENTERPRISE)).license_pk == pk
    assert isinstance(province.sim, ProvincePlatformSim)
    assert province.sim.accounts[pk]["mhyJXMC"] == "装载机二号"
    cancelled = parse_entry("machine", {**LOADER, "status": "3"})
    await client.file_entry(cancelled, plate, company_code=ENTERPRISE, license_pk=pk)
    again = await client.file_entry(machine, plate, company_code=ENTERPRISE)
    assert again.license_pk != pk  # a reissued number: a new filing
    assert await client.held_filing(machine) is None  # no query for machines


async def test_a_lost_city_filing_is_sent_again(city: Site) -> None:
    """City: the share methods complete a plate's information and return no licensePK, so
    the same filing is simply sent again."""
    await city.filings.add(CLERK, "vehicle", TRUCK, LICENCE)
    city.sim.faults.append(Fault("lost", "reset"))
    assert await city.send_due() == [False]
    (row,) = await city.store.filing_outbox_of(1)
    city.now[0] = row.next_attempt_at
    assert await city.send_due() == [True]
    assert [m for m, _ in city.sim.filings] == ["shareVehInfo", "shareVehInfo"]


async def test_city_filings_in_the_envelope(city: Site) -> None:
    await city.filings.add(CLERK, "vehicle", TRUCK, LICENCE)
    await city.filings.add(CLERK, "inner", {**TRUCK, "plate": "厂内07"},
                           {"driving_license": sample_jpeg("x")})  # fmt: skip
    await city.filings.add(CLERK, "machine", LOADER, {"emission_list": sample_jpeg("清单")})
    assert await city.send_due() == [True, True, True]
    assert [m for m, _ in city.sim.filings] == [
        "shareVehInfo", "shareInnerVehInfo", "shareInnerMHYElec",
    ]  # fmt: skip
    for method, body in city.sim.filings:
        assert violations(body, CITY[method]) == []
    (filing,) = await city.store.filings_of(1)
    assert (filing.platform, filing.state, filing.license_pk) == ("city", "accepted", None)


async def test_need_complete_and_licence_scan(province: Site) -> None:
    assert isinstance(province.sim, ProvincePlatformSim)
    assert isinstance(province.client, ProvincePlatform)
    province.sim.need_complete = [("豫A12345", "1", "20261201080000"), ("豫B22222", "2", "")]
    listed = await province.client.need_complete()
    assert [(v.license, v.licenseColor) for v in listed] == [("豫A12345", "1"), ("豫B22222", "2")]
    form = await province.client.scan_licence(sample_jpeg("豫A12345"))
    assert form["plate"] == "豫A12345"
    assert form["vehicle_type"] == "H11"
    assert form["vin"].startswith("LZZ")
    assert form["owner"]
    # what the scan read pre-fills a form that then validates
    done = await province.filings.add(
        CLERK, "vehicle", {**form, "plate_color": "1", "emission": "6"}, LICENCE
    )
    assert done.ok


async def test_the_vehicle_table_feeds_get_need_complete(province: Site, tmp_path: Path) -> None:
    """``edge sim platform --vehicles FILE``: a row with need_complete 1 or 2 is listed by
    GetNeedCompleteVehEx (its plate_color, its added date or the simulator's start) until its
    filing is accepted; the rows with 0 are not."""
    assert isinstance(province.sim, ProvincePlatformSim)
    assert isinstance(province.client, ProvincePlatform)
    table = tmp_path / "vehicles.csv"
    table.write_text(
        "plate,need_complete,plate_color,added,emission\n"
        "豫A12345,2,1,2026-11-30 08:00:00,6\n"
        "豫B22222,1,2,,\n"
        "豫C33333,0,1,,6\n",
        "utf-8",
    )
    province.sim.vehicles = load_vehicles(table)
    listed = await province.client.need_complete()
    assert [(v.license, v.licenseColor, v.addDate) for v in listed] == [
        ("豫A12345", "1", "2026-11-30 08:00:00"), ("豫B22222", "2", province.sim.started),
    ]  # fmt: skip
    verified = await province.client.verify(
        "豫A12345", PlateColor.YELLOW, gate_secret_code="GATE-01"
    )
    assert verified.need_complete == "2"  # the same file gives the verify answer
    await province.filings.add(CLERK, "vehicle", TRUCK, LICENCE)
    assert await province.send_due() == [True]
    listed = await province.client.need_complete()
    assert [v.license for v in listed] == ["豫B22222"]


async def test_scan_and_need_complete_through_the_actions(province: Site, city: Site) -> None:
    assert isinstance(province.sim, ProvincePlatformSim)
    province.sim.need_complete = [("豫A12345", "1", "20261201")]
    assert await province.filings.need_complete(CLERK) == [("豫A12345", "1", "20261201")]
    form = await province.filings.scan_licence(CLERK, sample_jpeg("豫B88888"))
    assert form["plate"] == "豫B88888"
    with pytest.raises(EntryRefusedError):
        await province.filings.scan_licence(CLERK, b"not an image")
    scans = [a for a in reversed(await province.store.audit_log())
             if a.action == "scan driving licence"]  # fmt: skip
    assert [a.result for a in scans] == ["ok", "refused"]  # each scan once
    assert "bytes: read" in scans[0].detail
    assert "plate" in scans[0].detail
    assert all("\\x" not in a.detail and len(a.detail) < 300 for a in scans)  # no image
    await province.sim.stop()
    with pytest.raises(NotFoundError):
        await province.filings.need_complete(CLERK)
    with pytest.raises(NotAllowedError):
        await city.filings.scan_licence(CLERK, sample_jpeg("x"))
    with pytest.raises(NotAllowedError):
        await city.filings.need_complete(CLERK)
    with pytest.raises(NotAllowedError):
        await province.filings.need_complete(STRANGER)


async def test_the_sender_runs_until_everything_is_filed_or_dead(province: Site) -> None:
    """The sender's loop: woken by a new filing; a field the wire model refuses (an internal
    number over the spec's 14) and a document image gone from disk are dead letters with
    their reason; the rest is accepted."""
    province.sender.poll_seconds = 30.0  # a new filing wakes it, not the poll
    await province.filings.add(CLERK, "vehicle", TRUCK, LICENCE)
    # an internal number over 14 entered before the platform was configured (the form refuses
    # it now), queued since
    before = Filings(province.filings.operator, province.filings.photos.root)
    kept = await before.add(CLERK, "inner", {**TRUCK, "plate": "厂内编号-0123456789AB"}, LICENCE)
    assert kept.id is not None
    assert await province.store.queue_filing(kept.id, "province")
    gone = await province.filings.add(CLERK, "machine", LOADER, {"nameplate": sample_jpeg("铭")})
    assert gone.id is not None
    (image,) = await province.store.images_of(gone.id)
    (province.filings.photos.root / image.path).unlink()
    running = asyncio.create_task(province.sender.run())
    try:
        await eventually(lambda: _idle(province), timeout=10)
        await province.filings.add(
            CLERK, "vehicle", {**TRUCK, "plate": "豫A22222", "vin": "LZZAELJD5KA222222"}, LICENCE
        )

        async def settled() -> bool:
            return not await province.store.due_filings(10)

        await eventually(settled, timeout=10)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    states = {
        (await province.store.get_entry(f.entry_id)).plate: f.state  # type: ignore[union-attr]
        for f in [*await province.store.filing_outbox_of(1),
                  *await province.store.filing_outbox_of(2),
                  *await province.store.filing_outbox_of(3)]
    }  # fmt: skip
    assert states == {"豫A12345": "sent", "厂内编号-0123456789AB": "dead", "豫A0001Z": "dead"}
    (last,) = await province.store.filings_of(4)
    assert last.state == "accepted"
    (inner,) = await province.store.filings_of(2)
    assert inner.state == "refused"
    assert inner.words.startswith("not sent:")
    assert "license" in inner.words
    dead = {d.entry_id: d.last_error or "" for d in await province.store.dead_filings()}
    assert dead[3].startswith("image file missing")  # the log's and the ledger's English
    assert (
        refusal_words(dead[3])
        == "证件图片文件已丢失：请在台账中重新上传该条目的证件图片，再重新备案"
    )
    assert is_chinese(refusal_words(dead[2]))  # what the page says (the guard's words)
    assert province.sender.sent == 2


async def _idle(site: Site) -> bool:
    return not await site.store.due_filings(10)


async def test_a_reissued_plate_is_filed_as_a_modify_of_its_license_pk(province: Site) -> None:
    """A transport vehicle's methods have no status and the spec no delete: the old entry's
    注销 sends nothing, and the new vehicle of the plate is filed as a Modify of the licensePK
    the platform holds for the plate (an Add would be refused 「车辆备案已存在」 forever) —
    one licensePK, the platform holding the new vehicle's VIN."""
    old = await province.filings.add(CLERK, "vehicle", TRUCK, LICENCE)
    assert await province.send_due() == [True]
    assert old.id is not None
    (held,) = await province.store.filings_of(old.id)
    cancelled = await province.filings.change_status(CLERK, old.id, "注销")
    assert "没有状态字段" in cancelled.note
    assert await province.store.due_filings(50) == []  # nothing to send for a 注销
    new_vin = "LZZAELJD5KA654321"
    new = await province.filings.add(CLERK, "vehicle", {**TRUCK, "vin": new_vin}, LICENCE)
    assert await province.send_due() == [True]
    assert [m for m, _ in province.sim.filings] == ["VehElecAccountAdd", "VehElecAccountModify"]
    assert _accounts(province.sim, "vehicle") == [held.license_pk]
    assert isinstance(province.sim, ProvincePlatformSim)
    assert province.sim.accounts[held.license_pk or ""]["vin"] == new_vin
    assert new.id is not None
    (filing,) = await province.store.filings_of(new.id)
    assert (filing.state, filing.license_pk) == ("accepted", held.license_pk)
    assert await province.store.license_pk_of("豫A12345", "1") == held.license_pk


async def test_a_cancel_while_pending_is_not_sent(province: Site) -> None:
    """A transport vehicle set to 注销 before its queued change went out: nothing is sent
    (the Modify has no status), the outbox row closed with why, no dead letter."""
    done = await province.filings.add(CLERK, "vehicle", TRUCK, LICENCE)
    assert await province.send_due() == [True]
    assert done.id is not None
    await province.filings.modify(CLERK, done.id, {"owner": "另一家公司"})
    await province.filings.change_status(CLERK, done.id, "3")
    assert await province.send_due() == [False]
    assert [m for m, _ in province.sim.filings] == ["VehElecAccountAdd"]
    rows = await province.store.filing_outbox_of(done.id)
    assert [(r.state, r.method) for r in rows][-1] == ("sent", None)
    assert "没有状态字段" in (rows[-1].last_error or "")
    (filing,) = await province.store.filings_of(done.id)
    assert filing.state == "accepted"
    assert await province.store.dead_filings() == []


async def test_a_change_to_a_cancelled_entry_is_not_filed(city: Site) -> None:
    """City (idempotent by plate): after a reissued plate's new vehicle was filed, a change
    to the old 注销 entry queues nothing — it would overwrite the platform's record of the
    plate's vehicle in force. An in-plant vehicle's 注销 is filed (carStatus 3)."""
    old = await city.filings.add(CLERK, "vehicle", TRUCK, LICENCE)
    assert old.id is not None
    await city.send_due()
    await city.filings.change_status(CLERK, old.id, "注销")
    await city.filings.add(CLERK, "vehicle", {**TRUCK, "vin": "LZZAELJD5KA654321"}, LICENCE)
    assert await city.send_due() == [True]
    changed = await city.filings.modify(CLERK, old.id, {"owner": "旧车主"})
    assert changed.ok
    assert "不报送平台" in changed.note
    image = await city.filings.attach_image(CLERK, old.id, "emission_list", sample_jpeg("清单"))
    assert "不报送平台" in image.note
    assert await city.store.due_filings(50) == []
    assert [b["vin"] for _, b in city.sim.filings] == [TRUCK["vin"].upper(),
                                                       "LZZAELJD5KA654321"]  # fmt: skip
    inner = await city.filings.add(CLERK, "inner", {**TRUCK, "plate": "厂内07"},
                                   {"driving_license": sample_jpeg("x")})  # fmt: skip
    assert inner.id is not None
    await city.send_due()
    await city.filings.change_status(CLERK, inner.id, "注销")
    assert await city.send_due() == [True]
    assert city.sim.filings[-1][1]["carStatus"] == "3"
    added_cancelled = await city.filings.add(
        CLERK, "inner", {**TRUCK, "plate": "厂内08", "status": "3"},
        {"driving_license": sample_jpeg("x")},
    )  # fmt: skip
    assert "不报送平台" in added_cancelled.note
    assert await city.store.due_filings(50) == []


async def test_a_platform_refusal_not_in_chinese_is_said_in_chinese(city: Site) -> None:
    """What the platform answered in English (the simulator's field checks, an HTTP error's
    body) is kept as it came in the ledger and the log, and said on the pages in a Chinese
    sentence quoting it: the platform's reply for whoever calls the platform about it."""
    for n, fault in enumerate((Fault("code", "952"), Fault("http", 400))):
        city.sim.faults.append(fault)
        truck = {**TRUCK, "plate": f"豫A9520{n}", "vin": f"LZZAELJD5KA95200{n}"}
        done = await city.filings.add(CLERK, "vehicle", truck, LICENCE)
        assert await city.send_due() == [False]
        assert done.id is not None
    answers = [d.last_error or "" for d in await city.store.dead_filings()]
    assert sorted(answers) == ["injected", "injected failure"]  # as the platform said it
    assert sorted(refusal_words(a) for a in answers) == [
        "平台拒绝了此备案，平台答复「injected failure」：请核对条目后重新备案，或向平台询问",
        "平台拒绝了此备案，平台答复「injected」：请核对条目后重新备案，或向平台询问",
    ]
    assert refusal_words("企业授权号错误") == "企业授权号错误"  # Chinese already: as it came


#: An in-plant vehicle and a machine, each with a second (the plate reissued to another one).
INNER_07 = {**TRUCK, "plate": "厂内07"}
REISSUED = {
    "inner": (INNER_07, {**INNER_07, "vin": "LZZAELJD5KA700007"}, "driving_license", "carStatus"),
    "machine": (LOADER, {**LOADER, "code": "LG855N-2024-0002"}, "nameplate", "mhyStatus"),
}  # fmt: skip


async def _send_all(site: Site) -> list[bool]:
    """Send until nothing is due (a filing held back behind another goes in a later round)."""
    sent: list[bool] = []
    while due := await site.send_due():
        sent += due
    return sent


@pytest.fixture(params=["city", "province"])
async def site(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Site]:
    async for each in _site(tmp_path, request.param):
        yield each


@pytest.mark.parametrize("register", ["inner", "machine"])
async def test_an_old_entrys_cancel_queued_in_an_outage_goes_before_the_new_entrys_filing(
    site: Site, register: str
) -> None:
    """An in-plant vehicle (a machine) set to 注销 and its plate entered again for another one
    while the platform is away: the old entry's 注销 has been tried more often, so its next
    attempt comes later than the new filing's — yet it goes first (the outbox keeps each
    plate's order), so the platform's record of the plate ends with the new filing in force
    (province: the 注销 closes the old licensePK and the new entry gets its own)."""
    old_form, new_form, image, status = REISSUED[register]
    old = await site.filings.add(CLERK, register, old_form, {image: sample_jpeg("旧")})
    assert await site.send_due() == [True]
    await site.sim.stop()  # the outage
    assert old.id is not None
    await site.filings.change_status(CLERK, old.id, "注销")
    for _ in range(3):  # the 注销 tried three times: its next attempt some seconds away
        (row,) = [r for r in await site.store.filing_outbox_of(old.id) if r.state == "pending"]
        site.now[0] = max(site.now[0], row.next_attempt_at)
        assert await site.send_due() == [False]
    new = await site.filings.add(CLERK, register, new_form, {image: sample_jpeg("新")})
    assert new.id is not None
    assert await site.send_due() == []  # held back behind the plate's older filing
    (cancel,) = [r for r in await site.store.filing_outbox_of(old.id) if r.state == "pending"]
    (filing,) = await site.store.filing_outbox_of(new.id)
    assert (filing.attempts, cancel.attempts) == (0, 3)
    await site.sim.start()
    site.now[0] = cancel.next_attempt_at
    assert await _send_all(site) == [True, True]
    sent = [(b.get(status), b.get("vin", b.get("mhyCode"))) for _, b in site.sim.filings]
    assert [s for s, _ in sent] == ["1", "3", "1"]  # the old filed, cancelled; the new filed
    if isinstance(site.sim, ProvincePlatformSim):
        (old_pk,) = [f.license_pk for f in await site.store.filings_of(old.id)]
        (new_pk,) = [f.license_pk for f in await site.store.filings_of(new.id)]
        assert old_pk != new_pk
        assert site.sim.accounts[str(old_pk)][status] == "3"
        assert site.sim.accounts[str(new_pk)][status] == "1"


async def test_an_old_entrys_cancel_retried_after_the_new_entry_was_filed_is_not_sent(
    site: Site,
) -> None:
    """The old entry's 注销 was refused (a dead letter), the plate's new entry filed since:
    the clerk's retry of the 注销 sends nothing — it would cancel the platform's record of
    the plate, the new entry's now (province: the new Add was answered with the old
    licensePK, still in force) — and says why."""
    old_form, new_form, image, status = REISSUED["inner"]
    old = await site.filings.add(CLERK, "inner", old_form, {image: sample_jpeg("旧")})
    assert await site.send_due() == [True]
    assert old.id is not None
    site.sim.faults.append(Fault("code", "系统繁忙"))
    await site.filings.change_status(CLERK, old.id, "注销")
    assert await site.send_due() == [False]  # refused: dead
    new = await site.filings.add(CLERK, "inner", new_form, {image: sample_jpeg("新")})
    assert await site.send_due() == [True]
    assert (await site.filings.retry(CLERK)).count == 1
    assert await site.send_due() == [False]
    assert [b[status] for _, b in site.sim.filings] == ["1", "1"]  # no 注销 after the new one
    rows = await site.store.filing_outbox_of(old.id)
    assert (rows[-1].state, rows[-1].method) == ("sent", None)
    assert rows[-1].last_error == SUPERSEDED
    assert new.id is not None
    (filed,) = await site.store.filings_of(new.id)
    assert filed.state == "accepted"


@contextlib.asynccontextmanager
async def _second_enterprise(
    province: Site, tmp_path: Path
) -> AsyncIterator[tuple[Store, Filings, FilingSender]]:
    """A second ledger (enterprise 4101000002) filing to the same province platform."""
    second = await Store.open(tmp_path / "second.db", clock=lambda: province.now[0])
    try:
        filings = Filings(_operator(second), tmp_path / "second-photos", platform="province")
        sender = FilingSender(
            second, province.client, filings.photos, LinkMonitor(lambda: province.now[0]),
            company_code="4101000002", backoff_initial=1.0, backoff_max=60.0,
            clock=lambda: province.now[0], rand=lambda: 0.5,
        )  # fmt: skip
        yield second, filings, sender
    finally:
        await second.close()


@pytest.mark.parametrize("same", [True, False], ids=["same data", "other data"])
async def test_a_truck_another_enterprise_filed_is_gained_not_added_forever(
    province: Site, tmp_path: Path, same: bool
) -> None:
    """Two ledgers on one province platform: the first enterprise filed the truck; the
    second's Add is refused 「车辆备案已存在，请勿重复新增」, so its sender fetches the
    filing (VehElecAccountGain) and keeps its licensePK — the same vehicle needs nothing
    more; other data goes as Modify — and its passes carry that licensePK."""
    await province.filings.add(CLERK, "vehicle", TRUCK, LICENCE)
    assert await province.send_due() == [True]
    async with _second_enterprise(province, tmp_path) as (second, filings, sender):
        form = TRUCK if same else {**TRUCK, "fleet": "二车队", "owner": "另一家物流公司"}
        done = await filings.add(CLERK, "vehicle", form, LICENCE)
        assert done.id is not None
        assert [await sender.send(row) for row in await second.due_filings(10)] == [True]
        assert await second.due_filings(10) == []  # not sent again
        methods = [m for m, _ in province.sim.filings]
        assert methods == ["VehElecAccountAdd"] + ([] if same else ["VehElecAccountModify"])
        assert province.sim.calls["VehElecAccountGain"] == 1
        assert _accounts(province.sim, "vehicle") == ["PK00000001"]
        (filing,) = await second.filings_of(done.id)
        assert (filing.state, filing.license_pk) == ("accepted", "PK00000001")
        assert await second.license_pk_of("豫A12345", "1") == "PK00000001"
        assert isinstance(province.client, ProvincePlatform)
        pk = await second.license_pk_of(REPORT.plate, REPORT.color)
        record = province.client.enter_exit_record(replace(REPORT, license_pk=pk or ""))
        assert (record.islicensePK, record.licensePK) == ("1", "PK00000001")
        if not same:
            assert isinstance(province.sim, ProvincePlatformSim)
            assert province.sim.accounts["PK00000001"]["onwer"] == "另一家物流公司"


async def test_a_refused_modify_of_a_gained_truck_is_the_modifys_dead_letter(
    province: Site, tmp_path: Path
) -> None:
    """The second enterprise's Add is refused 「已存在」, it takes the held filing and sends
    its other data as Modify — which the platform refuses: the dead letter and the history
    name the Modify (not the Add), with the platform's words and no "Add may be lost" note."""
    await province.filings.add(CLERK, "vehicle", TRUCK, LICENCE)
    assert await province.send_due() == [True]
    async with _second_enterprise(province, tmp_path) as (second, filings, sender):
        province.sim.faults.append(Fault("code", "车辆所有人不一致", "VehElecAccountModify"))
        done = await filings.add(CLERK, "vehicle", {**TRUCK, "owner": "另一家物流公司"}, LICENCE)
        assert done.id is not None
        assert [await sender.send(row) for row in await second.due_filings(10)] == [False]
        assert province.sim.calls["VehElecAccountModify"] == 1
        (dead,) = await second.dead_filings()
        assert (dead.method, dead.last_error) == ("VehElecAccountModify", "车辆所有人不一致")
        (filing,) = await second.filings_of(done.id)
        assert (filing.state, filing.method, filing.words) == (
            "refused", "VehElecAccountModify", "车辆所有人不一致",
        )  # fmt: skip
        assert filing.license_pk == "PK00000001"  # taken before the Modify went out


async def test_a_dead_filing_a_newer_accepted_one_made_obsolete_is_closed(
    province: Site,
) -> None:
    """A refused filing, then the entry changed and that change accepted: the platform holds
    the entry as the newer filing sent it, so the old dead letter is closed with the reason
    (no dead count, nothing to retry) and stays in the entry's outbox with its refusal."""
    province.sim.faults.append(Fault("code", "号牌号码格式错误", "VehElecAccountAdd"))
    done = await province.filings.add(CLERK, "vehicle", TRUCK, LICENCE)
    assert done.id is not None
    assert await province.send_due() == [False]
    assert (await province.store.filing_backlog())[0] == {"dead": 1}
    await province.filings.modify(CLERK, done.id, {"owner": "新主人"})
    assert await province.send_due() == [True]
    assert await province.store.dead_filings() == []
    assert (await province.store.filing_backlog())[0] == {}
    assert (await province.filings.retry(CLERK)).count == 0
    old, new = await province.store.filing_outbox_of(done.id)
    assert (old.state, old.last_error) == ("sent", OBSOLETE + "号牌号码格式错误")
    assert (new.state, new.last_error) == ("sent", None)
    history = await province.store.entry_history(done.id)
    assert history[-1].actor == "daemon"


async def test_a_transport_vehicle_sealed_sends_nothing(province: Site) -> None:
    """封存 (and back to 正常) of a transport vehicle: its methods carry no status, so
    nothing the platform holds changed — no VehElecAccountModify of the same content; an
    in-plant vehicle's 封存 is filed (carStatus 2)."""
    done = await province.filings.add(CLERK, "vehicle", TRUCK, LICENCE)
    assert done.id is not None
    assert await province.send_due() == [True]
    sealed = await province.filings.change_status(CLERK, done.id, "封存")
    assert sealed.ok
    assert "不报送平台" in sealed.note
    back = await province.filings.change_status(CLERK, done.id, "正常")
    assert back.ok
    assert "不报送平台" in back.note
    assert await province.store.due_filings(50) == []
    assert [m for m, _ in province.sim.filings] == ["VehElecAccountAdd"]
