"""Every kind of pass, in both platform modes, makes a record the strict simulators accept
(issue 12: a province record with ``isControl`` "" or "2" is refused by a strict platform and
parked for good). Each pass goes the daemon's way: decided, committed to a real ledger, read
back as the forwarder reads it, built by the client, sent to the simulator over HTTP."""

from __future__ import annotations

from pathlib import Path

from edge.domain.codes import ControlFlag, Direction, GateSignal
from edge.domain.control_plan import ControlPlan
from edge.domain.decision import (
    GATE_CRASH,
    CachedAnswer,
    Decision,
    GateContext,
    OfflineRules,
    camera_decided,
    decide,
    guard_decided,
    resolved_control,
)
from edge.domain.local_lists import ListEntry, LocalLists
from edge.domain.plates import PlateColor
from edge.domain.reports import Correction, VerifyAnswer
from edge.ledger.store import NewPass, Store
from edge.sim.platform import CityPlatformSim, PlatformSim
from edge.sim.province import ProvincePlatformSim
from edge.uplink.forwarder import pass_report
from edge.uplink.platform.base import Platform
from tests.helpers import SH, WHEN, city_client, province_client

CLEAR = VerifyAnswer(ControlFlag.CLEAR, fuel="B", emission="6", license_pk="PK00000001")
CONTROLLED = VerifyAnswer(ControlFlag.CONTROLLED, "国四柴油 重污染管控", "B", "4", blacklist="3")
GATE_DECIDES = VerifyAnswer(ControlFlag.GATE_DECIDES, fuel="B", emission="4", vehicle_type="H11")
ODD_CODES = VerifyAnswer(ControlFlag.CLEAR, fuel="b?", emission="9", blacklist="7", exempt="x")
ELECTRIC = VerifyAnswer(ControlFlag.GATE_DECIDES, fuel="C", emission="D")
PLAN = ControlPlan("橙色预警", strategy=2)
STOP_ALL = ControlPlan("停止运输", strategy=7)


def _decide(
    answer: VerifyAnswer | None,
    *,
    plan: ControlPlan | None = None,
    policy: str = "allow",
    cached: VerifyAnswer | None = None,
    lists: LocalLists | None = None,
    plate: str | None = "豫A12345",
) -> Decision:
    return decide(
        no_plate=plate is None,
        answer=answer,
        offline=OfflineRules(policy, 3600, "deny"),  # type: ignore[arg-type]
        cached=None if cached is None else CachedAnswer(cached, WHEN.timestamp()),
        now=WHEN.timestamp(),
        plate=plate,
        context=GateContext(WHEN, Direction.IN, lists or LocalLists(), plan),
    )


DENY = LocalLists([ListEntry("豫A12345", "deny", "欠费")])

#: (decision, expected isControl) for every way a pass comes about.
KINDS: dict[str, tuple[Decision, str]] = {
    "platform 0": (_decide(CLEAR), "0"),
    "platform 1": (_decide(CONTROLLED), "1"),
    "platform 2, no plan": (_decide(GATE_DECIDES), "0"),
    "platform 2, plan refuses": (_decide(GATE_DECIDES, plan=PLAN), "1"),
    "platform 2, plan allows": (_decide(ELECTRIC, plan=PLAN), "0"),
    "platform codes outside the dictionary": (_decide(ODD_CODES), "0"),
    "offline allow": (_decide(None), "0"),
    "offline deny": (_decide(None, policy="deny"), "0"),
    "offline, plan stops all": (_decide(None, plan=STOP_ALL), "1"),
    "offline cache hit, controlled": (_decide(None, policy="cache", cached=CONTROLLED), "1"),
    "offline cache hit, 2 under a plan": (
        _decide(None, policy="cache", cached=GATE_DECIDES, plan=PLAN),
        "1",
    ),
    "offline cache miss": (_decide(None, policy="cache"), "0"),
    "deny list": (_decide(CLEAR, lists=DENY), "0"),
    "no plate": (_decide(None, plate=None), "0"),
    "camera re-push, opened": (camera_decided(True), "0"),
    "camera re-push, refused": (camera_decided(False), "0"),
    "gate crash": (GATE_CRASH, "0"),
    "guard opens": (guard_decided(open_=True, reason="送货", operator="张三"), "0"),
    "guard refuses": (guard_decided(open_=False, reason="超载", operator="张三"), "0"),
}


def _client(sim: PlatformSim) -> Platform:
    if isinstance(sim, ProvincePlatformSim):
        return province_client(sim)
    assert isinstance(sim, CityPlatformSim)
    return city_client(sim)


async def test_every_kind_of_pass_is_accepted_in_both_modes(
    any_platform: PlatformSim, tmp_path: Path
) -> None:
    sim = any_platform
    store = await Store.open(tmp_path / "edge.db")
    client = _client(sim)
    expected: dict[str, str] = {}
    try:
        for i, (name, (decision, control)) in enumerate(KINDS.items()):
            plate = None if name in ("no plate", "gate crash") else "豫A12345"
            serial = f"411002000101A2611210800{i:02d}"
            recorded = await store.record_pass(
                NewPass(
                    serial=serial,
                    lane_id="in-1",
                    gate_code="01",
                    direction="in",
                    plate=plate,
                    plate_color=PlateColor.YELLOW if plate else PlateColor.OTHER,
                    camera_time=WHEN.timestamp(),
                    received_at=WHEN.timestamp() + i,
                    source="test",
                    vendor_id=None,
                    decision=decision,
                ),
                [],
            )
            signal = GateSignal.PASSED if decision.open else GateSignal.NOT_LIFTED
            await store.finalise(recorded.id, signal, WHEN.timestamp() + i + 1, "test")
            report = pass_report(await store.get_pass(recorded.id), [], "测试企业", SH)
            await client.send_pass(report)
            expected[serial] = control
        if isinstance(sim, ProvincePlatformSim):  # a correction of the last pass, too
            after = Correction("豫A12346", PlateColor.YELLOW, GATE_DECIDES, "王工", WHEN)
            await client.send_correction(report, after)
            assert sim.feedback[0]["isControlB"] == sim.feedback[0]["isControl"] == "0"
    finally:
        await client.aclose()
        await store.close()
    assert sim.rejected == []
    assert set(sim.records) == set(expected)
    if isinstance(sim, ProvincePlatformSim):
        sent = {serial: records[0]["isControl"] for serial, records in sim.records.items()}
        assert sent == expected
        odd = sim.records["411002000101A261121080005"][0]
        assert (odd["fuelType"], odd["emissionStandard"], odd["isBlackList"]) == ("", "", "")


def test_resolved_control_prefers_the_platforms_own_zero_or_one() -> None:
    assert resolved_control("in-plant", CONTROLLED) is True  # what the platform said stands
    assert resolved_control("platform-plan-forbids", GATE_DECIDES) is True
    assert resolved_control("offline-allow", None) is False
    assert resolved_control("offline-plan-stop", None) is True
