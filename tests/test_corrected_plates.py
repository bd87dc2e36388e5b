"""A guard's correction of a pass's plate is shown wherever the pass's plate is shown to a
person — the history and its search, the CSV, the live list, the inspector's ledger — with
the camera's read beside it (已更正), and a second correction of a pass to the plate it
already has is a no-op said so, not a second correction stored (a fresh tester saw the
camera's plate still listed, corrected again, and two corrections were stored)."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import cast

import httpx
import pytest
from playwright.async_api import Browser, expect

from edge.actions.operator import Operator
from edge.cli.main import main
from edge.config.model import ListsConfig
from edge.gate.lane import Lane
from edge.ledger.books import ListBook, PlanBook
from edge.ledger.rows import HistoryCriteria, PageCursor
from edge.ledger.store import Store
from edge.web.auth import Guard, hash_password
from edge.web.status_page import StatusPage
from tests.test_operator_actions import GUARD, PASSWORD, ROOT, SH, FakeLane, _healthy, served
from tests.test_status_page import browser, logged_in  # noqa: F401 - the fixture
from tests.test_store import WHEN, new_pass
from tests.test_weighing_review import misread_correction, stored_corrections


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "edge.db")
    yield s
    await s.close()


async def _passes(store: Store, *plates: str) -> list[int]:
    """Passes of ``plates``, a minute apart, oldest first: their ids."""
    ids = []
    for i, plate in enumerate(plates):
        recorded = await store.record_pass(new_pass(plate, WHEN + timedelta(minutes=i)), [])
        ids.append(recorded.id)
    return ids


async def test_the_history_lists_the_corrected_plate_beside_the_cameras(store: Store) -> None:
    misread, other = await _passes(store, "豫A12346", "豫B77777")
    await store.add_correction(misread, "豫A1234O", "2", None, "张三", forward=False)
    await store.add_correction(misread, "豫A12345", "1", None, "张三", forward=False)
    rows = {row.id: row for row in await store.search_passes()}
    assert (rows[misread].plate, rows[misread].corrected) == ("豫A12346", "豫A12345")
    assert rows[misread].corrected_color == "1"  # the latest correction's
    assert (rows[other].plate, rows[other].corrected, rows[other].corrected_color) == (
        "豫B77777",
        None,
        None,
    )
    exported = [row async for page in store.export_passes(page=1) for row in page]
    assert [(row.id, row.corrected) for row in exported] == [(other, None), (misread, "豫A12345")]


@pytest.mark.parametrize("typed", ["豫A12345", "12345", "A1", "345"])
async def test_a_search_finds_a_pass_by_its_corrected_plate(store: Store, typed: str) -> None:
    """Whole and partial, through the trigram index (3 characters or more) and without it;
    the camera's read still finds it, and a superseded correction does not."""
    misread, _, camera = await _passes(store, "豫A12346", "豫B77777", "豫A12345")
    await store.add_correction(misread, "豫A12345", "1", None, "张三", forward=False)
    found = [row.id for row in await store.search_passes(HistoryCriteria(plate=typed))]
    assert found == [camera, misread]  # newest first, each once
    assert [r.id for r in await store.search_passes(HistoryCriteria(plate="A12346"))] == [misread]
    later = (await _passes(store, "豫C55555"))[0]
    await store.add_correction(later, "豫A99999", "1", None, "张三", forward=False)
    await store.add_correction(later, "豫C55556", "1", None, "张三", forward=False)
    assert later not in [r.id for r in await store.search_passes(HistoryCriteria(plate="A99999"))]


@pytest.mark.parametrize("typed", ["豫A12345", "A1"])
async def test_pages_of_a_search_hold_corrected_passes_once_in_order(
    store: Store, typed: str
) -> None:
    ids = await _passes(store, *(["豫A12345", "豫A12346"] * 5))
    for misread in ids[1::2]:
        await store.add_correction(misread, "豫A12345", "1", None, "张三", forward=False)
    seen: list[int] = []
    after = None
    while True:
        page = await store.search_passes(HistoryCriteria(plate=typed), limit=3, after=after)
        seen += [row.id for row in page]
        if len(page) < 3:
            break
        after = PageCursor.after(page[-1])
    assert seen == sorted(ids, reverse=True)
    lane = await store.search_passes(HistoryCriteria(plate=typed, lane="in-9"))
    assert lane == []  # the other criteria hold for corrected passes too
    day = WHEN.timestamp()
    days = HistoryCriteria(plate=typed, start=day - 86400, end=day + 150)
    earlier = await store.search_passes(days)
    assert [row.id for row in earlier] == sorted(ids[:3], reverse=True)


# -- a second correction to the same plate; the status page's lists and CSV ----------------------
@pytest.fixture
async def operator(store: Store) -> Operator:
    """The operator actions over the ledger, corrections stored as the daemon stores them
    (without a platform to ask)."""
    correct = stored_corrections(store)
    return Operator(
        store,
        ListBook(store, ListsConfig(), SH),
        PlanBook(store, [], SH),
        lanes={"in-1": cast(Lane, FakeLane())},
        correct=correct,
    )


async def _corrections(store: Store, pass_id: int) -> list[tuple[str, str]]:
    latest = await store.latest_correction(pass_id)
    assert latest is not None
    rows = [await store.get_correction(i) for i in range(1, latest.id + 1)]
    return [(row.plate, row.plate_color) for row in rows if row.pass_id == pass_id]


async def test_a_second_correction_to_the_same_plate_is_a_no_op_said_so(
    store: Store, operator: Operator
) -> None:
    (misread,) = await _passes(store, "豫A12346")
    serial = (await store.get_pass(misread)).serial
    first = await operator.correct(GUARD, serial, "豫A12345", "1")
    assert first.ok
    again = await operator.correct(GUARD, serial, "豫 a12345", "1")  # as typed the second time
    assert not again.ok
    assert (
        again.detail
        == f"already corrected to 豫A12345 (correction {first.id} by 门卫张三); nothing stored"
    )
    assert "无需重复更正" in again.note
    assert await _corrections(store, misread) == [("豫A12345", "1")]
    other = await operator.correct(ROOT, serial, "豫A12347", "1", reviewer="王工")  # still allowed
    colour = await operator.correct(GUARD, serial, "豫A12347", "2")  # another colour: too
    assert other.ok
    assert colour.ok
    assert await _corrections(store, misread) == [
        ("豫A12345", "1"), ("豫A12347", "1"), ("豫A12347", "2"),
    ]  # fmt: skip
    audit = [(r.action, r.result, r.detail) for r in reversed(await store.audit_log())]
    assert audit == [
        ("correct plate", "ok", "plate corrected to 豫A12345"),
        ("correct plate", "failed", again.detail),
        ("correct plate", "ok", "plate corrected to 豫A12347"),
        ("correct plate", "ok", "plate corrected to 豫A12347"),
    ]


@pytest.fixture
async def page(store: Store, operator: Operator) -> AsyncIterator[tuple[str, StatusPage]]:
    status = StatusPage(
        {}, store, operator.plans, _healthy, SH,
        guard=Guard(hash_password(PASSWORD)), operator=operator,
    )  # fmt: skip
    async with served(status) as base:
        yield base, status


async def test_the_page_lists_the_corrected_plate_and_refuses_a_second_one(
    store: Store, page: tuple[str, StatusPage]
) -> None:
    base, status = page
    misread, other = await _passes(store, "豫A12346", "豫B77777")
    serial, other_serial = [(await store.get_pass(i)).serial for i in (misread, other)]
    for s, plate in ((serial, "豫A12346"), (other_serial, "豫B77777")):
        status._pass({"serial": s, "lane": "in-1", "plate": plate, "verdict": "open"})
    async with httpx.AsyncClient() as http:
        login = await http.post(
            base + "/api/login", data={"user": "门卫张三", "password": PASSWORD}
        )
        csrf = {"X-CSRF-Token": login.json()["csrf"]}
        form = {"plate": "豫A12345", "color": "1"}
        first = await http.post(f"{base}/api/passes/{serial}/correct", json=form, headers=csrf)
        again = await http.post(f"{base}/api/passes/{serial}/correct", json=form, headers=csrf)
        live = (await http.get(base + "/api/status")).json()["recent"]
        history = (await http.get(base + "/api/passes")).json()
        searched = (await http.get(base + "/api/passes", params={"plate": "豫A12345"})).json()
        csv_text = (await http.get(base + "/api/passes.csv")).text
    assert first.status_code == 200
    assert again.status_code == 409
    assert "已由 门卫张三 更正为 豫A12345" in again.json()["detail"]  # Chinese, on the page
    by_serial = {p["serial"]: p for p in live}
    assert (by_serial[serial]["plate"], by_serial[serial]["corrected"]) == ("豫A12346", "豫A12345")
    assert "corrected" not in by_serial[other_serial]
    listed = {p["serial"]: (p["plate"], p["corrected"]) for p in history}
    assert listed == {serial: ("豫A12346", "豫A12345"), other_serial: ("豫B77777", None)}
    assert [p["serial"] for p in searched] == [serial]
    lines = list(csv.reader(io.StringIO(csv_text.lstrip("\ufeff"))))
    assert lines[0][3:5] == ["车牌", "车牌颜色"]
    assert lines[0][-1] == "车牌更正"
    rows = {line[0]: line for line in lines[1:]}
    assert rows[serial][3] == "豫A12345"
    assert rows[serial][-1] == "已更正（相机识别：豫A12346）"
    assert (rows[other_serial][3], rows[other_serial][-1]) == ("豫B77777", "")


async def test_a_guard_sees_the_correction_in_the_browser(
    store: Store,
    page: tuple[str, StatusPage],
    browser: Browser,  # noqa: F811 - the fixture
) -> None:
    """Corrected through the page's form: the live list and a history search by the corrected
    plate show it with the camera's read beside it; the same correction again is refused."""
    base, status = page
    (misread,) = await _passes(store, "豫A12346")
    serial = (await store.get_pass(misread)).serial
    status._pass({"serial": serial, "lane": "in-1", "plate": "豫A12346", "verdict": "open",
                  "reason": "", "received_at": WHEN.isoformat(), "photos": []})  # fmt: skip
    tab = await logged_in(browser, base, "门卫张三")
    for said in ("已完成", "该过车记录已由 门卫张三 更正为 豫A12345，无需重复更正，本次未保存"):
        await tab.fill("#correct-form input[name=serial]", serial)
        await tab.fill("#correct-form input[name=plate]", "豫A12345")
        await tab.click("#correct-form button")
        await expect(tab.locator("#message")).to_have_text(said)
    shown = "豫A12345（已更正，相机识别：豫A12346）"
    await expect(tab.locator(f'#recent tr[data-serial="{serial}"]')).to_contain_text(shown)
    await tab.fill("#search input[name=plate]", "A12345")
    await tab.click("#search button")
    await expect(tab.locator("#history")).to_contain_text("共 1 条")
    await expect(tab.locator("#history")).to_contain_text(shown)
    await tab.close()
    assert await _corrections(store, misread) == [("豫A12345", "1")]


def test_edge_correct_twice_stores_one_and_lists_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serial, _weighing, argv = misread_correction(tmp_path)
    assert main(argv) == 0
    assert f"{serial}: plate corrected to 豫G12345" in capsys.readouterr().out
    assert main([*argv[:4], "--plate", "豫 g12345", "--reviewer", "李四"]) == 0
    said = f"{serial}: already corrected to 豫G12345 (correction 1 by 王工); nothing stored\n"
    assert capsys.readouterr().out == said
    config = argv[2]
    assert main(["correct", "--config", config, serial, "--plate", "NOTAPLATE",
                 "--reviewer", "王工"]) == 2  # fmt: skip
    assert "--plate: 'NOTAPLATE' is not a plate" in capsys.readouterr().err
    for reviewer, said in (  # CheckFeedbackReport's reviewer: 字符 20, sent to the platform
        ("张\u202e三", "holds control or format characters"),
        ("张\u17b4三", "holds control or format characters"),
        ("王" * 21, "is over 20 characters"),
    ):
        argv_bad = ["correct", "--config", config, serial, "--plate", "豫G54321"]
        assert main([*argv_bad, "--reviewer", reviewer]) == 2
        assert f"--reviewer: the reviewer's name {said}" in capsys.readouterr().err
    assert main(["outbox", "show", "--config", config, serial]) == 0
    assert "corrected: 豫G12345 (colour 1, by 王工" in capsys.readouterr().out
    db = sqlite3.connect(tmp_path / "edge.db")
    assert db.execute("SELECT count(*) FROM corrections").fetchone() == (1,)
    db.close()
