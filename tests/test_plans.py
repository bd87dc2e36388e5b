"""Control plans at work: started in the middle of a run, the 50 % quota, the plan commands."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge.cli.main import main
from edge.config.model import load_config
from edge.domain.control_plan import ControlPlan
from edge.domain.plates import PlateColor
from edge.ledger.figures import daily_figures
from edge.ledger.store import Store
from edge.sim.platform import CityPlatformSim, SimVehicle
from edge.sim.province import ProvincePlatformSim
from tests.helpers import (
    GENERIC_LANE,
    camera,
    config_for,
    running_daemon,
    wait_records,
    write_config,
)
from tests.processes import Processes

ZONE = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def province_sim() -> AsyncIterator[ProvincePlatformSim]:
    sim = ProvincePlatformSim()
    await sim.start()
    yield sim
    await sim.stop()


async def test_a_plan_started_mid_run_refuses_what_was_allowed_a_minute_earlier(
    tmp_path: Path,
) -> None:
    sim = ProvincePlatformSim()
    sim.vehicles["豫H40001"] = SimVehicle("2", "B", "4", veh_type="Q11")  # the gate decides
    await sim.start()
    try:
        cfg = config_for(tmp_path, sim, decision={"duplicate_window_seconds": 0})
        async with running_daemon(cfg) as daemon:
            cam = camera(daemon)
            before = await cam.push("豫H40001")
            plan_id = await daemon.plans.start(
                ControlPlan("重污染橙色预警", strategy=2, level=2), by="环保专员"
            )
            during = await cam.push("豫H40001")
            await daemon.plans.close(plan_id)
            after = await cam.push("豫H40001")
            await cam.aclose()
            display = daemon.lanes["in-1"].devices.display
            await wait_records(sim, 3)
        assert (before.body["verdict"], before.body["reason"]) == ("open", "无管控方案")
        assert (during.body["verdict"], during.body["reason"]) == (
            "refuse",
            "国四柴油 重污染管控",
        )
        assert after.body["verdict"] == "open"
        assert display is not None
        assert display.shown[1] == ["豫H40001", "国四柴油 重污染管控", "禁止通行"]  # type: ignore[attr-defined]
    finally:
        await sim.stop()


async def test_the_50_percent_quota_refuses_the_entry_after_it_is_used(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    plates = ["豫H60001", "豫J71112", "豫K82223", "豫L93334"]  # not near-duplicates of each other
    for plate in plates:
        platform_sim.vehicles[plate] = SimVehicle("2", "B", "6")  # heavy 国六 diesel: complies
    start = datetime.now(ZONE) - timedelta(hours=1)
    plan = {
        "name": "橙色预警",
        "strategy": 5,
        "start": start.replace(tzinfo=None),
        "baseline_heavy_entries": 4,
    }
    cfg = config_for(tmp_path, platform_sim, control_plans=[plan])
    async with running_daemon(cfg) as daemon:
        cam = camera(daemon)
        results = [await cam.push(plate) for plate in plates]
        await cam.aclose()
    assert [(r.body["verdict"], r.body["reason"]) for r in results] == [
        ("open", "管控期配额内 剩余1"),
        ("open", "管控期配额内 剩余0"),
        ("refuse", "今日运输配额已满 重污染管控"),
        ("refuse", "今日运输配额已满 重污染管控"),
    ]


def test_plan_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path / "config.toml", "http://127.0.0.1:9", state=f"{tmp_path}/")
    base = ["plan", "--config", str(path)]
    assert main([*base, "start", "--name", "红色预警", "--strategy", "7", "--level", "3"]) == 0
    assert "停止车辆运输" in capsys.readouterr().out
    assert main([*base, "list"]) == 0
    listing = capsys.readouterr().out
    assert "红色预警" in listing
    assert "open" in listing
    assert main([*base, "change", "1", "--strategy", "5", "--baseline", "10"]) == 0
    assert "changed: strategy, baseline" in capsys.readouterr().out
    assert main([*base, "list"]) == 0
    listing = capsys.readouterr().out
    assert "quota today: 0 of 5 heavy entries used, 5 left" in listing
    assert "策略5" in listing
    for refused in (["start", "--name", "x", "--strategy", "5", "--baseline", "-5"],
                    ["change", "1", "--baseline", "-1"]):  # fmt: skip
        assert main([*base, *refused]) == 2
        assert "--baseline: -" in capsys.readouterr().err
    assert main([*base, "change", "1"]) == 1  # nothing to change
    assert main([*base, "close", "1"]) == 0
    assert main([*base, "close", "1"]) == 1  # already closed
    assert main([*base, "change", "1", "--level", "3"]) == 1  # a closed plan stays closed
    capsys.readouterr()
    assert main([*base, "list"]) == 0
    assert "closed" in capsys.readouterr().out


async def test_lists_from_the_config_and_the_registration_flag(
    tmp_path: Path, province_sim: ProvincePlatformSim
) -> None:
    platform_sim = province_sim  # VehVerifyEx carries isNeedComplete
    platform_sim.vehicles["豫H70001"] = SimVehicle("0", "B", "6", need_complete="2")
    lists = {
        "in_plant": [{"plate": "豫B6789G", "reason": "场内倒运车"}],  # controlled by the platform
        "deny": [{"plate": "豫A12345", "reason": "欠费停运", "until": "2099-01-01T00:00:00"}],
        "allow": [{"plate": "晋E55123", "until": "2020-01-01T00:00:00"}],  # expired
    }
    cfg = config_for(tmp_path, platform_sim, lists=lists)
    async with running_daemon(cfg) as daemon:
        cam = camera(daemon)
        results = {p: await cam.push(p) for p in ("豫B6789G", "豫A12345", "晋E55123", "豫H70001")}
        await cam.aclose()
        flagged = await daemon.store.find_pass(results["豫H70001"].body["serial"])
    assert [(r.body["verdict"], r.body["reason"]) for r in results.values()] == [
        ("open", "场内倒运车"),
        ("refuse", "欠费停运"),
        ("refuse", "国三柴油 禁止进厂"),  # the platform's word: the allow entry expired
        ("open", "未管控"),
    ]
    assert flagged is not None
    assert flagged.flag == "needs-registration"


async def test_a_guard_override_is_recorded_with_operator_and_reason(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    async with running_daemon(config_for(tmp_path, platform_sim)) as daemon:
        lane = daemon.lanes["in-1"]
        cam = camera(daemon)
        refused = await cam.push("豫B6789G")
        await cam.aclose()
        with pytest.raises(ValueError, match="reason"):
            await lane.override("豫B6789G", open_barrier=True, reason=" ", operator="张三")
        released = await lane.override(
            "豫B6789G", open_barrier=True, reason="环保局电话确认 国六车辆", operator="张三"
        )
        await lane.drain()
        row = await daemon.store.find_pass(released.serial or "")
        await wait_records(platform_sim, 2)
    assert refused.body["verdict"] == "refuse"
    assert released.decision is not None
    assert (released.decision.open, released.barrier) == (True, "opened")
    assert row is not None
    assert (row.decided_by, row.operator, row.flag) == ("guard", "张三", "override")
    assert row.reason == "人工放行 环保局电话确认 国六车辆"
    assert row.serial != refused.body["serial"]  # its own pass, beside the refusal


async def test_daily_figures_per_lane_and_in_total(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    platform_sim.vehicles["豫H44444"] = SimVehicle("0", "B", "4")
    out_lane = {**GENERIC_LANE, "id": "out-1", "direction": "out"}
    cfg = config_for(tmp_path, platform_sim, lanes=[GENERIC_LANE, out_lane])
    async with running_daemon(cfg) as daemon:
        entrance, exit_ = camera(daemon), camera(daemon, "out-1")
        for plate in ("豫A12345", "豫B6789G", "晋E55123", "豫H44444"):
            await entrance.push(plate)
        await exit_.push("豫H44444")
        await entrance.aclose()
        await exit_.aclose()
        for lane in daemon.lanes.values():
            await lane.drain()
        figures = await daily_figures(daemon.store, datetime.now(ZONE).date(), ZONE)
    assert figures["in-1"].to_json() == {
        "entries": 2,
        "exits": 0,
        "refused": 2,
        "controlled": 2,
        "stage3_entries": 0,
        "stage3_exits": 0,
        "stage4_entries": 1,
        "stage4_exits": 0,
        "gate_crashes": 0,
        "overrides": 0,
    }
    assert (figures["out-1"].exits, figures["out-1"].stage4_exits) == (1, 1)
    assert (figures["total"].entries, figures["total"].exits) == (2, 1)


def test_figures_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path / "config.toml", "http://127.0.0.1:9", state=f"{tmp_path}/")
    assert main(["figures", "--config", str(path), "--date", "2026-11-21"]) == 0
    assert "no passes recorded" in capsys.readouterr().out
    assert not (tmp_path / "edge.db").exists()  # reading figures creates no ledger
    asyncio.run(_create_ledger(tmp_path / "edge.db"))
    assert main(["figures", "--date", "2026-11-21", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "2026-11-21" in out
    assert "total: 0 / 0 / 0 / 0" in out


async def _create_ledger(path: Path) -> None:
    await (await Store.open(path)).close()


async def test_a_misread_plate_is_corrected_and_reported(
    tmp_path: Path, province_sim: ProvincePlatformSim
) -> None:
    async with running_daemon(config_for(tmp_path, province_sim)) as daemon:
        cam = camera(daemon)
        misread = await cam.push("豫A12845")  # the camera read 3 as 8
        await cam.aclose()
        await daemon.lanes["in-1"].drain()
        with pytest.raises(ValueError, match="reviewer"):
            await daemon.correct(misread.body["serial"], "豫A12345", PlateColor.YELLOW, " ")
        with pytest.raises(KeyError):
            await daemon.correct("nope", "豫A12345", PlateColor.YELLOW, "王工")
        await daemon.correct(misread.body["serial"], "豫A12345", PlateColor.YELLOW, "王工")
        await province_sim.wait_for(lambda: bool(province_sim.feedback), 10)
    (report,) = province_sim.feedback
    assert (report["license"], report["licenseB"], report["reviewer"]) == (
        "豫A12845",
        "豫A12345",
        "王工",
    )
    assert (report["fuelTypeB"], report["emissionStandardB"], report["isControlB"]) == (
        "B",
        "6",
        "0",
    )  # the codes of the corrected plate, from the platform
    assert report["serialNum"] == misread.body["serial"]


async def test_in_city_mode_a_correction_stays_in_the_ledger(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    async with running_daemon(config_for(tmp_path, platform_sim)) as daemon:
        cam = camera(daemon)
        misread = await cam.push("豫A12845")
        await cam.aclose()
        correction_id = await daemon.correct(
            misread.body["serial"], "豫A12345", PlateColor.YELLOW, "王工"
        )
        row = await daemon.store.get_correction(correction_id)
    assert (row.plate, row.reviewer) == ("豫A12345", "王工")
    with sqlite3.connect(tmp_path / "edge.db") as db:
        kinds = [kind for (kind,) in db.execute("SELECT kind FROM outbox")]
    assert "record" in kinds
    assert "correction" not in kinds  # no city message for it


async def test_correct_command(
    tmp_path: Path, platform_sim: CityPlatformSim, procs: Processes
) -> None:
    path = write_config(tmp_path / "config.toml", platform_sim.base_url, state=f"{tmp_path}/")
    async with running_daemon(load_config(path)) as daemon:
        cam = camera(daemon)
        misread = await cam.push("豫A12845")
        await cam.aclose()
    base = ["correct", "--config", str(path)]
    env = {**os.environ, "EDGE_PLATFORM__PASSWORD": platform_sim.password}
    for serial, code, said in (
        (misread.body["serial"], 0, "plate corrected to 豫A12345, kept"),
        ("411002000101A200101000000", 1, "no pass"),
    ):
        proc = await procs.edge(
            *base, serial, "--plate", "豫A12345", "--reviewer", "王工",
            env=env, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == code
        assert said in out.decode()
        assert "HTTP Request" not in out.decode()  # library INFO lines stay out of the output


def test_list_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path / "config.toml", "http://127.0.0.1:9", state=f"{tmp_path}/")
    base = ["list", "--config", str(path)]
    add = [*base, "add", "--plate", "豫 a12345", "--kind", "deny", "--reason", "欠费停运"]
    assert main([*add, "--until", "2099-01-01T00:00:00"]) == 0
    assert "豫A12345 on the deny list" in capsys.readouterr().out
    assert main([*base, "add", "--plate", "无牌", "--kind", "allow"]) == 2
    capsys.readouterr()
    assert main([*base, "show"]) == 0
    assert "deny     豫A12345 欠费停运 2099-01-01" in capsys.readouterr().out
    assert main([*base, "remove", "1"]) == 0
    assert main([*base, "remove", "1"]) == 1
    capsys.readouterr()
    assert main([*base, "show"]) == 0
    assert "豫A12345" not in capsys.readouterr().out


async def test_a_list_entry_added_at_the_gate_takes_effect(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    async with running_daemon(config_for(tmp_path, platform_sim)) as daemon:
        cam = camera(daemon)
        entry = await daemon.store.add_list_entry("豫A12345", "deny", "欠费停运", None, "张三")
        await daemon.lists.refresh()  # a running daemon re-reads within REFRESH_SECONDS
        denied = await cam.push("豫A12345")
        await daemon.store.remove_list_entry(entry)
        await daemon.lists.refresh()
        await cam.aclose()
    assert (denied.body["verdict"], denied.body["reason"]) == ("refuse", "欠费停运")
