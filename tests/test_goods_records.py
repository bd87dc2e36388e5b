"""Goods records (货物台账, issue 16): the checked fields, and end to end in both platform
modes over a pty — a truck weighs in at the entry and out at the exit; the platform simulator
gets the pass records, then exactly one goods record with the net tonnage and goods name,
checked against its own field tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.domain.goods import GoodsError, goods_name, tonnes
from edge.sim.platform import CityPlatformSim, PlatformSim
from edge.sim.scale import ScaleSim
from edge.web.auth import hash_password
from tests.helpers import GENERIC_LANE, camera, config_for, eventually, running_daemon
from tests.test_weighbridge import EXIT_LANE, entry_exit_scale


@pytest.mark.parametrize(
    ("kg", "ysl"),
    [(20480, "20.5"), (35000, "35"), (849.9, "0.8"), (99_949, "99.9"), (Decimal("50"), "0.1")],
)
def test_ysl_is_net_tonnes_to_one_decimal(kg: float, ysl: str) -> None:
    assert tonnes(kg) == ysl
    assert len(ysl) <= 4


@pytest.mark.parametrize(
    ("kg", "why"),
    [
        (0, "nothing carried"),
        (49, "nothing carried"),
        (99_950, "more than a truck"),
        (-5, "impossible"),
        (float("nan"), "impossible"),
        (float("inf"), "impossible"),
        (1e308, "impossible"),  # quantized to 0.1 t, Decimal raised InvalidOperation
        (10**32, "impossible"),
    ],
)
def test_impossible_tonnage_is_refused(kg: float, why: str) -> None:
    with pytest.raises(GoodsError, match=why):
        tonnes(kg)


def test_goods_name_is_checked() -> None:
    assert goods_name(" 水泥熟料 ") == "水泥熟料"
    assert goods_name("水泥 熟料") == "水泥 熟料"  # a plain space inside is a name's
    for bad, why in [("", "empty"), ("石" * 33, "longer than 32"), ("煤\x00", "control")]:
        with pytest.raises(GoodsError, match=why):
            goods_name(bad)


@pytest.mark.parametrize(
    "unfit",
    ["\u2028", "\u2029", "\u200b", "\u202e", "\ufeff", "\x85", "\t", "\n", "\u00a0",
     "\u3000", "\u2003", "\ue000",
     "\u17b4", "\U00016fe4", "\u3164", "\u2800", "\u0301\u0302\u0303"],  # (blank; piled)
)  # fmt: skip
def test_a_goods_name_with_a_control_format_or_separator_character_is_refused(
    unfit: str,
) -> None:
    """Categories Cc, Cf, Co, Zl, Zp and every space separator but the plain space: inside
    the name and at its ends (U+2028 at the end was trimmed away by ``str.strip`` before, and
    inside it was taken: only categories C* were refused)."""
    for name in (f"钢{unfit}材", f"钢材{unfit}", f"{unfit}钢材"):
        with pytest.raises(GoodsError, match="control, format or separator") as refused:
            goods_name(name)
        assert refused.value.said == "货物名称含控制字符或特殊空白"


def _serial(record: dict[str, Any]) -> str:
    return str(record.get("lsh", record.get("serialNum")))


async def test_a_truck_weighed_in_and_out_gives_one_goods_record(
    tmp_path: Path, any_platform: PlatformSim
) -> None:
    sim = any_platform
    path = tmp_path / "scale"
    goods = {"goods_by_lane": {"out-1": "水泥熟料"}, "default_goods": "原煤"}
    cfg = entry_exit_scale(tmp_path, sim, path, "yaohua-tf0", weighing=goods)
    async with ScaleSim(path, "yaohua-tf0", period=0.02) as scale, running_daemon(cfg) as daemon:
        bridge = daemon.components.weighbridges["main"]
        await eventually(lambda: bridge.detector.seen_empty, timeout=5)
        cam_in, cam_out = camera(daemon, "in-1"), camera(daemon, "out-1")
        entry = await cam_in.push("豫A12345")
        await cam_in.aclose()
        await scale.weigh(Decimal(15200), eventually(lambda: bridge.weighings == 1, timeout=30))
        leave = await cam_out.push("豫A12345")
        await cam_out.aclose()
        await scale.weigh(Decimal(35680), eventually(lambda: bridge.weighings == 2, timeout=30))
        await sim.wait_for(lambda: len(sim.goods) == 1 and len(sim.records) == 2, 15)
    exit_serial = leave.body["serial"]
    assert set(sim.records) == {entry.body["serial"], exit_serial}
    assert list(sim.goods) == [exit_serial]  # the pass that completed the weighing
    (record,) = sim.goods[exit_serial]
    assert (record["hwmc"], record["ysl"]) == ("水泥熟料", "20.5")  # 35680 − 15200 kg
    assert _serial(record) == exit_serial
    if "serialNum" in record:  # province: the vehicle's filing key as on its pass record
        (passed,) = sim.records[exit_serial]
        assert (record["islicensePK"], record["licensePK"]) == (
            passed["islicensePK"],
            passed["licensePK"],
        )
    order = [(kind, serial) for kind, serial, _ in sim.arrivals if serial == exit_serial]
    assert order.index(("record", exit_serial)) < order.index(("goods", exit_serial))
    assert not sim.rejected


async def test_a_clerk_names_the_goods_on_the_status_page(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    """No default goods: the weighing completes without a goods record; a clerk picks the
    goods from the configured list on the status page (authenticated, audited) and the goods
    record follows."""
    sim = platform_sim
    path = tmp_path / "scale"
    cfg = config_for(
        tmp_path,
        sim,
        scales={
            "main": {
                "port": str(path),
                "protocol": "yaohua-a12",
                "stable_seconds": 0.3,
                "lanes": ["in-1"],
            }
        },
        weighing={"goods": ["水泥熟料", "原煤"], "preset_tare_kg": {"豫A12345": 15200}},
        web={"password_hash": hash_password("clerk password")},
    )
    async with (
        ScaleSim(path, "yaohua-a12", period=0.02) as scale,
        running_daemon(cfg) as daemon,
        httpx.AsyncClient() as http,
    ):
        page = f"http://127.0.0.1:{daemon.web.port}"
        bridge = daemon.components.weighbridges["main"]
        cam = camera(daemon, "in-1")
        entry = await cam.push("豫A12345")
        await cam.aclose()
        await scale.weigh(Decimal(35680), eventually(lambda: bridge.weighings == 1, timeout=30))
        status = (await http.get(page + "/api/status")).json()
        (done,) = status["weighings"]["complete"]
        assert (done["goods"], done["ysl"], done["tare_preset"]) == (None, None, True)
        assert status["weighings"]["goods_list"] == ["水泥熟料", "原煤"]
        url = f"{page}/api/weighings/{done['id']}/goods"
        stranger = await http.post(url, json={"goods": "原煤"})
        assert stranger.status_code == 403
        login = await http.post(
            page + "/api/login", data={"user": "司磅员", "password": "clerk password"}
        )
        csrf = {"X-CSRF-Token": login.json()["csrf"]}
        stale = await http.post(url, json={"goods": "原煤"})  # logged in, no CSRF token
        assert (stale.status_code, stale.json()) == (403, {"error": "页面已过期，请刷新"})
        for odd in ("中文".encode(), b"\xff\xfe"):  # not ASCII: refused alike, never a 500
            forged = await http.post(url, json={"goods": "原煤"}, headers={b"X-CSRF-Token": odd})
            assert (forged.status_code, forged.json()) == (403, {"error": "页面已过期，请刷新"})
        off_list = await http.post(url, json={"goods": "黄金"}, headers=csrf)
        assert (off_list.status_code, off_list.json()["detail"]) == (400, "不在货物列表中")
        chosen = await http.post(url, json={"goods": "原煤"}, headers=csrf)
        assert chosen.json() == {"ok": True, "detail": "豫A12345 原煤 20.5 t"}
        again = await http.post(url, json={"goods": "原煤"}, headers=csrf)
        assert again.json()["detail"] == f"过磅 {done['id']} 已有货物台账"
        unknown = await http.post(f"{page}/api/weighings/999/goods", json={"goods": "原煤"},
                                  headers=csrf)  # fmt: skip
        assert unknown.json()["detail"] == "无此过磅记录"
        ticket_url = f"{page}/weighings/{done['id']}/ticket"
        async with httpx.AsyncClient() as stranger_http:  # no session: refused
            assert (await stranger_http.get(ticket_url)).status_code == 403
        ticket = await http.get(ticket_url)  # the session cookie alone (a link, a new tab)
        assert ticket.status_code == 200
        assert ticket.headers["Content-Type"].startswith("text/html")
        for shown in (
            cfg.site.enterprise_name, f"过磅单 No. {done['id']:06d}", "豫A12345", "原煤",
            "35,680 kg（35.7 t）", "15,200 kg（15.2 t）（预置皮重）", "20,480 kg（20.5 t）",
            entry.body["serial"], "司磅员：司磅员", "20.5 t", "@media print",
        ):  # fmt: skip
            assert shown in ticket.text, shown
        assert (await http.get(f"{page}/weighings/999/ticket")).status_code == 404
        assert (await http.get(f"{page}/weighings/x/ticket")).status_code == 404
        await sim.wait_for(lambda: len(sim.goods) == 1, 10)
        audit = await daemon.components.store.audit_log()
    goods_rows = [a for a in audit if a.action == "set goods"]
    assert [(a.actor, a.action, a.target, a.result) for a in goods_rows][::-1] == [
        ("?", "set goods", str(done["id"]), "refused"),
        ("司磅员", "set goods", str(done["id"]), "refused"),
        ("司磅员", "set goods", str(done["id"]), "ok"),
        ("司磅员", "set goods", str(done["id"]), "refused"),
        ("司磅员", "set goods", "999", "failed"),
    ]
    (record,) = sim.goods[entry.body["serial"]]
    assert (record["hwmc"], record["ysl"]) == ("原煤", "20.5")


ERP_TOKEN = "erp-token-0123456789"


def _plan(**changes: object) -> dict[str, object]:
    plan: dict[str, object] = {
        "plan_no": "PO-2026-0001",
        "plate": "豫A12345",
        "goods": "水泥熟料",
        "expected_tonnes": 32.5,
        "valid_from": "2026-01-01T00:00+08:00",
        "valid_to": (datetime.now(UTC) + timedelta(days=30)).isoformat(timespec="minutes"),
    }
    return {**plan, **changes}


async def test_an_erp_plan_gives_the_tonnage_at_a_site_without_a_scale(
    tmp_path: Path, any_platform: PlatformSim
) -> None:
    """No scale: the ERP pushes a plan (authenticated, checked, audited); the truck's exit
    pass gets one goods record with the plan's goods and tonnage; the entry gets none."""
    sim = any_platform
    cfg = config_for(tmp_path, sim, lanes=[GENERIC_LANE, EXIT_LANE], erp={"token": ERP_TOKEN})
    async with running_daemon(cfg) as daemon, httpx.AsyncClient() as http:
        url = f"http://127.0.0.1:{daemon.web.port}/api/erp/plans"
        auth = {"Authorization": f"Bearer {ERP_TOKEN}"}
        r0 = await http.post(url, json=_plan())
        assert r0.status_code == 401, r0.text
        wrong = {"Authorization": "Bearer guess"}
        assert (await http.post(url, json=_plan(), headers=wrong)).status_code == 401
        for bad, key in [
            (_plan(plate="ABC"), "plate"),
            (_plan(expected_tonnes=120), "expected_tonnes"),
            (_plan(expected_tonnes=True), "expected_tonnes"),
            (_plan(expected_tonnes=1e308), "expected_tonnes"),  # was a 500, unaudited
            (_plan(expected_tonnes=10**29), "expected_tonnes"),
            (_plan(goods="石" * 33), "goods"),
            (_plan(valid_to="2026-01-01T00:00"), "valid_to"),
            (_plan(valid_to="2025-01-01T00:00+08:00"), "valid_to"),
            (_plan(plan_no=""), "plan_no"),
            (_plan(plan_no="PO-1\u3164"), "plan_no"),  # a Hangul filler: shows as nothing
            (_plan(plan_no="PO-1a\u0301\u0302\u0303"), "plan_no"),  # piled marks
            (_plan(goods="石灰石a" + "\u0301" * 5), "goods"),
        ]:
            refused = await http.post(url, json=bad, headers=auth)
            assert (refused.status_code, refused.json()["key"]) == (400, key), refused.json()
        not_json = await http.post(url, content=b"{", headers=auth)
        assert not_json.status_code == 400
        first = await http.post(url, json=_plan(expected_tonnes=30), headers=auth)
        stored = await http.post(url, json=_plan(), headers=auth)  # the ERP changed it
        assert stored.json()["ok"]
        assert stored.json()["id"] == first.json()["id"]
        cam_in, cam_out = camera(daemon, "in-1"), camera(daemon, "out-1")
        entry = await cam_in.push("豫A12345")
        leave = await cam_out.push("豫A12345")
        again = await cam_out.push("豫B6789G")  # no plan: no goods record
        for cam in (cam_in, cam_out):
            await cam.aclose()
        await sim.wait_for(lambda: len(sim.goods) == 1 and len(sim.records) == 3, 15)
        used = await http.post(url, json=_plan(), headers=auth)
        assert "already used" in used.json()["detail"]
        audit = await daemon.components.store.audit_log()
    assert list(sim.goods) == [leave.body["serial"]]
    assert entry.body["serial"] not in sim.goods
    assert again.body["serial"] not in sim.goods
    (record,) = sim.goods[leave.body["serial"]]
    assert (record["hwmc"], record["ysl"]) == ("水泥熟料", "32.5")
    plans = [a for a in audit if a.action == "put transport plan"]
    assert [a.result for a in plans].count("ok") == 2
    assert [a.result for a in plans].count("refused") >= 9  # each refusal audited too
    assert {a.actor for a in plans} == {"erp"}
    assert ERP_TOKEN not in str(audit)
