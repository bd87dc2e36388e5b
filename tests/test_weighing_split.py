"""A completed weighing of two trucks is split (a review's finding): 豫AC9101's exit was misread
as 豫Z20001, so its weighing completed 豫Z20001's pair. Correcting the pass leaves the pair as it
is — marked 请核对车牌, its goods record held, and the answer says to split it; 已核对 does not
send it under a plate its pass no longer has. ``edge weighings split`` (拆分 on the page)
withdraws the goods record and ties each weighing again to its pass's plate: one goods record
per true pair goes out, none for the wrong one. Refused: a weighing not complete, a preset
tare's, an ERP plan's, one whose goods record was sent."""

from __future__ import annotations

import asyncio
import shlex
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from edge.actions.operator import Actor, Face, InvalidInputError, NotFoundError
from edge.cli.main import main
from edge.ledger.rows import NewTransportPlan, NewWeighing
from edge.ledger.store import Store
from edge.ledger.weighings import TwoTrucksError
from edge.sim.platform import CityPlatformSim
from edge.web.auth import hash_password
from tests import test_weighing_pairing
from tests.test_operator_actions import GUARD
from tests.test_readme_commands import readme_command_lines
from tests.test_status_page import browser, logged_in
from tests.test_store import WHEN, new_pass
from tests.test_weighing_page import scale_daemon
from tests.test_weighing_pairing import DAY
from tests.test_weighing_review import _operator
from tests.test_weighings_cli import scale_config

store = test_weighing_pairing.store  # a ledger on a real SQLite file
__all__ = ["browser"]  # the page's fixture
CLERK = Actor("司磅员李四", "127.0.0.1", Face.PAGE)
B, A = "豫Z20001", "豫AC9101"


async def _goods(store: Store) -> list[tuple[int | None, str]]:
    """The goods records in the outbox: (weighing, state)."""
    rows = await store.database.fetchall(
        "SELECT weighing_id, state FROM outbox WHERE kind = 'goods' ORDER BY id"
    )
    return [(r["weighing_id"], r["state"]) for r in rows]


async def _misread_exit(store: Store) -> tuple[int, int, str]:
    """豫Z20001 weighed in loaded (35 t, open); 豫AC9101 weighed in loaded (40 t, open); A's
    exit was misread as 豫Z20001 and its 14 t completed B's pair (21 t, goods record pending).
    Returns B's pair, A's open first weighing and A's exit serial."""
    b_in = await store.record_pass(new_pass(B, when=WHEN - timedelta(minutes=60)), [])
    a_in = await store.record_pass(new_pass(A, when=WHEN - timedelta(minutes=50)), [])
    a_out = await store.record_pass(new_pass(B, lane_id="out-1", direction="out"), [])
    pair = await store.weigh(NewWeighing("main", B, "1", 35000, 1000, b_in.serial),
                             max_between_seconds=DAY, goods="原煤")  # fmt: skip
    a_first = await store.weigh(NewWeighing("main", A, "1", 40000, 1300, a_in.serial),
                                max_between_seconds=DAY, goods="原煤")  # fmt: skip
    done = await store.weigh(NewWeighing("main", B, "1", 14000, 2000, a_out.serial),
                             max_between_seconds=DAY, goods="原煤")  # fmt: skip
    assert (done.id, done.state, done.ysl) == (pair.id, "complete", "21")
    assert (await _goods(store))[-1] == (pair.id, "pending")
    return pair.id, a_first.id, a_out.serial


async def test_a_pair_of_two_trucks_is_split_and_each_truck_pairs_with_its_own(
    store: Store,
) -> None:
    pair, a_first, a_exit = await _misread_exit(store)
    operator = _operator(store)
    corrected = await operator.correct(GUARD, a_exit, A, "1")
    # left as it is, but marked and its goods record held; the answer says to split it
    assert f"edge weighings split --config … {pair} --reason" in corrected.detail
    assert f"edge weighings split {pair}" in corrected.note
    row = await store.weighing(pair)
    assert (row.plate, row.state, row.ysl) == (B, "complete", "21")
    assert [(c.kind, c.hold) for c in row.checks] == [("plate", True)]
    assert await _goods(store) == [(pair, "held")]
    # 已核对 does not send 21 t under 豫Z20001 on a pass now corrected to 豫AC9101
    with pytest.raises(InvalidInputError) as refused:
        await operator.clear_check(CLERK, pair)
    assert "请先拆分" in refused.value.said
    assert await _goods(store) == [(pair, "held")]

    done = await operator.split_weighing(CLERK, pair, "两车误配")
    b_half, a_pair = await store.weighing(pair), await store.weighing(a_first)
    # B's weighing waits for its own second one, unmarked; A's pair is 40 t - 14 t
    assert (b_half.plate, b_half.state, b_half.first_kg, b_half.checks) == (B, "open", 35000, [])
    assert (b_half.second_kg, b_half.ysl) == (None, None)
    assert (a_pair.plate, a_pair.state, a_pair.net_kg, a_pair.ysl) == (A, "complete", 26000, "26")
    assert (a_pair.first_kg, a_pair.second_kg, a_pair.second_serial) == (40000, 14000, a_exit)
    assert await _goods(store) == [(a_first, "pending")]  # the wrong one withdrawn, deleted
    assert "goods record withdrawn: held" in done.detail
    assert f"half 1 now weighing {pair} {B} open" in done.detail
    assert f"half 2 now weighing {a_first} {A} complete, net 26000 kg" in done.detail
    audit = [(r.actor, r.action, r.target, r.result) for r in await store.audit_log(5)]
    assert audit[0] == (CLERK.name, "split weighing", str(pair), "ok")
    assert "两车误配" in (await store.audit_log(1))[0].detail

    # B weighs out: its pair completes (35 t - 15 t), its one goods record
    b_out = await store.record_pass(new_pass(B, lane_id="out-1", direction="out"), [])
    await store.weigh(NewWeighing("main", B, "1", 15000, 3000, b_out.serial),
                      max_between_seconds=DAY, goods="原煤")  # fmt: skip
    b_pair = await store.weighing(pair)
    assert (b_pair.state, b_pair.net_kg, b_pair.ysl) == ("complete", 20000, "20")
    assert await _goods(store) == [(a_first, "pending"), (pair, "pending")]


async def test_a_split_half_completes_the_open_weighing_of_its_plate_taken_meanwhile(
    store: Store,
) -> None:
    """B weighed out before the split (its exit weighing found no open one and waits): B's
    half completes with it; A's half, whose entry was not weighed, opens its own."""
    b_in = await store.record_pass(new_pass(B, when=WHEN - timedelta(minutes=60)), [])
    a_out = await store.record_pass(new_pass(B, lane_id="out-1", direction="out"), [])
    pair = await store.weigh(NewWeighing("main", B, "1", 35000, 1000, b_in.serial),
                             max_between_seconds=DAY, goods="原煤")  # fmt: skip
    await store.weigh(NewWeighing("main", B, "1", 14000, 2000, a_out.serial),
                      max_between_seconds=DAY, goods="原煤")  # fmt: skip
    b_out = await store.record_pass(new_pass(B, lane_id="out-1", direction="out"), [])
    b_second = await store.weigh(NewWeighing("main", B, "1", 15000, 3000, b_out.serial),
                                 max_between_seconds=DAY, goods="原煤")  # fmt: skip
    assert b_second.state == "open"
    operator = _operator(store)
    await operator.correct(GUARD, a_out.serial, A, "1")
    await operator.split_weighing(CLERK, pair.id, "两车误配")
    b_pair = await store.weighing(pair.id)
    assert (b_pair.state, b_pair.net_kg, b_pair.second_serial) == ("complete", 20000, b_out.serial)
    with pytest.raises(KeyError):  # folded into B's pair as its second weighing
        await store.weighing(b_second.id)
    (a_half,) = await store.weighings_of_pass(a_out.serial)
    assert (a_half.plate, a_half.state, a_half.first_kg) == (A, "open", 14000)
    assert await _goods(store) == [(pair.id, "pending")]


async def test_a_split_is_refused_for_what_has_no_two_trucks_or_was_sent(store: Store) -> None:
    """Not complete, a preset tare's single weighing, an ERP plan's goods record, a goods
    record already sent (已上报: corrected on the platform), no reason, an unknown weighing:
    refused, audited, nothing changed."""
    operator = _operator(store, tares={"豫P11111": Decimal(15000)})
    entry = await store.record_pass(new_pass("豫O10001"), [])
    opened = await store.weigh(NewWeighing("main", "豫O10001", "1", 35000, 1000, entry.serial),
                               max_between_seconds=DAY, goods="原煤")  # fmt: skip
    preset_pass = await store.record_pass(new_pass("豫P11111"), [])
    preset = await store.weigh(
        NewWeighing("main", "豫P11111", "1", 35000, 1000, preset_pass.serial),
        max_between_seconds=DAY, preset_tare_kg=15000, goods="原煤",
    )  # fmt: skip
    now = time.time()
    await store.put_plan(NewTransportPlan("P1", "豫E10001", "原煤", 30000, now - 60, now + 3600,
                                          "erp"))  # fmt: skip
    plan_pass = await store.record_pass(new_pass("豫E10001", lane_id="out-1"), [])
    planned = await store.goods_from_plan(plan_pass.serial, "豫E10001", now + 1)
    assert planned is not None
    pair, _a, a_exit = await _misread_exit(store)
    (sent,) = [e for e in await store.outbox_of(a_exit) if e.kind == "goods"]
    await store.mark_sent(sent.id)
    corrected = await operator.correct(GUARD, a_exit, A, "1")
    assert "货物台账已上报，请在平台上更正" in corrected.note
    assert "split" not in corrected.note
    before = [await store.weighing(w) for w in (opened.id, preset.id, planned.id, pair)]
    goods = await _goods(store)
    for wid, said in (
        (opened.id, "未完成"),
        (preset.id, "预置皮重"),
        (planned.id, "ERP计划"),
        (pair, "已上报"),
    ):
        with pytest.raises(InvalidInputError) as refused:
            await operator.split_weighing(CLERK, wid, "两车误配")
        assert said in refused.value.said
        assert refused.value.key == "id"
    with pytest.raises(InvalidInputError) as no_reason:
        await operator.split_weighing(CLERK, pair, "  ")
    assert no_reason.value.key == "reason"
    with pytest.raises(NotFoundError):
        await operator.split_weighing(CLERK, pair + 100, "两车误配")
    assert [await store.weighing(w) for w in (opened.id, preset.id, planned.id, pair)] == before
    assert await _goods(store) == goods
    results = [(r.action, r.result) for r in await store.audit_log(7)]
    assert results == [("split weighing", "failed"), *[("split weighing", "refused")] * 5,
                       ("correct plate", "ok")]  # fmt: skip


async def _two_trucks(path: Path) -> tuple[int, str]:
    """:func:`_misread_exit` at ``path``, weighed minutes ago: B's pair and A's exit serial."""
    store = await Store.open(path)
    try:
        now = time.time()
        b_in = await store.record_pass(new_pass(B), [])
        a_in = await store.record_pass(new_pass(A), [])
        a_out = await store.record_pass(new_pass(B, direction="out"), [])
        pair = await store.weigh(NewWeighing("main", B, "1", 35000, now - 900, b_in.serial),
                                 max_between_seconds=DAY)  # fmt: skip
        await store.weigh(NewWeighing("main", A, "1", 40000, now - 800, a_in.serial),
                          max_between_seconds=DAY)  # fmt: skip
        await store.weigh(NewWeighing("main", B, "1", 14000, now - 700, a_out.serial),
                          max_between_seconds=DAY)  # fmt: skip
        return pair.id, a_out.serial
    finally:
        await store.close()


def test_edge_correct_points_at_the_split_and_the_readme_line_splits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = scale_config(tmp_path)
    pair, serial = asyncio.run(_two_trucks(tmp_path / "edge.db"))
    argv = ["correct", "--config", str(config), serial, "--plate", A, "--color", "1",
            "--reviewer", "王工"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"split it — edge weighings split --config … {pair} --reason" in out
    assert main(["weighings", "list", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert f"two trucks? edge weighings split --config … {pair} --reason …" in out
    (line,) = [x for x in readme_command_lines() if x.startswith("edge weighings split ")]
    words = [str(config) if w == "…" else w for w in shlex.split(line)[1:]]
    words[words.index("--reason") - 1] = str(pair)
    assert main(words) == 0
    out = capsys.readouterr().out
    assert f"weighing {pair} ({B}, net 21000 kg) split:" in out
    assert "goods record withdrawn: none" in out  # weighed without a goods name
    assert f" {A} complete, net 26000 kg" in out
    assert main(words) == 2  # split already: an open weighing
    assert "not complete" in capsys.readouterr().err


async def test_a_clerk_splits_a_pair_of_two_trucks_on_the_page(
    tmp_path: Path, platform_sim: CityPlatformSim, browser: Browser
) -> None:
    """The pair marked after the correction is listed under 请核对的过磅 with 拆分 (a reason
    required, as 作废): the clerk splits it — B's weighing waits open, A's pair completes."""
    web = {"password_hash": hash_password("gate password 1")}
    async with scale_daemon(tmp_path, platform_sim, web=web) as (daemon, _bridge, _sim, _http):
        store = daemon.store
        now = time.time()
        b_in = await store.record_pass(new_pass(B), [])
        a_in = await store.record_pass(new_pass(A), [])
        a_out = await store.record_pass(new_pass(B, lane_id="out-1", direction="out"), [])
        pair = await store.weigh(NewWeighing("main", B, "1", 35000, now - 900, b_in.serial),
                                 max_between_seconds=DAY, goods="原煤")  # fmt: skip
        a_first = await store.weigh(NewWeighing("main", A, "1", 40000, now - 800, a_in.serial),
                                    max_between_seconds=DAY, goods="原煤")  # fmt: skip
        await store.weigh(NewWeighing("main", B, "1", 14000, now - 700, a_out.serial),
                          max_between_seconds=DAY, goods="原煤")  # fmt: skip
        await store.add_correction(a_out.id, A, "1", None, "门卫张三", forward=False)
        with pytest.raises(TwoTrucksError):
            await store.correct_weighing_plate(pair.id, A, "1", max_between_seconds=DAY)
        page = await logged_in(browser, f"http://127.0.0.1:{daemon.web.port}", "过磅员李四")
        marked = page.locator(f'#checks tr[data-check="{pair.id}"]')
        await expect(marked).to_contain_text("两车误配，请拆分")
        await marked.locator("form.split-form button").click()
        await expect(page.locator("#message")).to_have_text("请填写拆分原因")
        await marked.locator("form.split-form input[name=reason]").fill("两车误配")
        await marked.locator("form.split-form button").click()
        await expect(page.locator("#message")).to_contain_text("已完成", timeout=30_000)
        await expect(page.locator("#checks")).to_have_text("无", timeout=30_000)
        await page.close()
        b_half, a_pair = await store.weighing(pair.id), await store.weighing(a_first.id)
        audit = [(r.actor, r.action, r.result) for r in await store.audit_log(2)]
    assert (b_half.plate, b_half.state) == (B, "open")
    assert (a_pair.plate, a_pair.state, a_pair.net_kg) == (A, "complete", 26000)
    assert audit == [("过磅员李四", "split weighing", "ok"), ("过磅员李四", "split weighing",
                                                            "refused")]  # fmt: skip


async def test_a_split_of_a_pair_whose_passes_name_one_plate_is_refused(store: Store) -> None:
    """The fourth review's case: a pair whose two passes both name 豫Z20001 (the daemon marked
    it in doubt, not a correction): split, its halves paired again at once and its goods
    record went out. Refused, saying to correct the other truck's pass first; nothing
    changes."""
    pair, _a_first, _a_exit = await _misread_exit(store)
    await store.check_weight(await store.weighing(pair), 14000, 15000)  # some doubt
    before, goods = await store.weighing(pair), await _goods(store)
    with pytest.raises(InvalidInputError) as refused:
        await _operator(store).split_weighing(CLERK, pair, "两车误配")
    assert "拆分后会再次配对" in refused.value.said
    assert "edge correct" in str(refused.value)
    assert (await store.weighing(pair), await _goods(store)) == (before, goods)
