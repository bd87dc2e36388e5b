"""The electronic ledger on the status page in a real browser (issue 15): a plate the platform
flags (isNeedComplete 2) is completed from the 待完善 list with an uploaded 行驶证 and queued
for filing, in both platform modes; a machine and in-plant vehicles are added from the page
and by XLSX import; an import with two bad rows is refused whole with both rows' errors named;
every read needs a login, every change is audited."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from openpyxl import Workbook, load_workbook
from playwright.async_api import Browser, FilePayload, Locator, Page, expect

from edge.actions.filing_files import read_rows, template
from edge.actions.inspection import WORKBOOK_NAME
from edge.domain.filing import TITLES, Register, TransportVehicle, field_names
from edge.domain.filing_words import is_chinese
from edge.sim.jpeg import sample_jpeg
from edge.sim.platform import Fault, PlatformSim, SimVehicle
from edge.sim.province import ProvincePlatformSim
from edge.web.auth import hash_password
from tests.helpers import camera, config_for, eventually, running_daemon
from tests.test_status_page import browser, logged_in  # noqa: F401 - the fixture

LICENCE = resources.files("edge.sim.assets").joinpath("truck.jpg").read_bytes()
WEB = {"password_hash": hash_password("gate password 1")}


def _xlsx(register: Register, rows: list[dict[str, str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    names = field_names(register)
    sheet.append([TITLES[n] for n in names])
    for row in rows:
        sheet.append([row.get(n, "") for n in names])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _file(name: str, mime: str, data: bytes) -> FilePayload:
    return {"name": name, "mimeType": mime, "buffer": data}


async def _fill(page: Page, values: dict[str, str]) -> None:
    for name, value in values.items():
        await page.fill(f"#entry-form [name={name}]", value)


async def test_complete_a_flagged_plate_from_the_page(  # noqa: PLR0915 - one scenario
    tmp_path: Path,
    any_platform: PlatformSim,
    browser: Browser,  # noqa: F811 - the fixture
) -> None:
    """Issue 15's "done when", in both modes: a plate whose verify answer says isNeedComplete
    2 is flagged; its filing is completed from the page with an uploaded 行驶证 (province: the
    platform's DrivingLicenseScanEx fills the form first); the simulator receives it with
    every field valid (its own field tables); the filing is accepted, the plate leaves the
    待完善 list, and the vehicle's next pass record carries the stored licensePK (province;
    the city's record has no such field)."""
    province = isinstance(any_platform, ProvincePlatformSim)
    any_platform.vehicles["豫H70001"] = SimVehicle("0", "B", "6", need_complete="2")
    licence = sample_jpeg("豫H70001")
    cfg = config_for(tmp_path, any_platform, web=WEB, decision={"duplicate_window_seconds": 0})
    async with running_daemon(cfg) as daemon:
        base = f"http://127.0.0.1:{daemon.web.port}"
        async with httpx.AsyncClient() as http:  # no login: nothing of the ledger is shown
            assert (await http.get(f"{base}/api/entries")).status_code == 403
            assert (await http.get(f"{base}/api/entry-images/1")).status_code == 403
        page = await logged_in(browser, base, "文员李四")
        cam = camera(daemon)
        flagged = await cam.push("豫H70001")
        row = page.locator(f'#recent tr[data-serial="{flagged.body["serial"]}"]')
        await expect(row).to_contain_text("待完善：备案信息不完整")
        await page.click('#need-complete button.complete[data-plate="豫H70001"]')
        await expect(page.locator("#entry-form")).to_be_visible()
        assert await page.input_value("#entry-form [name=plate]") == "豫H70001"
        await page.set_input_files(
            "#entry-form input[name=driving_license]",
            files=_file("行驶证.jpg", "image/jpeg", licence),
        )
        if province:  # read by the platform: the form is filled from the image
            await expect(page.locator("#message")).to_contain_text("已按行驶证识别结果填写")
            assert (await page.input_value("#entry-form [name=vin]")).startswith("LZZ")
            assert await page.input_value("#entry-form [name=owner]")
        await _fill(page, {"vin": "lfv2a21k3d4000001", "engine_no": "e12345",
                           "register_date": "2019-13-01", "emission": ""})  # fmt: skip
        await page.click("#entry-form button[type=submit]")  # a bad date, no stage: refused
        problems = page.locator("#entry-problems .problem")
        await expect(problems).to_have_count(2)
        for said in await problems.all_inner_texts():  # the clerk's words, not Python's
            assert is_chinese(said), said
        await expect(page.locator("#entry-problems")).to_contain_text("注册日期")
        await expect(page.locator("#entry-problems")).to_contain_text("排放阶段")
        await _fill(page, {"register_date": "2019年5月1日", "emission": "6"})
        await page.click("#entry-form button[type=submit]")
        await expect(page.locator("#message")).to_contain_text("已保存")
        await any_platform.wait_for(lambda: bool(any_platform.filings), timeout=30)
        ((method, filed),) = any_platform.filings
        assert method == ("VehElecAccountAdd" if province else "shareVehInfo")
        assert (filed["license"], filed["vin"], filed["engineNo"]) == (
            "豫H70001", "LFV2A21K3D4000001", "E12345",
        )  # fmt: skip
        assert filed["emissionStandard"] == "6"
        assert filed["drivingLicenseImg"]  # the uploaded image, as the platform takes it
        entry = page.locator('#entries tr[data-plate="豫H70001"]')
        await expect(entry).to_have_count(1)
        await eventually_shown(page, entry, "已受理")
        listed = page.locator('#need-complete tr[data-plate="豫H70001"]')
        await expect(listed).to_have_count(0, timeout=15_000)  # the page re-reads every 10 s
        await entry.locator("button.view-image").click()
        await expect(page.locator("#entry-detail img.document")).to_be_visible()
        again = await cam.push("豫H70001")  # the next pass: the platform says 0 now
        await cam.aclose()
        serial = again.body["serial"]
        await any_platform.wait_for(lambda: serial in any_platform.records, timeout=30)
        next_row = page.locator(f'#recent tr[data-serial="{serial}"]')
        await expect(next_row).to_contain_text("放行")
        await expect(next_row.locator(".need-complete")).to_have_count(0)
        await page.close()
        stored = await daemon.store.find_entry("vehicle", "豫H70001", "1")
        assert stored is not None
        (filing,) = await daemon.store.filings_of(stored.id)
        audit = [(r.actor, r.action, r.result) for r in await daemon.store.audit_log()]
    (record,) = any_platform.records[serial]
    if province:
        assert filing.license_pk is not None
        assert filing.license_pk.startswith("PK")
        assert (record["islicensePK"], record["licensePK"]) == ("1", filing.license_pk)
    else:
        assert (filing.state, filing.license_pk) == ("accepted", None)
        assert record["cphm"] == "豫H70001"
    assert ("文员李四", "add ledger entry", "ok") in audit
    assert ("文员李四", "add ledger entry", "refused") in audit


async def eventually_shown(page: Page, row: Locator, text: str) -> None:
    """The entry list re-read (查询) until ``row`` says ``text`` (the filing's answer comes
    from the platform a moment after the save)."""
    for _ in range(50):
        await page.click("#entry-search button[type=submit]")
        try:
            await expect(row).to_contain_text(text, timeout=200)
        except AssertionError:
            continue
        return
    await expect(row).to_contain_text(text)


def _filed(sim: PlatformSim, key: str, plate: str) -> list[tuple[str, dict[str, Any]]]:
    return [(method, value) for method, value in sim.filings if value.get(key) == plate]


async def test_machines_and_in_plant_vehicles_from_the_page_and_by_import(  # noqa: PLR0915
    tmp_path: Path,
    any_platform: PlatformSim,
    browser: Browser,  # noqa: F811 - the fixture
) -> None:
    """A machine added on the page and in-plant vehicles imported from XLSX (an import with
    two bad rows refused whole, both rows' errors named; an imported entry is sent once a
    document image is attached) reach the simulator."""
    province = isinstance(any_platform, ProvincePlatformSim)
    async with running_daemon(config_for(tmp_path, any_platform, web=WEB)) as daemon:
        base = f"http://127.0.0.1:{daemon.web.port}"
        page = await logged_in(browser, base, "文员李四")
        await page.click('#register-tabs button[data-register="machine"]')
        await page.click("#entry-new")
        await _fill(page, {"plate": "豫A0001Z", "name": "轮式装载机", "emission": "4",
                           "code": "ZL50-0001", "production_date": "2021-03-01"})  # fmt: skip
        await page.set_input_files(
            "#entry-form input[name=nameplate]",
            files=_file("铭牌.jpg", "image/jpeg", LICENCE),
        )
        await page.click("#entry-form button[type=submit]")
        await expect(page.locator('#entries tr[data-plate="豫A0001Z"]')).to_have_count(1)
        await any_platform.wait_for(lambda: bool(_filed(any_platform, "mhyPlate", "豫A0001Z")), 30)
        ((method, machine_filed),) = _filed(any_platform, "mhyPlate", "豫A0001Z")
        assert method == ("InnerMHYElecAccountAdd" if province else "shareInnerMHYElec")
        assert (machine_filed["mhyJXMC"], machine_filed["mhyFrameNo"]) == (
            "轮式装载机",
            "ZL50-0001",
        )
        await page.click('#register-tabs button[data-register="inner"]')
        good = {"plate_color": "1", "vin": "LFV2A21K3D4000002", "engine_no": "E2",
                "register_date": "2020-01-01", "emission": "6"}  # fmt: skip
        bad = _xlsx(Register.INNER, [
            {**good, "plate": "厂内01"},
            {**good, "plate": "厂内02", "emission": "9", "vin": "LFV2A21K3D4000012"},  # stage
            {**good, "plate": "厂内03", "vin": "LFV2A21K3D4000013"},
            {**good, "plate": "厂内04", "register_date": "2020-13-01", "vin": ""},
        ])  # fmt: skip
        await page.set_input_files(
            "#import-form input[name=file]",
            files=_file("场内车辆.xlsx", "application/octet-stream", bad),
        )
        await page.click("#import-form button[type=submit]")
        report = page.locator("#import-report")
        await expect(report).to_contain_text("未导入任何条目（2 行有错）")
        await expect(page.locator('#import-problems tr[data-row="3"]')).to_contain_text("排放阶段")
        await expect(page.locator('#import-problems tr[data-row="5"]')).to_have_count(2)
        await expect(page.locator("#entries")).to_have_text("无")
        second = {**good, "plate": "厂内02", "vin": "LFV2A21K3D4000012"}
        fixed = _xlsx(Register.INNER, [{**good, "plate": "厂内01"}, second])
        await page.set_input_files(
            "#import-form input[name=file]",
            files=_file("场内车辆.xlsx", "application/octet-stream", fixed),
        )
        await page.click("#import-form button[type=submit]")
        await expect(report).to_contain_text("已导入 2 条")
        await expect(page.locator("#entries tr")).to_have_count(2)
        entry = page.locator('#entries tr[data-plate="厂内02"]')
        await entry.locator("select.entry-status").select_option("2")
        await expect(entry).to_contain_text("封存")
        assert not _filed(any_platform, "license", "厂内01")  # no document image yet: kept
        await page.locator('#entries tr[data-plate="厂内01"] button.edit-entry').click()
        await page.set_input_files(
            "#entry-form input[name=emission_list]",
            files=_file("随车清单.jpg", "image/jpeg", LICENCE),
        )
        await page.click("#entry-form button[type=submit]")
        await expect(page.locator("#message")).to_contain_text("已保存")
        await any_platform.wait_for(lambda: bool(_filed(any_platform, "license", "厂内01")), 30)
        ((method, inner_filed),) = _filed(any_platform, "license", "厂内01")
        assert method == ("InnerVehElecAccountAdd" if province else "shareInnerVehInfo")
        assert (inner_filed["vin"], inner_filed["drivingLicenseImg2"] != "") == (
            "LFV2A21K3D4000002", True,
        )  # fmt: skip
        async with page.expect_download() as downloading:
            await page.click("#template-button")
        saved = tmp_path / "template.xlsx"
        await (await downloading.value).save_as(saved)
        await page.close()
        inner = await daemon.store.search_entries("inner")
        machine = await daemon.store.find_entry("machine", "豫A0001Z", "")
    assert sorted(e.plate for e in inner) == ["厂内01", "厂内02"]
    assert [e.status for e in inner if e.plate == "厂内02"] == ["2"]
    assert machine is not None
    assert machine.name == "轮式装载机"
    assert read_rows(Register.INNER, saved.read_bytes(), "t.xlsx") == []  # the header only


def test_the_template_reads_back_and_csv_too() -> None:
    assert read_rows(Register.VEHICLE, template(Register.VEHICLE), "t.xlsx") == []
    names = field_names(Register.MACHINE)
    text = ",".join(TITLES[n] for n in names) + "\n" + "豫A0001Z,装载机,4,C1,2021/3/1,1\n\n"
    rows = read_rows(Register.MACHINE, text.encode("gb18030"), "t.csv")
    values = ["豫A0001Z", "装载机", "4", "C1", "2021/3/1", "1"]
    assert rows == [{**dict(zip(names, values, strict=True)), "_row": "2"}]


async def test_the_ledger_api_answers_every_case(  # noqa: PLR0915 - one scenario
    tmp_path: Path, any_platform: PlatformSim
) -> None:
    """What the page's scripts rely on, over HTTP: reads, edits, images, retries, refusals."""
    async with (
        running_daemon(config_for(tmp_path, any_platform, web=WEB)) as daemon,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.web.port}") as http,
    ):
        login = await http.post("/api/login", data={"user": "文员", "password": "gate password 1"})
        csrf = {"X-CSRF-Token": login.json()["csrf"]}
        fields = (await http.get("/api/ledger/fields", headers=csrf)).json()
        assert [f["name"] for f in fields["machine"]["fields"]] == list(
            field_names(Register.MACHINE)
        )
        province = isinstance(any_platform, ProvincePlatformSim)
        assert fields["scan"] is province
        form = {"register": "vehicle", "plate": "豫A12345", "plate_color": "1",
                "vin": "LFV2A21K3D4000003", "engine_no": "E1", "register_date": "2020-01-01",
                "emission": "5"}  # fmt: skip
        cut = b'--xyz\r\nContent-Disposition: form-data; name="plate"\r\n\r\n\xe8\xb1\xab'
        broken = await http.post(
            "/api/entries",
            content=cut,
            headers={**csrf, "Content-Type": "multipart/form-data; boundary=xyz"},
        )
        assert broken.status_code == 400  # a cut multipart body: refused, never a 500
        added = (await http.post("/api/entries", data=form, headers=csrf)).json()
        assert "未备案" in added["note"]  # no image yet: kept, not sent
        entry = added["id"]
        again = await http.post("/api/entries", data=form, headers=csrf)
        assert (again.status_code, again.json()["key"]) == (400, "plate")
        changed = await http.post(
            f"/api/entries/{entry}",
            data={"owner": "张三"},
            files={"emission_list": ("清单.jpg", LICENCE, "image/jpeg")},
            headers=csrf,
        )
        assert changed.json()["ok"], changed.text
        image = await http.post(
            f"/api/entries/{entry}/images/driving_license", content=LICENCE, headers=csrf
        )
        assert image.json()["ok"]
        wrong = await http.post(f"/api/entries/{entry}/images/nameplate", content=LICENCE,
                                headers=csrf)  # fmt: skip
        assert wrong.status_code == 400
        assert wrong.json()["problems"][0]["title"] == "图片"
        status = await http.post(f"/api/entries/{entry}/status", json={"status": "9"}, headers=csrf)
        assert (status.status_code, status.json()["key"]) == (400, "status")
        edited = await http.post(f"/api/entries/{entry}", json={"status": "3"}, headers=csrf)
        assert (edited.status_code, edited.json()["key"]) == (400, "status")  # not by an edit
        assert (await http.get(f"/api/entries/{entry}", headers=csrf)).json()["status"] == "正常"
        shown = (await http.get(f"/api/entries/{entry}", headers=csrf)).json()
        assert shown["fields"]["owner"] == "张三"
        assert [h["action"] for h in shown["history"]][:2] == ["add", "modify"]
        assert {i["kind"] for i in shown["images"]} == {"driving_license", "emission_list"}
        jpeg = await http.get(shown["images"][0]["url"], headers=csrf)
        assert jpeg.headers["content-type"] == "image/jpeg"
        for url in ("/api/entries/999", "/api/entries/x", "/api/entry-images/999",
                    "/api/entry-images/x"):  # fmt: skip
            assert (await http.get(url, headers=csrf)).status_code == 404
        for query in ({"register": "bus"}, {"before": "x"}):
            assert (await http.get("/api/entries", params=query, headers=csrf)).status_code == 400
        assert (await http.get("/api/entries", params={"before": entry + 1, "q": "豫A"},
                               headers=csrf)).json()["entries"][0]["id"] == entry  # fmt: skip
        bad = await http.get("/api/entries/template.xlsx", params={"register": "x"}, headers=csrf)
        assert bad.status_code == 400
        for body, register in ((b"\x00\x01", "vehicle"), (b"a,b\n", "vehicle"), (b"", "bus")):
            query = {"register": register, "name": "x.csv"}
            refused = await http.post("/api/entries/import", params=query, content=body,
                                      headers=csrf)  # fmt: skip
            assert refused.status_code == 400
        json_type = {**csrf, "Content-Type": "application/json"}
        not_json = await http.post(
            f"/api/entries/{entry}/status", content=b"[1]", headers=json_type
        )
        assert not_json.status_code == 400
        scanned = sample_jpeg("豫A12345")
        scan = (await http.post("/api/licence-scan", content=scanned, headers=csrf)).json()
        if province:  # the platform's reading of the image, for the form
            assert (scan["ok"], scan["fields"]["plate"]) == (True, "豫A12345")
        else:
            assert scan["detail"] == "仅省级平台可识别行驶证"
        await any_platform.wait_for(lambda: bool(any_platform.filings), timeout=30)

        async def accepted() -> bool:
            listed = (await http.get("/api/entries", headers=csrf)).json()["entries"][0]
            return bool(listed["filings"]) and listed["filings"][0]["code"] == "accepted"

        await eventually(accepted, timeout=10)
        retried = await http.post("/api/filings/1/retry", headers=csrf)  # not a dead letter
        assert (retried.status_code, retried.json()["ok"]) == (400, False)
        assert (await http.post("/api/entries", data=form)).status_code == 403
        cam = camera(daemon)  # the vehicle passes: the inspector's export has its filing
        await cam.push("豫A12345")
        await cam.aclose()
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
        zipped = await http.get("/api/ledger.zip", params={"from": today, "to": today},
                                headers=csrf)  # fmt: skip
        vehicles = await http.get("/api/entries/ledger.xlsx", params={"register": "vehicle"},
                                  headers=csrf)  # fmt: skip
        documents_zip = await http.get("/api/entries/ledger.zip", params={"register": "vehicle"},
                                       headers=csrf)  # fmt: skip
        nothing = await http.get("/api/entries/ledger.zip", params={"register": "x"}, headers=csrf)
        assert nothing.status_code == 400
    book = load_workbook(io.BytesIO(vehicles.content), read_only=True).active
    assert book is not None
    entries = list(book.iter_rows(values_only=True))
    assert entries[0][:2] == ("号牌号码", "号牌颜色")
    assert entries[1][0] == "豫A12345"
    said = "省" if isinstance(any_platform, ProvincePlatformSim) else "市"
    assert str(entries[1][-3]).startswith(f"{said}：已受理")  # as the page says it
    with zipfile.ZipFile(io.BytesIO(documents_zip.content)) as archive:
        assert len([n for n in archive.namelist() if n.startswith("documents/filings/")]) == 2
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        names = archive.namelist()
        sheet = load_workbook(io.BytesIO(archive.read(WORKBOOK_NAME)), read_only=True).active
        assert sheet is not None
        header, line = list(sheet.iter_rows(values_only=True))
    facts = dict(zip(header, line, strict=True))
    assert (facts["车辆识别代码(VIN)"], facts["发动机号码"], facts["注册日期"]) == (
        "LFV2A21K3D4000003", "E1", "2020-01-01",
    )  # fmt: skip
    documents = str(facts["行驶证/随车清单"]).split("; ")
    assert len(documents) == 2
    assert set(documents) <= set(names)
    assert all(d.startswith("documents/filings/") for d in documents)


def _chinese(text: str) -> bool:
    return is_chinese(text) and "填写有误" not in text  # the fallback: a reason not mapped


async def test_every_refusal_on_the_ledger_page_is_chinese(
    tmp_path: Path,
    platform_sim: PlatformSim,
) -> None:
    """Each form's every field given bad values, each import column, each action refused:
    the page is answered in Chinese sentences naming the field (the audit keeps English)."""
    async with (
        running_daemon(config_for(tmp_path, platform_sim, web=WEB)) as daemon,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.web.port}") as http,
    ):
        login = await http.post("/api/login", data={"user": "文员", "password": "gate password 1"})
        csrf = {"X-CSRF-Token": login.json()["csrf"]}
        said: list[str] = []
        for register in Register:  # every field of each register's form
            for bad in ("", "x" * 400, "2020-02-30", "abc?", "9"):
                form = {"register": register.value, **dict.fromkeys(field_names(register), bad)}
                refused = await http.post("/api/entries", data=form, headers=csrf)
                assert refused.status_code == 400
                problems = refused.json()["problems"]
                assert problems
                said += [p["reason"] for p in problems]
                assert all(p["title"] == TITLES[p["field"]] for p in problems)
            rows = [dict.fromkeys(field_names(register), bad) for bad in ("x" * 400, "13", "?")]
            imported = await http.post(
                "/api/entries/import",
                params={"register": register.value, "name": "x.xlsx"},
                content=_xlsx(register, rows),
                headers=csrf,
            )
            assert imported.status_code == 400
            assert imported.json()["detail"].startswith("文件有错误")
            said += [r["reason"] for r in imported.json()["rows"]]
        unknown = await http.post(  # a field the register has not
            "/api/entries", data={"register": "machine", "vin": "V1"}, headers=csrf
        )
        said += [p["reason"] for p in unknown.json()["problems"]]
        form = {"register": "vehicle", "plate": "豫A12345", "plate_color": "1",
                "vin": "LFV2A21K3D4000003", "engine_no": "E1", "register_date": "2020-01-01",
                "emission": "5"}  # fmt: skip
        added = (await http.post("/api/entries", data=form, headers=csrf)).json()
        assert added["note"] == "未备案：行驶证与随车清单不能同时为空"
        entry = added["id"]
        replies = [
            await http.post("/api/entries", data=form, headers=csrf),  # in the register
            await http.post(f"/api/entries/{entry}", data={"emission": "8"}, headers=csrf),
            await http.post(f"/api/entries/{entry}", json={"status": "3"}, headers=csrf),
            await http.post(f"/api/entries/{entry}", data={"owner": ""}, headers=csrf),  # no change
            await http.post("/api/entries/999", data={"owner": "x"}, headers=csrf),
            await http.post(f"/api/entries/{entry}/status", json={"status": "9"}, headers=csrf),
            await http.post(f"/api/entries/{entry}/status", json={"status": "1"}, headers=csrf),
            await http.post(
                f"/api/entries/{entry}/images/nameplate", content=LICENCE, headers=csrf
            ),
            await http.post(
                f"/api/entries/{entry}/images/driving_license", content=b"GIF89a", headers=csrf
            ),
            await http.post("/api/filings/1/retry", headers=csrf),
            await http.post("/api/licence-scan", content=LICENCE, headers=csrf),
            await http.post(
                f"/api/entries/{entry}/status",
                content=b"[1]",
                headers={**csrf, "Content-Type": "application/json"},
            ),
        ]
        for body, name in ((b"\x00\x01", "x.csv"), (b"a,b\n", "x.csv"), (b"", "x.csv"),
                           (b"PK", "x.xlsx"), (b"x", "x.txt")):  # fmt: skip
            replies.append(await http.post(
                "/api/entries/import", params={"register": "vehicle", "name": name},
                content=body, headers=csrf,
            ))  # fmt: skip
        heading = ",".join(TITLES[n] for n in field_names(Register.VEHICLE))
        twice = f"{heading}\n" + "豫A12345,1,,LFV2A21K3D4000003,,E1,,,,2020-01-01,,5\n" * 2
        replies.append(await http.post(
            "/api/entries/import", params={"register": "vehicle", "name": "x.csv"},
            content=twice.encode(), headers=csrf,
        ))  # fmt: skip
        for reply in replies:
            assert reply.status_code == 400, reply.text
            answer = reply.json()
            said += [answer["detail"], *(r["reason"] for r in answer.get("rows", []))]
        said += [(await http.get("/api/entries", params=q, headers=csrf)).json()["error"]
                 for q in ({"register": "bus"}, {"before": "x"})]  # fmt: skip
        audit = [r.detail for r in await daemon.store.audit_log()]
    english = [s for s in said if not _chinese(s)]
    assert not english, english
    assert any("「2020-02-30」" not in s and "日期" in s and "真实" in s for s in said)
    assert any("与第 2 行的号牌重复" in s or "已在台账中" in s for s in said)
    assert any("is not a code of §7.6" in d for d in audit)  # the audit keeps the rule's words


async def _logged_in_http(http: httpx.AsyncClient) -> dict[str, str]:
    login = await http.post("/api/login", data={"user": "文员", "password": "gate password 1"})
    return {"X-CSRF-Token": login.json()["csrf"]}


async def test_the_entry_list_pages_forward_and_back(
    tmp_path: Path,
    platform_sim: PlatformSim,
    browser: Browser,  # noqa: F811 - the fixture
) -> None:
    """120 entries: the newest 50, 下一页 the next 50 and the last 20 (no 下一页 there),
    上一页 back the same way; a new search starts at the first page again."""
    names = field_names(Register.VEHICLE)
    plates = [f"豫A{10000 + i}" for i in range(120)]
    lines = [",".join(TITLES[n] for n in names)] + [
        f"{p},1,,LFV2A21K3D4{i:06d},,E{i},,,,2020-01-01,,5" for i, p in enumerate(plates)
    ]
    async with running_daemon(config_for(tmp_path, platform_sim, web=WEB)) as daemon:
        base = f"http://127.0.0.1:{daemon.web.port}"
        async with httpx.AsyncClient(base_url=base) as http:
            csrf = await _logged_in_http(http)
            imported = await http.post(
                "/api/entries/import",
                params={"register": "vehicle", "name": "many.csv"},
                content="\n".join(lines).encode(),
                headers=csrf,
            )
            assert imported.json()["count"] == 120
            last = (await http.get("/api/entries", params={"before": 21}, headers=csrf)).json()
            assert ([e["plate"] for e in last["entries"]], last["next"]) == (plates[19::-1], None)
        page = await logged_in(browser, base, "文员李四")
        rows = page.locator("#entries tr")
        pages = page.locator("#entry-pages")

        async def shows(first: str, count: int, number: int) -> None:
            await expect(rows).to_have_count(count)
            await expect(rows.first).to_have_attribute("data-plate", first)
            await expect(page.locator("#entry-page")).to_have_text(f"第 {number} 页")

        await shows(plates[119], 50, 1)
        await expect(pages).to_be_visible()
        await expect(page.locator("#entry-prev")).to_be_disabled()
        await page.click("#entry-next")
        await shows(plates[69], 50, 2)
        await page.click("#entry-next")
        await shows(plates[19], 20, 3)
        await expect(page.locator("#entry-next")).to_be_disabled()
        await page.click("#entry-prev")
        await shows(plates[69], 50, 2)
        await page.fill("#entry-search [name=q]", "豫A1011")  # a search: its first page
        await page.click("#entry-search button[type=submit]")
        await expect(rows).to_have_count(10)
        await expect(pages).to_be_hidden()
        await page.close()


async def test_a_refused_filing_shows_the_platforms_words_and_is_sent_again(
    tmp_path: Path,
    browser: Browser,  # noqa: F811 - the fixture
) -> None:
    """The province platform refuses a filing in its own words: the entry shows 被拒 with
    those words beside it and 重新备案; sent again, it is accepted (已受理, no button)."""
    sim = ProvincePlatformSim()
    sim.faults.append(Fault("code", "车辆识别代码与行驶证不符", ipctype="VehElecAccountAdd"))
    await sim.start()
    try:
        async with running_daemon(config_for(tmp_path, sim, web=WEB)) as daemon:
            page = await logged_in(browser, f"http://127.0.0.1:{daemon.web.port}", "文员李四")
            await page.click("#entry-new")
            await _fill(page, {"plate": "豫A12345", "vin": "LFV2A21K3D4000001",
                               "engine_no": "E1", "register_date": "2020-01-01",
                               "emission": "6"})  # fmt: skip
            await page.set_input_files(
                "#entry-form input[name=driving_license]",
                files=_file("行驶证.jpg", "image/jpeg", LICENCE),
            )
            await expect(page.locator("#message")).to_contain_text("已按行驶证识别结果填写")
            await _fill(page, {"plate": "豫A12345", "vin": "LFV2A21K3D4000001"})
            await page.click("#entry-form button[type=submit]")
            await expect(page.locator("#message")).to_contain_text("已保存")
            entry = page.locator('#entries tr[data-plate="豫A12345"]')
            await eventually_shown(page, entry, "被拒：车辆识别代码与行驶证不符")
            await expect(entry.locator("span.bad")).to_contain_text("省：被拒")
            retry = entry.locator("button.retry-filing")
            await expect(retry).to_have_count(1)
            await retry.click()
            await expect(page.locator("#message")).to_have_text("已完成")
            await eventually_shown(page, entry, "已受理")
            await expect(entry.locator("button.retry-filing")).to_have_count(0)
            await expect(entry).not_to_contain_text("车辆识别代码与行驶证不符")
            await page.close()
    finally:
        await sim.stop()
    methods = [method for method, _ in sim.filings]
    assert methods == ["VehElecAccountAdd"]  # the refused one was not kept; the retry was
    assert ("VehElecAccountAdd", "车辆识别代码与行驶证不符") in sim.rejected


async def test_an_upload_over_the_size_limit_says_so_and_the_page_goes_on(
    tmp_path: Path,
    browser: Browser,  # noqa: F811 - the fixture
) -> None:
    """An image over web.max_body_bytes, read as a 行驶证 (province) and submitted with the
    form: the Chinese message each time, and the page still works with a smaller image."""
    sim = ProvincePlatformSim()
    await sim.start()
    # 4 MB the browser cannot decode (so cannot shrink): sent as it is, over the limit
    big = _file("大图.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + bytes(4_000_000))
    try:
        web_section = {**WEB, "max_body_bytes": 1_000_000}
        async with running_daemon(config_for(tmp_path, sim, web=web_section)) as daemon:
            page = await logged_in(browser, f"http://127.0.0.1:{daemon.web.port}", "文员李四")
            message = page.locator("#message")
            await page.click("#entry-new")
            licence = "#entry-form input[name=driving_license]"
            await page.set_input_files(licence, files=big)  # read by the platform: refused
            await expect(message).to_contain_text("文件过大，超过上传上限")
            await expect(message).not_to_contain_text("正在识别")
            await _fill(page, {"plate": "豫A12345", "vin": "LFV2A21K3D4000001", "engine_no": "E1",
                               "register_date": "2020-01-01", "emission": "6"})  # fmt: skip
            await page.click("#entry-form button[type=submit]")  # the form with it: refused
            await expect(page.locator("#entry-problems")).to_contain_text("文件过大，超过上传上限")
            await expect(page.locator("#entry-problems")).not_to_contain_text("request body")
            await expect(message).to_have_text("未提交：请改正标红的项目")
            await expect(page.locator(f"{licence}[data-bad]")).to_have_count(1)  # outlined
            await page.set_input_files(licence, files=_file("行驶证.jpg", "image/jpeg", LICENCE))
            await expect(message).to_contain_text("已按行驶证识别结果填写")
            await _fill(page, {"plate": "豫A12345", "vin": "LFV2A21K3D4000001"})
            await page.click("#entry-form button[type=submit]")
            await expect(message).to_contain_text("已保存")
            await expect(page.locator('#entries tr[data-plate="豫A12345"]')).to_have_count(1)
            await page.close()
    finally:
        await sim.stop()


async def test_the_need_complete_list_fits_a_phone(
    tmp_path: Path,
    platform_sim: PlatformSim,
    browser: Browser,  # noqa: F811 - the fixture
) -> None:
    """At 390 px (a phone) the 待完善 list does not scroll sideways: each plate's facts wrap
    inside the width, the 完善备案 button included (screenshot kept as need-complete.png)."""
    for plate in ("豫H70001", "豫H70002"):
        platform_sim.vehicles[plate] = SimVehicle("0", "B", "6", need_complete="2")
    cfg = config_for(tmp_path, platform_sim, web=WEB, decision={"duplicate_window_seconds": 0})
    async with running_daemon(cfg) as daemon:
        cam = camera(daemon)
        for plate in ("豫H70001", "豫H70002"):
            await cam.push(plate)
        await cam.aclose()
        page = await logged_in(browser, f"http://127.0.0.1:{daemon.web.port}", "门卫张三")
        await page.set_viewport_size({"width": 390, "height": 844})
        listed = page.locator("#need-complete tr[data-plate]")
        await expect(listed).to_have_count(2, timeout=15_000)
        await expect(listed.first.locator("button.complete")).to_be_visible()
        box = page.locator("#need-complete-box")
        widths = await box.evaluate("b => [b.scrollWidth, b.clientWidth]")
        assert widths[0] <= widths[1], widths  # nothing to scroll sideways
        button = await listed.first.locator("button.complete").bounding_box()
        assert button is not None
        assert button["x"] + button["width"] <= 390
        page_width = await page.evaluate("document.documentElement.scrollWidth")
        assert page_width <= 390
        shot = await page.screenshot(path=str(tmp_path / "need-complete.png"), full_page=True)
        assert shot.startswith(b"\x89PNG")
        await page.close()


async def test_complete_opens_the_entry_in_force_not_a_cancelled_one(
    tmp_path: Path,
    platform_sim: PlatformSim,
    browser: Browser,  # noqa: F811 - the fixture
) -> None:
    """A flagged plate whose only entry is 注销 (a reissued plate, its new vehicle not entered
    yet): 完善备案 opens a new entry of the plate, not the 注销 one (whose change would
    overwrite the platform's record of the plate's vehicle in force)."""
    from edge.domain.filing import parse_entry
    from tests.test_filing import TRUCK

    platform_sim.vehicles["豫H70002"] = SimVehicle("0", "B", "6", need_complete="2")
    async with running_daemon(config_for(tmp_path, platform_sim, web=WEB)) as daemon:
        gone = parse_entry("vehicle", {**TRUCK, "plate": "豫H70002", "status": "3"})
        await daemon.store.add_entry(gone, "clerk")
        page = await logged_in(browser, f"http://127.0.0.1:{daemon.web.port}", "文员李四")
        cam = camera(daemon)
        await cam.push("豫H70002")
        await cam.aclose()
        flagged = page.locator('#need-complete tr[data-plate="豫H70002"]')
        await expect(flagged).to_have_count(1, timeout=15_000)
        await page.click('#need-complete button.complete[data-plate="豫H70002"]')
        await expect(page.locator("#entry-form")).to_be_visible()
        await expect(page.locator('#entries tr[data-plate="豫H70002"]')).to_have_count(1)
        assert await page.input_value("#entry-form [name=plate]") == "豫H70002"
        assert await page.input_value("#entry-form [name=vin]") == ""  # not the 注销 one's
        await page.close()


def _phone_photo(seed: int) -> bytes:
    """A phone's photo: 3200×2400, about 5 MB (noise keeps a JPEG large)."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:2400, 0:3200]
    base = np.dstack([x * 255 // 3200, y * 255 // 2400, (x + y) % 256]).astype(np.uint8)
    noisy = cv2.add(base, rng.integers(0, 90, base.shape, dtype=np.uint8))
    ok, buffer = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return bytes(buffer.tobytes())


async def test_two_phone_photos_are_shrunk_in_the_browser_and_saved(
    tmp_path: Path,
    platform_sim: PlatformSim,
    browser: Browser,  # noqa: F811 - the fixture
) -> None:
    """Two ordinary phone photos (3200×2400, ~5 MB each: together over the 8 MB body limit)
    are shrunk by the page before sending (long side 2048, JPEG 0.85) and the entry is saved
    with both; nothing of the 413 is shown."""
    photos = [_phone_photo(1), _phone_photo(2)]
    assert all(len(p) > 4_500_000 for p in photos)
    assert sum(len(p) for p in photos) > 8 * 1024 * 1024  # as sent, refused whole
    async with running_daemon(config_for(tmp_path, platform_sim, web=WEB)) as daemon:
        page = await logged_in(browser, f"http://127.0.0.1:{daemon.web.port}", "文员李四")
        await page.click("#entry-new")
        await _fill(page, {"plate": "豫A12345", "vin": "LFV2A21K3D4000001", "engine_no": "E1",
                           "register_date": "2020-01-01", "emission": "6"})  # fmt: skip
        for kind, data in zip(("driving_license", "emission_list"), photos, strict=True):
            await page.set_input_files(f"#entry-form input[name={kind}]",
                                       files=_file(f"{kind}.jpg", "image/jpeg", data))  # fmt: skip
        await page.click("#entry-form button[type=submit]")
        # two 8-megapixel decodes in the browser, two fits on the server: a loaded machine
        # (2 cores, several test runs) takes seconds
        await expect(page.locator("#message")).to_contain_text("已保存", timeout=30_000)
        await expect(page.locator("#entry-problems")).to_be_empty()
        entry = page.locator('#entries tr[data-plate="豫A12345"]')
        await expect(entry.locator("button.view-image")).to_have_count(2)
        await page.close()
        stored = await daemon.store.find_entry("vehicle", "豫A12345", "1")
        assert stored is not None
        images = await daemon.store.images_of(stored.id)
        assert sorted(i.kind for i in images) == ["driving_license", "emission_list"]


async def test_a_scanned_licence_never_replaces_the_plate_being_completed(
    tmp_path: Path,
    browser: Browser,  # noqa: F811 - the fixture
) -> None:
    """Completing a 待完善 vehicle (province): a 行驶证 the platform reads as another plate
    fills the other fields, warns in Chinese and leaves the row's plate and colour locked;
    the filing is the 待完善 plate's, and the list then shows it (not an empty search)."""
    sim = ProvincePlatformSim()
    sim.vehicles["豫H70001"] = SimVehicle("0", "B", "6", need_complete="2")
    await sim.start()
    try:
        cfg = config_for(tmp_path, sim, web=WEB, decision={"duplicate_window_seconds": 0})
        async with running_daemon(cfg) as daemon:
            page = await logged_in(browser, f"http://127.0.0.1:{daemon.web.port}", "文员李四")
            cam = camera(daemon)
            await cam.push("豫H70001")
            await cam.aclose()
            await page.click('#need-complete button.complete[data-plate="豫H70001"]')
            await expect(page.locator("#entry-form")).to_be_visible()
            await page.set_input_files(
                "#entry-form input[name=driving_license]",
                files=_file("行驶证.jpg", "image/jpeg", sample_jpeg("豫A99999")),
            )
            warning = "行驶证识别号牌 豫A99999 与待完善车辆 豫H70001 不一致，请核对"
            await expect(page.locator("#message")).to_have_text(warning)
            await expect(page.locator("#entry-problems")).to_contain_text(warning)
            plate = page.locator("#entry-form [name=plate]")
            await expect(plate).to_have_value("豫H70001")
            await expect(plate).to_be_disabled()
            await expect(page.locator("#entry-form [name=plate_color]")).to_be_disabled()
            assert (await page.input_value("#entry-form [name=vin]")).startswith("LZZ")
            await _fill(page, {"engine_no": "E1", "register_date": "2019-05-01", "emission": "6"})
            await page.click("#entry-form button[type=submit]")
            await expect(page.locator("#message")).to_contain_text("已保存")
            await expect(page.locator("#entries tr[data-plate]")).to_have_count(1)
            await expect(page.locator('#entries tr[data-plate="豫H70001"]')).to_have_count(1)
            await page.close()
            await sim.wait_for(lambda: bool(sim.filings), timeout=30)
            assert [f["license"] for _, f in sim.filings] == ["豫H70001"]
            assert await daemon.store.find_entry("vehicle", "豫A99999", "1") is None
    finally:
        await sim.stop()


async def test_the_page_takes_the_words_of_a_code_as_the_command_line_does(
    tmp_path: Path, platform_sim: PlatformSim
) -> None:
    """The entry form (add, edit, a machine's too) takes a code field's Chinese words as the
    command line and the import do — 国六, 6 国六, 货运 as a 行驶证 prints it, a 车辆类型's
    name — and stores the codes; a word of no code is still refused listing the codes."""
    from tests.test_filing import LOADER, TRUCK

    async with (
        running_daemon(config_for(tmp_path, platform_sim, web=WEB)) as daemon,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.web.port}") as http,
    ):
        login = await http.post("/api/login", data={"user": "文员", "password": "gate password 1"})
        csrf = {"X-CSRF-Token": login.json()["csrf"]}
        words = {"emission": "国六", "use_character": "货运", "vehicle_type": "重型普通货车",
                 "plate_color": "黄"}  # fmt: skip
        form = {"register": "vehicle", **TRUCK, **words}
        added = await http.post("/api/entries", data=form, headers=csrf)
        assert added.status_code == 200, added.text
        stored = await daemon.store.get_entry(added.json()["id"])
        assert stored is not None
        truck = stored.entry()
        assert isinstance(truck, TransportVehicle)
        assert (truck.emission, truck.use_character, truck.vehicle_type) == ("6", "F", "H11")
        edited = await http.post(
            f"/api/entries/{stored.id}", data={"emission": "5 国五"}, headers=csrf
        )
        assert edited.json()["ok"], edited.text
        again = await daemon.store.get_entry(stored.id)
        assert again is not None
        assert again.entry().emission == "5"
        machine = {"register": "machine", **LOADER, "emission": "国四"}
        assert (await http.post("/api/entries", data=machine, headers=csrf)).status_code == 200
        refused = await http.post(
            "/api/entries", data={**form, "plate": "豫A54321", "emission": "国九"}, headers=csrf
        )
        assert refused.status_code == 400
        (problem,) = refused.json()["problems"]
        assert problem["field"] == "emission"
        assert "6 国六" in problem["reason"]  # the codes listed
