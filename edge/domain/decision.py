"""The gate's decision: a pure function of what is known about one vehicle. No I/O here.

Every :class:`Decision` says why, in a machine code (recorded, counted) and in Chinese words
(shown on the LED and the status page).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from edge.domain.codes import ControlFlag, Direction
from edge.domain.control_plan import STOP_ALL, ControlPlan, forbidden, is_heavy
from edge.domain.local_lists import LocalLists
from edge.domain.reports import VerifyAnswer

Source = Literal["platform", "offline", "local", "camera", "guard"]

BLACKLIST_NAMES = {
    "1": "路检不合格",
    "2": "入户检查不合格",
    "3": "遥感超标",
    "4": "逾期未维修",
    "5": "多次检验不合格",
    "6": "冒黑烟",
    "9": "其他",
}
EXEMPT_NAMES = {"1": "深度治理改造合格", "2": "重点物资运输保障"}


@dataclass(frozen=True, slots=True)
class OfflineRules:
    policy: Literal["allow", "deny", "cache"]
    cache_ttl_seconds: float
    cache_miss: Literal["allow", "deny"]


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """The platform's last answer for a plate and when (unix seconds) it was given."""

    answer: VerifyAnswer
    at: float


@dataclass(frozen=True, slots=True)
class GateContext:
    """What the gate itself knows beyond the platform's answer."""

    when: datetime
    direction: Direction = Direction.IN
    lists: LocalLists = field(default_factory=LocalLists)
    plan: ControlPlan | None = None
    heavy_entries_today: int = 0  # entries counted against the plan's quota so far today
    heavy_gvm_kg: float = 12000.0


@dataclass(frozen=True, slots=True)
class Decision:
    open: bool
    code: str
    reason: str
    source: Source
    answer: VerifyAnswer | None = None
    #: Why a guard should look at the pass ("needs-registration": the platform's record of
    #: the vehicle is incomplete and should be completed, shareVehInfo / VehElecAccountAdd).
    flag: str | None = None
    operator: str | None = None  # the guard who decided, for an override

    @property
    def verdict(self) -> str:
        return "open" if self.open else "refuse"


def _flag(answer: VerifyAnswer) -> str | None:
    return "needs-registration" if answer.need_complete in ("1", "2") else None


def _judge_with_plan(
    answer: VerifyAnswer, source: Source, prefix: str, ctx: GateContext | None
) -> Decision:
    """isControl 2 (or an offline decision): the active control plan judges."""
    flag = _flag(answer)

    def verdict(code: str, reason: str, *, open_: bool) -> Decision:
        return Decision(
            open=open_,
            code=f"{prefix}{code}",
            reason=reason,
            source=source,
            answer=answer,
            flag=flag,
        )

    plan = ctx.plan if ctx is not None else None
    if ctx is None or plan is None:
        return verdict("gate-decides", "无管控方案", open_=True)
    if answer.blacklist in BLACKLIST_NAMES:
        return verdict("blacklist", f"黑名单 {BLACKLIST_NAMES[answer.blacklist]}", open_=False)
    if answer.exempt in EXEMPT_NAMES and plan.strategy != STOP_ALL:
        return verdict("exempt", f"豁免 {EXEMPT_NAMES[answer.exempt]}", open_=True)
    heavy = is_heavy(answer.vehicle_type, answer.gvm, ctx.heavy_gvm_kg)
    emission = "" if answer.need_complete == "1" else answer.emission  # not to be trusted
    why = forbidden(plan, fuel=answer.fuel, emission=emission, heavy=heavy)
    if why is not None:
        code = "plan-incomplete" if answer.need_complete == "1" else "plan-forbids"
        return verdict(code, why, open_=False)
    quota = plan.quota
    if quota is not None and heavy is not False and ctx.direction is Direction.IN:
        if ctx.heavy_entries_today >= quota:
            return verdict("quota-full", "今日运输配额已满 重污染管控", open_=False)
        left = quota - ctx.heavy_entries_today - 1
        return verdict("quota", f"管控期配额内 剩余{left}", open_=True)
    return verdict("plan-allows", "符合管控方案", open_=True)


def _from_answer(
    answer: VerifyAnswer, source: Source, prefix: str, ctx: GateContext | None = None
) -> Decision:
    if answer.control is ControlFlag.CLEAR:
        return Decision(
            open=True,
            code=f"{prefix}clear",
            reason="未管控",
            source=source,
            answer=answer,
            flag=_flag(answer),
        )
    if answer.control is ControlFlag.CONTROLLED:
        reason = answer.reason or "管控车辆"
        return Decision(
            open=False,
            code=f"{prefix}controlled",
            reason=reason,
            source=source,
            answer=answer,
            flag=_flag(answer),
        )
    return _judge_with_plan(answer, source, prefix, ctx)


def _from_lists(plate: str | None, ctx: GateContext | None) -> Decision | None:
    entry = ctx.lists.match(plate, ctx.when) if ctx is not None else None
    if entry is None:
        return None
    if entry.kind == "deny":
        return Decision(
            open=False, code="deny-list", reason=entry.reason or "禁止名单", source="local"
        )
    if entry.kind == "in-plant":
        return Decision(
            open=True, code="in-plant", reason=entry.reason or "场内车辆", source="local"
        )
    return Decision(open=True, code="allow-list", reason=entry.reason or "允许名单", source="local")


def decide(
    *,
    no_plate: bool,
    answer: VerifyAnswer | None,
    offline: OfflineRules,
    cached: CachedAnswer | None,
    now: float,
    plate: str | None = None,
    context: GateContext | None = None,
    unreadable: bool = False,
) -> Decision:
    """Decide for one vehicle, in this order:

    1. no plate, or a read that is not a plate (``unreadable``): refused, left to the guard;
    2. the local lists: deny, then in-plant (always allowed, still recorded), then allow;
    3. the platform's answer: isControl 0 → open, 1 → refused with its reason, 2 → the active
       control plan judges (blacklist, exemption, strategy, quota; no plan → open);
    4. no answer within the deadline: the offline policy — a cached answer within its TTL
       judged as above (flagged offline), else the configured default; a plan that stops all
       transport refuses.
    """
    if unreadable:
        return Decision(
            open=False, code="plate-unreadable", reason="车牌无法识别 请联系门卫", source="local"
        )
    if no_plate:
        return Decision(open=False, code="no-plate", reason="无牌车 请联系门卫", source="local")
    listed = _from_lists(plate, context)
    if listed is not None:
        return listed
    if answer is not None:
        return _from_answer(answer, "platform", "platform-", context)
    plan = context.plan if context is not None else None
    if plan is not None and plan.strategy == STOP_ALL:
        return Decision(
            open=False, code="offline-plan-stop", reason="停止车辆运输 平台离线", source="offline"
        )
    if offline.policy == "allow":
        return Decision(open=True, code="offline-allow", reason="平台离线 放行", source="offline")
    if offline.policy == "deny":
        return Decision(open=False, code="offline-deny", reason="平台离线 禁止", source="offline")
    if cached is not None and now - cached.at <= offline.cache_ttl_seconds:
        return _from_answer(cached.answer, "offline", "offline-cache-", context)
    if offline.cache_miss == "allow":
        return Decision(
            open=True, code="offline-cache-miss-allow", reason="平台离线 放行", source="offline"
        )
    return Decision(
        open=False, code="offline-cache-miss-deny", reason="平台离线 无记录 禁止", source="offline"
    )


#: Decision codes (without their ``platform-`` / ``offline-cache-`` prefix) that refuse a
#: vehicle as a control measure (管控): the platform's own "controlled", a blacklist under a
#: plan, a plan's strategy or quota, a plan that stops all transport.
CONTROL_CODES = frozenset(
    {
        "controlled",
        "blacklist",
        "plan-forbids",
        "plan-incomplete",
        "quota-full",
        "offline-plan-stop",
    }
)


def control_refusal(code: str, *, refused: bool) -> bool:
    """Whether a pass was refused as a control measure (管控): refused with a code (maybe
    ``platform-`` / ``offline-cache-`` prefixed) in :data:`CONTROL_CODES`. The day's
    "controlled" figure counts these (the ledger calls this from its SQL)."""
    return refused and _unprefixed(code) in CONTROL_CODES


def _unprefixed(code: str) -> str:
    return code.removeprefix("platform-").removeprefix("offline-cache-")


def resolved_control(code: str, answer: VerifyAnswer | None) -> bool:
    """The pass's ``isControl`` as the province records carry it (§4.2.11: 0 no, 1 yes only).

    The platform's own 0 or 1 where it gave one (also from a cached answer); where it answered
    2 (the gate decides) or was not asked (offline, local lists, camera re-push, gate crash,
    guard override), the gate's resolution: yes exactly when a control measure refused the
    vehicle (``code`` in :data:`CONTROL_CODES`).
    """
    if answer is not None and answer.control is not ControlFlag.GATE_DECIDES:
        return answer.control is ControlFlag.CONTROLLED
    return _unprefixed(code) in CONTROL_CODES


def guard_decided(*, open_: bool, reason: str, operator: str) -> Decision:
    """A guard's override: open (or refuse) with a mandatory reason and the guard's name."""
    word = "人工放行" if open_ else "人工禁止"
    return Decision(
        open=open_,
        code="guard-open" if open_ else "guard-refuse",
        reason=f"{word} {reason}",
        source="guard",
        flag="override",
        operator=operator,
    )


GATE_CRASH = Decision(
    open=False, code="gate-crash", reason="闯岗", source="local", flag="gate-crash"
)


#: A read whose turn came (or whose verdict was ready) later than ``max_read_age_seconds``
#: after it arrived: the vehicle may have moved on, or the camera was already answered. It is
#: recorded, the barrier is not moved, and the LED asks the driver to wait for the guard.
STALE_READ = Decision(
    open=False, code="stale-read", reason="识别超时 请等候门卫", source="local", flag="stale-read"
)


def camera_decided(opened: bool | None) -> Decision:  # noqa: FBT001 - the camera's yes or no
    """A pass the camera decided on its own while the daemon was unreachable (offline re-push);
    ``opened`` None: the camera's record does not say whether it opened (not counted as open)."""
    if opened is None:
        return Decision(
            open=False,
            code="camera-offline-unknown",
            reason="相机脱机记录 补传 开闸情况未知",
            source="camera",
        )
    if opened:
        return Decision(
            open=True, code="camera-offline-open", reason="相机脱机放行 补传", source="camera"
        )
    return Decision(
        open=False, code="camera-offline-refuse", reason="相机脱机未放行 补传", source="camera"
    )
