"""The gate's judgement under control plans, lists and offline rules.

The expectations come from the spec, transcribed here independently of the code:

§7.20 管控策略 — 1 禁行国三及以下重型柴油车(燃气)车; 2 禁行国四及以下重型柴油(燃气)车;
3 禁行国四及以下重型柴油与国五及以下燃气车; 4–6 = 1–3 且减少 50% 车辆运输; 7 停止车辆运输.
§7.6 排放阶段 0–7, D 电动, X 无排放阶段. §7.12 燃油 B 柴油, E 天然气, F 液化石油气 (燃气),
A 汽油, C 电. §7.7 重型 = H1x 重型货车, Q1x 重型牵引车, B1x 重型半挂车, G1x 重型全挂车.
§4.2.2 isControl 0 否, 1 是, 2 (市)平台再行判定 → the gate's plan judges; isNeedComplete 1 →
排放阶段等字段值为空 (not to be trusted), 2 → 备案信息需要完善. §7.4 blacklist, §7.14 exemption.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from edge.domain.codes import ControlFlag, Direction
from edge.domain.control_plan import ControlPlan, is_heavy
from edge.domain.decision import CachedAnswer, Decision, GateContext, OfflineRules, decide
from edge.domain.local_lists import ListEntry, LocalLists
from edge.domain.reports import VerifyAnswer

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
OFFLINE = OfflineRules("cache", 3600, "deny")
PLATE = "豫A12345"

# -- the spec's table, transcribed ------------------------------------------------------------
#: strategy → (highest diesel stage refused, highest gas stage refused, 50 % cut)
SPEC_7_20 = {
    1: (3, 3, False),
    2: (4, 4, False),
    3: (4, 5, False),
    4: (3, 3, True),
    5: (4, 4, True),
    6: (4, 5, True),
}
STAGE_WORDS = {
    "0": "国零",
    "1": "国一",
    "2": "国二",
    "3": "国三",
    "4": "国四",
    "5": "国五",
    "6": "国六",
}
FUEL_WORDS = {"B": "柴油", "E": "天然气", "F": "液化石油气", "A": "汽油", "C": "电"}
STAGES = ["0", "1", "2", "3", "4", "5", "6", "D", "X"]
FUELS = ["B", "E", "F", "A", "C"]
HEAVY_TYPE, LIGHT_TYPE = "H11", "H31"  # 重型普通货车, 轻型普通货车


def expected(strategy: int, stage: str, fuel: str, heavy: bool) -> tuple[bool, str]:
    """(open?, reason) for a vehicle the gate judges (isControl 2) under ``strategy``."""
    if strategy == 7:
        return False, "停止车辆运输"
    diesel_max, gas_max, cut = SPEC_7_20[strategy]
    limit = diesel_max if fuel == "B" else gas_max if fuel in ("E", "F") else None
    if heavy and limit is not None and stage != "D":
        unknown = stage == "X"  # no stage: cannot show compliance (our decision, README)
        if unknown or int(stage) <= limit:
            words = (
                f"{FUEL_WORDS[fuel]} 排放阶段不明"
                if unknown
                else STAGE_WORDS[stage] + FUEL_WORDS[fuel]
            )
            return False, f"{words} 重污染管控"
    if cut and heavy:
        return True, "管控期配额内 剩余9"  # baseline 20 → 10 a day, none used yet
    return True, "符合管控方案"


def context(plan: ControlPlan | None = None, **kw: object) -> GateContext:
    return GateContext(when=NOW, plan=plan, **kw)  # type: ignore[arg-type]


def plan(strategy: int) -> ControlPlan:
    return ControlPlan("重污染橙色预警", strategy, level=2, baseline_heavy_entries=20)


def judge(
    answer: VerifyAnswer | None, ctx: GateContext, cached: CachedAnswer | None = None
) -> Decision:
    return decide(
        no_plate=False,
        answer=answer,
        offline=OFFLINE,
        cached=cached,
        now=NOW.timestamp(),
        plate=PLATE,
        context=ctx,
    )


STRATEGY_ROWS = [
    (strategy, stage, fuel, heavy, *expected(strategy, stage, fuel, heavy))
    for strategy, stage, fuel, heavy in itertools.product(range(1, 8), STAGES, FUELS, (True, False))
]


@pytest.mark.parametrize(("strategy", "stage", "fuel", "heavy", "open_", "reason"), STRATEGY_ROWS)
def test_every_strategy_stage_fuel_and_class(
    strategy: int,
    stage: str,
    fuel: str,
    heavy: bool,
    open_: bool,
    reason: str,
) -> None:
    vehicle = "电" if stage == "D" else stage
    answer = VerifyAnswer(
        ControlFlag.GATE_DECIDES,
        fuel=fuel,
        emission=vehicle if vehicle != "电" else "D",
        vehicle_type=HEAVY_TYPE if heavy else LIGHT_TYPE,
    )
    decision = judge(answer, context(plan(strategy)))
    assert (decision.open, decision.reason) == (open_, reason)
    assert decision.source == "platform"


def test_the_table_covers_what_the_issue_asks() -> None:
    assert len(STRATEGY_ROWS) == 7 * 9 * 5 * 2


# -- platform answer × plan × lists × offline, each row by hand -------------------------------
HD4 = VerifyAnswer(
    ControlFlag.GATE_DECIDES, fuel="B", emission="4", vehicle_type="Q11"
)  # 重型半挂牵引车 国四柴油
P2 = plan(2)

ROWS: list[tuple[str, VerifyAnswer | None, GateContext, bool, str, str | None]] = [
    # name, answer, context, open?, reason, flag
    (
        "isControl 0: the platform's word",
        replace(HD4, control=ControlFlag.CLEAR),
        context(P2),
        True,
        "未管控",
        None,
    ),
    (
        "isControl 1: refused with its reason",
        VerifyAnswer(ControlFlag.CONTROLLED, "国四柴油 重污染管控"),
        context(P2),
        False,
        "国四柴油 重污染管控",
        None,
    ),
    (
        "isControl 2, no plan: allowed",
        HD4,
        context(),
        True,
        "无管控方案",
        None,
    ),
    (
        "isControl 2, plan 2: 国四 heavy diesel refused",
        HD4,
        context(P2),
        False,
        "国四柴油 重污染管控",
        None,
    ),
    (
        "isControl 2, plan 1: 国四 heavy diesel allowed",
        HD4,
        context(plan(1)),
        True,
        "符合管控方案",
        None,
    ),
    (
        "isNeedComplete 1: stage untrusted, heavy diesel refused",
        VerifyAnswer(
            ControlFlag.GATE_DECIDES, fuel="B", emission="6", vehicle_type="H11", need_complete="1"
        ),
        context(P2),
        False,
        "柴油 排放阶段不明 重污染管控",
        "needs-registration",
    ),
    (
        "isNeedComplete 1, petrol car: allowed, flagged",
        VerifyAnswer(ControlFlag.GATE_DECIDES, fuel="A", vehicle_type="K33", need_complete="1"),
        context(P2),
        True,
        "符合管控方案",
        "needs-registration",
    ),
    (
        "isNeedComplete 1, no plan: allowed, flagged",
        VerifyAnswer(ControlFlag.GATE_DECIDES, fuel="B", vehicle_type="H11", need_complete="1"),
        context(),
        True,
        "无管控方案",
        "needs-registration",
    ),
    (
        "isNeedComplete 2, 国六: allowed, flagged for registration",
        VerifyAnswer(
            ControlFlag.GATE_DECIDES, fuel="B", emission="6", vehicle_type="H11", need_complete="2"
        ),
        context(P2),
        True,
        "符合管控方案",
        "needs-registration",
    ),
    (
        "isNeedComplete 2 on isControl 0: flagged",
        VerifyAnswer(ControlFlag.CLEAR, need_complete="2"),
        context(),
        True,
        "未管控",
        "needs-registration",
    ),
    (
        "blacklist under a plan: refused",
        VerifyAnswer(
            ControlFlag.GATE_DECIDES, fuel="B", emission="6", vehicle_type="H11", blacklist="3"
        ),
        context(P2),
        False,
        "黑名单 遥感超标",
        None,
    ),
    (
        "blacklist without a plan: the platform left it to us, no plan",
        VerifyAnswer(ControlFlag.GATE_DECIDES, blacklist="3"),
        context(),
        True,
        "无管控方案",
        None,
    ),
    (
        "exemption 1 under plan 2: allowed",
        replace(HD4, exempt="1"),
        context(P2),
        True,
        "豁免 深度治理改造合格",
        None,
    ),
    (
        "exemption 2 under plan 2: allowed",
        replace(HD4, exempt="2"),
        context(P2),
        True,
        "豁免 重点物资运输保障",
        None,
    ),
    (
        "exemption does not lift a stop of all transport",
        replace(HD4, exempt="2"),
        context(plan(7)),
        False,
        "停止车辆运输",
        None,
    ),
    (
        "heavy by GVM when the type is missing",
        VerifyAnswer(ControlFlag.GATE_DECIDES, fuel="B", emission="4", gvm="18000"),
        context(P2),
        False,
        "国四柴油 重污染管控",
        None,
    ),
    (
        "light by GVM when the type is missing",
        VerifyAnswer(ControlFlag.GATE_DECIDES, fuel="B", emission="4", gvm="4500"),
        context(P2),
        True,
        "符合管控方案",
        None,
    ),
    (
        "unknown class counts as heavy",
        VerifyAnswer(ControlFlag.GATE_DECIDES, fuel="B", emission="4"),
        context(P2),
        False,
        "国四柴油 重污染管控",
        None,
    ),
    (
        "exits are judged too",
        HD4,
        context(P2, direction=Direction.OUT),
        False,
        "国四柴油 重污染管控",
        None,
    ),
    (
        "quota used up: the next heavy entry refused",
        VerifyAnswer(ControlFlag.GATE_DECIDES, fuel="B", emission="6", vehicle_type="H11"),
        context(plan(5), heavy_entries_today=10),
        False,
        "今日运输配额已满 重污染管控",
        None,
    ),
    (
        "quota: exits are not counted",
        VerifyAnswer(ControlFlag.GATE_DECIDES, fuel="B", emission="6", vehicle_type="H11"),
        context(plan(5), heavy_entries_today=10, direction=Direction.OUT),
        True,
        "符合管控方案",
        None,
    ),
    (
        "quota: light vehicles are not counted",
        VerifyAnswer(ControlFlag.GATE_DECIDES, fuel="A", vehicle_type="K33"),
        context(plan(5), heavy_entries_today=10),
        True,
        "符合管控方案",
        None,
    ),
    (
        "in-plant vehicle: always allowed",
        VerifyAnswer(ControlFlag.CONTROLLED, "管控"),
        context(plan(7), lists=LocalLists([ListEntry(PLATE, "in-plant")])),
        True,
        "场内车辆",
        None,
    ),
    (
        "deny list wins over everything",
        VerifyAnswer(ControlFlag.CLEAR),
        context(lists=LocalLists([ListEntry(PLATE, "deny", "欠费"), ListEntry(PLATE, "in-plant")])),
        False,
        "欠费",
        None,
    ),
    (
        "allow list",
        VerifyAnswer(ControlFlag.CONTROLLED, "管控"),
        context(lists=LocalLists([ListEntry(PLATE, "allow")])),
        True,
        "允许名单",
        None,
    ),
    (
        "an expired allow entry does nothing",
        VerifyAnswer(ControlFlag.CONTROLLED, "管控"),
        context(lists=LocalLists([ListEntry(PLATE, "allow", expires=NOW - timedelta(days=1))])),
        False,
        "管控",
        None,
    ),
    ("offline, no cache: default deny", None, context(), False, "平台离线 无记录 禁止", None),
    ("offline, plan 7: refused", None, context(plan(7)), False, "停止车辆运输 平台离线", None),
    (
        "offline, in-plant: allowed",
        None,
        context(lists=LocalLists([ListEntry(PLATE, "in-plant")])),
        True,
        "场内车辆",
        None,
    ),
]


@pytest.mark.parametrize(
    ("name", "answer", "ctx", "open_", "reason", "flag"), ROWS, ids=[r[0] for r in ROWS]
)
def test_judgement(
    name: str,
    answer: VerifyAnswer | None,
    ctx: GateContext,
    open_: bool,
    reason: str,
    flag: str | None,
) -> None:
    decision = judge(answer, ctx)
    assert (decision.open, decision.reason, decision.flag) == (open_, reason, flag), name


def test_offline_cache_is_judged_by_the_plan_and_marked_offline() -> None:
    cached = CachedAnswer(HD4, NOW.timestamp() - 60)
    decision = judge(None, context(P2), cached)
    assert (decision.open, decision.reason, decision.source) == (
        False,
        "国四柴油 重污染管控",
        "offline",
    )
    assert decision.code == "offline-cache-plan-forbids"


def test_heavy_classification() -> None:
    for code in ("H11", "H19", "Q11", "Q12", "B11", "B1B", "G11", "G19"):
        assert is_heavy(code, "", 12000), code
    for code in ("H21", "H31", "Q21", "B21", "G21", "K33", "Z51"):
        assert not is_heavy(code, "", 12000), code
    assert is_heavy("", "", 12000) is None
    assert is_heavy("", "12000", 12000)


def test_plans_are_active_between_start_and_end() -> None:
    p = ControlPlan("p", 2, start=NOW, end=NOW + timedelta(hours=2))
    assert not p.active_at(NOW - timedelta(seconds=1))
    assert p.active_at(NOW)
    assert not p.active_at(NOW + timedelta(hours=2))
    assert ControlPlan("p", 5, baseline_heavy_entries=31).quota == 15
    assert ControlPlan("p", 2, baseline_heavy_entries=31).quota is None
