"""The decision table. Each row's expectation comes from the spec and the issue, not the code:
isControl 0 → open, 1 → refuse with the platform's reason, 2 → the gate decides (no plan → open);
no answer → the offline policy (allow / deny / cache with TTL, then the cache-miss rule);
no readable plate → refuse and leave it to the guard."""

from __future__ import annotations

from typing import Literal

import pytest

from edge.domain.codes import ControlFlag
from edge.domain.decision import CachedAnswer, OfflineRules, decide
from edge.domain.reports import VerifyAnswer

CLEAR = VerifyAnswer(ControlFlag.CLEAR, "", "B", "6")
CONTROLLED = VerifyAnswer(ControlFlag.CONTROLLED, "国四柴油 重污染管控", "B", "4")
CONTROLLED_NO_REASON = VerifyAnswer(ControlFlag.CONTROLLED)
GATE = VerifyAnswer(ControlFlag.GATE_DECIDES)
NOW = 1_000_000.0
TTL = 3600.0
FRESH = NOW - 60
STALE = NOW - TTL - 1

Policy = Literal["allow", "deny", "cache"]
Miss = Literal["allow", "deny"]

ROWS: list[
    tuple[str, bool, VerifyAnswer | None, Policy, Miss, CachedAnswer | None, bool, str, str]
] = [
    # name, no_plate, answer, policy, miss, cached, open?, code, reason
    ("clear", False, CLEAR, "deny", "deny", None, True, "platform-clear", "未管控"),
    (
        "controlled",
        False,
        CONTROLLED,
        "allow",
        "allow",
        None,
        False,
        "platform-controlled",
        "国四柴油 重污染管控",
    ),
    (
        "controlled, no reason",
        False,
        CONTROLLED_NO_REASON,
        "allow",
        "allow",
        None,
        False,
        "platform-controlled",
        "管控车辆",
    ),
    (
        "gate decides, no plan",
        False,
        GATE,
        "deny",
        "deny",
        None,
        True,
        "platform-gate-decides",
        "无管控方案",
    ),
    ("no plate", True, None, "allow", "allow", None, False, "no-plate", "无牌车 请联系门卫"),
    (
        "no plate even with answer",
        True,
        CLEAR,
        "allow",
        "allow",
        None,
        False,
        "no-plate",
        "无牌车 请联系门卫",
    ),
    ("offline allow", False, None, "allow", "deny", None, True, "offline-allow", "平台离线 放行"),
    ("offline deny", False, None, "deny", "allow", None, False, "offline-deny", "平台离线 禁止"),
    (
        "offline cache hit clear",
        False,
        None,
        "cache",
        "deny",
        CachedAnswer(CLEAR, FRESH),
        True,
        "offline-cache-clear",
        "未管控",
    ),
    (
        "offline cache hit controlled",
        False,
        None,
        "cache",
        "allow",
        CachedAnswer(CONTROLLED, FRESH),
        False,
        "offline-cache-controlled",
        "国四柴油 重污染管控",
    ),
    (
        "offline cache exactly at TTL",
        False,
        None,
        "cache",
        "deny",
        CachedAnswer(CLEAR, NOW - TTL),
        True,
        "offline-cache-clear",
        "未管控",
    ),
    (
        "offline cache stale, miss deny",
        False,
        None,
        "cache",
        "deny",
        CachedAnswer(CLEAR, STALE),
        False,
        "offline-cache-miss-deny",
        "平台离线 无记录 禁止",
    ),
    (
        "offline cache stale, miss allow",
        False,
        None,
        "cache",
        "allow",
        CachedAnswer(CONTROLLED, STALE),
        True,
        "offline-cache-miss-allow",
        "平台离线 放行",
    ),
    (
        "offline no cache, miss deny",
        False,
        None,
        "cache",
        "deny",
        None,
        False,
        "offline-cache-miss-deny",
        "平台离线 无记录 禁止",
    ),
]


@pytest.mark.parametrize(
    ("no_plate", "answer", "policy", "miss", "cached", "opens", "code", "reason"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_decision_table(
    no_plate: bool,
    answer: VerifyAnswer | None,
    policy: Policy,
    miss: Miss,
    cached: CachedAnswer | None,
    opens: bool,
    code: str,
    reason: str,
) -> None:
    decision = decide(
        no_plate=no_plate,
        answer=answer,
        offline=OfflineRules(policy, TTL, miss),
        cached=cached,
        now=NOW,
    )
    assert (decision.open, decision.code, decision.reason) == (opens, code, reason)
    assert decision.verdict == ("open" if opens else "refuse")
    expected_source = "local" if no_plate else ("platform" if answer else "offline")
    assert decision.source == expected_source
